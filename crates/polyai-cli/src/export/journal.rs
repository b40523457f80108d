//! The journal (`conversations.jsonl`, one conversation per line) and its index
//! (`export.index.jsonl`, one line per journal record: the id we asked for and the recording
//! saved with it).
//!
//! Invariants that make an interrupted export resumable with no duplicate and no missing
//! record:
//!
//! - A conversation is appended to the journal only once it is complete (its detail fetched and,
//!   with `--with-audio`, its recording renamed into place), as one `write` of a whole line,
//!   followed by its index line. A line in the journal therefore means "done"; a process killed
//!   at any point leaves at most one partial last line.
//! - Both files are `fsync`ed about once a second (journal first), then the checkpoint is
//!   replaced atomically.
//! - On resume both files are read back together. Only a torn last line (no newline) is cut;
//!   every complete line is kept. A line that does not parse is kept in place and skipped, a
//!   second line for a conversation already seen is skipped: neither is counted, and no good
//!   record is ever removed.
//! - Records are keyed by the id we asked for (from the listing), found in the index by the
//!   line's byte offset, so a server whose detail carries a different id (e.g. in another case)
//!   does not make every resume fetch and append the same conversations again. A line without
//!   an index entry (a crash between the two writes) is keyed by its own `conversation_id`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::idset::{IdSet, key};
use crate::exit::CliError;

/// The journal: one conversation per line.
pub const JOURNAL_FILE: &str = "conversations.jsonl";
/// The index beside it.
pub const INDEX_FILE: &str = "export.index.jsonl";

/// One line of the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    /// Byte offset of the record's line in the journal. Absent for an alias: a line written when
    /// a record already in the journal under its own id was fetched again by the id we asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The id we asked for (the listing's id).
    pub id: String,
    /// The record's own `conversation_id`, when it differs from `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The recording saved with the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<SavedFile>,
    /// Recordings were asked for and this conversation has none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_recording: bool,
}

/// A file the export wrote, as the manifest lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFile {
    /// Path relative to the export folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// What reading the journal back found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Conversations in the journal.
    pub kept: u64,
    /// Lines skipped because their conversation was already in an earlier line.
    pub duplicates: u64,
    /// Complete lines that do not parse, kept in place and skipped.
    pub unreadable: u64,
    /// Bytes cut from the end (a torn last line).
    pub truncated_bytes: u64,
    /// Whether the cut went below the length the checkpoint said was committed.
    pub below_committed: bool,
}

/// The append-only journal and its index, positioned at their ends.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    records: u64,
    committed: u64,
    index: File,
    index_path: PathBuf,
    index_dirty: bool,
}

/// The id of a journal line (its record's `conversation_id`) and the recording it names.
#[derive(Deserialize)]
struct LineId {
    #[serde(rename = "conversation_id")]
    conversation_id: String,
    #[serde(default)]
    audio_file: Option<String>,
}

/// Reads index lines with their byte positions; a torn last line ends it.
struct IndexReader<'f> {
    reader: BufReader<&'f File>,
    pos: u64,
    line: Vec<u8>,
}

impl<'f> IndexReader<'f> {
    fn new(file: &'f File) -> Self {
        IndexReader {
            reader: BufReader::with_capacity(1 << 16, file),
            pos: 0,
            line: Vec::new(),
        }
    }

    /// The next complete line: its start and its entry (`None` when it does not parse).
    fn next(&mut self, path: &Path) -> Result<Option<(u64, Option<IndexEntry>)>, CliError> {
        self.line.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.line)
            .map_err(|e| CliError::file("reading", path, e))?;
        if n == 0 || self.line.last() != Some(&b'\n') {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += n as u64;
        Ok(Some((start, serde_json::from_slice(&self.line).ok())))
    }
}

impl Journal {
    /// Opens (creating if needed) `dir`'s journal and index, reads them back (see the
    /// [module documentation](self)), cuts a torn last line, gives the lines after the last
    /// indexed one (a crash between the two writes) their index entries, with the recording
    /// each names (`with_audio`: the export saves recordings), and returns the set of
    /// conversations already exported.
    pub fn open(
        dir: &Path,
        committed_bytes: u64,
        with_audio: bool,
    ) -> Result<(Journal, IdSet, Recovery), CliError> {
        let path = dir.join(JOURNAL_FILE);
        let index_path = dir.join(INDEX_FILE);
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(p)
                .map_err(|e| CliError::file("opening", p, e))
        };
        let file = open(&path)?;
        let index = open(&index_path)?;
        let total = len_of(&file, &path)?;
        let index_total = len_of(&index, &index_path)?;

