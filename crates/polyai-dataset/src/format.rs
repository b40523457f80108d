//! The files of a table: Parquet (Arrow batches through parquet's `ArrowWriter`) or CSV (one
//! header row, then a row per record), written to a local temporary file; and the two things
//! done with a written file: copy it without some conversations, or append it to another.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, BooleanArray, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use polyai_data::Timestamp;

use crate::error::{Error, Result};
use crate::schema::{Column, ColumnType, DATASET_SCHEMA_VERSION, Table};

/// The files' format.
///
/// ```
/// use polyai_dataset::FileFormat;
/// assert_eq!("csv".parse::<FileFormat>()?, FileFormat::Csv);
/// assert_eq!(FileFormat::Parquet.extension(), "parquet");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Apache Parquet (the default): typed columns, compressed, read by every engine.
    #[default]
    Parquet,
    /// RFC 4180 CSV with a header row: times as RFC 3339 UTC text, lists as JSON arrays, null
    /// as an empty field.
    Csv,
}

impl FileFormat {
    /// The files' extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

impl std::str::FromStr for FileFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "parquet" => Ok(FileFormat::Parquet),
            "csv" => Ok(FileFormat::Csv),
            _ => Err(format!(
                "`{text}` is not a dataset format: use parquet or csv"
            )),
        }
    }
}

/// The Parquet compression codec of the columns with something to compress (text, ids, times,
/// numbers): columns of a few distinct values (flags, environments, channels, names, small
/// counts, a few bytes of dictionary run lengths per page) and columns all null in a file's
/// first rows are stored uncompressed whatever the codec.
///
/// ```
/// use polyai_dataset::Compression;
/// assert_eq!("snappy".parse::<Compression>()?, Compression::Snappy);
/// assert_eq!(Compression::default(), Compression::Zstd);
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Zstandard, level 1 (the default): smaller files than snappy at a similar speed.
    #[default]
    Zstd,
    /// Snappy: what older readers expect everywhere.
    Snappy,
    /// None.
    None,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "zstd" => Ok(Compression::Zstd),
            "snappy" => Ok(Compression::Snappy),
            "none" | "uncompressed" => Ok(Compression::None),
            _ => Err(format!(
                "`{text}` is not a compression: use zstd, snappy or none"
            )),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
            Compression::None => "none",
        })
    }
}

/// Parquet key-value metadata keys written in every file.
pub mod metadata {
    /// [`DATASET_SCHEMA_VERSION`](crate::DATASET_SCHEMA_VERSION), as decimal text.
    pub const DATASET_SCHEMA_VERSION: &str = "polyai.dataset.schema_version";
    /// [`polyai_data::record::SCHEMA_VERSION`], as decimal text.
    pub const RECORD_SCHEMA_VERSION: &str = "polyai.record.schema_version";
    /// The table's name.
    pub const TABLE: &str = "polyai.table";
    /// `polyai-dataset VERSION`.
    pub const WRITER: &str = "polyai.writer";
}

/// How files are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileSettings {
    pub format: FileFormat,
    pub compression: Compression,
    pub row_group_size: usize,
}

/// The writer's properties for a file of `table`. The columns named in `plain` (those all null
/// in the file's first rows) are written uncompressed: their pages hold only run-length encoded
/// null levels, which no codec makes smaller, and each compressed column chunk costs a
/// compression context (with zstd, hundreds of KiB allocated and cleared), which dominates the
/// writing of the small files of a daily partition.
fn properties(table: Table, settings: FileSettings, plain: &[ColumnPath]) -> WriterProperties {
    let compression = match settings.compression {
        // Level 1, zstd's fastest: as small as snappy's files or smaller, at a similar speed;
        // higher levels cost more time than they save in bytes on this text.
        Compression::Zstd => ParquetCompression::ZSTD(ZstdLevel::default()),
        Compression::Snappy => ParquetCompression::SNAPPY,
        Compression::None => ParquetCompression::UNCOMPRESSED,
    };
    let kv = |key: &str, value: String| KeyValue::new(key.to_owned(), value);
    let mut builder = WriterProperties::builder();
    for column in plain {
        builder = builder.set_column_compression(column.clone(), ParquetCompression::UNCOMPRESSED);
    }
    for column in table.columns() {
        let path = || ColumnPath::from(column.name);
        if unique_per_row(table, column) {
            builder = builder.set_column_dictionary_enabled(path(), false);
        } else if few_values(column) {
            builder = builder.set_column_compression(path(), ParquetCompression::UNCOMPRESSED);
        }
    }
    builder
        .set_compression(compression)
        .set_max_row_group_row_count(Some(settings.row_group_size.max(1)))
        .set_key_value_metadata(Some(vec![
            kv(
                metadata::DATASET_SCHEMA_VERSION,
                DATASET_SCHEMA_VERSION.to_string(),
            ),
            kv(
                metadata::RECORD_SCHEMA_VERSION,
                polyai_data::record::SCHEMA_VERSION.to_string(),
            ),
            kv(metadata::TABLE, table.name().to_owned()),
            kv(metadata::WRITER, crate::WRITER.to_owned()),
        ]))
        .build()
}

