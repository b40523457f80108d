//! `polyai verify` of a dataset folder (`polyai dataset convert`, `export --format parquet`):
//! the manifest `_polyai_dataset.json` lists every fragment with its id list and data files,
//! each with its size and SHA-256. Every listed file must be present and unchanged, every data
//! file must hold the rows the manifest counts (by its own footer), every fragment the
//! conversations its id list names, each conversation in one fragment only, and no file a
//! reader of the table folders would take for data may be unlisted.

use std::collections::HashSet;
use std::path::Path;

use polyai_dataset::{DATASET_SCHEMA_VERSION, FileFormat, MANIFEST_FILE, Manifest, Table};
use serde_json::json;

use super::Findings;
use crate::archive::{self, Checker, Content, Format, Kind, Listed, RecordCount};
use crate::export::idset::{Key, key};

/// Largest manifest read (a dataset of millions of conversations has a few MB).
const MANIFEST_LIMIT: u64 = 1 << 30;
/// Largest id list read (one fragment's conversations, ~60 bytes each).
const IDS_LIMIT: u64 = 1 << 30;

/// A dataset folder: its own bookkeeping, which the manifest does not list.
pub(super) struct DatasetFormat;

impl Format for DatasetFormat {
    fn is_bookkeeping(&self, path: &str) -> bool {
        path == MANIFEST_FILE || path == "_polyai/lock" || path == "_polyai/tmp"
    }
}

/// Checks the dataset in `dir`, whose manifest is there.
pub(super) fn check(checker: &mut Checker<'_>, dir: &Path, findings: &mut Findings) {
    findings.kind = "dataset";
    findings.sums = "absent";
    let manifest = match read_manifest(&dir.join(MANIFEST_FILE)) {
        Ok(manifest) => manifest,
        Err(why) => {
            checker.problem(MANIFEST_FILE, Kind::Manifest, why);
            return;
        }
    };
    if manifest.dataset_schema_version > DATASET_SCHEMA_VERSION
        || manifest.record_schema_version > polyai_data::record::SCHEMA_VERSION
    {
        findings.notes.push(format!(
            "the dataset's schema versions ({} and record contract {}) are newer than this polyai \
             reads ({DATASET_SCHEMA_VERSION} and {}); its files were checked, not their columns",
            manifest.dataset_schema_version,
            manifest.record_schema_version,
            polyai_data::record::SCHEMA_VERSION
        ));
    }
    findings.about = Some(json!({
        "format": manifest.file_format,
        "generation": manifest.generation,
        "updated_at": manifest.updated_at,
        "writer": manifest.writer,
        "dataset_schema_version": manifest.dataset_schema_version,
        "record_schema_version": manifest.record_schema_version,
    }));
    findings.headline = Some(format!(
        "{} dataset, generation {}, updated {} by {}",
        manifest.file_format, manifest.generation, manifest.updated_at, manifest.writer
    ));
    findings.notes.push(format!(
        "a dataset has no SHA256SUMS or signature: its manifest ({MANIFEST_FILE}) holds the \
         hashes that were checked"
    ));
    let mut seen = HashSet::new();
    let mut conversations = 0u64;
    let mut unhashed_fragments = 0u64;
    for fragment in &manifest.fragments {
        if fragment.ids_sha256.is_none() {
            unhashed_fragments += 1;
        }
        let listed = Listed {
            path: fragment.ids.clone(),
            bytes: fragment.ids_bytes,
            sha256: fragment.ids_sha256.clone(),
        };
        let ids = if check_file(checker, &listed) {
            count_ids(checker, dir, &fragment.ids, &mut seen)
        } else {
            0
        };
        conversations += ids;
        if ids != fragment.conversations {
            checker.problem(
                &fragment.ids,
                Kind::Count,
                format!(
                    "{ids} conversations where the manifest counts {} for fragment {}",
                    fragment.conversations, fragment.id
                ),
            );
        }
        let folder = |table: &str| {
            format!(
                "{table}/{}={}/",
                polyai_dataset::PARTITION_COLUMN,
                fragment.partition
            )
        };
        for file in &fragment.files {
            let table = Table::from_name(&file.table);
            if table.is_none() || !file.path.starts_with(&folder(&file.table)) {
                checker.problem(
                    &file.path,
                    Kind::Manifest,
                    format!(
                        "listed as a file of table {:?} in partition {}, but that is not where \
                         such a file lives ({}part-….{})",
                        file.table,
                        fragment.partition,
                        folder(&file.table),
                        manifest.file_format.extension()
                    ),
                );
                continue;
            }
            let listed = Listed {
                path: file.path.clone(),
                bytes: Some(file.bytes),
                sha256: file.sha256.clone(),
            };
            if check_file(checker, &listed) {
                check_rows(checker, dir, &file.path, file.rows, manifest.file_format);
            }
            if table == Some(Table::Conversations) && file.rows != fragment.conversations {
                checker.problem(
                    &file.path,
                    Kind::Count,
                    format!(
                        "{} conversation rows where fragment {} holds {} conversations",
                        file.rows, fragment.id, fragment.conversations
                    ),
                );
            }
        }
    }
    if unhashed_fragments > 0 {
        findings.notes.push(format!(
            "{unhashed_fragments} fragments were written by a polyai that did not record hashes: \
             their files were checked by size only (compact the dataset to rewrite them with hashes)"
        ));
    }
    checker.records.push((
        "conversations".to_owned(),
        RecordCount {
            records: conversations,
            unreadable: 0,
        },
    ));
    checker.finish();
}

fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let bytes =
        archive::read_small(path, MANIFEST_LIMIT).map_err(|e| format!("cannot be read: {e}"))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("is not a polyai dataset manifest: {e}"))?;
    if manifest.format != "polyai-dataset" {
        return Err("its `format` is not `polyai-dataset`".into());
    }
    Ok(manifest)
}

/// Checks a listed file; whether it is a regular file that was read (changed or not), so
/// that its content may be looked at.
fn check_file(checker: &mut Checker<'_>, listed: &Listed) -> bool {
    let before = checker.problems().0.len();
    checker.check_file(listed, Content::Bytes);
    checker.problems().0[before..]
        .iter()
        .all(|p| matches!(p.kind, Kind::Size | Kind::Hash))
}

/// Reads a fragment's id list (present, safe and regular: see [`check_file`]), reporting unreadable lines and ids already in another fragment; returns how many
/// ids it lists.
fn count_ids(checker: &mut Checker<'_>, dir: &Path, rel: &str, seen: &mut HashSet<Key>) -> u64 {
    let Ok(bytes) = archive::read_small(&dir.join(rel), IDS_LIMIT) else {
        return 0;
    };
    let mut count = 0;
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let id = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get(0).and_then(|id| id.as_str()).map(str::to_owned));
        let Some(id) = id else {
            checker.problem(
                rel,
                Kind::Record,
                format!("line {}: not a [conversation id, fingerprint] array", n + 1),
            );
            continue;
        };
        count += 1;
        if !seen.insert(key(&id)) {
            checker.problem(
                rel,
                Kind::Duplicate,
                format!(
                    "conversation {id} is in another fragment too: readers would count it twice"
                ),
            );
        }
    }
    count
}

/// The rows a data file holds by its own footer (Parquet) or lines (CSV) must be the
/// manifest's.
fn check_rows(checker: &mut Checker<'_>, dir: &Path, rel: &str, listed: u64, format: FileFormat) {
    match polyai_dataset::rows_in(&dir.join(rel), format) {
        Ok(rows) if rows == listed => {}
        Ok(rows) => checker.problem(
            rel,
            Kind::Count,
            format!("{rows} rows where the manifest lists {listed}"),
        ),
        Err(e) => checker.problem(rel, Kind::Record, e.to_string()),
    }
}
