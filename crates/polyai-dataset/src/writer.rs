//! [`DatasetWriter`]: adds and replaces conversations in a dataset, and commits.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use polyai_data::record::ConversationRecord;

use crate::encoder::{EncodedFile, Encoder};
use crate::error::{Error, Result};
use crate::flatten::{TableRows, partition_of};
use crate::format::{self, Compression, FileFormat, FileSettings, FileWriter};
use crate::index::{Entry, Index};
use crate::manifest::{
    self, DataFile, Fragment, IDS_DIR, MANIFEST_FILE, Manifest, fingerprint, id_key,
};
use crate::schema::{PARTITION_COLUMN, Table};
use crate::store::{Destination, META_DIR, Store};

/// Default rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 131_072;
/// Rows gathered in memory before they are encoded into the file.
const BATCH_ROWS: usize = 8192;

/// How a [`DatasetWriter`] writes.
///
/// ```
/// use polyai_dataset::{Compression, FileFormat, WriteOptions};
/// let options = WriteOptions::default()
///     .format(FileFormat::Parquet)
///     .compression(Compression::Snappy)
///     .row_group_size(50_000);
/// assert_eq!(options.row_group_size, 50_000);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Parquet (default) or CSV. A dataset keeps the format it was created with.
    pub format: FileFormat,
    /// Parquet compression (default zstd).
    pub compression: Compression,
    /// Rows per Parquet row group, at most (default [`DEFAULT_ROW_GROUP_SIZE`]).
    pub row_group_size: usize,
    /// Partitions written at once; when a record of another one arrives, the least recently
    /// used one's files are finished (default 16).
    pub max_open_partitions: usize,
    /// Bytes of encoded rows held in memory across the open files before the largest one
    /// ends its row group early (default 64 MiB).
    pub memory_budget: usize,
    /// Whether files are flushed to the disk (`fsync`) before a commit names them (default
    /// true; local folders only).
    pub durable: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            format: FileFormat::Parquet,
            compression: Compression::Zstd,
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
            max_open_partitions: 16,
            memory_budget: 64 << 20,
            durable: true,
        }
    }
}

impl WriteOptions {
    /// Sets [`format`](Self::format).
    #[must_use]
    pub fn format(mut self, format: FileFormat) -> Self {
        self.format = format;
        self
    }
    /// Sets [`compression`](Self::compression).
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    /// Sets [`row_group_size`](Self::row_group_size) (at least 1).
    #[must_use]
    pub fn row_group_size(mut self, rows: usize) -> Self {
        self.row_group_size = rows.max(1);
        self
    }
    /// Sets [`max_open_partitions`](Self::max_open_partitions) (at least 1).
    #[must_use]
    pub fn max_open_partitions(mut self, partitions: usize) -> Self {
        self.max_open_partitions = partitions.max(1);
        self
    }
    /// Sets [`memory_budget`](Self::memory_budget).
    #[must_use]
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }
    /// Sets [`durable`](Self::durable).
    #[must_use]
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    fn settings(&self) -> FileSettings {
        FileSettings {
            format: self.format,
            compression: self.compression,
            row_group_size: self.row_group_size,
        }
    }
}

/// What [`DatasetWriter::upsert`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// The conversation was not in the dataset: it is added.
    New,
    /// It was, with other contents: the new version replaces it at the next commit.
    Changed,
    /// It was, with the same contents: nothing is written.
    Unchanged,
}

/// What a commit (or [`DatasetWriter::finish`]) published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitReport {
    /// The manifest's generation after the commit (unchanged when there was nothing to commit).
    pub generation: u64,
    /// Conversations added since the previous commit.
    pub new: u64,
    /// Conversations replaced since the previous commit.
    pub changed: u64,
    /// Conversations offered again unchanged since the previous commit.
    pub unchanged: u64,
    /// Data files published.
    pub files_written: u64,
    /// Data files removed (replaced by rewritten or merged ones).
    pub files_removed: u64,
    /// Conversations in the dataset after the commit.
    pub conversations: u64,
}

/// What [`DatasetWriter::compact`] merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactReport {
    /// Partitions whose fragments were merged into one.
    pub partitions: u64,
    /// Data files before.
    pub files_before: u64,
    /// Data files after.
    pub files_after: u64,
}

/// A fragment's place in the writer: its state now, and the conversations to drop from it at
/// the next commit.
#[derive(Debug)]
struct Slot {
    partition: String,
    body: Body,
    removals: HashSet<u128>,
}

#[derive(Debug)]
enum Body {
    /// Being written (in this run's temporary files).
    Open(Box<Pending>),
    /// Written, not yet committed.
    Closed(Box<Pending>),
    /// In the manifest.
    Committed(Fragment),
    /// Emptied or merged away.
    Dead,
}

