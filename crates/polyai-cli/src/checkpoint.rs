//! The export's durable state: the JSONL journal and the checkpoint file beside it.
//!
//! Invariants that make an interrupted export resumable with no duplicate and no missing
//! record:
//!
//! - A conversation is appended to `conversations.jsonl` only once it is complete (its detail
//!   fetched and, with `--with-audio`, its recording renamed into place), as one `write` of a
//!   whole line. A line in the journal therefore means "done"; a process killed at any point
//!   leaves at most one partial last line.
//! - The journal is `fsync`ed about once a second and the checkpoint (options, committed
//!   length, record count) is then replaced atomically (write to a temporary file, `fsync`,
//!   rename, `fsync` the directory).
//! - On resume the journal is read back: every complete line that parses and names a
//!   `conversationId` not seen before is kept; the first partial or unreadable line and
//!   everything after it are truncated away (after a power loss, bytes past the committed
//!   length may be garbage). The ids kept are skipped by the new run, and the listing is
//!   walked from the start again, de-duplicated by `conversationId`, so conversations that
//!   arrived meanwhile (which shift offset pages) are picked up too.
//! - An export through the Conversations API v3 ([`V3Source`]) writes v3 records, keyed by `id`,
//!   and keeps in the checkpoint the resolved time window and the cursor of the first page not
//!   yet fully in the journal: a resumed run continues from that cursor (ids already written
//!   are skipped), and starts over from the first page if the server no longer accepts it.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::CliError;

/// The journal: one conversation per line.
pub const JOURNAL_FILE: &str = "conversations.jsonl";
/// The checkpoint.
pub const CHECKPOINT_FILE: &str = "export.checkpoint.json";
/// Version of the checkpoint format.
const FORMAT_VERSION: u32 = 1;

/// What the checkpoint file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// Agent exported.
    pub agent_id: String,
    /// API host exported from (informational).
    pub host: String,
    /// Whether lines are details rather than summaries.
    pub with_details: bool,
    /// Whether recordings are downloaded.
    pub with_audio: bool,
    /// Journal length known to be on disk.
    pub committed_bytes: u64,
    /// Lines in the committed part of the journal.
    pub records: u64,
    /// Whether the last run finished the listing.
    pub complete: bool,
    /// Set when the export reads the Conversations API v3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3: Option<V3Source>,
}

/// What a v3 export lists, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V3Source {
    /// Account (workspace) exported.
    pub account_id: String,
    /// `--since` as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_arg: Option<String>,
    /// `--until` as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_arg: Option<String>,
    /// `--since` resolved (RFC 3339), fixed for the whole export and its resumptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `--until` resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `--env`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_env: Option<String>,
    /// Where a resumed run continues: the cursor of the first page not yet fully written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Checkpoint {
    /// A fresh checkpoint for these options.
    pub fn new(agent_id: &str, host: &str, with_details: bool, with_audio: bool) -> Self {
        Checkpoint {
            version: FORMAT_VERSION,
            agent_id: agent_id.to_owned(),
            host: host.to_owned(),
            with_details,
            with_audio,
            committed_bytes: 0,
            records: 0,
            complete: false,
            v3: None,
        }
    }

    /// Reads `dir`'s checkpoint, if there is one.
    pub fn load(dir: &Path) -> Result<Option<Checkpoint>, CliError> {
        let path = dir.join(CHECKPOINT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::file("reading", path, e)),
        };
        let checkpoint: Checkpoint = serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!(
                "{} is not a polyai export checkpoint ({e}); use another --out directory",
                path.display()
            ))
        })?;
        if checkpoint.version != FORMAT_VERSION {
            return Err(CliError::Usage(format!(
                "{} has format version {}, this polyai writes {FORMAT_VERSION}; use another --out directory",
                path.display(),
                checkpoint.version
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Refuses to continue an export made for another agent or with other options, which
    /// would mix two kinds of lines in one journal.
    pub fn check_same_export(&self, wanted: &Checkpoint) -> Result<(), CliError> {
        let mut differences = Vec::new();
        if self.agent_id != wanted.agent_id {
            differences.push(format!("agent {} (now {})", self.agent_id, wanted.agent_id));
        }
        if self.with_details != wanted.with_details {
            differences.push(format!("--with-details {}", flag(self.with_details)));
        }
        if self.with_audio != wanted.with_audio {
            differences.push(format!("--with-audio {}", flag(self.with_audio)));
        }
        match (&self.v3, &wanted.v3) {
            (None, None) => {}
            (Some(v3), None) => differences.push(format!(
                "the Conversations API v3 (account {})",
                v3.account_id
            )),
            (None, Some(_)) => differences.push("the Data API".into()),
            (Some(was), Some(now)) => {
                if was.account_id != now.account_id {
                    differences.push(format!(
                        "account {} (now {})",
                        was.account_id, now.account_id
                    ));
                }
                let arg = |a: &Option<String>| a.clone().unwrap_or_else(|| "none".into());
                if was.since_arg != now.since_arg {
                    differences.push(format!("--since {}", arg(&was.since_arg)));
                }
                if was.until_arg != now.until_arg {
                    differences.push(format!("--until {}", arg(&was.until_arg)));
                }
                if was.client_env != now.client_env {
                    differences.push(format!("--env {}", arg(&was.client_env)));
                }
            }
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(CliError::Usage(format!(
                "this directory holds an export made with {}; rerun with the same options or use another --out",
                differences.join(", ")
            )))
        }
    }

    /// Replaces the checkpoint atomically: temporary file, `fsync`, rename, `fsync` of `dir`.
    pub fn store(&self, dir: &Path) -> Result<(), CliError> {
        let path = dir.join(CHECKPOINT_FILE);
        let temp = dir.join(format!(".{CHECKPOINT_FILE}.tmp"));
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| CliError::Other(format!("encoding the checkpoint: {e}")))?;
        text.push(b'\n');
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temp)?;
            file.write_all(&text)?;
            file.sync_all()
        };
        write().map_err(|e| CliError::file("writing", &temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| CliError::file("renaming into", &path, e))?;
        sync_dir(dir);
        Ok(())
    }
}

fn flag(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// `fsync` of a directory so a rename in it is durable (best effort; not possible everywhere).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// What reconciling the journal found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Lines kept.
    pub kept: u64,
    /// Bytes cut from the end (a partial or unreadable tail).
    pub truncated_bytes: u64,
    /// Whether the cut went below the length the checkpoint said was committed.
    pub below_committed: bool,
}

/// The append-only journal, positioned at its end.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    records: u64,
    committed: u64,
}

