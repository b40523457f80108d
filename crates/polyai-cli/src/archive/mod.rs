//! Archives an auditor can verify: the checks of `polyai verify`, `SHA256SUMS` and minisign
//! signatures.
//!
//! The checks work on any folder whose manifest lists files with their sizes (and hashes):
//! a format supplies, through [`Checker::check_file`], each listed file and what its content
//! must be, and says which files of the folder are its own bookkeeping ([`Format`]); the
//! checker finds what is missing, changed, unlisted, unreadable or unsafe, naming the file each
//! time. `polyai verify` ([`crate::commands::verify`]) reads an export's `manifest.json` this
//! way, and a dataset's `_polyai_dataset.json` as another [`Format`].
//!
//! - [`sums`]: `SHA256SUMS`, as `sha256sum -c` reads it.
//! - [`minisign`]: Ed25519 keys and signatures in minisign's format.
//!
//! Hostile manifests are expected: a listed path that is absolute, has `..`, `.`, an empty
//! part, a backslash or a NUL, or that goes through a symbolic link is refused and never
//! opened; only regular files are read (a FIFO would block, a device never end), each streamed
//! through SHA-256 in 256 KiB blocks, so memory does not grow with file sizes.

pub mod minisign;
pub mod sums;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::export::idset::{Key, key};

/// What one problem is about, for `-O json` and for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The manifest cannot be read or is not one.
    Manifest,
    /// A listed path is absolute, escapes the folder, or goes through a symbolic link.
    UnsafePath,
    /// A path is listed twice.
    Duplicate,
    /// A listed file is absent.
    Missing,
    /// A listed path is not a regular file.
    NotAFile,
    /// A file's size differs from the manifest's.
    Size,
    /// A file's SHA-256 differs from the manifest's.
    Hash,
    /// A file is in the folder but not in the manifest.
    Unlisted,
    /// A record cannot be read.
    Record,
    /// A count differs from the manifest's.
    Count,
    /// `SHA256SUMS` disagrees with the manifest.
    Sums,
    /// The signature is missing, malformed or wrong.
    Signature,
    /// A file could not be read.
    Io,
}

/// One problem, naming its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file, relative to the folder (`/`-separated), as the manifest or the folder names it.
    pub file: String,
    /// What kind of problem.
    pub kind: Kind,
    /// What is wrong, and what it means.
    pub message: String,
}

/// A file a manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Listed {
    /// Relative path, `/`-separated.
    pub path: String,
    /// Size in bytes, when listed.
    #[serde(default, alias = "size", alias = "size_bytes")]
    pub bytes: Option<u64>,
    /// SHA-256, lowercase hex, when listed.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// What a listed file's content must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Any bytes.
    Bytes,
    /// JSON Lines: each line an object with a string id (`conversation_id`, `conversationId`
    /// or `id`). The lines are counted, and each record's recording (`audio_file`, or
    /// `_export.audioFile`) must be a listed file.
    Records,
}

/// What a format tells the checker about its folders.
pub trait Format {
    /// Whether `path` (relative, `/`-separated) is the format's own bookkeeping, which the
    /// manifest does not list (its checkpoint, lock, the manifest itself).
    fn is_bookkeeping(&self, path: &str) -> bool;
}

/// Progress of a check, for the caller's display.
pub trait Progress {
    /// `bytes` more were read.
    fn read(&self, bytes: u64);
}

impl Progress for () {
    fn read(&self, _: u64) {}
}

impl Progress for indicatif::ProgressBar {
    fn read(&self, bytes: u64) {
        self.inc(bytes);
    }
}

/// At most this many problems are kept (the rest are counted).
const MAX_PROBLEMS: usize = 10_000;
/// At most this many unreadable lines are reported per file (the rest are counted).
const MAX_BAD_LINES: u64 = 5;
/// Read size for hashing.
const BLOCK: usize = 256 * 1024;

/// Lines of a record file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCount {
    /// Lines that are records.
    pub records: u64,
    /// Lines that are not.
    pub unreadable: u64,
}

/// The checks of one folder.
pub struct Checker<'a> {
    root: PathBuf,
    format: &'a dyn Format,
    progress: &'a dyn Progress,
    /// Listed paths (by key) with their SHA-256 as listed.
    listed: HashMap<Key, Option<[u8; 32]>>,
    /// Recordings the records name: (key, path, record id).
    referenced: Vec<(Key, Box<str>, Box<str>)>,
    /// Lines of each record file.
    pub records: Vec<(String, RecordCount)>,
    problems: Vec<Problem>,
    problems_left_off: u64,
    /// Files read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Listed files with no hash (size only).
    pub unhashed: u64,
}

