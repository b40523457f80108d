//! The checkpoint: the export's options and how far it got, replaced atomically about once a
//! second.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use polyai_data::paginate::Position;
use serde::{Deserialize, Serialize};

use crate::exit::CliError;

/// The checkpoint file.
pub const CHECKPOINT_FILE: &str = "export.checkpoint.json";
/// Version of the checkpoint format written: 5 may say where `--windows` cut each environment's
/// range ([`SourceState::cuts`]), which a polyai that reads 4 would ignore and so walk other
/// windows from the saved cursors. Versions 4 (equal windows) and 3 (one lane index and its
/// position) are read; versions 1 and 2 (exports whose lines were each API's own shape) are
/// refused with a note.
const FORMAT_VERSION: u32 = 5;
/// The oldest checkpoint format read.
const OLDEST_READ: u32 = 3;

/// What the checkpoint file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// Agent exported.
    pub agent_id: String,
    /// API host exported from (informational).
    pub host: String,
    /// Where the export reads.
    pub source: SourceState,
    /// Whether each conversation's detail was read.
    pub with_details: bool,
    /// Whether recordings are downloaded.
    pub with_audio: bool,
    /// Whether records are masked and recordings the PII-redacted ones.
    pub redacted: bool,
    /// Whether records keep the body as the API sent it.
    #[serde(default)]
    pub keep_raw: bool,
    /// Journal length known to be on disk.
    pub committed_bytes: u64,
    /// Conversations in the committed part of the journal.
    pub records: u64,
    /// Whether the last run walked the listing to its end.
    pub complete: bool,
    /// Where each lane of the listing stands, by lane index (see [`resume`](super::resume)); a
    /// lane past the end of the list is not started. Empty once complete.
    #[serde(default)]
    pub lanes: Vec<LaneState>,
}

/// Where one lane of an export's listing stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneState {
    /// Walked to its end with every page written.
    #[serde(default)]
    pub done: bool,
    /// Where a resumed run continues in it (`None`: its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl LaneState {
    /// The lanes of a version 3 checkpoint: those before `lane` done, `lane` at `position`,
    /// the later ones not started.
    fn from_version_3(lane: usize, position: Option<Position>) -> Vec<LaneState> {
        let mut lanes = vec![
            LaneState {
                done: true,
                position: None,
            };
            lane
        ];
        lanes.push(LaneState {
            done: false,
            position,
        });
        lanes
    }
}

/// Where an export reads: the API, the account, the environments and the time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// `data`, `v3`, or `ids` (the conversations of --ids/--id, each read by its detail).
    pub api: String,
    /// The account (v3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `--env` (`all` or an environment).
    pub environments: String,
    /// `--since` as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_arg: Option<String>,
    /// `--until` as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_arg: Option<String>,
    /// `--since` resolved (RFC 3339), fixed for the whole export and its resumptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `--until` resolved (with `--windows` and `--since`, the run's start time by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `--windows`: time windows of each environment walked at once (1: the whole range).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub windows: u16,
    /// Where the windows of each environment (by name) start, but the first: RFC 3339 instants,
    /// oldest first, chosen from a random sample when the export began
    /// ([`Listing::sized`](polyai_data::listing::Listing::sized)) and kept so that a resumed run
    /// walks the same windows. Absent: equal slices of time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuts: Option<BTreeMap<String, Vec<String>>>,
}

fn one() -> u16 {
    1
}

fn is_one(n: &u16) -> bool {
    *n == 1
}

impl SourceState {
    /// Whether `other` names the same listing (the resolved window aside, which a rerun
    /// inherits).
    pub fn same_listing(&self, other: &SourceState) -> bool {
        self.api == other.api
            && self.account_id == other.account_id
            && self.environments == other.environments
            && self.since_arg == other.since_arg
            && self.until_arg == other.until_arg
            && self.windows == other.windows
    }

    /// The options that made it, as typed (`--api v3 --env live --since 7d`).
    fn options(&self) -> Vec<String> {
        let mut options = Vec::new();
        match self.api.as_str() {
            "ids" => options.push("--ids/--id".to_owned()),
            api => {
                options.push(format!("--api {api}"));
                options.push(format!("--env {}", self.environments));
            }
        }
        if let Some(account) = &self.account_id {
            options.push(format!("--account {account}"));
        }
        if let Some(since) = &self.since_arg {
            options.push(format!("--since {since}"));
        }
        if let Some(until) = &self.until_arg {
            options.push(format!("--until {until}"));
        }
        if self.windows != 1 {
            options.push(format!("--windows {}", self.windows));
        }
        options
    }
}

