//! An inventory snapshot: each SKU's stock on hand and on order, optionally its own lead time and
//! service level, read from an upload (CSV, JSON lines or Parquet, gzip or not:
//! [`super::inventory_upload`]) or from an Event Grid custom event's `data` payload.
//!
//! ## Tables
//! Columns are found by name, in any order, as ingest finds them in the same upload: the
//! inventory schema's names and aliases (`sku` or `StockCode`, `on_hand` or `OnHand`,
//! `lead_time_days` or `lead_time`, ...), compared with case, spaces, `_` and `-` ignored, or the
//! names the folder's mapping gives. `sku` and `on_hand` are required, `on_order`,
//! `lead_time_days`, `service_level` and `on_order_due_days` are optional (a missing column or an
//! empty cell means 0 on order, the policy's default, or an unknown arrival); ingest's
//! `snapshot_time` gives the day the stock was counted ([`InventorySnapshot::as_of`]; every row
//! that has one must name the same day). **Any other column is refused**: a misspelt optional
//! column (`lead_tme`) would otherwise be silently replaced by the policy's default, which
//! changes every order it suggests.
//!
//! ## JSON
//! `{"snapshot_id": "optional", "as_of": "2011-12-09", "items": [{"sku": "85123A", "on_hand": 12, "on_order": 0,
//! "lead_time_days": 7, "service_level": 0.95, "on_order_due_days": 3}]}`: the same fields, `null` or absent meaning
//! the same as an empty cell, unknown fields refused for the same reason. `sku` may be a string
//! or an integer (`22423`).
//!
//! ## Values
//! SKUs are trimmed and upper-cased as ingest does; a SKU appearing twice is refused. Stock is a
//! whole number of units, at least 0 (`12.0` is read as 12; `12.5` and `-3` are refused). Lead
//! times and `on_order_due_days` (days from the snapshot until the units on order arrive, at
//! the end of that day as an order's lead time counts) are whole days in `0..=365`; service
//! levels are in the open interval (0.5, 0.9999).
//!
//! ## Snapshot id
//! Given by the caller (the payload's `snapshot_id`, or an argument for a table), or else the hex
//! sha256 of the snapshot's canonical content (rows sorted by SKU, absent values as the empty
//! string, `on_order` 0 when absent, `on_order_due_days` appended only when given, so ids of
//! snapshots without it did not change when it was added) and of the day it is judged on (its own
//! `as_of`, or the day the run takes: [`InventorySnapshot::judged_on`]): the same stock sent twice
//! for the same day, in any row order or column order, in any format, has the same id, so alerts
//! keyed by `(snapshot id, SKU)` are idempotent, and the same stock judged on another day is
//! another snapshot. A named snapshot is one count: the run refuses to judge it on a second day.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::AlertError;
use crate::sku::normalise_sku;

/// Columns of the inventory CSV (and fields of a JSON item), the required ones first.
pub const INVENTORY_COLUMNS: [&str; 6] =
    ["sku", "on_hand", "on_order", "lead_time_days", "service_level", "on_order_due_days"];

/// Longest lead time accepted, in days: a year.
pub const MAX_LEAD_TIME_DAYS: u32 = 365;

/// Service levels must lie strictly between these: at 0.5 the safety stock is 0 and below it
/// negative; at 0.9999 the normal quantile (3.72) already multiplies the forecast spread by an
/// amount no forecast's tails support.
pub const SERVICE_LEVEL_RANGE: (f64, f64) = (0.5, 0.9999);

/// How far after now a snapshot may say it was sent and still be taken at its word: a day.
/// Event Grid's `eventTime` is the sender's clock, which may run hours ahead (or carry a date a
/// timezone ahead of UTC's); more than a day ahead is a wrong clock or a typo (9999-12-09), and
/// taken at its word it would stand as the latest count for ever, since no count sent after it
/// could be dated later.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::days(1);

/// Longest snapshot id accepted (Cosmos DB ids hold at most 255 characters; the SKU is appended
/// to it to key an alert).
pub const MAX_SNAPSHOT_ID_LEN: usize = 200;

/// Whether an upload's path (in the uploads container) is a partial count's: one under
/// `inventory/partial/`, the folder a cycle count is dropped into
/// ([`InventorySnapshot::partial`]).
#[must_use]
pub fn is_partial_upload(path: &str) -> bool {
    let mut parts = path.split('/');
    let (kind, folder) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    kind.eq_ignore_ascii_case("inventory") && folder.eq_ignore_ascii_case("partial") && parts.next().is_some()
}

/// One SKU's stock position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryRow {
    /// The SKU, trimmed and upper-cased.
    pub sku: String,
    /// Units in stock now.
    pub on_hand: u64,
    /// Units ordered and not yet received (0 when not given).
    pub on_order: u64,
    /// This SKU's supplier lead time in days; `None`: the policy's default.
    pub lead_time_days: Option<u32>,
    /// This SKU's target service level; `None`: the policy's default.
    pub service_level: Option<f64>,
    /// Days from the snapshot until `on_order` arrives (at the end of that day); `None`: not
    /// known, so the stock-out check cannot count on it.
    #[serde(default)]
    pub on_order_due_days: Option<u32>,
}

impl InventoryRow {
    /// A row with only stock on hand: nothing on order, the policy's defaults.
    #[must_use]
    pub fn new(sku: &str, on_hand: u64) -> Self {
        Self {
            sku: normalise_sku(sku),
            on_hand,
            on_order: 0,
            lead_time_days: None,
            service_level: None,
            on_order_due_days: None,
        }
    }

    /// The inventory position: on hand plus on order.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.on_hand.saturating_add(self.on_order)
    }
}

