//! `manifest.json`: what a finished export holds, for compliance records — the agent, base URL,
//! the time range of the conversations, counts, the options (redaction included), the tool and
//! API versions, and every data file with its size and SHA-256.
//!
//! It is written when a run has walked the listing to the end (status `complete`, or `partial`
//! when some conversations failed) and removed when a run starts, so a folder without one is an
//! export in progress or interrupted. The journal is hashed in full; recordings are hashed once,
//! as they are saved (the hash is kept in the index), and only their sizes are checked here.
//! Memory stays flat: files are listed as they are read.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::checkpoint::{ExportOptions, SourceState, rename_into};
use super::failures::FAILURES_FILE;
use super::idset::{IdSet, key};
use super::journal::{JOURNAL_FILE, SavedFile, index_entries};
use crate::exit::CliError;

/// The manifest file.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Version of the manifest's layout (2: snake_case keys, records of the one contract, the
/// `source` section).
const MANIFEST_VERSION: u32 = 2;

/// What the run knows that the files do not.
#[derive(Debug)]
pub struct Facts<'a> {
    /// `complete` or `partial`.
    pub status: &'a str,
    /// Agent exported.
    pub agent_id: &'a str,
    /// API base URL.
    pub base_url: &'a str,
    /// The options that shaped the lines.
    pub options: ExportOptions,
    /// Conversations in the journal.
    pub conversations: u64,
    /// Conversations still failing (listed in the failures file).
    pub failed: u64,
    /// When this run started.
    pub run_started_at: jiff::Timestamp,
    /// What was listed: the API, account, environments and window.
    pub source: &'a SourceState,
    /// Sections other features add at the top level (`redaction`, `selection`).
    pub sections: Vec<(&'static str, serde_json::Value)>,
    /// Other files of the folder to list (and hash), when present (`selection.txt`).
    pub extra_files: &'a [&'a str],
}

/// Removes a manifest left by an earlier run (the folder is about to change).
pub fn remove(dir: &Path) -> Result<(), CliError> {
    let path = dir.join(MANIFEST_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(CliError::file("removing", path, e))
        }
        _ => Ok(()),
    }
}

/// Writes `dir/manifest.json` atomically.
pub fn write(dir: &Path, facts: &Facts<'_>) -> Result<(), CliError> {
    let (journal, range) = scan_journal(dir)?;
    let (recordings, without) = if facts.options.with_audio {
        count_recordings(dir)?
    } else {
        (0, 0)
    };
    let source = facts.source;
    let (api_name, spec_version) = match source.api.as_str() {
        "v3" => (
            "PolyAI Conversations API v3",
            polyai_data::v3::api_version(),
        ),
        _ => ("PolyAI Data API", polyai_data::api_version()),
    };
    let mut head = json!({
        "manifest_version": MANIFEST_VERSION,
        "status": facts.status,
        "agent_id": facts.agent_id,
        "base_url": facts.base_url,
        "exported_at": jiff::Timestamp::now().to_string(),
        "run_started_at": facts.run_started_at.to_string(),
        "record_schema_version": polyai_data::record::SCHEMA_VERSION,
        "source": {
            "api": source.api,
            "api_name": api_name,
            "spec_version": spec_version,
            "account_id": source.account_id,
            "environments": source.environments,
            "start_time": source.start_time,
            "end_time": source.end_time,
            "since_arg": source.since_arg,
            "until_arg": source.until_arg,
            "windows": source.windows,
            "with_details_from": if facts.options.with_details {
                Some(format!("PolyAI Data API {}", polyai_data::api_version()))
            } else {
                None
            },
        },
        "time_range": range.map(|r| json!({"field": r.field, "earliest": r.earliest.1, "latest": r.latest.1})),
        "counts": {
            "conversations": facts.conversations,
            "failed": facts.failed,
            "recordings": recordings,
            "without_recording": without,
        },
        "options": {
            "with_details": facts.options.with_details,
            "with_audio": facts.options.with_audio,
            "redacted": facts.options.redacted,
            "keep_raw": facts.options.keep_raw,
        },
        "tool": {"name": "polyai", "package": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
    });
    for (name, section) in &facts.sections {
        head[*name] = section.clone();
    }
    let head = serde_json::to_string_pretty(&head)
        .map_err(|e| CliError::Other(format!("encoding the manifest: {e}")))?;
    let head = head.strip_suffix("\n}").unwrap_or(&head);
    let temp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    let failures = dir.join(FAILURES_FILE);
    let write = || -> Result<(), CliError> {
        let io = |e| CliError::file("writing", &temp, e);
        let mut out = BufWriter::new(File::create(&temp).map_err(io)?);
        write!(out, "{head},\n  \"files\": [").map_err(io)?;
        let mut first = true;
        let mut entry = |out: &mut BufWriter<File>, file: &SavedFile| -> Result<(), CliError> {
            let line = serde_json::to_string(file)
                .map_err(|e| CliError::Other(format!("encoding the manifest: {e}")))?;
            let sep = if std::mem::take(&mut first) { "" } else { "," };
            write!(out, "{sep}\n    {line}").map_err(io)
        };
        entry(&mut out, &journal)?;
        if failures.exists() {
            entry(&mut out, &hash_file(dir, FAILURES_FILE)?)?;
        }
        for extra in facts.extra_files {
            if dir.join(extra).exists() {
                entry(&mut out, &hash_file(dir, extra)?)?;
            }
        }
        if facts.options.with_audio {
            let mut listed = IdSet::new();
            for indexed in index_entries(dir)? {
                let Some(audio) = indexed.audio else { continue };
                if !listed.insert(key(&audio.path)) {
                    continue;
                }
                let on_disk = std::fs::metadata(dir.join(&audio.path)).map(|m| m.len());
                match on_disk {
                    Ok(bytes) if bytes == audio.bytes => entry(&mut out, &audio)?,
                    Ok(_) => entry(&mut out, &hash_file(dir, &audio.path)?)?,
                    Err(_) => {
                        tracing::warn!(path = %audio.path, "recording missing from the export folder")
                    }
                }
            }
        }
        write!(out, "\n  ]\n}}\n").map_err(io)?;
        out.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)
    };
    write()?;
    rename_into(&temp, &dir.join(MANIFEST_FILE))
}

