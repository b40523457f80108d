//! `--ids FILE` and `--id ID`: an export of exactly the conversations named (a legal hold, a
//! data-subject request), each read by its detail.
//!
//! The ids (one per line; blank lines and lines starting with `#` skipped; repeats dropped,
//! first one kept) are written to `DIR/selection.txt`, listed and hashed in the manifest like
//! the data, so the archive itself says what was asked for. A resumed run must name the same
//! ids. An id the server does not know (HTTP 404) goes to `failures.jsonl` like any failure,
//! is named in the closing summary and in the manifest's `selection.not_found`, and the run
//! exits 9 (partial).

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::checkpoint::replace_file;
use super::failures::{FAILURES_FILE, FailedRecord};
use super::idset::{IdSet, key};
use crate::archive::hex;
use crate::cli::ExportArgs;
use crate::exit::CliError;

/// The copy of the selection inside the export folder.
pub const SELECTION_FILE: &str = "selection.txt";
/// Largest ids file read.
const MAX_FILE: u64 = 256 << 20;

/// The conversations asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The ids, in the order given, each once.
    pub ids: Vec<String>,
    /// `selection.txt`'s text: one id per line.
    text: String,
}

impl Selection {
    /// The selection of `--ids` and `--id`, if any.
    pub fn from_args(args: &ExportArgs) -> Result<Option<Selection>, CliError> {
        if args.ids.is_none() && args.id.is_empty() {
            return Ok(None);
        }
        let mut given = Vec::new();
        if let Some(path) = &args.ids {
            let meta = std::fs::metadata(path).map_err(|e| CliError::file("reading", path, e))?;
            if meta.len() > MAX_FILE {
                return Err(CliError::Usage(format!(
                    "{} is larger than {} MiB: split the selection into several exports",
                    path.display(),
                    MAX_FILE >> 20
                )));
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| CliError::file("reading", path, e))?;
            given.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
            if given.is_empty() {
                return Err(CliError::Usage(format!(
                    "{} lists no conversation id (one per line; # starts a comment)",
                    path.display()
                )));
            }
        }
        given.extend(args.id.iter().map(|id| id.trim().to_owned()));
        Selection::new(given).map(Some)
    }

    /// A selection of `ids` (repeats dropped).
    pub fn new(ids: Vec<String>) -> Result<Selection, CliError> {
        let mut seen = IdSet::new();
        let mut kept = Vec::with_capacity(ids.len());
        for id in ids {
            if id.is_empty() || id.contains(char::is_control) {
                return Err(CliError::Usage(format!(
                    "{id:?} is not a conversation id (empty, or holds a control character)"
                )));
            }
            if seen.insert(key(&id)) {
                kept.push(id);
            }
        }
        let mut text = String::new();
        for id in &kept {
            text.push_str(id);
            text.push('\n');
        }
        Ok(Selection { ids: kept, text })
    }

    /// SHA-256 of `selection.txt`.
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(self.text.as_bytes()))
    }
}

/// Refuses to mix selections in one folder, and writes `selection.txt` for a new one.
/// `fresh` is whether the folder holds no export yet.
pub fn prepare(dir: &Path, selection: Option<&Selection>, fresh: bool) -> Result<(), CliError> {
    let path = dir.join(SELECTION_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::file("reading", path, e)),
    };
    let other = |what: &str| {
        Err(CliError::Usage(format!(
            "{} holds {what}; rerun with the same selection or use another --out",
            dir.display()
        )))
    };
    match (existing, selection) {
        (None, None) => Ok(()),
        (Some(_), None) => other("an export of the conversations in selection.txt (--ids)"),
        (None, Some(_)) if !fresh => other("an export of every conversation, not of a selection"),
        (None, Some(selection)) => replace_file(dir, SELECTION_FILE, selection.text.as_bytes()),
        (Some(text), Some(selection)) if text != selection.text => {
            other("an export of another selection (selection.txt)")
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

/// The ids of the selection that the server does not know (HTTP 404), from the failures
/// file, and how many others still fail.
pub fn not_found(dir: &Path) -> (Vec<String>, u64) {
    let Ok(file) = std::fs::File::open(dir.join(FAILURES_FILE)) else {
        return (Vec::new(), 0);
    };
    let mut missing = Vec::new();
    let mut other = 0;
    for line in BufReader::new(file).split(b'\n').map_while(Result::ok) {
        let Ok(record) = serde_json::from_slice::<FailedRecord>(&line) else {
            continue;
        };
        if record.status == Some(404) {
            missing.push(record.conversation_id);
        } else {
            other += 1;
        }
    }
    (missing, other)
}

/// The manifest's `selection` section.
pub fn manifest_section(dir: &Path, selection: &Selection, exported: u64) -> Value {
    let (missing, other) = not_found(dir);
    json!({
        "file": SELECTION_FILE,
        "sha256": selection.sha256(),
        "requested": selection.ids.len(),
        "exported": exported,
        "not_found": missing,
        "failed_otherwise": other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_dropped_and_folders_keep_one_selection() {
        let s = Selection::new(vec!["CA1".into(), "CA2".into(), "CA1".into()])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.ids, ["CA1", "CA2"]);
        assert!(Selection::new(vec!["a\tb".into()]).is_err());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(prepare(dir.path(), Some(&s), true).is_ok());
        assert!(
            prepare(dir.path(), Some(&s), false).is_ok(),
            "the same again"
        );
        let other = Selection::new(vec!["CA3".into()]).unwrap_or_else(|e| panic!("{e}"));
        let err = prepare(dir.path(), Some(&other), false)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("another selection")));
        assert!(prepare(dir.path(), None, false).is_err());
        let whole = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(prepare(whole.path(), Some(&s), false).is_err());
    }
}