/// A validated snapshot: its id and one row per SKU, in the input's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventorySnapshot {
    /// The id given, or the hex sha256 of the canonical content (see the module docs).
    pub id: String,
    /// One row per SKU, in the order read.
    pub rows: Vec<InventoryRow>,
    /// The day the stock was counted, when the snapshot says (a table's `snapshot_time`, the
    /// event's `as_of`): alerts are evaluated as of that day rather than the day the upload or
    /// event arrived, so a count sent late is judged against the demand it actually faces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// Whether the caller named the snapshot (`id` is theirs, not a hash of the content).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
    /// When on its day the stock was counted, when known: the event's time when it was sent on
    /// the day counted, the latest the count can have been taken ([`InventorySnapshot::sent_at`]).
    /// It ranks two counts of one day, which Event Grid may deliver in either order; it is not
    /// content (the same stock sent twice is one snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<DateTime<Utc>>,
    /// When it was sent (the event's time, the upload's, now for a file read by hand), when known
    /// ([`InventorySnapshot::sent_at`]). Not content either: it tells a redelivery of one sending
    /// (the same time) from the same stock sent again later, which is a newer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<DateTime<Utc>>,
    /// Whether it counts some SKUs only (a cycle count of one aisle, one supplier's lines): the
    /// SKUs it leaves out keep what the last count of them said, where a whole count's absent
    /// SKUs are no longer stocked ([`super::run`]). Content: the same rows sent as a whole count
    /// are another snapshot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Where it came from, when known: the upload's blob (an event's subject names no place, as
    /// every aisle's events may share one). Not content: a partial count sent again from where
    /// one was refused answers that refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether it is made up rather than counted (the demo's stock of the sample's trending
    /// SKUs): the first count the shop sends replaces it as the latest, whatever day that count
    /// is of, and the alerts answer says the latest is made up while it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub made_up: bool,
}

