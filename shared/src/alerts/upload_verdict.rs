//! What the alerts made of each inventory upload, for `shopsense uploads list`. Ingest reads an
//! inventory file as it reads any upload and passes what it can, while the alerts refuse a count
//! for one bad row or an unknown column ([`super::inventory_upload`]): an on-call walkthrough
//! found three counts the alerts had refused (a misspelt `lead_tme`, a SKU listed twice) listed
//! as `counted`, and only `GET /api/alerts` said otherwise.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::ingest::report::QualityReport;
use crate::serving::LatestSnapshot;
use crate::serving::stock::{LATEST_ID, REFUSALS_PARTITION, RefusedCount, SNAPSHOTS_PARTITION};
use crate::store::{DocumentStore, Query, StoreResult};

/// How far from a report's upload time its blob event may say it was sent (clocks of the store
/// and of the event's sender).
const SLACK: chrono::Duration = chrono::Duration::seconds(60);

/// Where an inventory upload stands with the alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertsVerdict {
    /// The alerts refused it, and no count has answered that since.
    Refused(String),
    /// Read, but none of its SKUs could be judged (no forecast, or one too old).
    NotJudged(String),
    /// Its count is the open alerts' (the whole count, or a partial count since).
    OpenCount {
        /// Counted some SKUs only.
        partial: bool,
    },
    /// A later upload under the same path replaced it.
    SentAgain,
    /// Judged or waiting, but not the open alerts' count: a later count is, or it is still to
    /// be judged (a count before any forecast is live waits for one).
    NotOpen,
}

impl fmt::Display for AlertsVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(reason) => write!(f, "refused by the alerts: {reason}"),
            Self::NotJudged(reason) => write!(f, "not judged by the alerts: {reason}"),
            Self::OpenCount { partial: false } => f.write_str("the open alerts' count"),
            Self::OpenCount { partial: true } => f.write_str("the open alerts' count (partial)"),
            Self::SentAgain => f.write_str("sent again: a later upload of this path replaced it"),
            Self::NotOpen => f.write_str("not the open alerts' count (a later one is, or it awaits judging)"),
        }
    }
}

/// The blob path of an event subject (`/blobServices/default/containers/<c>/blobs/<path>`), or
/// the subject itself.
fn blob_path(subject: &str) -> &str {
    subject.split_once("/blobs/").map_or(subject, |(_, path)| path)
}

/// The verdict of each inventory report (as [`crate::ingest::Ingestor::reports`] lists them,
/// oldest first), `None` for one that added nothing (ingest failed it): a refusal of its blob
/// still standing, the latest count (or a partial since) read from its blob, or neither. Only the
/// newest upload of a path can be any of these; an older one was sent again.
#[must_use]
pub fn verdicts(
    reports: &[QualityReport],
    latest: Option<&LatestSnapshot>,
    refusals: &[RefusedCount],
) -> Vec<Option<AlertsVerdict>> {
    let open: Vec<(&str, bool, Option<DateTime<Utc>>)> = latest
        .into_iter()
        .flat_map(|l| {
            let base = l.source.as_deref().map(|s| (blob_path(s), l.partial, l.sent_at));
            let partials = l
                .partials
                .iter()
                .filter_map(|p| p.source.as_deref().map(|s| (blob_path(s), true, p.sent_at)));
            base.into_iter().chain(partials)
        })
        .collect();
    // A blob event's time is the blob's write, which the report took as its upload time: an
    // event further from it was of another upload under the same path (an earlier one, one
    // ingest has not reported yet, or the same bytes sent again, which ingest reports once).
    let of_this = |report: &QualityReport, sent: Option<DateTime<Utc>>| {
        sent.is_none_or(|sent| (sent - report.uploaded_at).abs() <= SLACK)
    };
    reports
        .iter()
        .enumerate()
        .map(|(i, report)| {
            // Ingest failed it: it added nothing for the alerts to read either.
            report.outputs.silver.as_ref()?;
            if reports[i + 1..]
                .iter()
                .any(|later| later.file == report.file && later.outputs.silver.is_some())
            {
                return Some(AlertsVerdict::SentAgain);
            }
            let refused = refusals
                .iter()
                .filter(|r| {
                    r.is_upload() && blob_path(&r.subject) == report.file && of_this(report, Some(r.sent_at))
                })
                .max_by_key(|r| r.sent_at);
            Some(match refused {
                Some(r) if r.not_judged.is_some() => AlertsVerdict::NotJudged(r.reason.clone()),
                Some(r) => AlertsVerdict::Refused(r.reason.clone()),
                None => {
                    match open.iter().find(|(path, _, sent)| *path == report.file && of_this(report, *sent)) {
                        Some(&(_, partial, _)) => AlertsVerdict::OpenCount { partial },
                        None => AlertsVerdict::NotOpen,
                    }
                }
            })
        })
        .collect()
}

/// [`verdicts`] of `reports` from the alerts container: its latest count and the refusals kept.
///
/// # Errors
/// Store failures; an unreadable latest count.
pub async fn of_uploads(
    alerts: &dyn DocumentStore,
    reports: &[QualityReport],
) -> StoreResult<Vec<Option<AlertsVerdict>>> {
    let latest = match alerts.get(SNAPSHOTS_PARTITION, LATEST_ID).await? {
        Some(doc) => Some(doc.parse::<LatestSnapshot>()?),
        None => None,
    };
    // One that cannot be read (a future version's) is passed over, as the alerts' answer does.
    let refusals: Vec<RefusedCount> = alerts
        .query(REFUSALS_PARTITION, &Query::all())
        .await?
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    Ok(verdicts(reports, latest.as_ref(), &refusals))
}