#[derive(Debug)]
struct Pending {
    id: String,
    tables: Vec<PendingTable>,
    ids: Vec<(String, u64)>,
}

#[derive(Debug)]
struct PendingTable {
    table: Table,
    spool: PathBuf,
    rows: TableRows,
    /// Being encoded (created with the first rows).
    file: Option<Arc<EncodedFile>>,
    written: u64,
}

/// Writes conversations into a dataset: the four tables as Parquet (or CSV) files in Hive
/// partitions `TABLE/date=YYYY-MM-DD/part-….parquet`, a local folder or an object store.
///
/// - [`upsert`](Self::upsert) adds a conversation, or replaces the version the dataset holds
///   when its contents changed (an unchanged one costs nothing);
/// - [`commit`](Self::commit) publishes what was written so far, atomically: the data files
///   first (each under a temporary name, then renamed or uploaded whole), then the manifest
///   `_polyai_dataset.json` that names them, then the files they replace are deleted. Cheap
///   enough to call every few thousand records;
/// - [`finish`](Self::finish) commits and closes.
///
/// A run killed at any point leaves the dataset as of its last commit plus, at most, files no
/// manifest names; the next [`open`](Self::open) deletes those. Each conversation is then in
/// the dataset once per table, and a rerun that upserts the same records again adds only
/// what is missing.
///
/// ```no_run
/// use polyai_data::record::ConversationRecord;
/// use polyai_dataset::{DatasetWriter, Upsert, WriteOptions};
///
/// # async fn run(records: Vec<ConversationRecord>) -> Result<(), polyai_dataset::Error> {
/// let mut writer = DatasetWriter::open(&"s3://analytics/polyai".parse()?, WriteOptions::default()).await?;
/// for (n, record) in records.iter().enumerate() {
///     if writer.upsert(record)? != Upsert::Unchanged && n % 5000 == 0 {
///         writer.commit().await?;
///     }
/// }
/// let report = writer.finish().await?;
/// println!("{} new, {} changed, {} conversations", report.new, report.changed, report.conversations);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DatasetWriter {
    store: Store,
    destination: String,
    options: WriteOptions,
    manifest: Manifest,
    slots: Vec<Slot>,
    index: Index,
    /// Open slots by partition, least recently used first.
    open: Vec<(String, u32)>,
    counts: CommitReport,
    since_memory_check: usize,
    /// Set when a commit failed half-way: the writer must be opened again.
    broken: bool,
    /// State set since the last commit.
    state: std::collections::BTreeMap<String, serde_json::Value>,
    /// Encodes the open files on a thread of its own.
    encoder: Encoder,
}

impl DatasetWriter {
    /// Opens the dataset at `destination` for writing, creating it when the folder is empty or
    /// missing. Refuses a folder that holds other files and no manifest, a dataset of a newer
    /// schema version, and one in another file format; deletes files a killed run left behind.
    /// A local dataset is locked until the writer is dropped ([`Error::Busy`] for a second
    /// writer); on object stores, run one writer per dataset at a time.
    pub async fn open(destination: &Destination, options: WriteOptions) -> Result<Self> {
        let store = Store::open(destination, true).await?;
        let shown = destination.to_string();
        let manifest = match store.get(MANIFEST_FILE).await? {
            Some(bytes) => Manifest::parse(&bytes, &shown, &store.display(MANIFEST_FILE))?,
            None => {
                let foreign = store
                    .list()
                    .await?
                    .into_iter()
                    .any(|rel| !rel.starts_with(&format!("{META_DIR}/")));
                if foreign {
                    return Err(Error::NotADataset {
                        destination: shown,
                        manifest: MANIFEST_FILE,
                    });
                }
                // The empty dataset is committed before any data is written, so that a first
                // run killed before its first commit leaves a dataset (whose next open deletes
                // what the run left), not a folder of files without a manifest.
                let manifest = Manifest::new(options.format);
                store
                    .put(MANIFEST_FILE, manifest.to_bytes(), options.durable)
                    .await?;
                manifest
            }
        };
        if manifest.file_format != options.format {
            return Err(Error::OtherFormat {
                destination: shown,
                found: manifest.file_format.to_string(),
                asked: options.format.to_string(),
            });
        }
        store.clear_stale_temporaries()?;
        let mut writer = DatasetWriter {
            store,
            destination: shown,
            options,
            manifest: manifest.clone(),
            slots: Vec::new(),
            index: Index::default(),
            open: Vec::new(),
            counts: CommitReport::default(),
            since_memory_check: 0,
            broken: false,
            state: Default::default(),
            encoder: Encoder::start(),
        };
        writer.roll_forward_and_collect_garbage().await?;
        writer.load_index(manifest.fragments).await?;
        writer.counts.generation = writer.manifest.generation;
        Ok(writer)
    }