        let mut done = IdSet::new();
        let mut recovery = Recovery::default();
        let mut aliases = Vec::new();
        let mut entries = IndexReader::new(&index);
        // The next index entry that names a journal offset, with its position in the index.
        let mut next_entry = next_located(&mut entries, &index_path, &mut aliases)?;
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut line = Vec::new();
        let mut good: u64 = 0;
        // Lines after the last one with an index entry, without one: (offset, id, recording).
        let mut unindexed: Vec<(u64, String, Option<String>)> = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| CliError::file("reading", &path, e))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let at = good;
            good += n as u64;
            let mut entry = None;
            while let Some((_, e)) = &next_entry
                && e.at.is_some_and(|a| a <= at)
            {
                if e.at == Some(at) {
                    entry = next_entry.take().map(|(_, e)| e);
                }
                next_entry = next_located(&mut entries, &index_path, &mut aliases)?;
            }
            let indexed = entry.is_some();
            if indexed {
                unindexed.clear();
            }
            let Ok(LineId {
                conversation_id,
                audio_file,
            }) = serde_json::from_slice::<LineId>(&line)
            else {
                recovery.unreadable += 1;
                continue;
            };
            let asked = entry
                .filter(|e| e.record.as_deref().unwrap_or(&e.id) == conversation_id)
                .map_or(conversation_id.clone(), |e| e.id);
            if done.insert(key(&asked)) {
                recovery.kept += 1;
                if !indexed {
                    unindexed.push((at, conversation_id.clone(), audio_file));
                }
            } else {
                recovery.duplicates += 1;
            }
            if asked != conversation_id {
                done.insert(key(&conversation_id));
            }
        }
        drop(reader);
        // Index lines naming offsets past the kept journal are cut, with a torn last line.
        let index_good = next_entry.map_or(entries.pos, |(pos, _)| pos);
        for alias in aliases {
            if alias
                .record
                .as_deref()
                .is_some_and(|r| done.contains(key(r)))
            {
                done.insert(key(&alias.id));
            }
        }
        recovery.truncated_bytes = total - good;
        recovery.below_committed = good < committed_bytes;
        if good < total {
            file.set_len(good)
                .and_then(|()| file.sync_all())
                .map_err(|e| CliError::file("truncating", &path, e))?;
        }
        if index_good < index_total {
            index
                .set_len(index_good)
                .and_then(|()| index.sync_all())
                .map_err(|e| CliError::file("truncating", &index_path, e))?;
        }
        let mut journal = Journal {
            file,
            path,
            len: good,
            records: recovery.kept,
            committed: good,
            index,
            index_path,
            index_dirty: false,
        };
        // Appended where the index now ends (after the last entry kept), so in journal order.
        for (at, id, audio_file) in unindexed {
            let audio = audio_file
                .filter(|path| is_recording_path(dir, path))
                .map(|path| super::manifest::hash_file(dir, &path))
                .transpose()?;
            let no_recording = with_audio && audio.is_none();
            journal.write_index(&IndexEntry {
                at: Some(at),
                id,
                record: None,
                audio,
                no_recording,
            })?;
        }
        Ok((journal, done, recovery))
    }

    /// Appends one complete line (`line` must end with `\n`) in a single write, then its index
    /// entry (`entry.at` is set here).
    pub fn append(&mut self, line: &[u8], entry: IndexEntry) -> Result<(), CliError> {
        debug_assert!(line.ends_with(b"\n"));
        let at = self.len;
        (&self.file)
            .write_all(line)
            .map_err(|e| CliError::file("writing", &self.path, e))?;
        self.len += line.len() as u64;
        self.records += 1;
        self.write_index(&IndexEntry {
            at: Some(at),
            ..entry
        })
    }

    /// Records that the conversation asked for as `entry.id` is the one already in the journal
    /// as `entry.record`.
    pub fn alias(&mut self, entry: IndexEntry) -> Result<(), CliError> {
        self.write_index(&IndexEntry { at: None, ..entry })
    }

    fn write_index(&mut self, entry: &IndexEntry) -> Result<(), CliError> {
        append_json_line(&self.index, &self.index_path, entry)?;
        self.index_dirty = true;
        Ok(())
    }

    /// Flushes appended lines to disk, the journal before its index; returns the committed
    /// length and record count.
    pub fn commit(&mut self) -> Result<(u64, u64), CliError> {
        if self.committed != self.len {
            self.file
                .sync_data()
                .map_err(|e| CliError::file("syncing", &self.path, e))?;
            self.committed = self.len;
        }
        if self.index_dirty {
            self.index
                .sync_data()
                .map_err(|e| CliError::file("syncing", &self.index_path, e))?;
            self.index_dirty = false;
        }
        Ok((self.len, self.records))
    }

    /// Conversations in the journal.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Appends `value` to `file` as one JSON line, in a single write.
