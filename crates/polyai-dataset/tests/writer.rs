//! The writer against local folders: exactly once per table after upserts, compaction, commit
//! protocol, versions, and what Parquet readers get back.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polyai_data::record::ConversationRecord;
use polyai_dataset::{
    Compression, DatasetInfo, DatasetWriter, Destination, Error, FileFormat, MANIFEST_FILE, Table,
    Upsert, WriteOptions,
};
use polyai_mock::MockConfig;
use polyai_mock::data::Dataset;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `n` Data API details of the mock's default data, as records.
fn records(n: u64) -> Vec<ConversationRecord> {
    let data = Dataset::new(&MockConfig::default());
    let agent = data.agents[0].id.clone();
    (0..n)
        .filter_map(|i| {
            let detail = data
                .conversation(0, i)
                .detail_json(&agent, &data.account_id, None, &[]);
            ConversationRecord::from_data_api(&detail)
        })
        .collect()
}

/// Every row of `table` in the files a reader that globs `TABLE/**/*.EXT` finds.
fn glob_rows(root: &Path, table: Table) -> Vec<RecordBatch> {
    let mut files = Vec::new();
    collect(&root.join(table.name()), "parquet", &mut files);
    files
        .iter()
        .flat_map(|path| {
            let file =
                std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .map(|b| b.unwrap_or_else(|e| panic!("{e}")))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn collect(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Rows per conversation id in `table`.
fn ids_of(root: &Path, table: Table) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for batch in glob_rows(root, table) {
        let ids = batch.column(0).as_string::<i32>();
        for id in ids.iter().flatten() {
            *out.entry(id.to_owned()).or_default() += 1;
        }
    }
    out
}

/// The rows each record should have in each table.
fn expected(records: &[ConversationRecord]) -> BTreeMap<Table, HashMap<String, usize>> {
    let mut out = BTreeMap::new();
    for table in Table::ALL {
        let mut per = HashMap::new();
        for r in records {
            let n = match table {
                Table::Conversations => 1,
                Table::Turns => r.turns.as_ref().map_or(0, Vec::len),
                Table::FunctionEvents => r.function_events.as_ref().map_or(0, Vec::len),
                Table::Metrics => r.metrics.as_ref().map_or(0, Vec::len),
            };
            if n > 0 {
                per.insert(r.conversation_id.clone(), n);
            }
        }
        out.insert(table, per);
    }
    out
}

fn assert_exact(root: &Path, records: &[ConversationRecord]) {
    for (table, want) in expected(records) {
        let got = ids_of(root, table);
        assert_eq!(got.len(), want.len(), "{table}: conversations");
        assert_eq!(got, want, "{table}: rows per conversation");
    }
}

fn options() -> WriteOptions {
    WriteOptions::default().durable(false)
}

#[tokio::test]
async fn a_first_write_has_every_row_once_and_the_manifest_counts_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let records = records(300);
    let destination = Destination::local(dir.path());
    let mut writer = DatasetWriter::open(&destination, options().max_open_partitions(2)).await?;
    for (n, record) in records.iter().enumerate() {
        assert_eq!(writer.upsert(record)?, Upsert::New);
        if n % 97 == 96 {
            writer.commit().await?;
        }
    }
    let report = writer.finish().await?;
    assert_eq!(report.conversations, 300);
    assert_exact(dir.path(), &records);
    let info = DatasetInfo::read(&destination).await?;
    let turns: usize = records
        .iter()
        .map(|r| r.turns.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!(info.tables[Table::Turns as usize].rows, turns as u64);
    assert_eq!(info.manifest.conversations(), 300);
    assert!(info.to_string().contains("turns"));
    // Nothing but the manifest, the tables and our own folder.
    let mut top: Vec<String> = std::fs::read_dir(dir.path())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    top.sort();
    assert_eq!(
        top,
        [
            "_polyai",
            MANIFEST_FILE,
            "conversations",
            "function_events",
            "metrics",
            "turns"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn reruns_skip_unchanged_records_and_replace_changed_ones_exactly_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    let mut records = records(200);
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    for record in &records[..150] {
        writer.upsert(record)?;
    }
    writer.finish().await?;

    // A second run: the same 150 again, 20 of them changed, and 50 new ones.
    for record in records.iter_mut().take(20) {
        record.note = Some("called back".into());
        record.turns.get_or_insert_default().pop();
        record.turn_count = record.turns.as_ref().map(|t| t.len() as i64);
    }
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    assert!(writer.contains(&records[0].conversation_id));
    assert_ne!(
        writer.fingerprint(&records[0].conversation_id),
        Some(polyai_dataset::fingerprint(&records[0]))
    );
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        *outcomes
            .entry(format!("{:?}", writer.upsert(record)?))
            .or_default() += 1;
    }
    // The same conversation twice in one run (before a commit): still once.
    let mut again = records[170].clone();
    again.note = Some("twice".into());
    assert_eq!(writer.upsert(&again)?, Upsert::Changed);
    records[170] = again;
    let report = writer.finish().await?;
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("Changed".into(), 20),
            ("New".into(), 50),
            ("Unchanged".into(), 130)
        ])
    );
    assert_eq!(
        (report.new, report.changed, report.unchanged),
        (50, 21, 130)
    );
    assert_eq!(report.conversations, 200);
    assert_exact(dir.path(), &records);
    // The changed values are the ones read back.
    let notes: HashMap<String, Option<String>> = glob_rows(dir.path(), Table::Conversations)
        .iter()
        .flat_map(|b| {
            let ids = b.column(0).as_string::<i32>();
            let note = b
                .column(b.schema().index_of("note").unwrap_or(0))
                .as_string::<i32>();
            (0..b.num_rows())
                .map(|i| {
                    (
                        ids.value(i).to_owned(),
                        note.is_valid(i).then(|| note.value(i).to_owned()),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        notes[&records[3].conversation_id].as_deref(),
        Some("called back")
    );
    assert_eq!(
        notes[&records[170].conversation_id].as_deref(),
        Some("twice")
    );
    assert_eq!(notes[&records[199].conversation_id], None);
    // The replaced files are gone: every file on disk is in the manifest.
    let info = DatasetInfo::read(&destination).await?;
    let mut on_disk = Vec::new();
    collect(dir.path(), "parquet", &mut on_disk);
    let named: usize = info.manifest.fragments.iter().map(|f| f.files.len()).sum();
    assert_eq!(on_disk.len(), named);
    Ok(())
}

#[tokio::test]
async fn compaction_merges_each_partition_into_one_file_per_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    let records = records(400);
    for chunk in records.chunks(50) {
        let mut writer = DatasetWriter::open(&destination, options()).await?;
        for record in chunk {
            writer.upsert(record)?;
        }
        writer.finish().await?;
    }
    let before = DatasetInfo::read(&destination).await?;
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    let report = writer.compact().await?;
    drop(writer);
    let after = DatasetInfo::read(&destination).await?;
    assert!(report.partitions > 0);
    assert!(report.files_after < report.files_before);
    for (b, a) in before.tables.iter().zip(&after.tables) {
        assert_eq!(a.rows, b.rows, "{}", a.table);
        assert_eq!(a.files, a.partitions, "{}: one file per partition", a.table);
    }
    assert_exact(dir.path(), &records);
    // Upserts still find their conversations in the merged fragments.
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    let mut changed = records[7].clone();
    changed.note = Some("after compaction".into());
    assert_eq!(writer.upsert(&records[8])?, Upsert::Unchanged);
    assert_eq!(writer.upsert(&changed)?, Upsert::Changed);
    writer.finish().await?;
    let mut all = records.clone();
    all[7] = changed;
    assert_exact(dir.path(), &all);
    Ok(())
}

#[tokio::test]
async fn files_carry_the_versions_and_portable_types() -> TestResult {
    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    let records = records(20);
    let mut writer = DatasetWriter::open(
        &destination,
        options().compression(Compression::Snappy).row_group_size(7),
    )
    .await?;
    for record in &records {
        writer.upsert(record)?;
    }
    writer.finish().await?;
    let mut files = Vec::new();
    collect(&dir.path().join("turns"), "parquet", &mut files);
    let file = std::fs::File::open(&files[0])?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let meta = builder.metadata().clone();
    let kv: HashMap<String, Option<String>> = meta
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        kv[polyai_dataset::metadata::DATASET_SCHEMA_VERSION].as_deref(),
        Some("1")
    );
    assert_eq!(
        kv[polyai_dataset::metadata::RECORD_SCHEMA_VERSION].as_deref(),
        Some("1")
    );
    assert_eq!(
        kv[polyai_dataset::metadata::TABLE].as_deref(),
        Some("turns")
    );
    // Row groups of at most 7 rows, snappy.
    assert!(meta.row_groups().iter().all(|g| g.num_rows() <= 7));
    assert!(meta.num_row_groups() > 1);
    let column = meta.row_group(0).column(
        meta.file_metadata()
            .schema_descr()
            .column(5)
            .name()
            .len()
            .min(5),
    );
    assert_eq!(column.compression(), parquet::basic::Compression::SNAPPY);
    // Timestamps: INT64, MICROS, adjusted to UTC.
    let schema = meta.file_metadata().schema_descr();
    let at = (0..schema.num_columns())
        .map(|i| schema.column(i))
        .find(|c| c.name() == "user_input_at")
        .ok_or("no user_input_at")?;
    assert_eq!(at.physical_type(), parquet::basic::Type::INT64);
    let logical = format!("{:?}", at.logical_type_ref());
    assert!(
        logical.contains("is_adjusted_to_u_t_c: true") && logical.contains("MICROS"),
        "{logical}"
    );
    // And the values are the records' instants.
    let batch = builder.build()?.next().ok_or("no batch")??;
    let times = batch
        .column(batch.schema().index_of("user_input_at")?)
        .as_primitive::<TimestampMicrosecondType>();
    let first_id = batch.column(0).as_string::<i32>().value(0);
    let index = batch
        .column(1)
        .as_primitive::<arrow_array::types::Int64Type>()
        .value(0);
    let record = records
        .iter()
        .find(|r| r.conversation_id == first_id)
        .ok_or("unknown id")?;
    let turn = &record.turns.as_ref().ok_or("no turns")?[index as usize];
    assert_eq!(
        times.is_valid(0).then(|| times.value(0)),
        turn.user_input_at.map(|t| t.unix_micros())
    );
    Ok(())
}

#[tokio::test]
async fn csv_datasets_have_the_same_tables_and_take_upserts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    let mut records = records(60);
    let csv = options().format(FileFormat::Csv);
    let mut writer = DatasetWriter::open(&destination, csv.clone()).await?;
    for record in &records {
        writer.upsert(record)?;
    }
    writer.finish().await?;
    records[0].note = Some("a \"quoted\", note\nwith a line break".into());
    let mut writer = DatasetWriter::open(&destination, csv.clone()).await?;
    assert_eq!(writer.upsert(&records[0])?, Upsert::Changed);
    writer.finish().await?;
    let mut files = Vec::new();
    collect(&dir.path().join("conversations"), "csv", &mut files);
    let mut seen = HashMap::new();
    for file in &files {
        let mut reader = csv::Reader::from_path(file)?;
        let headers = reader.headers()?.clone();
        assert_eq!(headers.get(0), Some("conversation_id"));
        let note = headers.iter().position(|h| h == "note").ok_or("no note")?;
        for row in reader.records() {
            let row = row?;
            seen.insert(row[0].to_owned(), row[note].to_owned());
        }
    }
    assert_eq!(seen.len(), 60);
    assert_eq!(
        seen[&records[0].conversation_id],
        records[0].note.clone().unwrap_or_default()
    );
    // A CSV dataset is not written as Parquet.
    let err = DatasetWriter::open(&destination, options()).await.err();
    assert!(matches!(err, Some(Error::OtherFormat { .. })), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn destinations_that_are_not_datasets_and_newer_versions_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("notes.txt"), "mine")?;
    let err = DatasetWriter::open(&Destination::local(dir.path()), options())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("is not a polyai dataset"), "{err}");

    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    DatasetWriter::open(&destination, options())
        .await?
        .finish()
        .await?;
    let path = dir.path().join(MANIFEST_FILE);
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    manifest["dataset_schema_version"] = 2.into();
    manifest["record_schema_version"] = 5.into();
    std::fs::write(&path, manifest.to_string())?;
    let err = DatasetWriter::open(&destination, options())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("dataset schema version 2 (record contract 5)")
            && err.contains("knows dataset schema version 1 (record contract 1)"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_writer_is_refused_and_leftovers_of_a_killed_run_are_removed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    let records = records(30);
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    for record in &records {
        writer.upsert(record)?;
    }
    writer.commit().await?;
    let second = DatasetWriter::open(&destination, options()).await.err();
    assert!(matches!(second, Some(Error::Busy { .. })), "{second:?}");
    drop(writer);
    // What a run killed between publishing and committing leaves: an unnamed data file, an
    // unnamed id list, and temporaries.
    let stray = dir
        .path()
        .join("turns/date=2026-06-03/part-g999999-0000000000000000.parquet");
    std::fs::create_dir_all(stray.parent().ok_or("parent")?)?;
    std::fs::write(&stray, b"PAR1 half")?;
    let ids = dir
        .path()
        .join("_polyai/ids/g999999-0000000000000000.jsonl");
    std::fs::write(&ids, b"[\"CA1\",\"00\"]\n")?;
    let tmp = dir.path().join("_polyai/tmp/0123/turns-x.parquet.tmp");
    std::fs::create_dir_all(tmp.parent().ok_or("parent")?)?;
    std::fs::write(&tmp, b"PAR1")?;
    let foreign = dir.path().join("README.txt");
    std::fs::write(&foreign, b"kept")?;
    let writer = DatasetWriter::open(&destination, options()).await?;
    assert!(!stray.exists() && !ids.exists() && !tmp.exists());
    assert!(foreign.exists(), "files that are not ours are kept");
    assert_eq!(writer.len(), 30);
    drop(writer);
    assert_exact(dir.path(), &records);
    Ok(())
}

#[tokio::test]
async fn state_is_committed_with_the_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let destination = Destination::local(dir.path());
    let records = records(5);
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    writer.upsert(&records[0])?;
    writer.set_state("sync.cursor", serde_json::json!("abc"));
    assert_eq!(writer.state("sync.cursor"), Some(&serde_json::json!("abc")));
    drop(writer); // not committed: neither the record nor the state
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    assert_eq!(writer.state("sync.cursor"), None);
    assert!(writer.is_empty());
    writer.upsert(&records[0])?;
    writer.set_state("sync.cursor", serde_json::json!("def"));
    writer.finish().await?;
    let mut writer = DatasetWriter::open(&destination, options()).await?;
    assert_eq!(writer.state("sync.cursor"), Some(&serde_json::json!("def")));
    writer.set_state("sync.cursor", serde_json::Value::Null);
    let report = writer.finish().await?;
    assert_eq!(report.generation, 2, "a change of state alone is a commit");
    let info = DatasetInfo::read(&destination).await?;
    assert!(info.manifest.state.is_empty());
    assert_eq!(info.manifest.conversations(), 1);
    Ok(())
}
