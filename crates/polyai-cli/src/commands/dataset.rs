//! `dataset`: analytics datasets (Parquet or CSV tables in Hive partitions) through
//! [`polyai_dataset`]: `convert` a JSONL export into one, `compact` one, show its `info` and
//! `schema`. Needs no API key: it reads files and writes the dataset.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use polyai_data::record::ConversationRecord;
use polyai_dataset::{
    Compression, DEFAULT_ROW_GROUP_SIZE, DatasetInfo, DatasetWriter, Destination, FileFormat,
    WriteOptions,
};
use serde_json::Value;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{write_json, write_json_line};

/// `dataset …` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Write the conversations of a JSONL export as dataset tables (Parquet or CSV), adding
    /// only what is new or changed to an existing dataset.
    #[command(after_help = CONVERT_HELP)]
    Convert(ConvertArgs),
    /// Merge the small files of each partition into one file per table (atomically).
    Compact(TargetArgs),
    /// Show a dataset's tables, partitions, files, rows and schema versions.
    Info(TargetArgs),
    /// Print the JSON Schema of the tables' rows (or, with --markdown, their documentation).
    Schema(SchemaArgs),
}

const CONVERT_HELP: &str = "\
INPUT is an export folder (its conversations.jsonl is read), a JSONL file, or '-' for stdin.
Each line may be a Data API conversation (conversationId), a Conversations API v3 record (id), or
a record already in the record contract (conversation_id).

--to is a folder or a URL: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX.
Credentials come from each cloud's environment variables and profiles (AWS_ACCESS_KEY_ID,
AWS_PROFILE, AWS_ENDPOINT_URL, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_NAME, ...),
never from the command line.

The dataset has four tables, conversations, turns, function_events and metrics, joined by
conversation_id, in folders TABLE/date=YYYY-MM-DD/ (the conversation's UTC start date;
date=__HIVE_DEFAULT_PARTITION__ without one). Run again to add what is new: unchanged
conversations are skipped, changed ones replaced, so each is once per table. Progress is
committed every --commit-every conversations; a run killed at any point leaves the dataset
readable as of its last commit, and the next run goes on.";

/// `dataset convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The export folder, JSONL file, or '-' (stdin).
    #[arg(value_name = "EXPORT_DIR_OR_JSONL")]
    pub input: PathBuf,
    /// The dataset: a folder, or s3://, gs://, az:// URL.
    #[arg(long, value_name = "DIR_OR_URL")]
    pub to: String,
    /// The files' format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,
    /// Parquet compression.
    #[arg(long, value_enum, default_value_t = Codec::Zstd)]
    pub compression: Codec,
    /// Rows per Parquet row group, at most.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_ROW_GROUP_SIZE as u64,
          value_parser = crate::cli::Count::<u64>::new(1, 1 << 30))]
    pub row_group_size: u64,
    /// Commit (publish what was written) every N conversations.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = crate::cli::Count::<u64>::at_least(1))]
    pub commit_every: u64,
    /// Do not fsync files before committing them (faster; a power cut may then lose the last
    /// commits, never the dataset's consistency on a journaling file system).
    #[arg(long)]
    pub no_fsync: bool,
}

/// A dataset's location.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The dataset: a folder, or s3://, gs://, az:// URL.
    #[arg(value_name = "DIR_OR_URL")]
    pub dataset: String,
}

/// `dataset schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the tables as Markdown instead of JSON Schema.
    #[arg(long)]
    pub markdown: bool,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header row.
    Csv,
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Codec {
    /// Zstandard.
    Zstd,
    /// Snappy.
    Snappy,
}