impl<'a> Checker<'a> {
    /// A checker of the folder `root`.
    pub fn new(root: &Path, format: &'a dyn Format, progress: &'a dyn Progress) -> Self {
        Checker {
            root: root.to_path_buf(),
            format,
            progress,
            listed: HashMap::new(),
            referenced: Vec::new(),
            records: Vec::new(),
            problems: Vec::new(),
            problems_left_off: 0,
            files: 0,
            bytes: 0,
            unhashed: 0,
        }
    }

    /// Records a problem with `file`.
    pub fn problem(&mut self, file: &str, kind: Kind, message: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                file: file.to_owned(),
                kind,
                message: message.into(),
            });
        } else {
            self.problems_left_off += 1;
        }
    }

    /// The problems found, and how many more were not kept.
    pub fn problems(&self) -> (&[Problem], u64) {
        (&self.problems, self.problems_left_off)
    }

    /// The SHA-256 the manifest lists for `path`: `None` when not listed, `Some(None)` when
    /// listed without one.
    pub fn listed_sha256(&self, path: &str) -> Option<Option<[u8; 32]>> {
        self.listed.get(&key(path)).copied()
    }

    /// Listed paths in all.
    pub fn listed_count(&self) -> usize {
        self.listed.len()
    }

    /// Checks one listed file: its path, presence, size, hash, and content.
    pub fn check_file(&mut self, entry: &Listed, content: Content) {
        let path = entry.path.as_str();
        if let Err(why) = safe_relative(path) {
            self.problem(
                path,
                Kind::UnsafePath,
                format!("the manifest lists an unsafe path ({why}); it was not opened"),
            );
            return;
        }
        let expected = match entry.sha256.as_deref().map(parse_hex) {
            Some(Some(hash)) => Some(hash),
            Some(None) => {
                self.problem(
                    path,
                    Kind::Manifest,
                    "the manifest's sha256 for this file is not 64 hex digits",
                );
                None
            }
            None => None,
        };
        if self.listed.insert(key(path), expected).is_some() {
            self.problem(path, Kind::Duplicate, "listed twice in the manifest");
            return;
        }
        let full = match self.resolve(path) {
            Ok(full) => full,
            Err((kind, message)) => {
                self.problem(path, kind, message);
                return;
            }
        };
        let file = match open_no_follow(&full) {
            Ok(file) => file,
            Err(e) => {
                self.problem(path, Kind::Io, format!("cannot open: {e}"));
                return;
            }
        };
        let read = match content {
            Content::Bytes => hash_stream(file, self.progress, |_| {}),
            Content::Records => {
                let mut lines = RecordLines::default();
                let read = hash_lines(file, self.progress, &mut lines);
                self.finish_records(path, lines);
                read
            }
        };
        let (bytes, sha256) = match read {
            Ok(read) => read,
            Err(e) => {
                self.problem(path, Kind::Io, format!("cannot read: {e}"));
                return;
            }
        };
        self.files += 1;
        self.bytes += bytes;
        if let Some(listed) = entry.bytes
            && listed != bytes
        {
            self.problem(
                path,
                Kind::Size,
                format!(
                    "{bytes} bytes where the manifest lists {listed}: the file changed after the export"
                ),
            );
        }
        match expected {
            Some(want) if want != sha256 => self.problem(
                path,
                Kind::Hash,
                format!(
                    "SHA-256 {} where the manifest lists {}: the file changed after the export",
                    hex(&sha256),
                    hex(&want)
                ),
            ),
            Some(_) => {}
            None => self.unhashed += 1,
        }
    }

    fn finish_records(&mut self, path: &str, lines: RecordLines) {
        for (line, why) in &lines.bad {
            self.problem(path, Kind::Record, format!("line {line}: {why}"));
        }
        if lines.count.unreadable > MAX_BAD_LINES {
            self.problem(
                path,
                Kind::Record,
                format!(
                    "{} more unreadable lines",
                    lines.count.unreadable - MAX_BAD_LINES
                ),
            );
        }
        self.referenced.extend(lines.audio);
        self.records.push((path.to_owned(), lines.count));
    }

    /// The file at `path` (already checked to be safe) when it is a regular file reached
    /// through no symbolic link.
    fn resolve(&self, path: &str) -> Result<PathBuf, (Kind, String)> {
        let mut full = self.root.clone();
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            full.push(part);
            let last = i + 1 == parts.len();
            let meta = match std::fs::symlink_metadata(&full) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err((Kind::Missing, "listed in the manifest, but absent".into()));
                }
                Err(e) => return Err((Kind::Io, format!("cannot inspect: {e}"))),
            };
            if meta.file_type().is_symlink() {
                return Err((
                    Kind::UnsafePath,
                    "is (or goes through) a symbolic link, which verify does not follow: an \
                     archive holds its files themselves"
                        .into(),
                ));
            }
            if last && !meta.is_file() {
                return Err((
                    Kind::NotAFile,
                    "listed as a file, but it is a directory or a special file".into(),
                ));
            }
            if !last && !meta.is_dir() {
                return Err((Kind::Missing, "listed in the manifest, but absent".into()));
            }
        }
        Ok(full)
    }

    /// After every listed file: the recordings the records name must be listed, and every
    /// file of the folder must be listed or the format's bookkeeping.
    pub fn finish(&mut self) {
        let referenced = std::mem::take(&mut self.referenced);
        for (k, path, id) in referenced {
            if !self.listed.contains_key(&k) {
                self.problem(
                    &path,
                    Kind::Missing,
                    format!("record {id} names this recording, which the manifest does not list"),
                );
            }
        }
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            let full = if dir.is_empty() {
                self.root.clone()
            } else {
                self.root.join(&dir)
            };
            let entries = match std::fs::read_dir(&full) {
                Ok(entries) => entries,
                Err(e) => {
                    let shown = if dir.is_empty() { "." } else { &dir };
                    self.problem(shown, Kind::Io, format!("cannot list the folder: {e}"));
                    continue;
                }
            };
            let mut names: Vec<(String, std::fs::FileType)> = Vec::new();
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Ok(kind) = entry.file_type() {
                    names.push((name, kind));
                }
            }
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, kind) in names {
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                if kind.is_dir() {
                    if !self.format.is_bookkeeping(&rel) {
                        stack.push(rel);
                    }
                    continue;
                }
                if self.listed.contains_key(&key(&rel)) || self.format.is_bookkeeping(&rel) {
                    continue;
                }
                let what = if kind.is_symlink() {
                    "a symbolic link the manifest does not list"
                } else {
                    "not listed in the manifest: added after the export, or left by something else"
                };
                self.problem(&rel, Kind::Unlisted, what);
            }
        }
    }
}

