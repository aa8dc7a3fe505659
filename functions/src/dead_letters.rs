//! The retrain timer's second catch-up: the events Event Grid gave up delivering
//! ([`shopsense::dead_letters`]), handled as their function would have.
//!
//! - `inventory-alert`: each event is judged again ([`crate::alerts::handle`]); alerts are
//!   idempotent per snapshot, so an event that did get through once writes nothing new.
//! - `ingest`: the upload sweep that ran just before reads every upload not ingested yet, so
//!   the event is done once that sweep covered its upload.
//!
//! A dead letter whose events are all done is filed under `replayed/`; one whose events are not
//! events is filed under `unreadable/`; any other stays for the next night, and each night says
//! so in the retrain's log.

use shopsense::dead_letters::{self, DEAD_LETTER_CONTAINER, DeadLetter, Subscription};
use shopsense::ingest::SweepReport;

use crate::host::EventGridEvent;
use crate::state::AppState;

/// What became of one dead letter.
enum Outcome {
    /// Every event handled: filed under `replayed/` with this note.
    Handled(String),
    /// An event that is not an Event Grid event: filed under `unreadable/` with the reason.
    Unreadable(String),
    /// Left for the next night, with the reason.
    Kept(String),
}

/// Handles the pending dead letters; returns the log lines (none when there were none).
/// `sweep` is the upload sweep that ran just before, if it ran.
pub async fn replay(state: &AppState, sweep: Option<&SweepReport>) -> Vec<String> {
    let store = match state.stores.blobs.container(DEAD_LETTER_CONTAINER).await {
        Ok(store) => store,
        Err(e) => return vec![format!("dead letters: cannot open {DEAD_LETTER_CONTAINER}: {e}")],
    };
    let pending = match dead_letters::pending(&*store).await {
        Ok(pending) => pending,
        Err(e) => return vec![format!("dead letters: cannot read {DEAD_LETTER_CONTAINER}: {e}")],
    };
    let mut lines: Vec<String> = pending
        .unreadable
        .iter()
        .map(|(path, reason)| format!("dead letters: {path} filed under unreadable/: {reason}"))
        .collect();
    let (mut handled, mut kept) = (0, 0);
    for letter in &pending.letters {
        let outcome = outcome(state, sweep, letter).await;
        let (filing, note) = match &outcome {
            Outcome::Handled(note) => (Some(true), note),
            Outcome::Unreadable(reason) => (Some(false), reason),
            Outcome::Kept(reason) => (None, reason),
        };
        let filed = match filing {
            Some(handled) => dead_letters::file(&*store, &letter.path, handled, note).await,
            None => Ok(()),
        };
        match (outcome, filed) {
            (_, Err(e)) => {
                kept += 1;
                lines.push(format!("dead letters: {}: handled, but could not be filed: {e}", letter.path));
            }
            (Outcome::Handled(_), Ok(())) => handled += 1,
            (Outcome::Unreadable(reason), Ok(())) => {
                lines.push(format!("dead letters: {} filed under unreadable/: {reason}", letter.path));
            }
            (Outcome::Kept(reason), Ok(())) => {
                kept += 1;
                lines.push(format!("dead letters: {} kept for the next night: {reason}", letter.path));
            }
        }
    }
    if handled + kept > 0 || pending.left_for_next > 0 {
        lines.insert(
            0,
            format!(
                "dead letters: {handled} replayed and filed under replayed/, {kept} kept, {} left for the next night",
                pending.left_for_next
            ),
        );
    }
    for line in &lines {
        tracing::warn!("{line}");
    }
    lines
}

async fn outcome(state: &AppState, sweep: Option<&SweepReport>, letter: &DeadLetter) -> Outcome {
    let mut events = Vec::with_capacity(letter.events.len());
    for (i, value) in letter.events.iter().enumerate() {
        match serde_json::from_value::<EventGridEvent>(value.clone()) {
            Ok(event) => events.push(event),
            Err(e) => return Outcome::Unreadable(format!("event {i} is not an Event Grid event: {e}")),
        }
    }
    match letter.subscription {
        None => {
            Outcome::Kept("its path names no shopsense subscription (ingest, inventory-alert)".to_owned())
        }
        Some(Subscription::InventoryAlert) => {
            for event in &events {
                match crate::alerts::handle(state, event).await {
                    Ok(response) if !response.is_failure() => {}
                    Ok(response) => {
                        return Outcome::Kept(format!("event {}: {}", event.id, response.logs.join("; ")));
                    }
                    Err(e) => return Outcome::Kept(format!("event {}: {e}", event.id)),
                }
            }
            Outcome::Handled(format!("judged again by inventory-alert ({} events)", events.len()))
        }
        Some(Subscription::Ingest) => {
            let Some(sweep) = sweep else {
                return Outcome::Kept("the upload sweep did not run".to_owned());
            };
            for event in &events {
                let upload = event
                    .subject
                    .strip_prefix("/blobServices/default/containers/")
                    .and_then(|rest| rest.split_once("/blobs/"))
                    .filter(|(container, _)| *container == state.uploads_container)
                    .map(|(_, path)| path);
                if let Some(path) = upload
                    && !sweep.covers(path)
                {
                    return Outcome::Kept(format!("the upload sweep has not read {path} yet"));
                }
            }
            Outcome::Handled("the upload sweep ingested or had ingested its uploads".to_owned())
        }
    }
}