    /// Finishes the roll-forward of a commit that a killed run could not finish (staged files
    /// of committed fragments renamed into place), then deletes data files, staged files and
    /// id lists that no committed fragment names: a killed run's uncommitted files, or files a
    /// commit replaced but could not delete.
    async fn roll_forward_and_collect_garbage(&self) -> Result<()> {
        let listed: HashSet<String> = self.store.list().await?.into_iter().collect();
        let mut named: HashSet<&str> = HashSet::new();
        for fragment in &self.manifest.fragments {
            named.insert(&fragment.ids);
            for file in &fragment.files {
                named.insert(&file.path);
                if !listed.contains(&file.path) {
                    let staged = staged_path(&file.path);
                    if !listed.contains(&staged) {
                        return Err(Error::Corrupt {
                            path: self.store.display(&file.path),
                            message: "the manifest names it but it is missing: restore it, or write into a new folder".into(),
                        });
                    }
                    self.store
                        .rename(&staged, &file.path, self.options.durable)
                        .await?;
                    crash_point("rename");
                }
            }
        }
        self.store.sync_folders()?;
        for rel in &listed {
            if !named.contains(rel.as_str()) && is_ours(rel) {
                self.store.delete(rel).await?;
            }
        }
        Ok(())
    }

    async fn load_index(&mut self, fragments: Vec<Fragment>) -> Result<()> {
        let store = &self.store;
        let mut lists = futures_util::stream::iter(fragments.into_iter().map(|fragment| async move {
            let shown = store.display(&fragment.ids);
            let bytes = store.get(&fragment.ids).await?.ok_or_else(|| Error::Corrupt {
                path: shown.clone(),
                message: "the manifest names it but it is missing: restore it, or write into a new folder".into(),
            })?;
            Ok::<_, Error>((manifest::parse_ids(&bytes, &shown)?, fragment))
        }))
        .buffered(16);
        let mut loaded = Vec::new();
        while let Some(list) = lists.next().await {
            loaded.push(list?);
        }
        drop(lists);
        for (ids, fragment) in loaded {
            let slot = self.slots.len() as u32;
            for (id, fingerprint) in ids {
                self.index
                    .insert(id_key(&id), Entry::new(slot, fingerprint));
            }
            self.slots.push(Slot {
                partition: fragment.partition.clone(),
                body: Body::Committed(fragment),
                removals: HashSet::new(),
            });
        }
        Ok(())
    }

    /// Whether the dataset holds the conversation `id` (committed, or upserted since).
    pub fn contains(&self, id: &str) -> bool {
        self.index.get(id_key(id)).is_some()
    }

    /// The [`fingerprint`](crate::fingerprint) of the version of `id` the dataset holds, so
    /// that a sync can skip fetching what did not change.
    pub fn fingerprint(&self, id: &str) -> Option<u64> {
        self.index.get(id_key(id)).map(|e| e.fingerprint())
    }

    /// Conversations in the dataset, committed or upserted since.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the dataset holds no conversation.
    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    /// The last committed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The value the writing program keeps under `key` (set since the last commit, or
    /// committed).
    pub fn state(&self, key: &str) -> Option<&serde_json::Value> {
        self.state.get(key).or_else(|| self.manifest.state.get(key))
    }

    /// Keeps `value` under `key` in the manifest, committed with the next commit: so a sync's
    /// position (a cursor, the newest start time seen, the ids whose details must be fetched
    /// again) is never ahead of, or behind, the data it describes. `Value::Null` removes it.
    ///
    /// ```no_run
    /// # async fn f(mut writer: polyai_dataset::DatasetWriter) -> Result<(), polyai_dataset::Error> {
    /// let retry: Vec<String> = writer
    ///     .state("sync.detail_failed")
    ///     .and_then(|v| serde_json::from_value(v.clone()).ok())
    ///     .unwrap_or_default();
    /// // … fetch those again, upsert them …
    /// writer.set_state("sync.detail_failed", serde_json::json!([]));
    /// writer.commit().await?;
    /// # let _ = retry; Ok(()) }
    /// ```
    pub fn set_state(&mut self, key: impl Into<String>, value: serde_json::Value) {
        self.state.insert(key.into(), value);
    }

    /// Adds `record`, or replaces the version the dataset holds when it differs. The rows are
    /// written to local temporary files (memory stays within the options' budget); nothing is
    /// visible to readers until [`commit`](Self::commit). Does CPU and local disk work only.
    pub fn upsert(&mut self, record: &ConversationRecord) -> Result<Upsert> {
        self.upsert_fingerprinted(record, fingerprint(record))
    }

