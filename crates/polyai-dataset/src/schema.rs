//! The tables: one Rust description of each table's columns, from which the Arrow/Parquet schema,
//! the JSON Schema of a row, the documentation and the flattening code all come.
//!
//! Each column is declared once, with the contract field it is read from
//! (`table!` below); its type follows from that field's Rust type ([`Kind`]), so a column
//! cannot be declared with one type and filled with another.

use std::sync::{Arc, OnceLock};

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use polyai_data::Timestamp;
use polyai_data::record::{ConversationRecord, FunctionEventRecord, MetricRecord, TurnRecord};
use serde_json::{Value, json};

/// Version of the dataset's layout and tables. It changes when a column is removed, renamed or
/// changes type or meaning, or when the files or the manifest change incompatibly; adding a
/// column does not change it. Written in every file's metadata (`polyai.dataset.schema_version`)
/// and in the manifest; a writer refuses a dataset of a newer version.
///
/// ```
/// assert_eq!(polyai_dataset::DATASET_SCHEMA_VERSION, 1);
/// ```
pub const DATASET_SCHEMA_VERSION: u32 = 1;

/// The partition of conversations without a start time (and of the rare one whose start is
/// outside the years 0000–9999): Hive's name for a null partition value, which DuckDB, Spark and
/// pyarrow read as `NULL`.
///
/// ```
/// assert_eq!(polyai_dataset::NULL_PARTITION, "__HIVE_DEFAULT_PARTITION__");
/// ```
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The name of the partition column: `TABLE/date=YYYY-MM-DD/…`.
///
/// ```
/// assert_eq!(polyai_dataset::PARTITION_COLUMN, "date");
/// ```
pub const PARTITION_COLUMN: &str = "date";

/// A column's type, as written in Parquet (and as CSV text).
///
/// ```
/// use polyai_dataset::{ColumnType, Table};
/// let started = Table::Conversations.column("started_at").expect("a column");
/// assert_eq!(started.ty, ColumnType::Timestamp);
/// assert_eq!(started.ty.parquet(), "INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// A 64-bit integer.
    Int64,
    /// A 64-bit float.
    Float64,
    /// A boolean.
    Boolean,
    /// An instant in UTC, microseconds since 1970 (never nanoseconds: Spark and older readers
    /// do not read those).
    Timestamp,
    /// A list of texts (Parquet's standard three-level LIST; in CSV, a JSON array).
    StringList,
    /// A JSON value as text, e.g. a function's arguments.
    Json,
}

impl ColumnType {
    /// The Arrow type of the column.
    ///
    /// ```
    /// use arrow_schema::DataType;
    /// assert_eq!(polyai_dataset::ColumnType::Int64.arrow(), DataType::Int64);
    /// ```
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::String | ColumnType::Json => DataType::Utf8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::StringList => DataType::List(Arc::new(list_item())),
        }
    }

    /// The Parquet physical and logical type, as documentation shows it.
    ///
    /// ```
    /// assert_eq!(polyai_dataset::ColumnType::String.parquet(), "BYTE_ARRAY STRING");
    /// ```
    pub fn parquet(self) -> &'static str {
        match self {
            ColumnType::String => "BYTE_ARRAY STRING",
            ColumnType::Json => "BYTE_ARRAY STRING (JSON text)",
            ColumnType::Int64 => "INT64",
            ColumnType::Float64 => "DOUBLE",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Timestamp => "INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)",
            ColumnType::StringList => "LIST<BYTE_ARRAY STRING>",
        }
    }

    /// The SQL type engines show for it (DuckDB's names).
    ///
    /// ```
    /// assert_eq!(polyai_dataset::ColumnType::Timestamp.sql(), "TIMESTAMP WITH TIME ZONE");
    /// ```
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::String | ColumnType::Json => "VARCHAR",
            ColumnType::Int64 => "BIGINT",
            ColumnType::Float64 => "DOUBLE",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Timestamp => "TIMESTAMP WITH TIME ZONE",
            ColumnType::StringList => "VARCHAR[]",
        }
    }

    /// The JSON Schema of a value of this type (without `null`).
    fn json_schema(self) -> Value {
        match self {
            ColumnType::String => json!({"type": "string"}),
            ColumnType::Json => json!({"type": "string", "contentMediaType": "application/json"}),
            ColumnType::Int64 => json!({"type": "integer", "format": "int64"}),
            ColumnType::Float64 => json!({"type": "number", "format": "double"}),
            ColumnType::Boolean => json!({"type": "boolean"}),
            ColumnType::Timestamp => json!({"type": "string", "format": "date-time"}),
            ColumnType::StringList => json!({"type": "array", "items": {"type": "string"}}),
        }
    }
}

