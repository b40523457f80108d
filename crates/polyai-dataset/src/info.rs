//! [`DatasetInfo`]: what a dataset holds, from its manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::schema::Table;
use crate::store::{Destination, Store};

/// A dataset's tables, partitions, files, rows and versions, read from its manifest (no data
/// file is opened).
///
/// ```no_run
/// # async fn f() -> Result<(), polyai_dataset::Error> {
/// let info = polyai_dataset::DatasetInfo::read(&"data/calls".parse()?).await?;
/// println!("{info}"); // a table per line: partitions, files, rows, bytes
/// assert_eq!(info.tables[0].table, polyai_dataset::Table::Conversations);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DatasetInfo {
    /// Where it is.
    pub destination: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// One entry per table.
    pub tables: Vec<TableInfo>,
}

/// One table of a [`DatasetInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableInfo {
    /// The table.
    pub table: Table,
    /// Partitions with at least one file.
    pub partitions: u64,
    /// Files.
    pub files: u64,
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// The first and last partition values.
    pub range: Option<(String, String)>,
}

impl DatasetInfo {
    /// Reads the manifest at `destination`; [`Error::NotADataset`] when there is none.
    pub async fn read(destination: &Destination) -> Result<DatasetInfo> {
        let store = Store::open(destination, false).await?;
        let shown = destination.to_string();
        let bytes = store
            .get(MANIFEST_FILE)
            .await?
            .ok_or_else(|| Error::NotADataset {
                destination: shown.clone(),
                manifest: MANIFEST_FILE,
            })?;
        let manifest = Manifest::parse(&bytes, &shown, &store.display(MANIFEST_FILE))?;
        let tables = Table::ALL
            .iter()
            .map(|&table| {
                let mut partitions = BTreeSet::new();
                let (mut files, mut rows, mut bytes) = (0, 0, 0);
                for fragment in &manifest.fragments {
                    for file in fragment.files.iter().filter(|f| f.table == table.name()) {
                        partitions.insert(fragment.partition.clone());
                        files += 1;
                        rows += file.rows;
                        bytes += file.bytes;
                    }
                }
                TableInfo {
                    table,
                    partitions: partitions.len() as u64,
                    files,
                    rows,
                    bytes,
                    range: partitions.first().cloned().zip(partitions.last().cloned()),
                }
            })
            .collect();
        Ok(DatasetInfo {
            destination: shown,
            manifest,
            tables,
        })
    }

    /// As JSON, for machines.
    pub fn to_json(&self) -> serde_json::Value {
        let tables: BTreeMap<&str, serde_json::Value> = self
            .tables
            .iter()
            .map(|t| {
                (
                    t.table.name(),
                    serde_json::json!({
                        "partitions": t.partitions,
                        "files": t.files,
                        "rows": t.rows,
                        "bytes": t.bytes,
                        "first_partition": t.range.as_ref().map(|r| &r.0),
                        "last_partition": t.range.as_ref().map(|r| &r.1),
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "destination": self.destination,
            "format": self.manifest.file_format,
            "dataset_schema_version": self.manifest.dataset_schema_version,
            "record_schema_version": self.manifest.record_schema_version,
            "generation": self.manifest.generation,
            "updated_at": self.manifest.updated_at,
            "writer": self.manifest.writer,
            "conversations": self.manifest.conversations(),
            "fragments": self.manifest.fragments.len(),
            "tables": tables,
        })
    }
}

impl fmt::Display for DatasetInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        writeln!(
            f,
            "{}: {} dataset, schema version {} (record contract {}), generation {}, updated {} by {}",
            self.destination,
            m.file_format,
            m.dataset_schema_version,
            m.record_schema_version,
            m.generation,
            m.updated_at,
            m.writer
        )?;
        writeln!(
            f,
            "{} conversations in {} fragments",
            m.conversations(),
            m.fragments.len()
        )?;
        writeln!(
            f,
            "{:<16} {:>10} {:>7} {:>12} {:>14}  partitions",
            "TABLE", "PARTITIONS", "FILES", "ROWS", "BYTES"
        )?;
        for t in &self.tables {
            let range = t
                .range
                .as_ref()
                .map_or_else(|| "-".to_owned(), |(a, b)| format!("{a} .. {b}"));
            writeln!(
                f,
                "{:<16} {:>10} {:>7} {:>12} {:>14}  {}",
                t.table.name(),
                t.partitions,
                t.files,
                t.rows,
                t.bytes,
                range
            )?;
        }
        Ok(())
    }
}
