//! `dataset`: analytics datasets (Parquet or CSV tables in Hive partitions) through
//! [`polyai_dataset`]: `convert` a JSONL export into one, `compact` one, show its `info` and
//! `schema`. Needs no API key: it reads files and writes the dataset.

mod input;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use polyai_dataset::{
    Compression, DEFAULT_ROW_GROUP_SIZE, DatasetInfo, DatasetWriter, Destination, FileFormat,
    WriteOptions,
};

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

/// How `export --format parquet|csv` and `sync --to` write their dataset: each option is
/// refused with `--format jsonl` or `--db`, where it means nothing.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Parquet compression [default: zstd].
    #[arg(long, value_enum)]
    pub compression: Option<Codec>,
    /// Rows per Parquet row group, at most [default: 131072].
    #[arg(long, value_name = "ROWS", value_parser = crate::cli::Count::<u64>::new(1, 1 << 30))]
    pub row_group_size: Option<u64>,
    /// Commit the dataset (publish what was written, with the listing position) every N
    /// conversations, at the end of a listing page [default: 100000].
    #[arg(long, value_name = "N", value_parser = crate::cli::Count::<u64>::at_least(1))]
    pub commit_every: Option<u64>,
    /// Do not fsync the dataset's files before committing them (faster; a power cut may then
    /// lose the last commits, never the dataset's consistency on a journaling file system).
    #[arg(long)]
    pub no_fsync: bool,
}

/// Default of `--commit-every`.
pub(crate) const COMMIT_EVERY: u64 = 100_000;

impl WriteArgs {
    /// The options given, as typed: refused where no dataset is written.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.compression.is_some() {
            given.push("--compression");
        }
        if self.row_group_size.is_some() {
            given.push("--row-group-size");
        }
        if self.commit_every.is_some() {
            given.push("--commit-every");
        }
        if self.no_fsync {
            given.push("--no-fsync");
        }
        given
    }

    /// The writer's options for files of `format`.
    pub(crate) fn options(&self, format: Format) -> WriteOptions {
        write_options(
            format,
            self.compression.unwrap_or(Codec::Zstd),
            self.row_group_size.unwrap_or(DEFAULT_ROW_GROUP_SIZE as u64),
            !self.no_fsync,
        )
    }
}

/// The writer's options.
fn write_options(format: Format, codec: Codec, row_group_size: u64, durable: bool) -> WriteOptions {
    WriteOptions::default()
        .format(match format {
            Format::Parquet => FileFormat::Parquet,
            Format::Csv => FileFormat::Csv,
        })
        .compression(match codec {
            Codec::Zstd => Compression::Zstd,
            Codec::Snappy => Compression::Snappy,
        })
        .row_group_size(usize::try_from(row_group_size).unwrap_or(DEFAULT_ROW_GROUP_SIZE))
        .durable(durable)
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

pub(crate) fn destination(text: &str) -> Result<Destination, CliError> {
    text.parse().map_err(dataset_error)
}

/// A dataset error as the CLI reports it (exit 10 for a busy dataset, 2 for a bad
/// destination, 8 for the rest, which are about files).
pub(crate) fn dataset_error(err: polyai_dataset::Error) -> CliError {
    match err {
        polyai_dataset::Error::Busy { .. } => CliError::Busy(err.to_string()),
        polyai_dataset::Error::Destination { .. } => CliError::Usage(err.to_string()),
        other => CliError::Dataset(other),
    }
}

async fn convert(format: OutputFormat, args: &ConvertArgs) -> Result<(), CliError> {
    let started = Instant::now();
    crate::allocator::for_parquet();
    let (input, shown) = input::open_input(&args.input)?;
    let options = write_options(
        args.format,
        args.compression,
        args.row_group_size,
        !args.no_fsync,
    );
    let destination = destination(&args.to)?;
    let mut writer = DatasetWriter::open(&destination, options)
        .await
        .map_err(dataset_error)?;

    let parsed = input::spawn_parsers(input, shown.clone());
    let dropper = input::Dropper::spawn();
    let mut since_commit = 0u64;
    let mut lines = 0u64;
    let mut totals = polyai_dataset::CommitReport::default();
    // One receiver per batch, in input order: each waits for its own batch's parser.
    for batch in parsed.iter() {
        let batch = batch.recv().map_err(|_| {
            CliError::Other(format!("reading {shown}: a parser thread stopped early"))
        })?;
        let batch = batch?;
        for (record, fingerprint) in &batch {
            writer
                .upsert_fingerprinted(record, *fingerprint)
                .map_err(dataset_error)?;
            lines += 1;
            since_commit += 1;
            if since_commit >= args.commit_every {
                since_commit = 0;
                let report = writer.commit().await.map_err(dataset_error)?;
                add(&mut totals, report);
            }
        }
        dropper.drop(batch);
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

/// Adds the counts of the commit `r` to `totals` (and takes its generation and size).
pub(crate) fn add(totals: &mut polyai_dataset::CommitReport, r: polyai_dataset::CommitReport) {
    totals.new += r.new;
    totals.changed += r.changed;
    totals.unchanged += r.unchanged;
    totals.files_written += r.files_written;
    totals.files_removed += r.files_removed;
    totals.generation = r.generation;
    totals.conversations = r.conversations;
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