fn list_item() -> Field {
    Field::new("element", DataType::Utf8, true)
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name: the record contract's field name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it may be null.
    pub nullable: bool,
    /// What it holds.
    pub doc: &'static str,
}

/// The four tables of a dataset, joined by `conversation_id`.
///
/// ```
/// use polyai_dataset::Table;
/// let names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
/// assert_eq!(names, ["conversations", "turns", "function_events", "metrics"]);
/// assert!(Table::ALL.iter().all(|t| t.columns()[0].name == "conversation_id"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// One row per conversation.
    Conversations,
    /// One row per turn.
    Turns,
    /// One row per function call (Data API details only).
    FunctionEvents,
    /// One row per value of a custom metric.
    Metrics,
}

impl Table {
    /// Every table, in the order files and documentation list them.
    pub const ALL: [Table; 4] = [
        Table::Conversations,
        Table::Turns,
        Table::FunctionEvents,
        Table::Metrics,
    ];

    /// The table's name, which is also its folder in the dataset.
    pub fn name(self) -> &'static str {
        match self {
            Table::Conversations => "conversations",
            Table::Turns => "turns",
            Table::FunctionEvents => "function_events",
            Table::Metrics => "metrics",
        }
    }

    /// The table named `name`.
    ///
    /// ```
    /// assert_eq!(polyai_dataset::Table::from_name("turns"), Some(polyai_dataset::Table::Turns));
    /// ```
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What one row is.
    pub fn row(self) -> &'static str {
        match self {
            Table::Conversations => "a conversation",
            Table::Turns => "a turn: what the caller said and what the agent answered",
            Table::FunctionEvents => "a function call of the agent (Data API details only)",
            Table::Metrics => "a value of a custom metric",
        }
    }

    /// The columns, in file order (the partition column `date` is in the folder names only).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Conversations => CONVERSATIONS,
            Table::Turns => TURNS,
            Table::FunctionEvents => FUNCTION_EVENTS,
            Table::Metrics => METRICS,
        }
    }

    /// The column named `name`.
    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The columns that identify a row: `conversation_id` and the position within it.
    ///
    /// ```
    /// assert_eq!(polyai_dataset::Table::Turns.key(), ["conversation_id", "turn_index"]);
    /// ```
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Table::Conversations => &["conversation_id"],
            Table::Turns => &["conversation_id", "turn_index"],
            Table::FunctionEvents => &["conversation_id", "turn_key", "position"],
            Table::Metrics => &["conversation_id", "name", "position"],
        }
    }

    /// The Arrow schema of the table's files (the Parquet schema is derived from it).
    ///
    /// ```
    /// let schema = polyai_dataset::Table::Metrics.arrow_schema();
    /// assert_eq!(schema.field(0).name(), "conversation_id");
    /// assert!(!schema.field(0).is_nullable());
    /// ```
    pub fn arrow_schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<[SchemaRef; 4]> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Table::ALL.map(|t| {
                Arc::new(Schema::new(
                    t.columns()
                        .iter()
                        .map(|c| Field::new(c.name, c.ty.arrow(), c.nullable))
                        .collect::<Vec<_>>(),
                ))
            })
        });
        Arc::clone(&all[self as usize])
    }

    /// The JSON Schema (draft 2020-12) of one row of the table, as CSV and JSON readers see it.
    ///
    /// ```
    /// let schema = polyai_dataset::Table::Turns.json_schema();
    /// assert_eq!(schema["properties"]["latency"]["type"], serde_json::json!(["number", "null"]));
    /// assert_eq!(schema["required"][0], "conversation_id");
    /// ```
    pub fn json_schema(self) -> Value {
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for column in self.columns() {
            let mut schema = column.ty.json_schema();
            if let Some(object) = schema.as_object_mut() {
                if column.nullable
                    && let Some(ty) = object.get("type").cloned()
                {
                    object.insert("type".into(), json!([ty, "null"]));
                }
                object.insert("description".into(), json!(column.doc));
            }
            properties.insert(column.name.into(), schema);
            required.push(column.name);
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("https://polyai-rs.github.io/schemas/dataset/v{DATASET_SCHEMA_VERSION}/{}.json", self.name()),
            "title": self.name(),
            "description": format!("One row of `{}`: {}. Dataset schema version {DATASET_SCHEMA_VERSION}, record contract version {}.", self.name(), self.row(), polyai_data::record::SCHEMA_VERSION),
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The JSON Schema of every table, as one document with a definition per table.
///
/// ```
/// let schema = polyai_dataset::json_schema();
/// assert!(schema["$defs"]["function_events"]["properties"]["arguments"].is_object());
/// ```
pub fn json_schema() -> Value {
    let defs: serde_json::Map<String, Value> = Table::ALL
        .iter()
        .map(|t| (t.name().to_owned(), t.json_schema()))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "polyai dataset",
        "description": format!("The tables of a polyai dataset, dataset schema version {DATASET_SCHEMA_VERSION}: each file of TABLE/date=YYYY-MM-DD/ holds rows of $defs.TABLE."),
        "$defs": defs,
    })
}