impl Checkpoint {
    /// A fresh checkpoint for these options.
    pub fn new(agent_id: &str, host: &str, source: SourceState, options: ExportOptions) -> Self {
        Checkpoint {
            version: FORMAT_VERSION,
            agent_id: agent_id.to_owned(),
            host: host.to_owned(),
            source,
            with_details: options.with_details,
            with_audio: options.with_audio,
            redacted: options.redacted,
            keep_raw: options.keep_raw,
            committed_bytes: 0,
            records: 0,
            complete: false,
            lanes: Vec::new(),
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
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let not_ours = |e: serde_json::Error| {
            CliError::Usage(format!(
                "{} is not a polyai export checkpoint ({e}); use another --out directory",
                path.display()
            ))
        };
        let version = serde_json::from_str::<Version>(&text)
            .map_err(not_ours)?
            .version;
        if version < OLDEST_READ {
            return Err(CliError::Usage(format!(
                "{} holds an export made by an earlier polyai, whose lines are each API's own \
                 shape (checkpoint version {version}); export into a new --out directory (this \
                 version writes records of the one contract: docs/records.md)",
                dir.display()
            )));
        }
        refuse_newer(
            u64::from(version),
            &path.display().to_string(),
            "another --out directory",
        )?;
        let mut checkpoint: Checkpoint = serde_json::from_str(&text).map_err(not_ours)?;
        if version == 3 {
            #[derive(Deserialize)]
            struct Version3 {
                #[serde(default)]
                lane: usize,
                #[serde(default)]
                position: Option<Position>,
            }
            let old: Version3 = serde_json::from_str(&text).map_err(not_ours)?;
            checkpoint.lanes = LaneState::from_version_3(old.lane, old.position);
            checkpoint.version = FORMAT_VERSION;
        }
        Ok(Some(checkpoint))
    }

    /// Refuses to continue an export made for another agent or with other options, which
    /// would mix two kinds of lines (or recordings) in one folder; the error names each option
    /// that differs and how to continue.
    pub fn check_same_export(&self, wanted: &Checkpoint) -> Result<(), CliError> {
        let mut differences = Vec::new();
        if self.agent_id != wanted.agent_id {
            differences.push(format!("agent {} (now {})", self.agent_id, wanted.agent_id));
        }
        let mut was_options = Vec::new();
        if !self.source.same_listing(&wanted.source) {
            let (was, now) = (self.source.options(), wanted.source.options());
            let changed: Vec<&String> = was.iter().filter(|o| !now.contains(o)).collect();
            let added: Vec<&String> = now.iter().filter(|o| !was.contains(o)).collect();
            differences.push(format!(
                "{} (this run: {})",
                join_or(&changed, "no such option"),
                join_or(&added, "none of them")
            ));
            was_options.extend(changed.iter().map(|o| (*o).clone()));
        }
        let mut flag_differs = |name: &str, was: bool, now: bool| {
            if was != now {
                differences.push(format!("{name} {}", flag(was)));
                if was {
                    was_options.push(name.to_owned());
                }
            }
        };
        flag_differs("--with-details", self.with_details, wanted.with_details);
        flag_differs("--with-audio", self.with_audio, wanted.with_audio);
        // --redacted masks the records too: an export is redacted throughout or not at all.
        flag_differs("--redacted", self.redacted, wanted.redacted);
        flag_differs("--keep-raw", self.keep_raw, wanted.keep_raw);
        if differences.is_empty() {
            return Ok(());
        }
        Err(CliError::Usage(format!(
            "this directory holds an export made with {}; to continue it, rerun with {}; or use \
             another --out directory",
            differences.join(", "),
            if was_options.is_empty() {
                "the same options".to_owned()
            } else {
                was_options.join(" ")
            }
        )))
    }

    /// Replaces the checkpoint atomically: temporary file, `fsync`, rename, `fsync` of `dir`.
    pub fn store(&self, dir: &Path) -> Result<(), CliError> {
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| CliError::Other(format!("encoding the checkpoint: {e}")))?;
        text.push(b'\n');
        replace_file(dir, CHECKPOINT_FILE, &text)
    }
}

/// The options that shape each line of an export.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    /// `--with-details` (or a selection of ids).
    pub with_details: bool,
    /// `--with-audio`.
    pub with_audio: bool,
    /// `--redacted`.
    pub redacted: bool,
    /// `--keep-raw`.
    pub keep_raw: bool,
}