/// The earliest and latest conversation times, as written in the records.
struct TimeRange {
    field: &'static str,
    earliest: (jiff::Timestamp, String),
    latest: (jiff::Timestamp, String),
}

#[derive(Deserialize)]
struct Times {
    started_at: Option<String>,
    created_at: Option<String>,
}

/// Hashes the journal and finds the time range of its conversations (`started_at`, or
/// `created_at` where a record has no start time).
fn scan_journal(dir: &Path) -> Result<(SavedFile, Option<TimeRange>), CliError> {
    let path = dir.join(JOURNAL_FILE);
    let file = File::open(&path).map_err(|e| CliError::file("opening", &path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut range: Option<TimeRange> = None;
    let mut any_created = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::file("reading", &path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&line);
        bytes += n as u64;
        let Ok(times) = serde_json::from_slice::<Times>(&line) else {
            continue;
        };
        let (text, created) = match (times.started_at, times.created_at) {
            (Some(start), _) => (start, false),
            (None, Some(created)) => (created, true),
            (None, None) => continue,
        };
        let Some(at) = parse_time(&text) else {
            continue;
        };
        any_created |= created;
        match &mut range {
            None => {
                range = Some(TimeRange {
                    field: "started_at",
                    earliest: (at, text.clone()),
                    latest: (at, text),
                })
            }
            Some(r) => {
                if at < r.earliest.0 {
                    r.earliest = (at, text);
                } else if at > r.latest.0 {
                    r.latest = (at, text);
                }
            }
        }
    }
    if let Some(r) = &mut range
        && any_created
    {
        r.field = "started_at (created_at where absent)";
    }
    let file = SavedFile {
        path: JOURNAL_FILE.to_owned(),
        bytes,
        sha256: hex(&hasher.finalize()),
    };
    Ok((file, range))
}

/// An RFC 3339 time, or one without an offset taken as UTC (the API mixes both).
fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        jiff::tz::Offset::UTC.to_timestamp(civil).ok()
    })
}

/// Recordings listed in the index and conversations without one, each conversation once.
fn count_recordings(dir: &Path) -> Result<(u64, u64), CliError> {
    let mut seen = IdSet::new();
    let (mut with, mut without) = (0, 0);
    for entry in index_entries(dir)? {
        if !(entry.audio.is_some() || entry.no_recording) || !seen.insert(key(&entry.id)) {
            continue;
        }
        if entry.audio.is_some() {
            with += 1;
        } else {
            without += 1;
        }
    }
    Ok((with, without))
}

/// Size and SHA-256 of `dir/relative`.
pub fn hash_file(dir: &Path, relative: &str) -> Result<SavedFile, CliError> {
    let path = dir.join(relative);
    let mut file = File::open(&path).map_err(|e| CliError::file("opening", &path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| CliError::file("reading", &path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(SavedFile {
        path: relative.to_owned(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_input() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("abc"), b"abc").unwrap_or_else(|e| panic!("{e}"));
        let file = hash_file(dir.path(), "abc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.bytes, 3);
        assert_eq!(
            file.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn times_with_and_without_offsets_compare_as_instants() {
        let a = parse_time("2026-06-03T14:00:38.580000+00:00");
        let b = parse_time("2026-06-03T15:00:00+02:00");
        let c = parse_time("2026-06-03T13:19:19.757917");
        assert!(a.is_some() && b.is_some() && c.is_some());
        assert!(b < c && c < a, "{b:?} {c:?} {a:?}");
        assert_eq!(parse_time("yesterday"), None);
    }
}