impl InventorySnapshot {
    /// Reads the `data` of an Event Grid custom event: `{"snapshot_id"?, "items": [...]}`;
    /// errors name the item's index and field.
    pub fn parse_json(bytes: &[u8]) -> Result<Self, AlertError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| AlertError::InvalidPayload { reason: format!("not JSON: {e}") })?;
        Self::from_json(&value)
    }

    /// [`InventorySnapshot::parse_json`] over a parsed value (the event's `data` as the host
    /// delivered it).
    pub fn from_json(data: &Value) -> Result<Self, AlertError> {
        let payload = |reason: String| AlertError::InvalidPayload { reason };
        let object = data.as_object().ok_or_else(|| payload("expected an object with `items`".into()))?;
        if let Some(key) =
            object.keys().find(|k| !["snapshot_id", "items", "as_of", "partial"].contains(&k.as_str()))
        {
            return Err(payload(format!(
                "unknown field `{key}` (expected `snapshot_id`, `as_of`, `partial` and `items`)"
            )));
        }
        let partial = match object.get("partial") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(partial)) => *partial,
            Some(other) => return Err(payload(format!("`partial` must be true or false, found {other}"))),
        };
        let as_of =
            match object.get("as_of") {
                None | Some(Value::Null) => None,
                Some(Value::String(day)) => Some(day.trim().parse::<NaiveDate>().map_err(|e| {
                    payload(format!("`as_of` must be a date (YYYY-MM-DD), found {day:?}: {e}"))
                })?),
                Some(other) => return Err(payload(format!("`as_of` must be a date string, found {other}"))),
            };
        let id = match object.get("snapshot_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.as_str()),
            Some(other) => return Err(payload(format!("`snapshot_id` must be a string, found {other}"))),
        };
        let items = match object.get("items") {
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(payload(format!("`items` must be an array, found {}", crate::json::kind(other))));
            }
            None => return Err(payload("missing `items`".into())),
        };
        let mut rows = Vec::with_capacity(items.len());
        let mut first_index: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            let at = |field: &str| {
                let field = field.to_owned();
                move |reason: String| AlertError::InvalidItem { index, field, reason }
            };
            let item =
                item.as_object().ok_or_else(|| at("item")(format!("expected an object, found {item}")))?;
            if let Some(key) = item.keys().find(|k| !INVENTORY_COLUMNS.contains(&k.as_str())) {
                return Err(at(key)(format!(
                    "unknown field (expected one of {})",
                    INVENTORY_COLUMNS.join(", ")
                )));
            }
            let get = |field: Field| item.get(field.name()).filter(|v| !v.is_null());
            let sku = match get(Field::Sku) {
                Some(Value::String(s)) => parse_sku(s),
                Some(Value::Number(n)) if n.is_u64() => parse_sku(&n.to_string()),
                Some(other) => Err(format!("expected a string, found {other}")),
                None => Err("missing".into()),
            }
            .map_err(at("sku"))?;
            let number = |field: Field| get(field).map(json_number).transpose().map_err(at(field.name()));
            let on_hand = number(Field::OnHand)?
                .ok_or_else(|| "missing".to_owned())
                .and_then(parse_units)
                .map_err(at("on_hand"))?;
            let on_order =
                number(Field::OnOrder)?.map(parse_units).transpose().map_err(at("on_order"))?.unwrap_or(0);
            let lead_time_days =
                number(Field::LeadTime)?.map(parse_days).transpose().map_err(at("lead_time_days"))?;
            let on_order_due_days =
                number(Field::OnOrderDue)?.map(parse_days).transpose().map_err(at("on_order_due_days"))?;
            let service_level = number(Field::ServiceLevel)?
                .map(parse_service_level)
                .transpose()
                .map_err(at("service_level"))?;
            if let Some(earlier) = first_index.insert(sku.clone(), index) {
                return Err(at("sku")(format!("{sku:?} appears again (first at items[{earlier}])")));
            }
            rows.push(InventoryRow {
                sku,
                on_hand,
                on_order,
                lead_time_days,
                service_level,
                on_order_due_days,
            });
        }
        if rows.is_empty() {
            return Err(AlertError::Empty { source_name: "payload".into() });
        }
        Ok(Self::with_id(id, rows, as_of)?.counting_in_part(partial))
    }

    /// A snapshot of rows built elsewhere (a silver table, a test). Rows are checked like parsed
    /// ones; errors name the row's index as `items[i]`.
    pub fn from_rows(id: Option<&str>, rows: Vec<InventoryRow>) -> Result<Self, AlertError> {
        if rows.is_empty() {
            return Err(AlertError::Empty { source_name: "rows".into() });
        }
        let mut normalised = Vec::with_capacity(rows.len());
        let mut first_index: HashMap<String, usize> = HashMap::new();
        for (index, row) in rows.into_iter().enumerate() {
            let at = |field: &str| {
                let field = field.to_owned();
                move |reason: String| AlertError::InvalidItem { index, field, reason }
            };
            let sku = parse_sku(&row.sku).map_err(at("sku"))?;
            if let Some(days) = row.lead_time_days {
                parse_days(days.to_string()).map_err(at("lead_time_days"))?;
            }
            if let Some(days) = row.on_order_due_days {
                parse_days(days.to_string()).map_err(at("on_order_due_days"))?;
            }
            if let Some(level) = row.service_level {
                parse_service_level(level.to_string()).map_err(at("service_level"))?;
            }
            if let Some(earlier) = first_index.insert(sku.clone(), index) {
                return Err(at("sku")(format!("{sku:?} appears again (first at items[{earlier}])")));
            }
            normalised.push(InventoryRow { sku, ..row });
        }
        Self::with_id(id, normalised, None)
    }

    pub(super) fn with_id(
        id: Option<&str>,
        rows: Vec<InventoryRow>,
        as_of: Option<NaiveDate>,
    ) -> Result<Self, AlertError> {
        let named = id.is_some();
        let id = match id {
            Some(id) => check_snapshot_id(id)?,
            None => crate::bronze::sha256_hex(canonical_content(&rows, as_of, false).as_bytes()),
        };
        Ok(Self {
            id,
            rows,
            as_of,
            named,
            counted_at: None,
            sent: None,
            partial: false,
            source: None,
            made_up: false,
        })
    }

    /// The snapshot as a count of some SKUs only when `partial` ([`InventorySnapshot::partial`]);
    /// an unnamed one's id covers it.
    #[must_use]
    pub fn counting_in_part(mut self, partial: bool) -> Self {
        self.partial = partial;
        if !self.named {
            self.id = self.content_id();
        }
        self
    }

    /// The snapshot under the caller's id `id` (checked as a parsed one is).
    pub fn named_as(self, id: &str) -> Result<Self, AlertError> {
        Ok(Self { id: check_snapshot_id(id)?, named: true, ..self })
    }

    /// The hex sha256 of the rows and the day counted: the id of an unnamed snapshot, and what
    /// tells a named one sent again from another count under the same name.
    #[must_use]
    pub fn content_id(&self) -> String {
        crate::bronze::sha256_hex(canonical_content(&self.rows, self.as_of, self.partial).as_bytes())
    }

    /// The snapshot as judged on `day`, the day its stock is taken to be counted: a snapshot
    /// without a name gets the id of its content on that day, so the same stock judged on
    /// another day (a later event, another `--as-of`) is another snapshot with its own alerts,
    /// while a redelivered event (the same day) finds its own. A named snapshot keeps its id.
    #[must_use]
    pub fn judged_on(&self, day: NaiveDate) -> Self {
        let mut judged = self.clone();
        judged.as_of = Some(day);
        judged.counted_at = self.counted_at.filter(|t| t.date_naive() == day);
        if !self.named {
            judged.id = judged.content_id();
        }
        judged
    }

    /// The snapshot judged under `policy`: an unnamed snapshot's id also covers the shop-wide
    /// settings and its SKUs' pack sizes when they are not the defaults, so the same stock judged
    /// again after the shop changed them is judged anew (before, it read the alerts of the old
    /// settings back), while a redelivery, under the same policy, still finds its own. A named
    /// snapshot keeps its name: another judgement needs another name.
    #[must_use]
    pub fn under_policy(mut self, policy: &super::policy::AlertPolicy) -> Self {
        if self.named {
            return self;
        }
        let packs: std::collections::BTreeMap<&str, u32> = self
            .rows
            .iter()
            // A pack of 1 orders as no pack does.
            .filter_map(|r| policy.pack_sizes.get(&r.sku).filter(|&&p| p > 1).map(|&p| (r.sku.as_str(), p)))
            .collect();
        let settings = |p: &super::policy::AlertPolicy| {
            serde_json::json!({
                "lead_time_days": p.lead_time_days,
                "service_level": p.service_level,
                "cover_days": p.cover_days,
                "overstock_cover_days": p.overstock_cover_days,
            })
        };
        let discontinued: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| policy.discontinued.contains(&r.sku))
            .map(|r| r.sku.as_str())
            .collect();
        let ours = settings(policy);
        if packs.is_empty()
            && discontinued.is_empty()
            && ours == settings(&super::policy::AlertPolicy::default())
        {
            return self;
        }
        let packs = serde_json::json!(packs);
        let mut text = format!(
            "{}policy {ours}\npacks {packs}\n",
            canonical_content(&self.rows, self.as_of, self.partial)
        );
        // Only when some are, so that ids made before the catalogue said so stay the same.
        if !discontinued.is_empty() {
            text.push_str(&format!("discontinued {}\n", serde_json::json!(discontinued)));
        }
        self.id = crate::bronze::sha256_hex(text.as_bytes());
        self
    }

    /// Refuses a counted day ([`InventorySnapshot::as_of`]) more than a day after `sent`, the UTC
    /// day the snapshot was sent (the event's date, or today for a file read by hand).
    pub fn check_counted_by(&self, sent: NaiveDate) -> Result<(), AlertError> {
        self.as_of.map_or(Ok(()), |as_of| check_counted_day(as_of, sent))
    }

    /// The snapshot as sent at `sent` (an event's `eventTime`), judged on the day it names, else
    /// on `sent`'s day. `sent` is checked against `now` as a counted day is against `sent`: more
    /// than [`CLOCK_SKEW`] after `now` is refused ([`check_sent_time`]), and so is a counted day
    /// more than a day after `sent`'s ([`check_counted_day`]). Sent on the day counted (or, east
    /// of UTC, on the UTC day before it), `sent` is the time counted unless the snapshot knows it
    /// ([`InventorySnapshot::counted_at`]).
    pub fn sent_at(&self, sent: DateTime<Utc>, now: DateTime<Utc>) -> Result<Self, AlertError> {
        check_sent_time(sent, now)?;
        self.check_counted_by(sent.date_naive())?;
        let day = self.as_of.unwrap_or_else(|| sent.date_naive());
        let mut judged = self.judged_on(day);
        // Sent on the day counted, or on the day before it in UTC (a shop east of UTC, whose
        // date runs ahead): counted by then.
        if day == sent.date_naive() || day.pred_opt() == Some(sent.date_naive()) {
            judged.counted_at = judged.counted_at.or(Some(sent));
        }
        judged.sent = Some(sent);
        Ok(judged)
    }

    /// The row of `sku` (normalised before the lookup).
    #[must_use]
    pub fn row(&self, sku: &str) -> Option<&InventoryRow> {
        let sku = normalise_sku(sku);
        self.rows.iter().find(|r| r.sku == sku)
    }
}