/// Runs a `dataset` command (no API session needed).
pub fn run(global: &GlobalArgs, command: &DatasetCommand) -> Result<(), CliError> {
    if let DatasetCommand::Schema(args) = command {
        let mut out = crate::output::stdout();
        return if args.markdown {
            out.write_all(polyai_dataset::markdown().as_bytes())
        } else {
            write_json(&mut out, &polyai_dataset::json_schema())
        }
        .and_then(|()| out.flush())
        .map_err(stdout_error);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start: {e}")))?;
    runtime.block_on(async {
        match command {
            DatasetCommand::Convert(args) => convert(global.output, args).await,
            DatasetCommand::Compact(args) => compact(global.output, args).await,
            DatasetCommand::Info(args) => info(global.output, args).await,
            DatasetCommand::Schema(_) => Ok(()),
        }
    })
}

fn destination(text: &str) -> Result<Destination, CliError> {
    text.parse().map_err(dataset_error)
}

/// A dataset error as the CLI reports it (exit 10 for a busy dataset, 2 for a bad
/// destination, 8 for the rest, which are about files).
fn dataset_error(err: polyai_dataset::Error) -> CliError {
    match err {
        polyai_dataset::Error::Busy { .. } => CliError::Busy(err.to_string()),
        polyai_dataset::Error::Destination { .. } => CliError::Usage(err.to_string()),
        other => CliError::Dataset(other),
    }
}

/// Conversations per batch handed between threads.
const BATCH: usize = 256;

/// A batch of parsed lines with their fingerprints, or the first error in it.
type Parsed = (u64, Result<Vec<(ConversationRecord, u64)>, CliError>);

async fn convert(format: OutputFormat, args: &ConvertArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let (input, shown) = open_input(&args.input)?;
    let options = WriteOptions::default()
        .format(match args.format {
            Format::Parquet => FileFormat::Parquet,
            Format::Csv => FileFormat::Csv,
        })
        .compression(match args.compression {
            Codec::Zstd => Compression::Zstd,
            Codec::Snappy => Compression::Snappy,
        })
        .row_group_size(usize::try_from(args.row_group_size).unwrap_or(DEFAULT_ROW_GROUP_SIZE))
        .durable(!args.no_fsync);
    let destination = destination(&args.to)?;
    let mut writer = DatasetWriter::open(&destination, options)
        .await
        .map_err(dataset_error)?;

    let parsed = spawn_parsers(input, shown.clone());
    let mut next = 0u64;
    let mut waiting = std::collections::BTreeMap::new();
    let mut since_commit = 0u64;
    let mut lines = 0u64;
    let mut totals = polyai_dataset::CommitReport::default();
    let add = |totals: &mut polyai_dataset::CommitReport, r: polyai_dataset::CommitReport| {
        totals.new += r.new;
        totals.changed += r.changed;
        totals.unchanged += r.unchanged;
        totals.files_written += r.files_written;
        totals.files_removed += r.files_removed;
        totals.generation = r.generation;
        totals.conversations = r.conversations;
    };
    for (seq, batch) in parsed.iter() {
        waiting.insert(seq, batch);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            for (record, fingerprint) in batch? {
                writer
                    .upsert_fingerprinted(&record, fingerprint)
                    .map_err(dataset_error)?;
                lines += 1;
                since_commit += 1;
                if since_commit >= args.commit_every {
                    since_commit = 0;
                    let report = writer.commit().await.map_err(dataset_error)?;
                    add(&mut totals, report);
                }
            }
        }
    }
    if !waiting.is_empty() {
        return Err(CliError::Other(format!(
            "reading {shown}: a reader thread stopped early"
        )));
    }
    let report = writer.finish().await.map_err(dataset_error)?;
    add(&mut totals, report);
    let seconds = started.elapsed().as_secs_f64();
    crate::output::note!(
        "dataset {}: {lines} conversations read from {shown}: {} new, {} changed, {} unchanged; {} conversations in the dataset (generation {}, {} files written, {} replaced, {seconds:.1} s)",
        args.to,
        totals.new,
        totals.changed,
        totals.unchanged,
        totals.conversations,
        totals.generation,
        totals.files_written,
        totals.files_removed,
    );
    if format != OutputFormat::Table {
        let record = serde_json::json!({
            "dataset": args.to,
            "input": shown,
            "read": lines,
            "new": totals.new,
            "changed": totals.changed,
            "unchanged": totals.unchanged,
            "conversations": totals.conversations,
            "generation": totals.generation,
            "filesWritten": totals.files_written,
            "filesReplaced": totals.files_removed,
            "seconds": seconds,
        });
        let mut out = crate::output::stdout();
        write_json_line(&mut out, &record)
            .and_then(|()| out.flush())
            .map_err(stdout_error)?;
    }
    Ok(())
}

/// The JSONL to read: `-` (stdin), a file, or an export folder's `conversations.jsonl`.
fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, String), CliError> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), "<stdin>".into()));
    }
    let file = if path.is_dir() {
        path.join("conversations.jsonl")
    } else {
        path.to_owned()
    };
    let opened = std::fs::File::open(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && path.is_dir() {
            CliError::Usage(format!(
                "{} has no conversations.jsonl: give an export folder (polyai export --out DIR) or a JSONL file",
                path.display()
            ))
        } else {
            CliError::file("reading", &file, e)
        }
    })?;
    Ok((Box::new(opened), file.display().to_string()))
}

/// Reads lines on one thread and parses them on others; batches arrive numbered, to be
/// written in input order (so a conversation listed twice ends as its last line says).
fn spawn_parsers(input: Box<dyn Read + Send>, shown: String) -> Receiver<Parsed> {
    let parsers = std::env::var("POLYAI_DATASET_PARSERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 16);
    let (work_tx, work_rx) = sync_channel::<(u64, u64, Vec<Vec<u8>>)>(parsers * 2);
    let (out_tx, out_rx) = sync_channel::<Parsed>(parsers * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    for _ in 0..parsers {
        let work_rx = Arc::clone(&work_rx);
        let out_tx = out_tx.clone();
        let shown = shown.clone();
        std::thread::spawn(move || {
            loop {
                let next = work_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some((seq, first_line, lines)) = next else {
                    break;
                };
                let parsed = lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| !l.trim_ascii().is_empty())
                    .map(|(i, line)| {
                        parse_line(line, &shown, first_line + i as u64).map(|r| {
                            let fingerprint = polyai_dataset::fingerprint(&r);
                            (r, fingerprint)
                        })
                    })
                    .collect();
                if out_tx.send((seq, parsed)).is_err() {
                    break;
                }
            }
        });
    }
    std::thread::spawn(move || read_lines(input, &shown, &work_tx, &out_tx));
    out_rx
}

fn read_lines(
    input: Box<dyn Read + Send>,
    shown: &str,
    work: &SyncSender<(u64, u64, Vec<Vec<u8>>)>,
    out: &SyncSender<Parsed>,
) {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut seq = 0u64;
    let mut line_no = 1u64;
    loop {
        let first = line_no;
        let mut lines = Vec::with_capacity(BATCH);
        while lines.len() < BATCH {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    line_no += 1;
                    lines.push(line);
                }
                Err(e) => {
                    let _ = out.send((seq, Err(CliError::file("reading", shown, e))));
                    return;
                }
            }
        }
        if lines.is_empty() {
            return;
        }
        if work.send((seq, first, lines)).is_err() {
            return;
        }
        seq += 1;
    }
}