/// Whether `column`'s values are (nearly) all different, so that a dictionary would only cost
/// the writer a hash and a copy of each value and the reader a lookup: times, each
/// conversation's own id in `conversations`, and free text. Such columns are written plain
/// (and compressed); the others (environments, channels, names, small numbers, the id in the
/// child tables, repeated on each row of a conversation) keep their dictionary.
fn unique_per_row(table: Table, column: &Column) -> bool {
    const FREE_TEXT: &[&str] = &[
        "user_input",
        "agent_response",
        "summary",
        "summary_heading",
        "note",
        "raw",
        "arguments",
        "error",
        "audio_file",
        "audio_url",
        "event_id",
    ];
    column.ty == ColumnType::Timestamp
        || (table == Table::Conversations && column.name == "conversation_id")
        || FREE_TEXT.contains(&column.name)
}

/// Whether `column` holds a few distinct values (flags, environments, channels, names, small
/// counts): dictionary-encoded, a page of them is a few bytes of run lengths, which no codec
/// makes smaller, so they are written uncompressed and cost no compression context (with zstd,
/// hundreds of KiB allocated and cleared per column chunk: the largest cost of writing the
/// small files of daily partitions).
fn few_values(column: &Column) -> bool {
    const NAMES: &[&str] = &[
        "api",
        "account_id",
        "project_id",
        "environment",
        "channel",
        "direction",
        "language",
        "variant_id",
        "variant_name",
        "handoff_reason",
        "deployment_id",
        "asr_lang_code",
        "tts_lang_code",
        "current_node",
        "function_id",
        "name",
        "turn_index",
        "position",
        "turn_count",
        "num_silences",
        "num_ood",
    ];
    column.ty == ColumnType::Boolean || NAMES.contains(&column.name)
}

/// One table's file being written.
pub(crate) enum FileWriter {
    Parquet(Box<ArrowWriter<BufWriter<File>>>),
    Csv(Box<CsvOut>),
}

pub(crate) struct CsvOut {
    writer: csv::Writer<BufWriter<File>>,
    field: String,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileWriter::Parquet(_) => "FileWriter::Parquet",
            FileWriter::Csv(_) => "FileWriter::Csv",
        })
    }
}

/// The Parquet paths of the columns of `batch` that hold only nulls (a list column's path is
/// that of its elements).
fn null_columns(batch: &RecordBatch) -> Vec<ColumnPath> {
    if batch.num_rows() == 0 {
        return Vec::new();
    }
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(_, column)| column.null_count() == column.len())
        .map(|(field, _)| {
            let mut path = vec![field.name().clone()];
            if let arrow_schema::DataType::List(item) = field.data_type() {
                path.extend(["list".to_owned(), item.name().clone()]);
            }
            ColumnPath::new(path)
        })
        .collect()
}

impl FileWriter {
    /// A new file of `table` at `path`, every column compressed as `settings` say.
    pub fn create(path: &Path, table: Table, settings: FileSettings) -> Result<Self> {
        Self::create_with(path, table, settings, &[])
    }

    /// A new file of `table` at `path` whose first rows are `first` (not written yet): the
    /// columns all null in them are not compressed (see [`properties`]).
    pub fn create_for(
        path: &Path,
        table: Table,
        settings: FileSettings,
        first: &RecordBatch,
    ) -> Result<Self> {
        Self::create_with(path, table, settings, &null_columns(first))
    }