/// Refuses `as_of`, a day stock was counted, more than a day after `sent`, the UTC day it was
/// sent (a typo such as 9999-12-09 would otherwise stand as the latest snapshot for ever). A day
/// is allowed because `as_of` is the shop's own date: east of UTC (to UTC+14) a shop's date runs
/// up to a day ahead of the UTC date its sender stamps, and a count taken just after its midnight
/// is dated the next day.
pub fn check_counted_day(as_of: NaiveDate, sent: NaiveDate) -> Result<(), AlertError> {
    if as_of > sent + TimeDelta::days(1) {
        return Err(AlertError::CountedDay {
            as_of,
            reason: format!(
                "more than a day after the day it was sent, {sent} (UTC): stock cannot be counted in \
                 the future"
            ),
        });
    }
    Ok(())
}

/// Refuses `sent`, the time a snapshot says it was sent, more than [`CLOCK_SKEW`] after `now`.
pub fn check_sent_time(sent: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), AlertError> {
    if sent > now + CLOCK_SKEW {
        return Err(AlertError::SentInFuture { sent, now });
    }
    Ok(())
}

/// The text hashed into a snapshot id: a version line, then one line per row sorted by SKU, then
/// the day counted when given (so ids of snapshots without it did not change).
fn canonical_content(rows: &[InventoryRow], as_of: Option<NaiveDate>, partial: bool) -> String {
    let mut sorted: Vec<&InventoryRow> = rows.iter().collect();
    sorted.sort_by(|a, b| a.sku.cmp(&b.sku));
    let mut text = String::from("shopsense-inventory-v1\n");
    for row in sorted {
        let lead = row.lead_time_days.map(|d| d.to_string()).unwrap_or_default();
        let level = row.service_level.map(|s| s.to_string()).unwrap_or_default();
        // Writing to a String cannot fail.
        let _ = write!(text, "{},{},{},{lead},{level}", row.sku, row.on_hand, row.on_order);
        if let Some(due) = row.on_order_due_days {
            let _ = write!(text, ",{due}");
        }
        text.push('\n');
    }
    if let Some(day) = as_of {
        let _ = writeln!(text, "as_of,{day}");
    }
    // Appended only when set: a whole count's id did not change when partial counts came.
    if partial {
        text.push_str("partial\n");
    }
    text
}

/// A caller's snapshot id: trimmed, non-empty, at most [`MAX_SNAPSHOT_ID_LEN`] characters, and
/// none of the characters Cosmos DB refuses in ids (`/ \ ? #`) nor control characters.
fn check_snapshot_id(id: &str) -> Result<String, AlertError> {
    let refuse =
        |reason: &str| AlertError::InvalidSnapshotId { id: id.to_owned(), reason: reason.to_owned() };
    let trimmed = id.trim();
    if trimmed.is_empty() {
        return Err(refuse("is empty"));
    }
    if trimmed.chars().count() > MAX_SNAPSHOT_ID_LEN {
        return Err(refuse("is longer than 200 characters"));
    }
    if trimmed.chars().any(|c| matches!(c, '/' | '\\' | '?' | '#') || c.is_control()) {
        return Err(refuse("contains one of / \\ ? # or a control character"));
    }
    if trimmed == crate::serving::stock::LATEST_ID {
        // Summaries share their partition with the pointer to the latest snapshot.
        return Err(refuse("is reserved"));
    }
    Ok(trimmed.to_owned())
}

/// The known columns, by position in [`INVENTORY_COLUMNS`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Field {
    Sku = 0,
    OnHand = 1,
    OnOrder = 2,
    LeadTime = 3,
    ServiceLevel = 4,
    OnOrderDue = 5,
}

impl Field {
    pub(super) fn name(self) -> &'static str {
        INVENTORY_COLUMNS[self as usize]
    }
}

pub(super) fn required(text: &str) -> Result<String, String> {
    if text.is_empty() { Err("missing value".into()) } else { Ok(text.to_owned()) }
}

pub(super) fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