/// The tables as Markdown (one section per table: column, type, nullability, meaning), as
/// `docs/dataset.md` in the repository has them.
///
/// ```
/// let doc = polyai_dataset::markdown();
/// assert!(doc.contains("| `started_at` | TIMESTAMP WITH TIME ZONE"));
/// ```
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for table in Table::ALL {
        let _ = writeln!(
            out,
            "### `{}`\n\nEach row is {}. Key: {}.\n",
            table,
            table.row(),
            table
                .key()
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(out, "| column | SQL type | Parquet type | null | meaning |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for c in table.columns() {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                c.name,
                c.ty.sql(),
                c.ty.parquet(),
                if c.nullable { "yes" } else { "no" },
                c.doc
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// A column's values while rows are added.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    String(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    StringList(ListBuilder<StringBuilder>),
    Json(StringBuilder, Vec<u8>),
}

impl ColumnBuilder {
    pub(crate) fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::String => ColumnBuilder::String(StringBuilder::new()),
            ColumnType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
            ColumnType::Float64 => ColumnBuilder::Float64(Float64Builder::new()),
            ColumnType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
            ColumnType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::StringList => ColumnBuilder::StringList(
                ListBuilder::new(StringBuilder::new()).with_field(Arc::new(list_item())),
            ),
            ColumnType::Json => ColumnBuilder::Json(StringBuilder::new(), Vec::new()),
        }
    }

    /// The values so far as an array; the builder is empty afterwards.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::String(b) | ColumnBuilder::Json(b, _) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::StringList(b) => Arc::new(b.finish()),
        }
    }
}

/// The Rust type a column is filled from, and so its [`ColumnType`].
pub(crate) trait Kind {
    const TYPE: ColumnType;
    fn push(self, builder: &mut ColumnBuilder);
}

impl Kind for Option<&str> {
    const TYPE: ColumnType = ColumnType::String;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::String(b) = builder {
            b.append_option(self);
        }
    }
}

impl Kind for &str {
    const TYPE: ColumnType = ColumnType::String;
    fn push(self, builder: &mut ColumnBuilder) {
        Some(self).push(builder);
    }
}

impl Kind for Option<i64> {
    const TYPE: ColumnType = ColumnType::Int64;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::Int64(b) = builder {
            b.append_option(self);
        }
    }
}

impl Kind for i64 {
    const TYPE: ColumnType = ColumnType::Int64;
    fn push(self, builder: &mut ColumnBuilder) {
        Some(self).push(builder);
    }
}

impl Kind for Option<f64> {
    const TYPE: ColumnType = ColumnType::Float64;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::Float64(b) = builder {
            b.append_option(self);
        }
    }
}

impl Kind for Option<bool> {
    const TYPE: ColumnType = ColumnType::Boolean;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::Boolean(b) = builder {
            b.append_option(self);
        }
    }
}