    /// [`upsert`](Self::upsert) with the record's [`fingerprint`](crate::fingerprint) computed
    /// by the caller (on another thread, say); it must be `fingerprint(record)`.
    pub fn upsert_fingerprinted(
        &mut self,
        record: &ConversationRecord,
        fingerprint: u64,
    ) -> Result<Upsert> {
        self.usable()?;
        if let Err(err) = self.encoder.check() {
            self.broken = true;
            return Err(err);
        }
        let key = id_key(&record.conversation_id);
        let outcome = match self.index.get(key) {
            Some(entry) if entry.fingerprint() == fingerprint => {
                self.counts.unchanged += 1;
                return Ok(Upsert::Unchanged);
            }
            Some(entry) => {
                // The old version's fragment loses it at the next commit; an open fragment is
                // closed first, so that the new version never shares a fragment with the old.
                if matches!(self.slots[entry.slot as usize].body, Body::Open(_)) {
                    self.close_slot(entry.slot)?;
                }
                self.slots[entry.slot as usize].removals.insert(key);
                self.counts.changed += 1;
                Upsert::Changed
            }
            None => {
                self.counts.new += 1;
                Upsert::New
            }
        };
        let partition = partition_of(record);
        let slot = self.open_slot(partition)?;
        let settings = self.options.settings();
        let Body::Open(pending) = &mut self.slots[slot as usize].body else {
            return Err(Error::format(
                "writing",
                &self.destination,
                "internal: the partition's fragment is not open",
            ));
        };
        for table in &mut pending.tables {
            table.rows.append(record);
            if table.rows.len() >= BATCH_ROWS.min(settings.row_group_size) {
                table.write_rows(settings, &self.encoder)?;
            }
        }
        pending
            .ids
            .push((record.conversation_id.clone(), fingerprint));
        self.index.insert(key, Entry::new(slot, fingerprint));
        self.since_memory_check += 1;
        if self.since_memory_check >= 256 {
            self.since_memory_check = 0;
            self.bound_memory()?;
        }
        Ok(outcome)
    }

    fn usable(&self) -> Result<()> {
        if self.broken {
            return Err(Error::Destination {
                destination: self.destination.clone(),
                message: "an earlier commit failed: open the dataset again (what it left is cleaned up then)".into(),
            });
        }
        Ok(())
    }

    /// The open slot of `partition`, opening one (and closing the least recently used one
    /// past the limit).
    fn open_slot(&mut self, partition: String) -> Result<u32> {
        if let Some(at) = self.open.iter().position(|(p, _)| *p == partition) {
            let entry = self.open.remove(at);
            let slot = entry.1;
            self.open.push(entry);
            return Ok(slot);
        }
        while self.open.len() >= self.options.max_open_partitions {
            let (_, oldest) = self.open[0].clone();
            self.close_slot(oldest)?;
        }
        let id = new_fragment_id(self.manifest.generation + 1);
        let dir = self.store.spool_dir()?.to_owned();
        let ext = self.options.format.extension();
        let pending = Pending {
            tables: Table::ALL
                .iter()
                .map(|&table| PendingTable {
                    table,
                    spool: dir.join(format!("{}-{id}.{ext}.tmp", table.name())),
                    rows: TableRows::new(table),
                    file: None,
                    written: 0,
                })
                .collect(),
            id,
            ids: Vec::new(),
        };
        let slot = self.slots.len() as u32;
        self.slots.push(Slot {
            partition: partition.clone(),
            body: Body::Open(Box::new(pending)),
            removals: HashSet::new(),
        });
        self.open.push((partition, slot));
        Ok(slot)
    }

    /// Finishes the files of an open slot.
    fn close_slot(&mut self, slot: u32) -> Result<()> {
        self.open.retain(|(_, s)| *s != slot);
        let settings = self.options.settings();
        let entry = &mut self.slots[slot as usize];
        let body = std::mem::replace(&mut entry.body, Body::Dead);
        let Body::Open(mut pending) = body else {
            entry.body = body;
            return Ok(());
        };
        for table in &mut pending.tables {
            table.write_rows(settings, &self.encoder)?;
            if let Some(file) = table.file.take() {
                self.encoder.close(&file)?;
            }
        }
        entry.body = Body::Closed(pending);
        Ok(())
    }

    /// Ends row groups early, largest first, while the open files hold more than the memory
    /// budget (as of the batches encoded so far).
    fn bound_memory(&mut self) -> Result<()> {
        let mut files: Vec<(usize, Arc<EncodedFile>)> = self
            .open
            .iter()
            .filter_map(|(_, slot)| match &self.slots[*slot as usize].body {
                Body::Open(pending) => Some(pending),
                _ => None,
            })
            .flat_map(|pending| pending.tables.iter().filter_map(|t| t.file.clone()))
            .map(|file| (file.buffered(), file))
            .collect();
        let mut total: usize = files.iter().map(|(size, _)| size).sum();
        files.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
        for (size, file) in files {
            if total <= self.options.memory_budget || size == 0 {
                break;
            }
            self.encoder.flush(&file)?;
            total -= size;
        }
        Ok(())
    }