pub(super) fn parse_sku(text: &str) -> Result<String, String> {
    let sku = normalise_sku(text);
    if sku.is_empty() { Err("empty SKU".into()) } else { Ok(sku) }
}

/// A JSON number (or a numeric string would be ambiguous, so it is refused) as its text.
fn json_number(value: &Value) -> Result<String, String> {
    match value {
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("expected a number, found {other}")),
    }
}

/// A whole, non-negative number of units.
pub(super) fn parse_units(text: String) -> Result<u64, String> {
    let too_large = || format!("{text:?} is too large (at most {MAX_UNITS} units)");
    if let Ok(units) = text.parse::<u64>() {
        return if units > MAX_UNITS { Err(too_large()) } else { Ok(units) };
    }
    let value: f64 = text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number"))?;
    if value < 0.0 {
        return Err(format!("{text:?} is negative"));
    }
    if value.fract() != 0.0 {
        return Err(format!("{text:?} is not a whole number of units"));
    }
    if value > MAX_UNITS as f64 {
        return Err(too_large());
    }
    Ok(value as u64)
}

/// Units of stock in one row, at most: below 2^53, so every count is exact as the `f64` the
/// policy computes in, and on hand plus on order cannot overflow.
pub const MAX_UNITS: u64 = 9_000_000_000_000_000;

/// Whole days in `0..=365` (a lead time, or the days until stock on order arrives).
pub(super) fn parse_days(text: String) -> Result<u32, String> {
    let value: f64 = text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number"))?;
    if value.fract() != 0.0 {
        return Err(format!("{text:?} is not a whole number of days"));
    }
    if !(0.0..=f64::from(MAX_LEAD_TIME_DAYS)).contains(&value) {
        return Err(format!("{text:?} is outside 0..=365 days"));
    }
    Ok(value as u32)
}