impl Kind for Option<Timestamp> {
    const TYPE: ColumnType = ColumnType::Timestamp;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::Timestamp(b) = builder {
            b.append_option(self.map(Timestamp::unix_micros));
        }
    }
}

impl Kind for Option<&[String]> {
    const TYPE: ColumnType = ColumnType::StringList;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::StringList(b) = builder {
            match self {
                Some(items) => {
                    for item in items {
                        b.values().append_value(item);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
    }
}

impl Kind for Option<&Value> {
    const TYPE: ColumnType = ColumnType::Json;
    fn push(self, builder: &mut ColumnBuilder) {
        if let ColumnBuilder::Json(b, scratch) = builder {
            match self {
                Some(value) => {
                    scratch.clear();
                    // Writing a `Value` into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut *scratch, value);
                    b.append_value(String::from_utf8_lossy(scratch));
                }
                None => b.append_null(),
            }
        }
    }
}

/// Declares a table: its columns (name, nullability, meaning, and the expression that reads the
/// value from the conversation `c` and, for child tables, its row `r`) and the function that
/// appends one row to a set of builders in that order.
macro_rules! table {
    ($columns:ident, $append:ident, $row:ty, |$c:ident, $r:ident| {
        $( $name:ident $([$required:ident])? : $doc:literal => $value:expr; )*
    }) => {
        const $columns: &[Column] = &[
            $( Column {
                name: stringify!($name),
                ty: {
                    const fn ty<T: Kind>(
                        _: fn(&'static ConversationRecord, &'static $row) -> T,
                    ) -> ColumnType {
                        T::TYPE
                    }
                    #[allow(unused_variables)]
                    let read = |$c: &'static ConversationRecord, $r: &'static $row| $value;
                    ty(read)
                },
                nullable: table!(@nullable $($required)?),
                doc: $doc,
            }, )*
        ];

        #[allow(unused_variables)]
        pub(crate) fn $append(builders: &mut [ColumnBuilder], $c: &ConversationRecord, $r: &$row) {
            let mut builders = builders.iter_mut();
            $( if let Some(builder) = builders.next() {
                Kind::push($value, builder);
            } )*
        }
    };
    (@nullable required) => { false };
    (@nullable) => { true };
}

table!(CONVERSATIONS, append_conversation, (), |c, _r| {
    conversation_id [required]: "The conversation's id, e.g. `CA681f3ad0d037c1884614548178a5bc1b` (Data API `conversationId`, v3 `id`); the key every table joins on." => c.conversation_id.as_str();
    api [required]: "The API the record came from: `data` (the Data API) or `v3` (the Conversations API v3)." => c.api.as_str();
    account_id: "The account (Agent Studio workspace id, e.g. `ws-fd112d8f`)." => c.account_id.as_deref();
    project_id: "The project (agent) id, e.g. `PROJECT-58RP822I`." => c.project_id.as_deref();
    environment: "`sandbox`, `pre-release` or `live`." => c.environment.as_deref();
    channel: "The medium, e.g. `VOICE-SIP`, `WEBCHAT`, `CHAT`, `SMS`." => c.channel.as_deref();
    direction: "`inbound` or `outbound` (Data API only)." => c.direction.as_deref();
    created_at: "When the conversation was created (Data API only)." => c.created_at;
    started_at: "When it started; its UTC date is the partition (`date=`)." => c.started_at;
    finished_at: "When it finished (Data API only)." => c.finished_at;
    in_progress: "Whether it was still going on when read (a later sync replaces the row)." => c.in_progress;
    total_duration: "Length of the whole call, in seconds." => c.total_duration;
    polyai_duration: "Part of the call the agent handled, in seconds." => c.polyai_duration;
    duration: "The Data API's `duration`, in seconds (v3: null)." => c.duration;
    from_number: "Caller id (a phone number, or another identifier on chat channels)." => c.from_number.as_deref();
    to_number: "Number or address reached." => c.to_number.as_deref();
    language: "Language code, e.g. `en-US` (Data API only)." => c.language.as_deref();
    variant_id: "The variant's id." => c.variant_id.as_deref();
    variant_name: "The variant's name (v3 only)." => c.variant_name.as_deref();
    handoff: "Whether the call was handed off (transferred)." => c.handoff;
    handoff_destination: "Where it was handed off to." => c.handoff_destination.as_deref();
    handoff_reason: "Why it was handed off, e.g. `CALLER_REQUESTED_HUMAN`." => c.handoff_reason.as_deref();
    poly_score: "PolyScore quality score (Data API only)." => c.poly_score;
    summary_heading: "Heading of the AI summary (Data API only)." => c.summary_heading.as_deref();
    summary: "Text of the AI summary (Data API only)." => c.summary.as_deref();
    tags: "Tags (Data API only)." => c.tags.as_deref();
    note: "The QA note (Data API only)." => c.note.as_deref();
    deployment_id: "The deployment that served the call (Data API only)." => c.deployment_id.as_deref();
    audio_url: "Where the API serves the recording, relative to the agent (Data API only)." => c.audio_url.as_deref();
    turn_count: "Number of turns: of `turns` when the record had them, else as the API reported." => c.turn_count;
    num_silences: "Turns in which the caller was silent (v3 only)." => c.num_silences;
    num_ood: "Turns out of the agent's domain (v3 only)." => c.num_ood;
    audio_file: "The recording saved with the record, relative to the export or the sync's audio folder; null when none." => c.audio_file.as_deref();
    raw: "The body as the API sent it, as JSON text; null unless it was kept (`--keep-raw`)." => c.raw.as_ref();
});

table!(TURNS, append_turn, TurnRecord, |c, t| {
    conversation_id [required]: "The conversation (`conversations.conversation_id`)." => c.conversation_id.as_str();
    turn_index [required]: "Position in the transcript, from 0 (the greeting)." => t.turn_index;
    turn_id: "The API's turn id (Data API only; not an index)." => t.turn_id;
    user_input: "What the caller said (`\"\"` for the greeting)." => t.user_input.as_deref();
    agent_response: "What the agent answered." => t.agent_response.as_deref();
    user_input_at: "When the caller spoke." => t.user_input_at;
    agent_response_at: "When the agent answered." => t.agent_response_at;
    latency: "Perceived latency of the answer, in seconds." => t.latency;
    barge_in: "Whether the caller interrupted the agent (Data API only)." => t.barge_in;
    asr_lang_code: "Speech recognition language (Data API only)." => t.asr_lang_code.as_deref();
    tts_lang_code: "Speech synthesis language (Data API only)." => t.tts_lang_code.as_deref();
    current_node: "The flow node the agent was in (Data API only)." => t.current_node.as_deref();
});

table!(FUNCTION_EVENTS, append_function_event, FunctionEventRecord, |c, e| {
    conversation_id [required]: "The conversation (`conversations.conversation_id`)." => c.conversation_id.as_str();
    turn_key [required]: "The key the API grouped the event under (a turn number, as text)." => e.turn_key.as_str();
    position [required]: "Position within its group, from 0." => e.position;
    turn_index: "The turn number the key names, when it is one (`turns.turn_index`)." => e.turn_index;
    event_id: "The event's id." => e.event_id.as_deref();
    turn_id: "The API's turn id." => e.turn_id;
    function_id: "The function's id, e.g. `FUNCTION-start`." => e.function_id.as_deref();
    name: "The function's name." => e.name.as_deref();
    arguments: "Its arguments, as JSON text." => e.arguments.as_ref();
    started_at: "When it started." => e.started_at;
    duration_ms: "How long it ran, in milliseconds." => e.duration_ms;
    error: "Its error, as JSON text." => e.error.as_ref();
    handoff_reason: "The reason of the handoff it made, if it made one." => e.handoff_reason.as_deref();
    hangup: "Whether it hung up." => e.hangup;
});

table!(METRICS, append_metric, MetricRecord, |c, m| {
    conversation_id [required]: "The conversation (`conversations.conversation_id`)." => c.conversation_id.as_str();
    name [required]: "The metric, e.g. `CALL_DURATION`." => m.name.as_str();
    position [required]: "Position among the metric's values, from 0." => m.position;
    recorded_at: "When it was recorded." => m.recorded_at;
    value: "The value as text (the APIs send text even for numbers)." => m.value.as_deref();
    number: "The value as a number, when it is one." => m.number;
});