fn join_or(items: &[&String], none: &str) -> String {
    if items.is_empty() {
        none.to_owned()
    } else {
        items
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
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

/// Refuses a checkpoint of a `version` newer than this polyai reads (whose fields it would
/// misread, such as the cuts of version 5 by a polyai of version 4), kept in `shown` (a file, a
/// dataset's state); `instead` says what else to use.
pub fn refuse_newer(version: u64, shown: &str, instead: &str) -> Result<(), CliError> {
    if version > u64::from(FORMAT_VERSION) {
        return Err(CliError::Usage(format!(
            "{shown} has checkpoint version {version}, this polyai reads {FORMAT_VERSION}; use a \
             newer polyai or {instead}"
        )));
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

    fn source(api: &str, env: &str) -> SourceState {
        SourceState {
            api: api.into(),
            account_id: (api == "v3").then(|| "ws-1".into()),
            environments: env.into(),
            since_arg: None,
            until_arg: None,
            start_time: None,
            end_time: None,
            windows: 1,
            cuts: None,
        }
    }

    fn options(with_details: bool, redacted: bool) -> ExportOptions {
        ExportOptions {
            with_details,
            with_audio: true,
            redacted,
            keep_raw: false,
        }
    }

    #[test]
    fn checkpoint_round_trips_and_guards_options() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Checkpoint::load(dir.path()).ok().flatten(), None);
        let mut c = Checkpoint::new("P1", "h", source("v3", "live"), options(true, false));
        c.records = 3;
        c.lanes = vec![
            LaneState::default(),
            LaneState {
                done: false,
                position: Some(Position::Cursor("abc".into())),
            },
        ];
        c.store(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let back = Checkpoint::load(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no checkpoint"));
        assert_eq!(back, c);
        assert!(
            back.check_same_export(&Checkpoint::new(
                "P1",
                "other",
                source("v3", "live"),
                options(true, false)
            ))
            .is_ok()
        );
        let err = back
            .check_same_export(&Checkpoint::new(
                "P2",
                "h",
                source("data", "all"),
                options(false, true),
            ))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        for part in [
            "agent P1",
            "--api v3 --env live --account ws-1 (this run: --api data --env all)",
            "--with-details on",
            "--redacted off",
            "rerun with --api v3 --env live --account ws-1 --with-details;",
        ] {
            assert!(err.contains(part), "{part:?} missing from: {err}");
        }
        // The number of windows is part of the listing.
        let windowed = SourceState {
            windows: 4,
            ..source("v3", "live")
        };
        let err = back
            .check_same_export(&Checkpoint::new("P1", "h", windowed, options(true, false)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("(this run: --windows 4)") && err.contains("rerun with the same options"),
            "{err}"
        );
    }

    #[test]
    fn window_cuts_are_kept_and_a_version_4_checkpoint_has_none() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cuts = BTreeMap::from([("live".to_owned(), vec!["2026-06-03T01:02:03Z".to_owned()])]);
        let source = SourceState {
            windows: 2,
            cuts: Some(cuts.clone()),
            ..source("v3", "live")
        };
        Checkpoint::new("P", "h", source, options(false, false))
            .store(dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let load = || {
            Checkpoint::load(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("no checkpoint"))
        };
        assert_eq!(load().source.cuts, Some(cuts));
        // Written by the polyai before cuts: its windows were equal slices, and stay so.
        let text = r#"{"version":4,"agent_id":"P","host":"h",
            "source":{"api":"v3","account_id":"ws-1","environments":"live","windows":2,
                      "start_time":"2026-06-01T00:00:00Z","end_time":"2026-06-03T00:00:00Z"},
            "with_details":false,"with_audio":false,"redacted":false,"committed_bytes":0,
            "records":0,"complete":false,"lanes":[{"done":true},{"position":{"cursor":"c"}}]}"#;
        std::fs::write(dir.path().join(CHECKPOINT_FILE), text).unwrap_or_else(|e| panic!("{e}"));
        let old = load();
        assert_eq!((old.source.windows, old.source.cuts), (2, None));
        assert_eq!(old.lanes.len(), 2);
    }

    #[test]
    fn a_version_3_checkpoint_is_read_as_lanes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = r#"{"version":3,"agent_id":"P","host":"h",
            "source":{"api":"v3","account_id":"ws-1","environments":"all"},
            "with_details":false,"with_audio":false,"redacted":false,"committed_bytes":10,
            "records":1,"complete":false,"lane":2,"position":{"cursor":"v3.c"}}"#;
        std::fs::write(dir.path().join(CHECKPOINT_FILE), text).unwrap_or_else(|e| panic!("{e}"));
        let back = Checkpoint::load(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no checkpoint"));
        assert_eq!(back.version, FORMAT_VERSION);
        assert_eq!(back.source.windows, 1);
        let done = LaneState {
            done: true,
            position: None,
        };
        assert_eq!(
            back.lanes,
            vec![
                done.clone(),
                done,
                LaneState {
                    done: false,
                    position: Some(Position::Cursor("v3.c".into()))
                }
            ]
        );
    }

    #[test]
    fn older_and_newer_checkpoints_are_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let check = |text: &str, expect: &str| {
            std::fs::write(dir.path().join(CHECKPOINT_FILE), text)
                .unwrap_or_else(|e| panic!("{e}"));
            let err = Checkpoint::load(dir.path()).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(expect)),
                "{err:?}"
            );
        };
        check(
            r#"{"version":2,"agentId":"P","host":"h","withDetails":true,"withAudio":false,
                "committedBytes":10,"records":1,"complete":false}"#,
            "export into a new --out directory",
        );
        check(r#"{"version":9}"#, "checkpoint version 9");
        check("[]", "not a polyai export checkpoint");
    }
}