    fn create_with(
        path: &Path,
        table: Table,
        settings: FileSettings,
        plain: &[ColumnPath],
    ) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io("writing", path.display(), e))?;
        let out = BufWriter::with_capacity(1 << 20, file);
        match settings.format {
            FileFormat::Parquet => ArrowWriter::try_new(
                out,
                table.arrow_schema(),
                Some(properties(table, settings, plain)),
            )
            .map(|w| FileWriter::Parquet(Box::new(w)))
            .map_err(|e| Error::format("writing", path.display(), e)),
            FileFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer
                    .write_record(table.columns().iter().map(|c| c.name))
                    .map_err(|e| Error::format("writing", path.display(), e))?;
                Ok(FileWriter::Csv(Box::new(CsvOut {
                    writer,
                    field: String::new(),
                })))
            }
        }
    }

    pub fn write(&mut self, batch: &RecordBatch, path: &Path) -> Result<()> {
        match self {
            FileWriter::Parquet(w) => w
                .write(batch)
                .map_err(|e| Error::format("writing", path.display(), e)),
            FileWriter::Csv(out) => out
                .write(batch)
                .map_err(|e| Error::format("writing", path.display(), e)),
        }
    }

    /// Bytes held in memory for the row group being written.
    pub fn buffered(&self) -> usize {
        match self {
            FileWriter::Parquet(w) => w.in_progress_size(),
            FileWriter::Csv(_) => 0,
        }
    }

    /// Ends the current row group early (to bound memory).
    pub fn flush(&mut self, path: &Path) -> Result<()> {
        match self {
            FileWriter::Parquet(w) => w
                .flush()
                .map_err(|e| Error::format("writing", path.display(), e)),
            FileWriter::Csv(_) => Ok(()),
        }
    }

    /// Finishes the file (footer, buffers) and closes it.
    pub fn close(self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| Error::io("writing", path.display(), e);
        match self {
            FileWriter::Parquet(w) => {
                let out = w
                    .into_inner()
                    .map_err(|e| Error::format("writing", path.display(), e))?;
                out.into_inner().map_err(|e| io(e.into_error())).map(drop)
            }
            FileWriter::Csv(out) => {
                let mut writer = out.writer;
                writer.flush().map_err(io)?;
                let buffered = writer
                    .into_inner()
                    .map_err(|e| io(std::io::Error::other(e.to_string())))?;
                buffered
                    .into_inner()
                    .map_err(|e| io(e.into_error()))
                    .map(drop)
            }
        }
    }
}

impl CsvOut {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let schema = batch.schema();
        let types: Vec<ColumnType> = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                arrow_schema::DataType::Int64 => ColumnType::Int64,
                arrow_schema::DataType::Float64 => ColumnType::Float64,
                arrow_schema::DataType::Boolean => ColumnType::Boolean,
                arrow_schema::DataType::Timestamp(..) => ColumnType::Timestamp,
                arrow_schema::DataType::List(_) => ColumnType::StringList,
                _ => ColumnType::String,
            })
            .collect();
        for row in 0..batch.num_rows() {
            for (column, ty) in batch.columns().iter().zip(&types) {
                self.field.clear();
                csv_value(column.as_ref(), *ty, row, &mut self.field);
                self.writer
                    .write_field(&self.field)
                    .map_err(|e| e.to_string())?;
            }
            self.writer
                .write_record(None::<&[u8]>)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// One cell as CSV text (empty for null).
fn csv_value(array: &dyn Array, ty: ColumnType, row: usize, out: &mut String) {
    use std::fmt::Write as _;
    if array.is_null(row) {
        return;
    }
    match ty {
        ColumnType::Int64 => {
            let _ = write!(out, "{}", array.as_primitive::<Int64Type>().value(row));
        }
        ColumnType::Float64 => {
            let _ = write!(out, "{}", array.as_primitive::<Float64Type>().value(row));
        }
        ColumnType::Boolean => {
            if let Some(b) = array.as_any().downcast_ref::<BooleanArray>() {
                out.push_str(if b.value(row) { "true" } else { "false" });
            }
        }
        ColumnType::Timestamp => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            if let Some(t) = Timestamp::from_unix_micros(micros) {
                out.push_str(&t.to_rfc3339_micros());
            }
        }
        ColumnType::StringList => {
            let list = array.as_list::<i32>().value(row);
            let items: Vec<Option<&str>> = list.as_string::<i32>().iter().collect();
            out.push_str(&serde_json::to_string(&items).unwrap_or_default());
        }
        ColumnType::String | ColumnType::Json => {
            out.push_str(array.as_string::<i32>().value(row));
        }
    }
}

/// A finished file's size and SHA-256 (lowercase hex), read back from the page cache.
pub(crate) fn digest(path: &Path) -> Result<(u64, String)> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = File::open(path).map_err(|e| Error::io("reading", path.display(), e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| Error::io("reading", path.display(), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex(&hasher.finalize())))
}

