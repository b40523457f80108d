//! The export's Conversations API v3 source: v3 pages of up to 1000 conversations with their
//! turns, walked by cursor, with the resume position kept in the checkpoint.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use polyai_data::v3::{ListConversations, Project};
use polyai_data::{Error, Timestamp};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::cli::ExportArgs;
use crate::commands::Ctx;
use crate::commands::v3::{client_env, with_window};
use crate::exit::CliError;
use crate::export::checkpoint::{Checkpoint, V3Source};
use crate::export::idset::{IdSet, key};
use crate::when;

/// Conversations per v3 page unless `--page-size` says otherwise: the API's maximum.
pub const PAGE_SIZE: u64 = polyai_data::v3::MAX_LIMIT;

/// Data API detail fields a v3 record does not carry; `--with-details` adds them.
const DATA_API_ONLY: &[&str] = &[
    "createdAt",
    "finishedAt",
    "direction",
    "language",
    "clientEnv",
    "tags",
    "polyScore",
    "shortSummary",
    "deploymentId",
    "note",
    "audioUrl",
    "functionEvents",
];

/// One conversation for the export's workers.
#[derive(Debug)]
pub struct Item {
    /// Conversation id.
    pub id: String,
    /// The v3 record as the API sent it.
    pub record: Value,
    /// Number of the page it came on (for the resume cursor).
    pub page: u64,
}

/// A v3 export: where it reads and what the checkpoint says about it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The checkpoint's v3 section (its cursor is where this run starts).
    pub source: V3Source,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
}

impl Plan {
    /// The v3 plan of this export, or `None` when it reads the Data API: v3 when an account is
    /// known (`--account`, or the sandbox's with `--since`/`--until`/`--env`). An unfinished
    /// export with the same arguments keeps its window and continues from its cursor; otherwise
    /// ages such as `24h` are resolved now.
    pub fn new(
        ctx: &Ctx<'_>,
        args: &ExportArgs,
        previous: Option<&Checkpoint>,
    ) -> Result<Option<Plan>, CliError> {
        let mut flags = Vec::new();
        if args.since.is_some() {
            flags.push("--since");
        }
        if args.until.is_some() {
            flags.push("--until");
        }
        if args.env.is_some() {
            flags.push("--env");
        }
        let Some(account_id) = ctx.session.v3_account(&flags)? else {
            return Ok(None);
        };
        let env = args.env.map(|e| client_env(e).as_str().to_owned());
        let fresh = V3Source {
            account_id,
            since_arg: args.since.clone(),
            until_arg: args.until.clone(),
            start_time: None,
            end_time: None,
            client_env: env,
            cursor: None,
        };
        let unfinished = previous
            .filter(|p| !p.complete)
            .and_then(|p| p.v3.clone())
            .filter(|was| {
                was.account_id == fresh.account_id
                    && was.since_arg == fresh.since_arg
                    && was.until_arg == fresh.until_arg
                    && was.client_env == fresh.client_env
            });
        let source = match unfinished {
            Some(was) => was,
            None => {
                let (start, end) = when::window(
                    args.since.as_deref(),
                    args.until.as_deref(),
                    ctx.session.now(),
                )?;
                V3Source {
                    start_time: start.map(|t| t.to_string()),
                    end_time: end.map(|t| t.to_string()),
                    ..fresh
                }
            }
        };
        let parse = |t: &Option<String>| -> Result<Option<Timestamp>, CliError> {
            t.as_deref()
                .map(|t| {
                    t.parse().map_err(|_| {
                        CliError::Usage(format!("the checkpoint holds an invalid time {t:?}"))
                    })
                })
                .transpose()
        };
        Ok(Some(Plan {
            start: parse(&source.start_time)?,
            end: parse(&source.end_time)?,
            source,
        }))
    }

    /// The listing of this export (its window, environment and page size), from `cursor`.
    pub fn listing(
        &self,
        project: &Project,
        page_size: u64,
        cursor: Option<&str>,
    ) -> ListConversations {
        let mut listing = with_window(project.conversations(), self.start, self.end)
            .limit(page_size)
            .include_latency(true);
        if let Some(env) = self
            .source
            .client_env
            .as_deref()
            .and_then(|e| e.parse().ok())
        {
            listing = listing.client_env(env);
        }
        if let Some(cursor) = cursor {
            listing = listing.cursor(cursor);
        }
        listing
    }

    /// A note for stderr describing the window.
    pub fn describe(&self) -> String {
        let at = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
        format!(
            "exporting account {} through the Conversations API v3, started {} to {}",
            self.source.account_id,
            at(&self.source.start_time),
            at(&self.source.end_time)
        )
    }
}

/// Which pages are fully in the journal, to know where a resumed run continues.
///
/// Page `n` was requested with cursor `c(n)` and pointed on to `c(n+1)`; its conversations are
/// written out of order by the workers. The resume cursor is `c(k)` for the first page `k`
/// with conversations still unwritten, or the cursor after the last page once every listed
/// page is complete.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Pages not complete yet: (cursor that starts it, conversations still unwritten).
    open: BTreeMap<u64, (Option<String>, usize)>,
    /// The cursor after the last page listed (`None` at the end of the listing).
    after_last: Option<String>,
}

impl Tracker {
    /// A tracker for a walk that starts at `cursor`.
    pub fn new(cursor: Option<String>) -> Self {
        Tracker {
            open: BTreeMap::new(),
            after_last: cursor,
        }
    }