    /// Publishes everything upserted since the last commit: data files first, then the
    /// manifest (the commit point), then the files the new ones replace are deleted. Readers
    /// that follow the manifest see all of it or none of it; readers that glob the folders see
    /// every file whole, and each conversation once per table except, for a refreshed one,
    /// in the moment between the publication of its new file and the deletion of the old.
    pub async fn commit(&mut self) -> Result<CommitReport> {
        self.usable()?;
        let result = self.commit_inner().await;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    async fn commit_inner(&mut self) -> Result<CommitReport> {
        let open: Vec<u32> = self.open.iter().map(|(_, s)| *s).collect();
        for slot in open {
            self.close_slot(slot)?;
        }
        // Every file to publish finished.
        self.encoder.wait()?;
        if self.options.durable && self.store.is_local() {
            // The files to publish flushed to the disk all at once (the disk and the file
            // system's journal take concurrent flushes together), so that each publication's
            // own flush finds nothing left to write.
            let spools: Vec<&std::path::Path> = self
                .slots
                .iter()
                .filter_map(|s| match &s.body {
                    Body::Closed(pending) => Some(pending),
                    _ => None,
                })
                .flat_map(|p| p.tables.iter().filter(|t| t.written > 0))
                .map(|t| t.spool.as_path())
                .collect();
            crate::store::flush_all(&spools)?;
        }
        let generation = self.manifest.generation + 1;
        // A commit that replaces conversations stages every file it writes, hidden from readers
        // until the manifest names them; one that only adds publishes them in place.
        let staging = self.slots.iter().any(|s| !s.removals.is_empty());
        let mut published: Vec<(u32, Option<Fragment>)> = Vec::new();
        let mut superseded: Vec<Fragment> = Vec::new();
        let mut files_written = 0u64;
        for s in 0..self.slots.len() {
            let slot = &mut self.slots[s];
            match &mut slot.body {
                Body::Closed(_) => {
                    let Body::Closed(pending) = std::mem::replace(&mut slot.body, Body::Dead)
                    else {
                        continue;
                    };
                    let removals = std::mem::take(&mut slot.removals);
                    let partition = slot.partition.clone();
                    let fragment = self
                        .publish_pending(*pending, &partition, &removals, staging)
                        .await?;
                    files_written += fragment.as_ref().map_or(0, |f| f.files.len() as u64);
                    published.push((s as u32, fragment));
                }
                Body::Committed(_) if !slot.removals.is_empty() => {
                    let removals = std::mem::take(&mut slot.removals);
                    let Body::Committed(old) = std::mem::replace(&mut slot.body, Body::Dead) else {
                        continue;
                    };
                    let fragment = self.rewrite(&old, &removals, generation).await?;
                    files_written += fragment.as_ref().map_or(0, |f| f.files.len() as u64);
                    published.push((s as u32, fragment));
                    superseded.push(old);
                }
                _ => {}
            }
        }
        if published.is_empty() && self.manifest.generation > 0 && self.state.is_empty() {
            let report = self.take_counts(0, 0);
            return Ok(report);
        }
        let moves: Vec<String> = if staging {
            published
                .iter()
                .flat_map(|(_, f)| {
                    f.iter()
                        .flat_map(|f| f.files.iter().map(|d| d.path.clone()))
                })
                .collect()
        } else {
            Vec::new()
        };
        for (slot, fragment) in published {
            self.slots[slot as usize].body = match fragment {
                Some(fragment) => Body::Committed(fragment),
                None => Body::Dead,
            };
        }
        let mut next = self.manifest.clone();
        next.generation = generation;
        next.updated_at = manifest::now();
        next.writer = crate::WRITER.to_owned();
        next.fragments = self
            .slots
            .iter()
            .filter_map(|s| match &s.body {
                Body::Committed(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        for (key, value) in std::mem::take(&mut self.state) {
            if value.is_null() {
                next.state.remove(&key);
            } else {
                next.state.insert(key, value);
            }
        }
        self.write_manifest(next).await?;
        self.roll_forward(&moves).await?;
        let mut files_removed = 0u64;
        for old in superseded {
            for file in &old.files {
                self.store.delete(&file.path).await?;
                files_removed += 1;
            }
            self.store.delete(&old.ids).await?;
        }
        Ok(self.take_counts(files_written, files_removed))
    }

    fn take_counts(&mut self, files_written: u64, files_removed: u64) -> CommitReport {
        let mut report = std::mem::take(&mut self.counts);
        report.generation = self.manifest.generation;
        report.files_written = files_written;
        report.files_removed = files_removed;
        report.conversations = self.manifest.conversations();
        self.counts.generation = self.manifest.generation;
        report
    }

    /// Publishes a written fragment (without `removals`); `None` when nothing is left of it.
    async fn publish_pending(
        &self,
        mut pending: Pending,
        partition: &str,
        removals: &HashSet<u128>,
        staging: bool,
    ) -> Result<Option<Fragment>> {
        let settings = self.options.settings();
        if !removals.is_empty() {
            pending
                .ids
                .retain(|(id, _)| !removals.contains(&id_key(id)));
            for table in &mut pending.tables {
                if table.written == 0 {
                    continue;
                }
                let filtered = table.spool.with_extension("filtered.tmp");
                let written = format::copy_filtered(
                    &table.spool,
                    &table.spool.display().to_string(),
                    &filtered,
                    table.table,
                    settings,
                    &format::dropping(removals),
                )?;
                let _ = std::fs::remove_file(&table.spool);
                table.spool = filtered;
                table.written = written.unwrap_or(0);
            }
        }
        if pending.ids.is_empty() {
            for table in &pending.tables {
                let _ = std::fs::remove_file(&table.spool);
            }
            return Ok(None);
        }
        let mut files = Vec::new();
        for table in &pending.tables {
            if table.written == 0 {
                let _ = std::fs::remove_file(&table.spool);
                continue;
            }
            let (bytes, sha256) = format::digest(&table.spool)?;
            let rel = self.data_path(table.table, partition, &pending.id);
            let target = if staging {
                staged_path(&rel)
            } else {
                rel.clone()
            };
            self.store
                .publish(&table.spool, &target, self.options.durable)
                .await?;
            crash_point("file");
            files.push(DataFile {
                table: table.table.name().to_owned(),
                path: rel,
                rows: table.written,
                bytes,
                sha256: Some(sha256),
            });
        }
        self.finish_fragment(pending.id, partition, pending.ids, files)
            .await
            .map(Some)
    }

    /// Writes a fragment's id list and describes it.
    async fn finish_fragment(
        &self,
        id: String,
        partition: &str,
        ids: Vec<(String, u64)>,
        files: Vec<DataFile>,
    ) -> Result<Fragment> {
        let ids_path = format!("{IDS_DIR}/{id}.jsonl");
        let text = manifest::ids_text(&ids);
        let (ids_bytes, ids_sha256) = (text.len() as u64, format::sha256_hex(&text));
        // Flushed with the commit's other id lists when the manifest is written.
        self.store.put(&ids_path, text, false).await?;
        crash_point("ids");
        Ok(Fragment {
            id,
            partition: partition.to_owned(),
            conversations: ids.len() as u64,
            ids: ids_path,
            ids_bytes: Some(ids_bytes),
            ids_sha256: Some(ids_sha256),
            files,
        })
    }

    /// A committed fragment without `removals`, as a new fragment (copy-on-write); `None` when
    /// nothing is left of it.
    async fn rewrite(
        &self,
        old: &Fragment,
        removals: &HashSet<u128>,
        generation: u64,
    ) -> Result<Option<Fragment>> {
        let shown = self.store.display(&old.ids);
        let bytes = self
            .store
            .get(&old.ids)
            .await?
            .ok_or_else(|| Error::Corrupt {
                path: shown.clone(),
                message: "the manifest names it but it is missing".into(),
            })?;
        let mut ids = manifest::parse_ids(&bytes, &shown)?;
        ids.retain(|(id, _)| !removals.contains(&id_key(id)));
        if ids.is_empty() {
            return Ok(None);
        }
        let id = new_fragment_id(generation);
        let settings = self.options.settings();
        let mut files = Vec::new();
        for file in &old.files {
            let Some(table) = Table::from_name(&file.table) else {
                continue;
            };
            let source = self.store.readable(&file.path).await?;
            let target = self.store.spool_file(&format!(
                "{}-{id}.{}.tmp",
                table.name(),
                settings.format.extension()
            ))?;
            let written = format::copy_filtered(
                &source,
                &self.store.display(&file.path),
                &target,
                table,
                settings,
                &format::dropping(removals),
            );
            if !self.store.is_local() {
                let _ = std::fs::remove_file(&source);
            }
            let Some(rows) = written? else {
                continue;
            };
            let (bytes, sha256) = format::digest(&target)?;
            let rel = self.data_path(table, &old.partition, &id);
            self.store
                .publish(&target, &staged_path(&rel), self.options.durable)
                .await?;
            crash_point("file");
            files.push(DataFile {
                table: table.name().to_owned(),
                path: rel,
                rows,
                bytes,
                sha256: Some(sha256),
            });
        }
        self.finish_fragment(id, &old.partition, ids, files)
            .await
            .map(Some)
    }

    /// The commit point: the files the manifest `next` names are made durable (the id lists
    /// of its new fragments flushed all at once, and every folder a file entered, once each),
    /// then `next` replaces the manifest, durably.
    async fn write_manifest(&mut self, next: Manifest) -> Result<()> {
        if self.options.durable {
            let old: HashSet<&str> = self
                .manifest
                .fragments
                .iter()
                .map(|f| f.ids.as_str())
                .collect();
            let new: Vec<&str> = next
                .fragments
                .iter()
                .map(|f| f.ids.as_str())
                .filter(|ids| !old.contains(ids))
                .collect();
            self.store.flush_files(&new)?;
        }
        self.store.sync_folders()?;
        self.store
            .put(MANIFEST_FILE, next.to_bytes(), self.options.durable)
            .await?;
        self.store.sync_folders()?;
        self.manifest = next;
        crash_point("manifest");
        Ok(())
    }

    /// Renames the staged files of a commit into place (after the manifest names them).
    async fn roll_forward(&self, paths: &[String]) -> Result<()> {
        for path in paths {
            self.store
                .rename(&staged_path(path), path, self.options.durable)
                .await?;
            crash_point("rename");
        }
        self.store.sync_folders()
    }

    fn data_path(&self, table: Table, partition: &str, id: &str) -> String {
        format!(
            "{}/{PARTITION_COLUMN}={partition}/part-{id}.{}",
            table.name(),
            self.options.format.extension()
        )
    }

    /// Merges the fragments of every partition that has more than one into a single fragment
    /// (a file per table per partition), committing first what was upserted. Each batch of
    /// partitions is one commit: the merged files are published, the manifest swapped, and
    /// the small files deleted.
    pub async fn compact(&mut self) -> Result<CompactReport> {
        self.commit().await?;
        let result = self.compact_inner().await;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    async fn compact_inner(&mut self) -> Result<CompactReport> {
        let mut by_partition: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        for (s, slot) in self.slots.iter().enumerate() {
            if matches!(slot.body, Body::Committed(_)) {
                by_partition
                    .entry(slot.partition.clone())
                    .or_default()
                    .push(s as u32);
            }
        }
        let mut report = CompactReport::default();
        let settings = self.options.settings();
        let groups: Vec<(String, Vec<u32>)> = by_partition
            .into_iter()
            .filter(|(_, s)| s.len() > 1)
            .collect();
        for batch in groups.chunks(64) {
            let generation = self.manifest.generation + 1;
            let mut merged_slots = Vec::new();
            let mut superseded = Vec::new();
            for (partition, slots) in batch {
                let olds: Vec<Fragment> = slots
                    .iter()
                    .filter_map(|s| match &self.slots[*s as usize].body {
                        Body::Committed(f) => Some(f.clone()),
                        _ => None,
                    })
                    .collect();
                let id = new_fragment_id(generation);
                let mut files = Vec::new();
                for table in Table::ALL {
                    let sources: Vec<&DataFile> = olds
                        .iter()
                        .flat_map(|f| f.files.iter())
                        .filter(|f| f.table == table.name())
                        .collect();
                    report.files_before += sources.len() as u64;
                    if sources.is_empty() {
                        continue;
                    }
                    let target = self.store.spool_file(&format!(
                        "{}-{id}.{}.tmp",
                        table.name(),
                        settings.format.extension()
                    ))?;
                    let mut writer = FileWriter::create(&target, table, settings)?;
                    let mut rows = 0;
                    for source in sources {
                        let local = self.store.readable(&source.path).await?;
                        let appended = format::append_file(
                            &local,
                            &self.store.display(&source.path),
                            &mut writer,
                            &target,
                            table,
                            settings.format,
                            &format::keep_all,
                        );
                        if !self.store.is_local() {
                            let _ = std::fs::remove_file(&local);
                        }
                        rows += appended?;
                    }
                    writer.close(&target)?;
                    let (bytes, sha256) = format::digest(&target)?;
                    let rel = self.data_path(table, partition, &id);
                    self.store
                        .publish(&target, &staged_path(&rel), self.options.durable)
                        .await?;
                    crash_point("file");
                    report.files_after += 1;
                    files.push(DataFile {
                        table: table.name().to_owned(),
                        path: rel,
                        rows,
                        bytes,
                        sha256: Some(sha256),
                    });
                }
                let mut ids = Vec::new();
                for old in &olds {
                    let shown = self.store.display(&old.ids);
                    let bytes = self
                        .store
                        .get(&old.ids)
                        .await?
                        .ok_or_else(|| Error::Corrupt {
                            path: shown.clone(),
                            message: "the manifest names it but it is missing".into(),
                        })?;
                    ids.extend(manifest::parse_ids(&bytes, &shown)?);
                }
                let merged = self.finish_fragment(id, partition, ids, files).await?;
                merged_slots.push((slots.clone(), partition.clone(), merged));
                superseded.extend(olds);
                report.partitions += 1;
            }
            // Commit the batch: the merged fragments take the first slot of their partition.
            for (slots, _, merged) in &merged_slots {
                let keep = slots[0];
                for &s in &slots[1..] {
                    self.slots[s as usize].body = Body::Dead;
                }
                self.slots[keep as usize].body = Body::Committed(merged.clone());
            }
            let moved: HashSet<u32> = merged_slots
                .iter()
                .flat_map(|(slots, _, _)| slots[1..].iter().copied())
                .collect();
            let target_of: HashMap<u32, u32> = merged_slots
                .iter()
                .flat_map(|(slots, _, _)| slots.iter().map(|s| (*s, slots[0])))
                .collect();
            if !moved.is_empty() {
                for entry in self.index.entries_mut() {
                    if let Some(&to) = target_of.get(&entry.slot) {
                        entry.slot = to;
                    }
                }
            }
            let mut next = self.manifest.clone();
            next.generation = generation;
            next.updated_at = manifest::now();
            next.fragments = self
                .slots
                .iter()
                .filter_map(|s| match &s.body {
                    Body::Committed(f) => Some(f.clone()),
                    _ => None,
                })
                .collect();
            self.write_manifest(next).await?;
            let moves: Vec<String> = merged_slots
                .iter()
                .flat_map(|(_, _, f)| f.files.iter().map(|d| d.path.clone()))
                .collect();
            self.roll_forward(&moves).await?;
            for old in superseded {
                for file in &old.files {
                    self.store.delete(&file.path).await?;
                }
                self.store.delete(&old.ids).await?;
            }
        }
        self.counts.generation = self.manifest.generation;
        Ok(report)
    }

    /// Commits and closes the writer (releasing the lock of a local dataset). A dataset that
    /// was empty and new gets its manifest, so it is a dataset of no conversations.
    pub async fn finish(mut self) -> Result<CommitReport> {
        let report = self.commit().await?;
        self.store.clear_spool();
        Ok(report)
    }
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        // No file is written into the spool after it is cleared.
        self.encoder.stop();
        self.store.clear_spool();
    }
}

impl PendingTable {
    /// Hands the gathered rows to `encoder` for the file (created with the first rows).
    fn write_rows(&mut self, settings: FileSettings, encoder: &Encoder) -> Result<()> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        let n = self.rows.len() as u64;
        let batch = self
            .rows
            .finish()
            .map_err(|e| Error::format("writing", self.spool.display(), e))?;
        let file = self
            .file
            .get_or_insert_with(|| EncodedFile::new(self.spool.clone(), self.table, settings));
        encoder.write(file, batch)?;
        self.written += n;
        Ok(())
    }
}

/// A new fragment id: the generation that will commit it, and a random part (so runs that
/// were killed never reuse a name).
fn new_fragment_id(generation: u64) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("g{generation:06}-{}", &random[..16])
}

/// Where the file `rel` of a fragment is staged until its commit rolls forward: in our own
/// folder, under a name no reader takes for a data file.
fn staged_path(rel: &str) -> String {
    format!("{META_DIR}/staged/{}.staged", rel.replace('/', "~"))
}

/// For tests of the commit protocol: `POLYAI_DATASET_CRASH_AT=POINT:N` aborts the process the
/// `N`th time it reaches `POINT`, as a `kill -9` landing there would, so that a test interrupts
/// a run at an exact place instead of racing it with a timer. The points: `file` (a data file
/// was just published), `ids` (a fragment's id list was just written), `manifest` (a manifest
/// was just written, before its staged files are rolled forward) and `rename` (one staged file
/// was just renamed into place).
fn crash_point(point: &str) {
    static REACHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(wanted) = std::env::var_os("POLYAI_DATASET_CRASH_AT") else {
        return;
    };
    let nth = wanted
        .to_str()
        .and_then(|w| w.split_once(':'))
        .filter(|(name, _)| *name == point)
        .and_then(|(_, nth)| nth.parse::<u64>().ok());
    if let Some(nth) = nth {
        let reached = REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if reached == nth {
            std::process::abort();
        }
    }
}

/// Whether `rel` is a file this crate writes (data files and id lists); anything else in the
/// folder is left alone.
fn is_ours(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["_polyai", "ids", name] => name.ends_with(".jsonl"),
        ["_polyai", "staged", name] => name.ends_with(".staged"),
        [table, partition, name] => {
            Table::from_name(table).is_some()
                && partition.starts_with(&format!("{PARTITION_COLUMN}="))
                && name.starts_with("part-")
                && (name.ends_with(".parquet") || name.ends_with(".csv"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_files_are_collected() {
        assert!(is_ours("turns/date=2026-06-03/part-g000001-abc.parquet"));
        assert!(is_ours("_polyai/ids/g000001-abc.jsonl"));
        assert!(!is_ours("README.md"));
        assert!(!is_ours("turns/date=2026-06-03/notes.parquet"));
        assert!(!is_ours("other/date=2026-06-03/part-x.parquet"));
        assert!(!is_ours("_polyai_dataset.json"));
    }
}
