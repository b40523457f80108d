//! `_polyai_dataset.json`: the committed state of a dataset, and the id lists of its fragments.
//!
//! A *fragment* is what one write produced for one partition: a file per table that has rows
//! (`TABLE/date=D/part-ID.EXT`) and the list of the conversations it holds with their
//! fingerprints (`_polyai/ids/ID.jsonl`). Every conversation is in exactly one fragment, so
//! once per table. The manifest lists the committed fragments; it is replaced whole (a rename,
//! or one PUT), which is the commit.

use std::collections::BTreeMap;

use polyai_data::record::ConversationRecord;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::FileFormat;
use crate::schema::{DATASET_SCHEMA_VERSION, Table};

/// The manifest's file name, at the dataset's root.
pub const MANIFEST_FILE: &str = "_polyai_dataset.json";
/// What the manifest's `format` says.
const FORMAT: &str = "polyai-dataset";
/// Where the fragments' id lists are.
pub(crate) const IDS_DIR: &str = "_polyai/ids";

/// The committed state of a dataset (the contents of `_polyai_dataset.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Always `polyai-dataset`.
    pub format: String,
    /// The tables' version ([`DATASET_SCHEMA_VERSION`](crate::DATASET_SCHEMA_VERSION)).
    pub dataset_schema_version: u32,
    /// The record contract's version ([`polyai_data::record::SCHEMA_VERSION`]).
    pub record_schema_version: u32,
    /// `parquet` or `csv`: every file of the dataset has this format.
    pub file_format: FileFormat,
    /// Commits so far; each commit adds one.
    pub generation: u64,
    /// When the last commit was made (RFC 3339 UTC).
    pub updated_at: String,
    /// The program that made the last commit.
    pub writer: String,
    /// The table names, in order.
    pub tables: Vec<String>,
    /// The committed fragments.
    pub fragments: Vec<Fragment>,
    /// What the program that writes the dataset keeps with it, committed with the data (a
    /// sync's listing position, the conversations whose details it must fetch again, …): see
    /// [`DatasetWriter::set_state`](crate::DatasetWriter::set_state).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub state: BTreeMap<String, serde_json::Value>,
}

/// What one write produced for one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Fragment {
    /// Its id, unique in the dataset (part of its files' names).
    pub id: String,
    /// The partition value (`2026-06-03`, or `__HIVE_DEFAULT_PARTITION__`).
    pub partition: String,
    /// How many conversations it holds.
    pub conversations: u64,
    /// The file listing its conversation ids and their fingerprints, one JSON array per line.
    pub ids: String,
    /// The id list's size in bytes (absent in datasets written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids_bytes: Option<u64>,
    /// The id list's SHA-256, lowercase hex (absent in datasets written before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids_sha256: Option<String>,
    /// Its files, one per table that has rows.
    pub files: Vec<DataFile>,
}

/// A file of a fragment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataFile {
    /// The table.
    pub table: String,
    /// The path from the dataset's root.
    pub path: String,
    /// Rows in it.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex, as written (`polyai verify` checks it); absent in datasets
    /// written before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What is read first, to refuse a newer manifest before its body is parsed.
#[derive(Deserialize)]
struct Head {
    format: Option<String>,
    dataset_schema_version: Option<u32>,
    record_schema_version: Option<u32>,
}

impl Manifest {
    /// An empty dataset of `format`.
    pub(crate) fn new(format: FileFormat) -> Self {
        Manifest {
            format: FORMAT.to_owned(),
            dataset_schema_version: DATASET_SCHEMA_VERSION,
            record_schema_version: polyai_data::record::SCHEMA_VERSION,
            file_format: format,
            generation: 0,
            updated_at: now(),
            writer: crate::WRITER.to_owned(),
            tables: Table::ALL.iter().map(|t| t.name().to_owned()).collect(),
            fragments: Vec::new(),
            state: BTreeMap::new(),
        }
    }

