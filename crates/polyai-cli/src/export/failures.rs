//! The failures file (`failures.jsonl`): conversations a run could not export, one JSON object
//! per line, retried first by the next run.
//!
//! Lines are appended as failures happen and `fsync`ed with the journal. At the start of a run
//! the lines already there are the ones to retry; at the end the file is rewritten to hold only
//! conversations still missing from the journal (the latest failure of each), and removed when
//! none is.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkpoint::rename_into;
use super::idset::{IdSet, Key, key};
use super::journal::append_json_line;
use crate::exit::CliError;

/// The failures file.
pub const FAILURES_FILE: &str = "failures.jsonl";

/// One failed conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRecord {
    /// The id asked for.
    pub conversation_id: String,
    /// The last error, one line.
    pub error: String,
    /// HTTP status of that error, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Correlation id of the failed request, for PolyAI support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// When it failed (RFC 3339, UTC).
    pub failed_at: String,
    /// The record as listed (so the next run can write it without the listing).
    #[serde(default, alias = "summary", skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
}

/// The failures file, open for appending.
#[derive(Debug)]
pub struct Failures {
    file: File,
    path: PathBuf,
    earlier: u64,
    dirty: bool,
}

impl Failures {
    /// Opens (creating if needed) `dir`'s failures file.
    pub fn open(dir: &Path) -> Result<Failures, CliError> {
        let path = dir.join(FAILURES_FILE);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| CliError::file("opening", &path, e))?;
        let earlier = file
            .metadata()
            .map_err(|e| CliError::file("reading", &path, e))?
            .len();
        Ok(Failures {
            file,
            path,
            earlier,
            dirty: false,
        })
    }

    /// The failures recorded before this run, in file order (unreadable lines skipped).
    pub fn earlier(&self) -> Result<impl Iterator<Item = FailedRecord> + Send + 'static, CliError> {
        let file = File::open(&self.path).map_err(|e| CliError::file("opening", &self.path, e))?;
        Ok(read_records(file.take(self.earlier)).map(|(_, record)| record))
    }

    /// Appends one failure.
    pub fn append(&mut self, record: &FailedRecord) -> Result<(), CliError> {
        append_json_line(&self.file, &self.path, record)?;
        self.dirty = true;
        Ok(())
    }

    /// Flushes appended lines to disk.
    pub fn sync(&mut self) -> Result<(), CliError> {
        if self.dirty {
            self.file
                .sync_data()
                .map_err(|e| CliError::file("syncing", &self.path, e))?;
            self.dirty = false;
        }
        Ok(())
    }
}

/// Complete, readable lines of `reader` with their line numbers.
fn read_records(reader: impl Read) -> impl Iterator<Item = (usize, FailedRecord)> {
    BufReader::with_capacity(1 << 16, reader)
        .split(b'\n')
        .map_while(Result::ok)
        .enumerate()
        .filter_map(|(n, line)| serde_json::from_slice(&line).ok().map(|r| (n, r)))
}

/// Rewrites `dir`'s failures file to hold the latest failure of each conversation not in
/// `done`, or removes it when none is left; returns how many are left.
pub fn compact(dir: &Path, done: &IdSet) -> Result<u64, CliError> {
    let path = dir.join(FAILURES_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(CliError::file("opening", &path, e)),
    };
    let mut latest: HashMap<Key, usize> = HashMap::new();
    for (n, record) in read_records(file) {
        let k = key(&record.conversation_id);
        if !done.contains(k) {
            latest.insert(k, n);
        }
    }
    if latest.is_empty() {
        std::fs::remove_file(&path).map_err(|e| CliError::file("removing", &path, e))?;
        return Ok(0);
    }
    let temp = dir.join(format!(".{FAILURES_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(&temp)?);
        for (n, record) in read_records(File::open(&path)?) {
            if latest.get(&key(&record.conversation_id)) == Some(&n) {
                serde_json::to_writer(&mut out, &record)?;
                out.write_all(b"\n")?;
            }
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    write().map_err(|e| CliError::file("writing", &temp, e))?;
    rename_into(&temp, &path)?;
    Ok(latest.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(id: &str, error: &str) -> FailedRecord {
        FailedRecord {
            conversation_id: id.into(),
            error: error.into(),
            status: Some(500),
            correlation_id: None,
            failed_at: "2026-01-01T00:00:00Z".into(),
            record: None,
        }
    }

    #[test]
    fn earlier_failures_are_read_and_compaction_keeps_the_latest_unresolved() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut f = Failures::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.earlier().map(Iterator::count).ok(), Some(0));
        for (id, err) in [("A", "first"), ("B", "b"), ("A", "second"), ("C", "c")] {
            f.append(&failed(id, err)).unwrap_or_else(|e| panic!("{e}"));
        }
        f.sync().unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let f = Failures::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let earlier: Vec<String> = f
            .earlier()
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|r| r.conversation_id)
            .collect();
        assert_eq!(earlier, ["A", "B", "A", "C"]);
        drop(f);
        let mut done = IdSet::new();
        done.insert(key("B"));
        assert_eq!(compact(dir.path(), &done).ok(), Some(2));
        let left: Vec<FailedRecord> = read_records(
            File::open(dir.path().join(FAILURES_FILE)).unwrap_or_else(|e| panic!("{e}")),
        )
        .map(|(_, r)| r)
        .collect();
        assert_eq!(left, [failed("A", "second"), failed("C", "c")]);
        done.insert(key("A"));
        done.insert(key("C"));
        assert_eq!(compact(dir.path(), &done).ok(), Some(0));
        assert!(!dir.path().join(FAILURES_FILE).exists());
        assert_eq!(
            compact(dir.path(), &done).ok(),
            Some(0),
            "no file, none left"
        );
    }
}