pub fn append_json_line<T: Serialize>(file: &File, path: &Path, value: &T) -> Result<(), CliError> {
    let mut bytes = serde_json::to_vec(value)
        .map_err(|e| CliError::Other(format!("encoding a line of {}: {e}", path.display())))?;
    bytes.push(b'\n');
    let mut file = file;
    file.write_all(&bytes)
        .map_err(|e| CliError::file("writing", path, e))
}

/// The next index entry that names a journal offset; aliases met on the way are collected.
fn next_located(
    entries: &mut IndexReader<'_>,
    path: &Path,
    aliases: &mut Vec<IndexEntry>,
) -> Result<Option<(u64, IndexEntry)>, CliError> {
    while let Some((pos, entry)) = entries.next(path)? {
        match entry {
            Some(e) if e.at.is_some() => return Ok(Some((pos, e))),
            Some(e) => aliases.push(e),
            None => {}
        }
    }
    Ok(None)
}

/// Whether `path`, a recording named by a journal line, is a regular file directly in the
/// export's audio folder (the only place the export saves recordings).
fn is_recording_path(dir: &Path, path: &str) -> bool {
    let Some(name) = path.strip_prefix(&format!("{}/", super::AUDIO_DIR)) else {
        return false;
    };
    crate::archive::safe_relative(path).is_ok()
        && !name.contains('/')
        && !name.starts_with('.')
        && std::fs::symlink_metadata(dir.join(super::AUDIO_DIR).join(name))
            .is_ok_and(|m| m.is_file())
}

fn len_of(file: &File, path: &Path) -> Result<u64, CliError> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| CliError::file("reading", path, e))
}