/// Reads a manifest (a JSON object with a `files` array of [`Listed`]) from `reader`,
/// handing each entry of `files` to `each` as it is read, so a manifest of a million files is
/// never held in memory. Returns the other top-level fields, and whether `files` was there.
pub fn read_manifest(
    reader: impl Read,
    each: impl FnMut(Listed),
) -> Result<(Map<String, Value>, bool), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let head = serde::Deserializer::deserialize_map(&mut de, ManifestVisitor { each })?;
    de.end()?;
    Ok(head)
}

/// The manifest's top level: `files` goes entry by entry to `each`, the rest is kept.
struct ManifestVisitor<F> {
    each: F,
}

impl<'de, F: FnMut(Listed)> Visitor<'de> for ManifestVisitor<F> {
    type Value = (Map<String, Value>, bool);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut head = Map::new();
        let mut files_seen = false;
        while let Some(name) = map.next_key::<String>()? {
            if name == "files" && !files_seen {
                files_seen = true;
                map.next_value_seed(FilesSeed {
                    each: &mut self.each,
                })?;
            } else {
                let value: Value = map.next_value()?;
                head.insert(name, value);
            }
        }
        Ok((head, files_seen))
    }
}

struct FilesSeed<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(Listed)> DeserializeSeed<'de> for FilesSeed<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Listed)> Visitor<'de> for FilesSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of {\"path\", \"bytes\", \"sha256\"}")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(entry) = seq.next_element::<Listed>()? {
            (self.each)(entry);
        }
        Ok(())
    }
}

/// Why `path` is not a safe relative path inside the folder, if it is not.
pub fn safe_relative(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.starts_with('/') || path.get(1..2) == Some(":") {
        return Err("absolute");
    }
    if path.contains('\\') {
        return Err("a backslash");
    }
    if path.contains('\0') {
        return Err("a NUL byte");
    }
    for part in path.split('/') {
        match part {
            "" => return Err("an empty part"),
            "." => return Err("a `.` part"),
            ".." => return Err("a `..` part: outside the folder"),
            _ => {}
        }
    }
    Ok(())
}