/// The SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// How many rows the data file at `path` holds, by its own account: a Parquet file's footer
/// (no row is read), or a CSV file's lines after the header. An error names the file when it
/// is not a file of `format`.
pub fn rows_in(path: &Path, format: FileFormat) -> Result<u64> {
    let file = File::open(path).map_err(|e| Error::io("reading", path.display(), e))?;
    match format {
        FileFormat::Parquet => {
            let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&file)
                .map_err(|e| Error::Corrupt {
                    path: path.display().to_string(),
                    message: format!("not a readable Parquet file ({e})"),
                })?;
            Ok(u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0))
        }
        FileFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(file);
            let mut rows = 0u64;
            let mut record = csv::ByteRecord::new();
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => rows += 1,
                    Ok(false) => return Ok(rows),
                    Err(e) => {
                        return Err(Error::Corrupt {
                            path: path.display().to_string(),
                            message: format!("not a readable CSV file ({e})"),
                        });
                    }
                }
            }
        }
    }
}

/// Copies the file `from` of `table` to `to`, keeping the rows whose `conversation_id`
/// `keep` accepts; returns how many rows, `None` when no row is kept (no file is left then).
pub(crate) fn copy_filtered(
    from: &Path,
    display: &str,
    to: &Path,
    table: Table,
    settings: FileSettings,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<u64>> {
    let mut writer = FileWriter::create(to, table, settings)?;
    let rows = append_file(from, display, &mut writer, to, table, settings.format, keep)?;
    writer.close(to)?;
    if rows == 0 {
        let _ = std::fs::remove_file(to);
        return Ok(None);
    }
    Ok(Some(rows))
}

/// Appends the rows of file `from` that `keep` accepts to `writer`; returns how many.
pub(crate) fn append_file(
    from: &Path,
    display: &str,
    writer: &mut FileWriter,
    to: &Path,
    table: Table,
    format: FileFormat,
    keep: &dyn Fn(&str) -> bool,
) -> Result<u64> {
    let file = File::open(from).map_err(|e| Error::io("reading", display, e))?;
    let mut rows = 0u64;
    match (format, writer) {
        (FileFormat::Parquet, writer) => {
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.with_batch_size(8192).build())
                .map_err(|e| Error::format("reading", display, e))?;
            let expected = table.arrow_schema();
            for batch in reader {
                let batch = batch.map_err(|e| Error::format("reading", display, e))?;
                if batch.schema().fields() != expected.fields() {
                    return Err(Error::Corrupt {
                        path: display.to_owned(),
                        message: format!(
                            "its columns are not those of `{table}` in dataset schema version {DATASET_SCHEMA_VERSION}"
                        ),
                    });
                }
                let ids = batch
                    .column(0)
                    .as_string_opt::<i32>()
                    .ok_or_else(|| Error::Corrupt {
                        path: display.to_owned(),
                        message: "conversation_id is not text".into(),
                    })?;
                let mask: BooleanArray =
                    ids.iter().map(|id| Some(keep(id.unwrap_or("")))).collect();
                let kept = arrow_select::filter::filter_record_batch(&batch, &mask)
                    .map_err(|e| Error::format("reading", display, e))?;
                let batch = RecordBatch::try_new(expected.clone(), kept.columns().to_vec())
                    .map_err(|e| Error::format("reading", display, e))?;
                if batch.num_rows() > 0 {
                    rows += batch.num_rows() as u64;
                    writer.write(&batch, to)?;
                }
            }
        }
        (FileFormat::Csv, FileWriter::Csv(out)) => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(std::io::BufReader::new(file));
            let mut record = csv::ByteRecord::new();
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let id = record
                            .get(0)
                            .map(|f| String::from_utf8_lossy(f).into_owned())
                            .unwrap_or_default();
                        if keep(&id) {
                            out.writer
                                .write_byte_record(&record)
                                .map_err(|e| Error::format("writing", to.display(), e))?;
                            rows += 1;
                        }
                    }
                    Err(e) => return Err(Error::format("reading", display, e)),
                }
            }
        }
        (FileFormat::Csv, FileWriter::Parquet(_)) => {
            return Err(Error::format(
                "reading",
                display,
                "a CSV file cannot be merged into Parquet",
            ));
        }
    }
    Ok(rows)
}

/// Keeps everything.
pub(crate) fn keep_all(_: &str) -> bool {
    true
}

/// The set of hashed ids to drop.
pub(crate) fn dropping(set: &HashSet<u128>) -> impl Fn(&str) -> bool + '_ {
    move |id: &str| !set.contains(&crate::manifest::id_key(id))
}