    /// Reads a manifest; `destination` and `path` name it in errors.
    pub(crate) fn parse(bytes: &[u8], destination: &str, path: &str) -> Result<Self> {
        let corrupt = |message: String| Error::Corrupt {
            path: path.to_owned(),
            message,
        };
        let head: Head = serde_json::from_slice(bytes).map_err(|e| {
            corrupt(format!(
                "not a dataset manifest ({e}); restore it from a backup, or write into a new folder"
            ))
        })?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(corrupt(format!("its `format` is not `{FORMAT}`")));
        }
        let (Some(found_dataset), Some(found_record)) =
            (head.dataset_schema_version, head.record_schema_version)
        else {
            return Err(corrupt("it has no schema versions".into()));
        };
        if found_dataset > DATASET_SCHEMA_VERSION
            || found_record > polyai_data::record::SCHEMA_VERSION
        {
            return Err(Error::NewerSchema {
                destination: destination.to_owned(),
                found_dataset,
                found_record,
                ours_dataset: DATASET_SCHEMA_VERSION,
                ours_record: polyai_data::record::SCHEMA_VERSION,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The committed files of `table`, by partition.
    ///
    /// ```
    /// # async fn f() -> Result<(), polyai_dataset::Error> {
    /// let info = polyai_dataset::DatasetInfo::read(&"data/calls".parse()?).await?;
    /// for (partition, files) in info.manifest.files(polyai_dataset::Table::Turns) {
    ///     println!("{partition}: {} files", files.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn files(&self, table: Table) -> BTreeMap<&str, Vec<&DataFile>> {
        let mut out: BTreeMap<&str, Vec<&DataFile>> = BTreeMap::new();
        for fragment in &self.fragments {
            for file in fragment.files.iter().filter(|f| f.table == table.name()) {
                out.entry(fragment.partition.as_str())
                    .or_default()
                    .push(file);
            }
        }
        out
    }

    /// How many conversations the dataset holds.
    pub fn conversations(&self) -> u64 {
        self.fragments.iter().map(|f| f.conversations).sum()
    }
}

/// The current time, RFC 3339 UTC with microseconds.
pub(crate) fn now() -> String {
    polyai_data::Timestamp::now().to_rfc3339_micros()
}

/// The key of a conversation id in the writer's index (a 128-bit hash: a million ids fit in
/// a few tens of MiB, and two ids share a key with a probability below 10⁻²⁶).
pub(crate) fn id_key(id: &str) -> u128 {
    twox_hash::XxHash3_128::oneshot(id.as_bytes())
}

/// A record's fingerprint: a 64-bit hash of its JSON form. Equal records have equal
/// fingerprints; a changed field changes it.
///
/// ```
/// use polyai_data::record::{Api, ConversationRecord};
/// let mut record = ConversationRecord::new("CA1", Api::V3);
/// let before = polyai_dataset::fingerprint(&record);
/// assert_eq!(before, polyai_dataset::fingerprint(&record.clone()));
/// record.note = Some("call back".into());
/// assert_ne!(before, polyai_dataset::fingerprint(&record));
/// ```
pub fn fingerprint(record: &ConversationRecord) -> u64 {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        // serde_json's text, written faster; what the fast writer does not take, by serde_json
        // (into a Vec, which cannot fail).
        if crate::canonical::to_json(&mut buffer, record).is_err() {
            buffer.clear();
            let _ = serde_json::to_writer(&mut *buffer, record);
        }
        twox_hash::XxHash3_64::oneshot(&buffer)
    })
}

/// A fragment's id list: one `["ID","FINGERPRINT"]` line per conversation.
pub(crate) fn ids_text(ids: &[(String, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 56);
    for (id, fp) in ids {
        let _ = serde_json::to_writer(&mut out, &(id, format!("{fp:016x}")));
        out.push(b'\n');
    }
    out
}

/// Reads a fragment's id list.
pub(crate) fn parse_ids(bytes: &[u8], path: &str) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: Option<(String, u64)> = serde_json::from_slice::<(String, String)>(line)
            .ok()
            .and_then(|(id, fp)| Some((id, u64::from_str_radix(&fp, 16).ok()?)));
        out.push(parsed.ok_or_else(|| Error::Corrupt {
            path: path.to_owned(),
            message: format!("line {} is not [\"ID\", \"FINGERPRINT\"]", n + 1),
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_are_refused_with_both_versions_named() {
        let mut manifest = serde_json::to_value(Manifest::new(FileFormat::Parquet))
            .unwrap_or_else(|e| panic!("{e}"));
        manifest["dataset_schema_version"] = 7.into();
        manifest["fragments"] = "a shape a future version might have".into();
        let bytes = manifest.to_string();
        let err = Manifest::parse(
            bytes.as_bytes(),
            "s3://b/ds",
            "s3://b/ds/_polyai_dataset.json",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("dataset schema version 7"), "{err}");
        assert!(
            err.contains(&format!(
                "knows dataset schema version {DATASET_SCHEMA_VERSION}"
            )),
            "{err}"
        );
        assert!(err.starts_with("s3://b/ds "), "{err}");
    }

    #[test]
    fn damaged_manifests_and_id_lists_are_errors() {
        assert!(Manifest::parse(b"{", "d", "d/m").is_err());
        assert!(Manifest::parse(br#"{"format":"other"}"#, "d", "d/m").is_err());
        let ids = vec![("CA1".to_owned(), 1u64), ("a\"b\n".to_owned(), u64::MAX)];
        assert_eq!(parse_ids(&ids_text(&ids), "x").ok(), Some(ids));
        assert!(parse_ids(b"[\"CA1\", \"zz\"]\n", "x").is_err());
    }

    #[test]
    fn the_fingerprint_is_xxh3_of_the_records_json() {
        use std::hash::Hasher;
        let bare = ConversationRecord::new("CA1", polyai_data::record::Api::V3);
        // Every kind of field, strings that need escapes, floats, a raw body.
        let full = ConversationRecord::from_v3(&serde_json::json!({
            "id": "CA2", "environment": "live", "started_at": "2026-06-03T14:00:38.58Z",
            "channel": "VOICE-SIP", "in_progress": false, "total_duration": 61,
            "variant_name": "Main \"line\"\n", "handoff": true,
            "turns": [
                {"user_input": "", "agent_response": "Hello — how can I help? ☎",
                 "agent_response_datetime": "2026-06-03T14:00:39Z", "latency": 0.25},
                {"user_input": "a\tb\\c\u{1}", "agent_response": "1e300", "latency": 1e-7}
            ],
            "metrics": [{"name": "csat", "value": 5}], "state": {"k": [1, 2.5, null]}
        }))
        .map(|r| r.keep_raw(serde_json::json!({"id": "CA2", "x": [1.5, "é"]})));
        for record in [Some(bare), full].into_iter().flatten() {
            let json = serde_json::to_vec(&record).unwrap_or_default();
            let mut streaming = twox_hash::XxHash3_64::new();
            for chunk in json.chunks(7) {
                streaming.write(chunk);
            }
            assert_eq!(
                fingerprint(&record),
                streaming.finish(),
                "stable across versions: {}",
                String::from_utf8_lossy(&json)
            );
        }
    }
}