    /// Page `page`, started at the previous `after_last`, lists `pending` conversations still to
    /// write and points on to `next`.
    fn listed(&mut self, page: u64, pending: usize, next: Option<String>) {
        let start = std::mem::replace(&mut self.after_last, next);
        if pending > 0 {
            self.open.insert(page, (start, pending));
        }
    }

    /// One conversation of `page` is in the journal.
    pub fn written(&mut self, page: u64) {
        if let Some((_, pending)) = self.open.get_mut(&page) {
            *pending = pending.saturating_sub(1);
            if *pending == 0 {
                self.open.remove(&page);
            }
        }
    }

    /// Where a resumed run should continue.
    pub fn resume_cursor(&self) -> Option<String> {
        match self.open.values().next() {
            Some((start, _)) => start.clone(),
            None => self.after_last.clone(),
        }
    }
}

/// A tracker shared by the lister and the writer.
pub type SharedTracker = Arc<Mutex<Tracker>>;

/// Locks a tracker (a panicked holder leaves consistent data: every update is one statement).
pub fn lock(tracker: &SharedTracker) -> std::sync::MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Walks the v3 pages from the plan's cursor and queues the conversations not exported yet (as
/// `wrap` makes them). A cursor the server refuses (400) restarts the walk from the first page
/// once, with a note.
pub async fn list_pending<T>(
    plan: Plan,
    project: Project,
    page_size: u64,
    done: Arc<Mutex<IdSet>>,
    tx: mpsc::Sender<Result<T, Error>>,
    wrap: fn(Item) -> T,
    tracker: SharedTracker,
) {
    let mut cursor = plan.source.cursor.clone();
    'walk: loop {
        let mut pages = plan
            .listing(&project, page_size, cursor.as_deref())
            .json_pages();
        let mut number = 0u64;
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page,
                Ok(None) => {
                    lock(&tracker).after_last = None;
                    return;
                }
                Err(err) if number == 0 && cursor.is_some() && err.status() == Some(400) => {
                    crate::output::note!(
                        "the saved cursor was refused ({err}); listing the window from its start, skipping what is exported"
                    );
                    cursor = None;
                    *lock(&tracker) = Tracker::new(None);
                    continue 'walk;
                }
                Err(err) => {
                    let _ = tx.send(Err(err)).await;
                    return;
                }
            };
            let next = page.cursor().map(str::to_owned);
            let items: Vec<Item> = {
                let done = done.lock().unwrap_or_else(PoisonError::into_inner);
                page.into_items()
                    .into_iter()
                    .filter_map(|record| {
                        let id = record.get("id").and_then(Value::as_str)?.to_owned();
                        (!done.contains(key(&id))).then_some(Item {
                            id,
                            record,
                            page: number,
                        })
                    })
                    .collect()
            };
            lock(&tracker).listed(number, items.len(), next);
            for item in items {
                if tx.send(Ok(wrap(item))).await.is_err() {
                    return;
                }
            }
            number += 1;
        }
    }
}

/// Adds to a v3 `record` what only the Data API `detail` has: the fields v3 does not carry and,
/// when the v3 record came without its transcript, the detail's turns.
pub fn add_details(record: &mut Value, detail: &Value) {
    let (Some(record), Some(detail)) = (record.as_object_mut(), detail.as_object()) else {
        return;
    };
    for key in DATA_API_ONLY {
        if let Some(value) = detail.get(*key)
            && !record.contains_key(*key)
        {
            record.insert((*key).to_owned(), value.clone());
        }
    }
    let no_turns = record
        .get("turns")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_turns && let Some(turns) = detail.get("turns").filter(|t| !t.is_null()) {
        record.insert("turns".to_owned(), turns.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn object(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<Map<String, Value>>(),
        )
    }

    #[test]
    fn the_resume_cursor_is_the_first_page_not_fully_written() {
        let mut t = Tracker::new(Some("c0".into()));
        assert_eq!(t.resume_cursor().as_deref(), Some("c0"));
        t.listed(0, 2, Some("c1".into()));
        t.listed(1, 1, Some("c2".into()));
        t.listed(2, 0, Some("c3".into()));
        assert_eq!(t.resume_cursor().as_deref(), Some("c0"));
        t.written(1);
        assert_eq!(
            t.resume_cursor().as_deref(),
            Some("c0"),
            "page 0 still open"
        );
        t.written(0);
        t.written(0);
        assert_eq!(
            t.resume_cursor().as_deref(),
            Some("c3"),
            "pages 0-2 complete"
        );
        t.listed(3, 1, None);
        assert_eq!(t.resume_cursor().as_deref(), Some("c3"));
        t.written(3);
        assert_eq!(t.resume_cursor(), None, "the listing is finished");
    }

    #[test]
    fn details_add_only_what_v3_lacks() {
        let mut record = object(&[
            ("id", json!("CA1")),
            ("channel", json!("VOICE-SIP")),
            ("turns", json!([])),
        ]);
        let detail = json!({
            "conversationId": "CA1", "channel": "CHAT", "note": "n",
            "functionEvents": {"1": []}, "turns": [{"turn_id": 7}], "somethingElse": 1
        });
        add_details(&mut record, &detail);
        assert_eq!(
            record,
            json!({
                "id": "CA1", "channel": "VOICE-SIP", "turns": [{"turn_id": 7}],
                "note": "n", "functionEvents": {"1": []}
            })
        );
        let mut with_turns = object(&[
            ("id", json!("CA2")),
            ("turns", json!([{"user_input": "hi"}])),
        ]);
        add_details(&mut with_turns, &detail);
        assert_eq!(with_turns["turns"], json!([{"user_input": "hi"}]));
        assert!(with_turns.get("conversationId").is_none());
    }
}