/// Every readable entry of `dir`'s index, in order (for the manifest).
pub fn index_entries(dir: &Path) -> Result<impl Iterator<Item = IndexEntry>, CliError> {
    let path = dir.join(INDEX_FILE);
    let file = File::open(&path).map_err(|e| CliError::file("opening", &path, e))?;
    Ok(BufReader::with_capacity(1 << 16, file)
        .split(b'\n')
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_slice(&line).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str) -> Vec<u8> {
        format!("{{\"conversation_id\":\"{id}\",\"x\":1}}\n").into_bytes()
    }

    fn entry(id: &str) -> IndexEntry {
        IndexEntry {
            id: id.into(),
            ..IndexEntry::default()
        }
    }

    fn open(dir: &Path, committed: u64) -> (Journal, IdSet, Recovery) {
        Journal::open(dir, committed, false).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn journal_keeps_complete_lines_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut j, ids, r) = open(dir.path(), 0);
        assert_eq!(ids.len(), 0);
        assert_eq!(r, Recovery::default());
        j.append(&line("A"), entry("A"))
            .unwrap_or_else(|e| panic!("{e}"));
        j.append(&line("B"), entry("B"))
            .unwrap_or_else(|e| panic!("{e}"));
        let (committed, records) = j.commit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, 2);
        drop(j);
        // A killed writer left half a line.
        let path = dir.path().join(JOURNAL_FILE);
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"{\"conversation_id\":\"C\",\"x")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let (mut j, ids, r) = open(dir.path(), committed);
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(key("A")) && ids.contains(key("B")));
        assert_eq!(r.truncated_bytes, 25);
        assert!(!r.below_committed);
        j.append(&line("C"), entry("C"))
            .unwrap_or_else(|e| panic!("{e}"));
        j.commit().unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with("\"C\",\"x\":1}\n"));
        let index: Vec<_> = index_entries(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        let offsets: Vec<_> = index.iter().map(|e| e.at).collect();
        assert_eq!(offsets, [Some(0), Some(30), Some(60)]);
    }

    #[test]
    fn duplicates_and_garbage_are_skipped_and_no_good_record_is_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(JOURNAL_FILE);
        let mut body = line("A");
        body.extend(line("A"));
        body.extend(b"\0\0\0\0\n");
        body.extend(line("B"));
        body.extend(b"not json\n");
        body.extend(line("C"));
        std::fs::write(&path, &body).unwrap_or_else(|e| panic!("{e}"));
        let (j, ids, r) = open(dir.path(), body.len() as u64);
        assert_eq!(ids.len(), 3);
        assert!(["A", "B", "C"].iter().all(|id| ids.contains(key(id))));
        assert_eq!(
            r,
            Recovery {
                kept: 3,
                duplicates: 1,
                unreadable: 2,
                truncated_bytes: 0,
                below_committed: false
            }
        );
        assert_eq!(j.records(), 3);
        assert_eq!(
            std::fs::read(&path).unwrap_or_default(),
            body,
            "nothing removed"
        );
    }

    #[test]
    fn records_are_keyed_by_the_id_asked_for() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut j, _, _) = open(dir.path(), 0);
        // The server answered the detail of `ca1` with id `CA1`.
        let asked = IndexEntry {
            record: Some("CA1".into()),
            ..entry("ca1")
        };
        j.append(&line("CA1"), asked)
            .unwrap_or_else(|e| panic!("{e}"));
        j.commit().unwrap_or_else(|e| panic!("{e}"));
        drop(j);
        let (_, ids, r) = open(dir.path(), 0);
        assert_eq!(r.kept, 1);
        assert!(ids.contains(key("ca1")), "the listing's id is done");
        assert!(ids.contains(key("CA1")), "and the record's own");
    }

    #[test]
    fn aliases_count_only_for_records_in_the_journal() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut j, _, _) = open(dir.path(), 0);
        j.append(&line("CA1"), entry("CA1"))
            .unwrap_or_else(|e| panic!("{e}"));
        for (asked, record) in [("ca1", "CA1"), ("ca2", "CA2")] {
            j.alias(IndexEntry {
                record: Some(record.into()),
                ..entry(asked)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        }
        j.commit().unwrap_or_else(|e| panic!("{e}"));
        drop(j);
        let (_, ids, _) = open(dir.path(), 0);
        assert!(ids.contains(key("ca1")));
        assert!(!ids.contains(key("ca2")), "CA2 is not in the journal");
    }

    #[test]
    fn a_line_written_without_its_index_entry_gets_one_with_its_recording() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join("audio")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("audio/B.wav"), b"RIFF").unwrap_or_else(|e| panic!("{e}"));
        let (mut j, _, _) = open(dir.path(), 0);
        j.append(&line("A"), entry("A"))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(j);
        // Killed between a line's two writes: B and C are in the journal, not in the index; B
        // names its recording, C names one outside the audio folder.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL_FILE))
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"{\"conversation_id\":\"B\",\"audio_file\":\"audio/B.wav\"}\n")
            .and_then(|()| {
                f.write_all(b"{\"conversation_id\":\"C\",\"audio_file\":\"../C.wav\"}\n")
            })
            .unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let (_, ids, r) = Journal::open(dir.path(), 0, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.kept, 3);
        assert!(ids.contains(key("B")) && ids.contains(key("C")));
        let index: Vec<_> = index_entries(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert_eq!(index.len(), 3, "{index:?}");
        let b = &index[1];
        assert_eq!((b.id.as_str(), b.at), ("B", Some(line("A").len() as u64)));
        let audio = b.audio.as_ref().map(|a| (a.path.as_str(), a.bytes));
        assert_eq!(audio, Some(("audio/B.wav", 4)));
        assert!(!b.no_recording);
        assert_eq!(index[2].id, "C");
        assert!(index[2].audio.is_none() && index[2].no_recording);
        // Opened again, nothing is added.
        open(dir.path(), 0);
        assert_eq!(
            index_entries(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .count(),
            3
        );
    }

    #[test]
    fn index_entries_past_a_lost_tail_are_cut() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut j, _, _) = open(dir.path(), 0);
        j.append(&line("A"), entry("A"))
            .unwrap_or_else(|e| panic!("{e}"));
        j.append(&line("B"), entry("B"))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(j);
        // The journal lost B (e.g. a power loss before its fsync); the index kept it.
        let path = dir.path().join(JOURNAL_FILE);
        let a = line("A").len();
        let bytes = std::fs::read(&path).unwrap_or_default();
        std::fs::write(&path, &bytes[..a + 5]).unwrap_or_else(|e| panic!("{e}"));
        let (mut j, ids, r) = open(dir.path(), 0);
        assert!(!ids.contains(key("B")));
        assert_eq!(r.truncated_bytes, 5);
        // The next record lands at B's old offset with its own entry.
        let other = IndexEntry {
            record: Some("D".into()),
            ..entry("d")
        };
        j.append(&line("D"), other)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(j);
        let (_, ids, _) = open(dir.path(), 0);
        assert!(ids.contains(key("d")) && !ids.contains(key("B")));
        let index: Vec<_> = index_entries(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| e.id)
            .collect();
        assert_eq!(index, ["A", "d"]);
    }
}
