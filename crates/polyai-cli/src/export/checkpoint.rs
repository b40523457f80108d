//! The checkpoint: the export's options and how far it got, replaced atomically about once a
//! second.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit::CliError;

/// The checkpoint file.
pub const CHECKPOINT_FILE: &str = "export.checkpoint.json";
/// Version of the checkpoint format written; version 1 (before `redacted` and `listOffset`) is
/// still read.
const FORMAT_VERSION: u32 = 2;

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
    /// Whether recordings are the PII-redacted ones.
    #[serde(default)]
    pub redacted: bool,
    /// Journal length known to be on disk.
    pub committed_bytes: u64,
    /// Conversations in the committed part of the journal.
    pub records: u64,
    /// Listing offset before which every conversation is in the journal or the failures file;
    /// an interrupted export resumes its listing there (less one page).
    #[serde(default)]
    pub list_offset: u64,
    /// Whether the last run walked the listing to its end.
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
    pub fn new(
        agent_id: &str,
        host: &str,
        with_details: bool,
        with_audio: bool,
        redacted: bool,
    ) -> Self {
        Checkpoint {
            version: FORMAT_VERSION,
            agent_id: agent_id.to_owned(),
            host: host.to_owned(),
            with_details,
            with_audio,
            redacted,
            committed_bytes: 0,
            records: 0,
            list_offset: 0,
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
        if !(1..=FORMAT_VERSION).contains(&checkpoint.version) {
            return Err(CliError::Usage(format!(
                "{} has format version {}, this polyai reads 1 to {FORMAT_VERSION}; use another --out directory",
                path.display(),
                checkpoint.version
            )));
        }
        Ok(Some(Checkpoint {
            version: FORMAT_VERSION,
            ..checkpoint
        }))
    }

    /// Refuses to continue an export made for another agent or with other options, which
    /// would mix two kinds of lines (or recordings) in one folder.
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
        // --redacted masks the records too: an export is redacted throughout or not at all.
        if self.redacted != wanted.redacted {
            differences.push(format!("--redacted {}", flag(self.redacted)));
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
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| CliError::Other(format!("encoding the checkpoint: {e}")))?;
        text.push(b'\n');
        replace_file(dir, CHECKPOINT_FILE, &text)
    }
}

fn flag(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// Writes `dir/name` atomically: a temporary file beside it, `fsync`, rename, `fsync` of `dir`.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CliError> {
    let temp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|e| CliError::file("writing", &temp, e))?;
    rename_into(&temp, &dir.join(name))
}

/// Renames `temp` to `path` and makes the rename durable.
pub fn rename_into(temp: &Path, path: &Path) -> Result<(), CliError> {
    std::fs::rename(temp, path).map_err(|e| CliError::file("renaming into", path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// `fsync` of a directory so a rename in it is durable (best effort; not possible everywhere).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_guards_options() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Checkpoint::load(dir.path()).ok().flatten(), None);
        let mut c = Checkpoint::new("P1", "h", true, true, false);
        c.records = 3;
        c.list_offset = 250;
        c.store(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let back = Checkpoint::load(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no checkpoint"));
        assert_eq!(back, c);
        assert!(
            back.check_same_export(&Checkpoint::new("P1", "other", true, true, false))
                .is_ok()
        );
        let err = back
            .check_same_export(&Checkpoint::new("P2", "h", false, true, true))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("agent P1")
                && err.contains("--with-details on")
                && err.contains("--redacted off"),
            "{err}"
        );
    }

    #[test]
    fn version_1_checkpoints_are_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join(CHECKPOINT_FILE),
            r#"{"version":1,"agentId":"P","host":"h","withDetails":true,"withAudio":false,
                "committedBytes":10,"records":1,"complete":false}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let c = Checkpoint::load(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no checkpoint"));
        assert_eq!((c.version, c.list_offset, c.redacted), (2, 0, false));
        std::fs::write(
            dir.path().join(CHECKPOINT_FILE),
            r#"{"version":9,"agentId":"P","host":"h","withDetails":true,"withAudio":false,
                "committedBytes":10,"records":1,"complete":false}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let err = Checkpoint::load(dir.path()).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("format version 9")),
            "{err:?}"
        );
    }
}