/// Opens a regular file for reading without following a symbolic link in its last part.
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW | O_NONBLOCK: never a link, never block on a FIFO swapped in.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Size and SHA-256 of what `reader` gives; `each` sees every block.
fn hash_stream(
    mut reader: impl Read,
    progress: &dyn Progress,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    let mut bytes = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        each(&buf[..n]);
        bytes += n as u64;
        progress.read(n as u64);
    }
    Ok((bytes, hasher.finalize().into()))
}

/// What the lines of a record file held.
#[derive(Default)]
struct RecordLines {
    count: RecordCount,
    bad: Vec<(u64, String)>,
    audio: Vec<(Key, Box<str>, Box<str>)>,
    line: u64,
}

impl RecordLines {
    fn read(&mut self, line: &[u8]) {
        self.line += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let why = match serde_json::from_slice::<Probe>(text) {
            Ok(probe) => match probe.id() {
                Some(id) => {
                    self.count.records += 1;
                    if let Some(audio) = probe.audio_file() {
                        self.audio.push((key(&audio), audio.into(), id.into()));
                    }
                    return;
                }
                None => "a JSON object without a string conversation_id, conversationId or id"
                    .to_owned(),
            },
            Err(e) if text.trim_ascii().is_empty() => format!("an empty line ({e})"),
            Err(e) => format!("not a JSON object: {e}"),
        };
        self.count.unreadable += 1;
        if self.count.unreadable <= MAX_BAD_LINES {
            self.bad.push((self.line, why));
        }
    }
}

/// The parts of a record line the checks read.
#[derive(Deserialize)]
struct Probe {
    conversation_id: Option<String>,
    #[serde(rename = "conversationId")]
    data_api_id: Option<String>,
    id: Option<String>,
    audio_file: Option<String>,
    #[serde(rename = "_export")]
    export: Option<ExportProbe>,
}

#[derive(Deserialize)]
struct ExportProbe {
    #[serde(rename = "audioFile")]
    audio_file: Option<String>,
}

impl Probe {
    fn id(&self) -> Option<&str> {
        self.conversation_id
            .as_deref()
            .or(self.data_api_id.as_deref())
            .or(self.id.as_deref())
    }

    fn audio_file(&self) -> Option<String> {
        self.audio_file
            .clone()
            .or_else(|| self.export.as_ref().and_then(|e| e.audio_file.clone()))
    }
}

/// Hashes `file` and reads each of its lines into `lines`.
fn hash_lines(
    file: File,
    progress: &dyn Progress,
    lines: &mut RecordLines,
) -> std::io::Result<(u64, [u8; 32])> {
    let mut reader = BufReader::with_capacity(BLOCK, file);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        hasher.update(&line);
        bytes += n as u64;
        progress.read(n as u64);
        lines.read(&line);
    }
    Ok((bytes, hasher.finalize().into()))
}

/// Size and SHA-256 of a file the caller names (the manifest itself, `SHA256SUMS`), read
/// through no symbolic link.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other(
            "a symbolic link, which verify does not follow",
        ));
    }
    hash_stream(open_no_follow(path)?, &(), |_| {})
}

/// Reads a small file the caller names (at most `limit` bytes), through no symbolic link.
pub fn read_small(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other(
            "a symbolic link, which verify does not follow",
        ));
    }
    let file = open_no_follow(path)?;
    let mut out = Vec::new();
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(out)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits as 32 bytes.
pub fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Paths each listed at most once, in the order first seen (for `SHA256SUMS` checks).
#[derive(Default)]
pub struct Seen(HashSet<Key>);

impl Seen {
    /// Whether `path` is new.
    pub fn first(&mut self, path: &str) -> bool {
        self.0.insert(key(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_named() {
        for (path, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("C:/x", "absolute"),
            ("../x", "a `..` part: outside the folder"),
            ("audio/../../x", "a `..` part: outside the folder"),
            ("a//b", "an empty part"),
            ("./a", "a `.` part"),
            ("a\\b", "a backslash"),
        ] {
            assert_eq!(safe_relative(path), Err(why), "{path}");
        }
        assert_eq!(safe_relative("audio/CA1.wav"), Ok(()));
        assert_eq!(safe_relative("..a/b..c"), Ok(()));
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0xabu8; 32];
        assert_eq!(parse_hex(&hex(&bytes)), Some(bytes));
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(&"g".repeat(64)), None);
    }
}