/// The id of a journal line: `conversationId` (Data API records) or `id` (v3 records).
#[derive(Deserialize)]
struct LineId {
    #[serde(rename = "conversationId", alias = "id")]
    conversation_id: String,
}

impl Journal {
    /// Opens (creating if needed) `dir`'s journal, keeps its complete valid lines, truncates
    /// anything after the first partial or unreadable one, and returns the ids it holds.
    pub fn open(
        dir: &Path,
        committed_bytes: u64,
    ) -> Result<(Journal, HashSet<String>, Recovery), CliError> {
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| CliError::file("opening", &path, e))?;
        let total = file
            .metadata()
            .map_err(|e| CliError::file("reading", &path, e))?
            .len();
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut ids = HashSet::new();
        let mut good: u64 = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| CliError::file("reading", &path, e))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let fresh = serde_json::from_slice::<LineId>(&line)
                .is_ok_and(|l| ids.insert(l.conversation_id));
            if !fresh {
                break;
            }
            good += n as u64;
        }
        drop(reader);
        let recovery = Recovery {
            kept: ids.len() as u64,
            truncated_bytes: total - good,
            below_committed: good < committed_bytes,
        };
        if good < total {
            file.set_len(good)
                .and_then(|()| file.sync_all())
                .map_err(|e| CliError::file("truncating", &path, e))?;
        }
        let journal = Journal {
            file,
            path,
            len: good,
            records: ids.len() as u64,
            committed: good,
        };
        Ok((journal, ids, recovery))
    }

    /// Appends one complete line (`line` must end with `\n`) in a single write.
    pub fn append(&mut self, line: &[u8]) -> Result<(), CliError> {
        debug_assert!(line.ends_with(b"\n"));
        (&self.file)
            .write_all(line)
            .map_err(|e| CliError::file("writing", &self.path, e))?;
        self.len += line.len() as u64;
        self.records += 1;
        Ok(())
    }

    /// Flushes appended lines to disk; returns the committed length and record count.
    pub fn commit(&mut self) -> Result<(u64, u64), CliError> {
        if self.committed != self.len {
            self.file
                .sync_data()
                .map_err(|e| CliError::file("syncing", &self.path, e))?;
            self.committed = self.len;
        }
        Ok((self.len, self.records))
    }

    /// Lines in the journal.
    pub fn records(&self) -> u64 {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str) -> Vec<u8> {
        format!("{{\"conversationId\":\"{id}\",\"x\":1}}\n").into_bytes()
    }

    #[test]
    fn journal_keeps_complete_lines_and_cuts_a_partial_tail() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut j, ids, r) = Journal::open(dir.path(), 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(ids.is_empty());
        assert_eq!(r, Recovery::default());
        j.append(&line("A")).unwrap_or_else(|e| panic!("{e}"));
        j.append(&line("B")).unwrap_or_else(|e| panic!("{e}"));
        let (committed, records) = j.commit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, 2);
        drop(j);
        // A killed writer left half a line.
        let path = dir.path().join(JOURNAL_FILE);
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"{\"conversationId\":\"C\",\"x")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let (mut j, ids, r) =
            Journal::open(dir.path(), committed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids.len(), 2);
        assert!(ids.contains("A") && ids.contains("B"));
        assert_eq!(r.truncated_bytes, 24);
        assert!(!r.below_committed);
        j.append(&line("C")).unwrap_or_else(|e| panic!("{e}"));
        j.commit().unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with("\"C\",\"x\":1}\n"));
    }

    #[test]
    fn garbage_and_duplicates_end_the_valid_prefix() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(JOURNAL_FILE);
        let mut body = line("A");
        body.extend(line("A"));
        body.extend(line("B"));
        std::fs::write(&path, &body).unwrap_or_else(|e| panic!("{e}"));
        let (_, ids, r) =
            Journal::open(dir.path(), body.len() as u64).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids.len(), 1);
        assert!(r.below_committed);
        let mut body = line("A");
        body.extend(b"\0\0\0\0\n");
        body.extend(line("B"));
        std::fs::write(&path, &body).unwrap_or_else(|e| panic!("{e}"));
        let (j, ids, _) = Journal::open(dir.path(), 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids.len(), 1);
        assert_eq!(j.records(), 1);
    }

    #[test]
    fn checkpoint_round_trips_and_guards_options() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Checkpoint::load(dir.path()).ok().flatten(), None);
        let mut c = Checkpoint::new("P1", "h", true, false);
        c.records = 3;
        c.store(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let back = Checkpoint::load(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no checkpoint"));
        assert_eq!(back, c);
        assert!(
            back.check_same_export(&Checkpoint::new("P1", "other", true, false))
                .is_ok()
        );
        let err = back
            .check_same_export(&Checkpoint::new("P2", "h", false, false))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("agent P1") && err.contains("--with-details on"),
            "{err}"
        );
    }
}