/// One line as a record: in the contract already (`conversation_id`), a Data API
/// conversation (`conversationId`) or a v3 record (`id`). An export's `_export.audioFile`
/// becomes `audio_file`.
fn parse_line(line: &[u8], file: &str, number: u64) -> Result<ConversationRecord, CliError> {
    let bad = |what: String| {
        CliError::Usage(format!(
            "{file}:{number}: {what}; every line must be one conversation as `polyai export` writes it (a cut last line: run the export again to finish it)"
        ))
    };
    let value: Value = serde_json::from_slice(line).map_err(|e| bad(format!("not JSON ({e})")))?;
    let Some(object) = value.as_object() else {
        return Err(bad("not a JSON object".into()));
    };
    let mut record = if object.contains_key("conversation_id") {
        serde_json::from_value::<ConversationRecord>(value.clone())
            .map_err(|e| bad(format!("not a conversation record ({e})")))?
    } else if object.contains_key("conversationId") {
        ConversationRecord::from_data_api(&value)
            .ok_or_else(|| bad("its conversationId is not a string".into()))?
    } else if object.contains_key("id") {
        ConversationRecord::from_v3(&value).ok_or_else(|| bad("its id is not a string".into()))?
    } else {
        return Err(bad("no conversation_id, conversationId or id".into()));
    };
    if record.audio_file.is_none()
        && let Some(audio) = object
            .get("_export")
            .and_then(|e| e.get("audioFile"))
            .and_then(Value::as_str)
    {
        record.audio_file = Some(audio.to_owned());
    }
    Ok(record)
}

async fn compact(format: OutputFormat, args: &TargetArgs) -> Result<(), CliError> {
    let destination = destination(&args.dataset)?;
    let info = DatasetInfo::read(&destination)
        .await
        .map_err(dataset_error)?;
    let options = WriteOptions::default().format(info.manifest.file_format);
    let mut writer = DatasetWriter::open(&destination, options)
        .await
        .map_err(dataset_error)?;
    let report = writer.compact().await.map_err(dataset_error)?;
    writer.finish().await.map_err(dataset_error)?;
    crate::output::note!(
        "dataset {}: {} partitions compacted, {} files merged into {}",
        args.dataset,
        report.partitions,
        report.files_before,
        report.files_after
    );
    if format != OutputFormat::Table {
        let mut out = crate::output::stdout();
        write_json_line(
            &mut out,
            &serde_json::json!({
                "dataset": args.dataset,
                "partitions": report.partitions,
                "filesBefore": report.files_before,
                "filesAfter": report.files_after,
            }),
        )
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
    }
    Ok(())
}

async fn info(format: OutputFormat, args: &TargetArgs) -> Result<(), CliError> {
    let info = DatasetInfo::read(&destination(&args.dataset)?)
        .await
        .map_err(dataset_error)?;
    let mut out = crate::output::stdout();
    match format {
        OutputFormat::Table | OutputFormat::Csv => write!(out, "{info}"),
        OutputFormat::Json => write_json(&mut out, &info.to_json()),
        OutputFormat::Jsonl => write_json_line(&mut out, &info.to_json()),
    }
    .and_then(|()| out.flush())
    .map_err(stdout_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_shape_is_read_and_bad_lines_name_their_place() {
        let data = br#"{"conversationId":"CA1","startedAt":"2026-06-03T14:00:00Z","_export":{"audioFile":"audio/CA1.wav"}}"#;
        let record = parse_line(data, "f.jsonl", 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.audio_file.as_deref(), Some("audio/CA1.wav"));
        let v3 =
            parse_line(br#"{"id":"CA2","turns":[]}"#, "f", 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v3.api, polyai_data::record::Api::V3);
        let contract = serde_json::to_vec(&v3).unwrap_or_default();
        let again = parse_line(&contract, "f", 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, v3);
        for (line, want) in [
            (
                &b"{\"conversationId\": 7}"[..],
                "f.jsonl:9: its conversationId is not a string",
            ),
            (b"[1]", "f.jsonl:9: not a JSON object"),
            (b"{\"conver", "f.jsonl:9: not JSON"),
            (b"{}", "f.jsonl:9: no conversation_id"),
        ] {
            let err = parse_line(line, "f.jsonl", 9)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