/// A probability in the open interval [`SERVICE_LEVEL_RANGE`].
pub(super) fn parse_service_level(text: String) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number"))?;
    let (low, high) = SERVICE_LEVEL_RANGE;
    if !(value > low && value < high) {
        return Err(format!("{text:?} is outside the open interval ({low}, {high})"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<InventorySnapshot, AlertError> {
        InventorySnapshot::parse_csv("inventory.csv", text.as_bytes(), None)
    }

    fn csv_error(text: &str) -> String {
        match csv(text) {
            Err(error) => error.to_string(),
            Ok(snapshot) => panic!("expected an error, got {snapshot:?}"),
        }
    }

    fn json_error(text: &str) -> String {
        match InventorySnapshot::parse_json(text.as_bytes()) {
            Err(error) => error.to_string(),
            Ok(snapshot) => panic!("expected an error, got {snapshot:?}"),
        }
    }

    #[test]
    fn a_csv_is_read_by_column_name_in_any_order_with_skus_normalised() {
        let snapshot = csv("on_hand, SKU ,lead_time_days,on_order,service_level,on_order_due_days\n\
             12, 85123a ,10,4,0.9,3\n\
             3.0,22423,,,,\n")
        .unwrap();
        assert_eq!(
            snapshot.rows[0],
            InventoryRow {
                sku: "85123A".into(),
                on_hand: 12,
                on_order: 4,
                lead_time_days: Some(10),
                service_level: Some(0.9),
                on_order_due_days: Some(3),
            }
        );
        assert_eq!(snapshot.rows[1], InventoryRow::new("22423", 3));
        assert_eq!(snapshot.rows[1].position(), 3);
        assert_eq!(snapshot.id.len(), 64, "a sha256 in hex: {}", snapshot.id);
        assert_eq!(snapshot.row("85123a").map(|r| r.on_hand), Some(12));
    }

    #[test]
    fn csv_errors_name_the_file_line_and_column() {
        assert_eq!(
            csv_error("sku,on_hand\nA,1\nB,2\nC,3\nD,4\nE,5\nF,-3\n"),
            r#"inventory.csv:7: column on_hand: "-3" is negative"#
        );
        assert_eq!(
            csv_error("sku,on_hand\nA,1.5\n"),
            r#"inventory.csv:2: column on_hand: "1.5" is not a whole number of units"#
        );
        assert_eq!(csv_error("sku,on_hand\nA,\n"), "inventory.csv:2: column on_hand: missing value");
        for huge in ["18446744073709551615", "9000000000000001", "1e17"] {
            assert_eq!(
                csv_error(&format!("sku,on_hand\nA,{huge}\n")),
                format!(
                    r#"inventory.csv:2: column on_hand: "{huge}" is too large (at most {MAX_UNITS} units)"#
                )
            );
        }
        assert_eq!(
            csv_error("sku,on_hand,on_order\nA,1,x\n"),
            r#"inventory.csv:2: column on_order: "x" is not a number"#
        );
        assert_eq!(
            csv_error("sku,on_hand,lead_time_days\nA,1,7\nB,1,366\n"),
            r#"inventory.csv:3: column lead_time_days: "366" is outside 0..=365 days"#
        );
        assert!(
            csv_error("sku,on_hand,lead_time_days\nA,1,-1\n")
                .starts_with("inventory.csv:2: column lead_time_days:")
        );
        assert_eq!(
            csv_error("sku,on_hand,on_order,on_order_due_days\nA,1,4,400\n"),
            r#"inventory.csv:2: column on_order_due_days: "400" is outside 0..=365 days"#
        );
        assert_eq!(
            csv_error("sku,on_hand,service_level\nA,1,0.5\n"),
            r#"inventory.csv:2: column service_level: "0.5" is outside the open interval (0.5, 0.9999)"#
        );
        assert!(csv_error("sku,on_hand,service_level\nA,1,0.99995\n").contains("column service_level"));
        assert_eq!(
            csv_error("sku,on_hand\nA,1\n a ,2\n"),
            r#"inventory.csv:3: column sku: "A" appears again (first on line 2)"#
        );
        assert_eq!(csv_error("sku,on_hand\n ,2\n"), "inventory.csv:2: column sku: empty SKU");
        assert_eq!(
            csv_error("sku,on_hand\nA,1,9\n"),
            "inventory.csv:2: column row: expected 2 fields as in the header, found 3"
        );
    }

    #[test]
    fn csv_headers_must_name_known_columns_and_the_required_ones() {
        assert_eq!(
            csv_error("sku,on_hand,lead_tme\nA,1,3\n"),
            r#"inventory.csv:1: column lead_tme: unknown column "lead_tme" (expected sku, on_hand, on_order, lead_time_days, service_level, on_order_due_days, snapshot_time, or a header name ingest reads as one of them)"#
        );
        assert_eq!(
            csv_error("sku,on_order\nA,1\n"),
            "inventory.csv:1: column on_hand: missing required column"
        );
        assert_eq!(
            csv_error("sku,on_hand,SKU\nA,1,B\n"),
            "inventory.csv:1: column SKU: a second column for sku"
        );
        assert_eq!(
            csv_error("StockCode,on_hand,sku\nA,1,B\n"),
            "inventory.csv:1: column sku: a second column for sku"
        );
    }

    #[test]
    fn changed_settings_or_pack_sizes_make_the_same_stock_another_judgement() {
        use crate::alerts::AlertPolicy;
        let snapshot = csv("sku,on_hand\n85123A,31\n22197,4\n").unwrap();
        let defaults = AlertPolicy::default();
        let id = |policy: &AlertPolicy| snapshot.clone().under_policy(policy).id;
        assert_eq!(id(&defaults), snapshot.id, "the defaults keep the content's id");
        let stricter = AlertPolicy { service_level: 0.8, ..AlertPolicy::default() };
        assert_ne!(id(&stricter), id(&defaults));
        let longer = AlertPolicy { lead_time_days: 21, ..AlertPolicy::default() };
        assert_ne!(id(&longer), id(&stricter));
        let packs =
            |sku: &str| AlertPolicy { pack_sizes: [(sku.to_owned(), 50)].into(), ..AlertPolicy::default() };
        assert_ne!(id(&packs("85123A")), id(&defaults), "a pack size of its SKU");
        assert_eq!(id(&packs("99999")), id(&defaults), "another SKU's pack size is not its business");
        let single = AlertPolicy { pack_sizes: [("85123A".to_owned(), 1)].into(), ..AlertPolicy::default() };
        assert_eq!(id(&single), id(&defaults), "a pack of 1 orders as no pack does");
        let named = snapshot.clone().named_as("store-7").unwrap();
        assert_eq!(named.under_policy(&stricter).id, "store-7");
    }

    #[test]
    fn the_header_names_ingest_reads_for_the_same_upload_are_read_too() {
        // An export ingest accepts under uploads/inventory/ must not be refused by the alerts.
        let snapshot = csv("StockCode,OnHand,On Order,lead_time,ServiceLevel,snapshot_time\n\
             85123a,12,4,10,0.9,2011-12-09 08:00\n")
        .unwrap();
        let row = &snapshot.rows[0];
        assert_eq!(
            (row.sku.as_str(), row.on_hand, row.on_order, row.lead_time_days, row.service_level),
            ("85123A", 12, 4, Some(10), Some(0.9))
        );
        assert_eq!(snapshot.as_of, Some("2011-12-09".parse().unwrap()), "the day it was counted");
        let plain =
            csv("sku,on_hand,on_order,lead_time_days,service_level,as_of\n85123A,12,4,10,0.9,2011-12-09\n")
                .unwrap();
        assert_eq!(snapshot.id, plain.id, "the same stock on the same day under other header names");
        let undated = csv("sku,on_hand,on_order,lead_time_days,service_level\n85123A,12,4,10,0.9\n").unwrap();
        assert_eq!(undated.as_of, None);
        assert_ne!(snapshot.id, undated.id, "the day counted is content");
    }

    #[test]
    fn an_unnamed_snapshot_judged_on_a_day_is_the_same_stock_counted_that_day() {
        let day: NaiveDate = "2011-12-09".parse().unwrap();
        let undated = csv("sku,on_hand
A,3
")
        .unwrap();
        let judged = undated.judged_on(day);
        assert_eq!(judged.as_of, Some(day));
        let dated = csv("sku,on_hand,snapshot_time
A,3,2011-12-09
")
        .unwrap();
        assert_eq!(judged.id, dated.id, "judging on a day = counting on it");
        assert_eq!(dated.judged_on(day).id, dated.id, "a dated snapshot judged on its own day keeps its id");
        let later = undated.judged_on(day.succ_opt().unwrap());
        assert_ne!(later.id, judged.id, "another day is another snapshot");

        let named = undated.named_as(" store-7 ").unwrap();
        assert!(named.named);
        assert_eq!(named.judged_on(day).id, "store-7", "a name is kept whatever the day");
        let refused = csv("sku,on_hand
A,3
")
        .unwrap()
        .named_as("a/b")
        .unwrap_err();
        assert!(refused.to_string().contains("contains one of /"), "{refused}");
        let refused = csv("sku,on_hand\nA,3\n").unwrap().named_as(" latest ").unwrap_err();
        assert_eq!(refused.to_string(), r#"snapshot id " latest ": is reserved"#);
    }

    #[test]
    fn a_snapshot_sent_more_than_a_day_after_now_is_refused_and_within_a_day_judged_on_its_day() {
        let now: DateTime<Utc> = "2011-12-09T12:00:00Z".parse().unwrap();
        let undated =
            InventorySnapshot::parse_json(br#"{"items": [{"sku": "22701", "on_hand": 0}]}"#).unwrap();
        let future = undated.sent_at("9999-12-09T10:00:00Z".parse().unwrap(), now).unwrap_err().to_string();
        assert_eq!(
            future,
            "snapshot sent at 9999-12-09 10:00:00 UTC, more than a day after now (2011-12-09 12:00:00 UTC): \
             a wrong clock or date; stock cannot be counted in the future"
        );
        // A dated count sent from the future is refused too: its event time is as wrong.
        let dated = InventorySnapshot::parse_json(
            br#"{"as_of": "2011-12-09", "items": [{"sku": "22701", "on_hand": 0}]}"#,
        )
        .unwrap();
        assert!(dated.sent_at("2011-12-10T12:00:01Z".parse().unwrap(), now).is_err());
        // A sender's clock up to a day ahead is skew: judged on the day it says.
        let ahead = undated.sent_at("2011-12-10T12:00:00Z".parse().unwrap(), now).unwrap();
        assert_eq!(ahead.as_of, Some("2011-12-10".parse().unwrap()));
        assert_eq!(ahead.id, undated.judged_on("2011-12-10".parse().unwrap()).id);
        let judged = dated.sent_at("2011-12-09T23:50:00Z".parse().unwrap(), now).unwrap();
        assert_eq!((judged.as_of, judged.id), (dated.as_of, dated.id.clone()), "its own day");
        // A shop east of UTC dates a count taken after its midnight a day ahead of the UTC date.
        let east = dated.sent_at("2011-12-08T11:30:00Z".parse().unwrap(), now).unwrap();
        assert_eq!(east.as_of, dated.as_of, "judged on the shop's date");
        assert_eq!(east.counted_at, "2011-12-08T11:30:00Z".parse().ok(), "counted by the time sent");
        let early = dated.sent_at("2011-12-07T23:50:00Z".parse().unwrap(), now).unwrap_err().to_string();
        assert!(
            early.starts_with(
                "snapshot counted on 2011-12-09: more than a day after the day it was sent, 2011-12-07 (UTC)"
            ),
            "{early}"
        );
    }

    #[test]
    fn a_count_sent_on_its_day_was_counted_by_then_and_one_sent_later_at_an_unknown_time() {
        let now: DateTime<Utc> = "2011-12-12T12:00:00Z".parse().unwrap();
        let sent: DateTime<Utc> = "2011-12-09T23:50:00Z".parse().unwrap();
        let undated = InventorySnapshot::parse_json(br#"{"items": [{"sku": "A", "on_hand": 1}]}"#).unwrap();
        assert_eq!(undated.sent_at(sent, now).unwrap().counted_at, Some(sent));
        let dated = InventorySnapshot::parse_json(
            br#"{"as_of": "2011-12-09", "items": [{"sku": "A", "on_hand": 1}]}"#,
        )
        .unwrap();
        assert_eq!(dated.sent_at(sent, now).unwrap().counted_at, Some(sent), "sent the day it was counted");
        let late = dated.sent_at("2011-12-10T08:00:00Z".parse().unwrap(), now).unwrap();
        assert_eq!((late.as_of, late.counted_at), (dated.as_of, None), "sent a day later: time unknown");
        let timed = undated.sent_at(sent, now).unwrap();
        assert_eq!(timed.id, undated.judged_on(sent.date_naive()).id, "the time is not content");
        assert_eq!(timed.judged_on("2011-12-08".parse().unwrap()).counted_at, None, "judged on another day");
    }

    #[test]
    fn an_empty_file_or_a_header_alone_is_refused() {
        assert_eq!(csv_error(""), "inventory.csv: the snapshot has no inventory rows");
        assert_eq!(csv_error("sku,on_hand\n"), "inventory.csv: the snapshot has no inventory rows");
        assert_eq!(csv_error("sku,on_hand\n\n,\n"), "inventory.csv: the snapshot has no inventory rows");
    }

    #[test]
    fn a_json_payload_is_read_with_null_as_absent() {
        let snapshot = InventorySnapshot::parse_json(
            br#"{"snapshot_id": " store-7:2011-12-09 ", "items": [
                {"sku": "85123a", "on_hand": 12, "on_order": null, "lead_time_days": 5, "service_level": 0.97},
                {"sku": 22423, "on_hand": 0}
            ]}"#,
        )
        .unwrap();
        assert_eq!(snapshot.id, "store-7:2011-12-09");
        assert_eq!(snapshot.as_of, None);
        let dated = InventorySnapshot::parse_json(
            br#"{"as_of": "2011-12-09", "items": [{"sku": "A", "on_hand": 1}]}"#,
        )
        .unwrap();
        assert_eq!(dated.as_of, Some("2011-12-09".parse().unwrap()));
        assert_eq!(snapshot.rows[0].on_order, 0);
        assert_eq!(snapshot.rows[0].lead_time_days, Some(5));
        assert_eq!(snapshot.rows[0].service_level, Some(0.97));
        assert_eq!(snapshot.rows[1], InventoryRow::new("22423", 0));
    }

    #[test]
    fn json_errors_name_the_item_index_and_field() {
        assert_eq!(
            json_error(r#"{"items": [{"sku": "A", "on_hand": 1}, {"sku": "B", "on_hand": -3}]}"#),
            r#"items[1]: field on_hand: "-3" is negative"#
        );
        assert_eq!(
            json_error(r#"{"items": [{"sku": "A", "on_hand": "4"}]}"#),
            r#"items[0]: field on_hand: expected a number, found "4""#
        );
        assert_eq!(json_error(r#"{"items": [{"sku": "A"}]}"#), "items[0]: field on_hand: missing");
        assert_eq!(
            json_error(r#"{"items": [{"sku": "A", "on_hand": 1, "lead_time": 3}]}"#),
            "items[0]: field lead_time: unknown field (expected one of sku, on_hand, on_order, lead_time_days, service_level, on_order_due_days)"
        );
        assert_eq!(
            json_error(r#"{"items": [{"sku": "A", "on_hand": 1, "on_order": 4, "on_order_due_days": 2.5}]}"#),
            r#"items[0]: field on_order_due_days: "2.5" is not a whole number of days"#
        );
        assert_eq!(
            json_error(r#"{"items": [{"sku": "A", "on_hand": 1, "service_level": 1}]}"#),
            r#"items[0]: field service_level: "1" is outside the open interval (0.5, 0.9999)"#
        );
        assert_eq!(
            json_error(r#"{"items": [{"sku": "A", "on_hand": 1}, {"sku": "a", "on_hand": 2}]}"#),
            r#"items[1]: field sku: "A" appears again (first at items[0])"#
        );
        assert_eq!(json_error(r#"{"items": []}"#), "payload: the snapshot has no inventory rows");
        assert_eq!(
            json_error(r#"{"rows": []}"#),
            "inventory payload: unknown field `rows` (expected `snapshot_id`, `as_of`, `partial` and `items`)"
        );
        assert!(
            json_error(r#"{"as_of": "09.12.2011", "items": [{"sku": "A", "on_hand": 1}]}"#)
                .starts_with("inventory payload: `as_of` must be a date (YYYY-MM-DD)")
        );
        assert_eq!(
            json_error(r#"{"items": {}}"#),
            "inventory payload: `items` must be an array, found an object"
        );
        assert!(
            json_error(r#"{"snapshot_id": "a/b", "items": [{"sku": "A", "on_hand": 1}]}"#)
                .starts_with("snapshot id \"a/b\"")
        );
        assert!(json_error("[").starts_with("inventory payload: not JSON"));
    }

    #[test]
    fn the_same_stock_has_the_same_id_in_any_order_and_either_format() {
        let a = csv("sku,on_hand,on_order\nA,1,0\nb,2,5\n").unwrap();
        let b = csv("on_order,sku,on_hand\n5,B,2\n,a,1\n").unwrap();
        let c = InventorySnapshot::parse_json(
            br#"{"items": [{"sku": "B", "on_hand": 2, "on_order": 5}, {"sku": "A", "on_hand": 1}]}"#,
        )
        .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.id, c.id);
        let changed = csv("sku,on_hand,on_order\nA,1,0\nb,3,5\n").unwrap();
        assert_ne!(a.id, changed.id, "one unit more is another snapshot");
        let with_lead = csv("sku,on_hand,on_order,lead_time_days\nA,1,0,7\nb,2,5,\n").unwrap();
        assert_ne!(a.id, with_lead.id, "a lead time given is content, even if it equals the default");
        // Ids of snapshots without an arrival day are what they were before the column existed.
        let before = "shopsense-inventory-v1\nA,1,0,,\nB,2,5,,\n";
        assert_eq!(a.id, crate::bronze::sha256_hex(before.as_bytes()));
        let with_due = csv("sku,on_hand,on_order,on_order_due_days\nA,1,0,\nb,2,5,3\n").unwrap();
        assert_ne!(a.id, with_due.id, "when the units on order arrive is content");
        // A partial count of the same stock is another count; `"partial": false` is a whole one.
        let partial = InventorySnapshot::parse_json(
            br#"{"partial": true, "items": [{"sku": "B", "on_hand": 2, "on_order": 5}, {"sku": "A", "on_hand": 1}]}"#,
        )
        .unwrap();
        assert!(partial.partial);
        assert_ne!(a.id, partial.id);
        assert_eq!(partial.id, a.clone().counting_in_part(true).id);
        let day: NaiveDate = "2011-12-09".parse().unwrap();
        assert_eq!(partial.judged_on(day).id, a.counting_in_part(true).judged_on(day).id);
        let whole =
            InventorySnapshot::parse_json(br#"{"partial": false, "items": [{"sku": "A", "on_hand": 1}]}"#);
        assert!(!whole.unwrap().partial);
        assert_eq!(
            json_error(r#"{"partial": "yes", "items": [{"sku": "A", "on_hand": 1}]}"#),
            r#"inventory payload: `partial` must be true or false, found "yes""#
        );
    }

    #[test]
    fn uploads_under_inventory_partial_are_partial_counts() {
        assert!(is_partial_upload("inventory/partial/aisle-7.csv"));
        assert!(is_partial_upload("Inventory/Partial/2011/12/aisle-7.csv"));
        assert!(!is_partial_upload("inventory/partial"), "a file named so is no folder");
        assert!(!is_partial_upload("inventory/partial.csv"));
        assert!(!is_partial_upload("inventory/today.csv"));
        assert!(!is_partial_upload("transactions/partial/x.csv"));
    }

    #[test]
    fn rows_built_elsewhere_are_checked_like_parsed_ones() {
        let rows = vec![InventoryRow { service_level: Some(0.3), ..InventoryRow::new("A", 1) }];
        assert_eq!(
            InventorySnapshot::from_rows(None, rows).unwrap_err().to_string(),
            r#"items[0]: field service_level: "0.3" is outside the open interval (0.5, 0.9999)"#
        );
        let rows =
            vec![InventoryRow { on_order: 5, on_order_due_days: Some(400), ..InventoryRow::new("A", 1) }];
        assert_eq!(
            InventorySnapshot::from_rows(None, rows).unwrap_err().to_string(),
            r#"items[0]: field on_order_due_days: "400" is outside 0..=365 days"#
        );
        let ok = InventorySnapshot::from_rows(Some("s1"), vec![InventoryRow::new(" a ", 1)]).unwrap();
        assert_eq!((ok.id.as_str(), ok.rows[0].sku.as_str()), ("s1", "A"));
    }
}
