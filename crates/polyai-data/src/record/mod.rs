//! The record contract: one shape for a conversation, whichever API listed it.
//!
//! The Data API sends camelCase records (`conversationId`, `clientEnv`) with snake_case turns
//! and an object of function events keyed by turn; the Conversations API v3 sends snake_case
//! records (`id`, `environment`) with turns inline and no function events. A
//! [`ConversationRecord`] is the same conversation in one form, in snake_case, with the same
//! name and type for the same fact:
//!
//! - a fact one API lacks is `null` (never renamed, never taken from the other API's name);
//! - `turns`, `function_events` and `metrics` are `null` when the source did not carry them (a
//!   Data API listing has no turns; v3 has no function events) and `[]` when it carried none;
//! - times are RFC 3339 in UTC with six fraction digits (`2026-06-03T14:00:38.580000Z`), so they
//!   sort as text; whatever form the wire used (an offset, none, RFC 1123) is read;
//! - an empty string, which v3 sends for an absent value, is `null`;
//! - `api` says which API the record came from (`data` or `v3`);
//! - the body as the API sent it is kept only when asked for, under `raw`.
//!
//! Reading is lenient, because a server is outside data: a field of an unexpected type is
//! `null` (the raw body, when kept, still has it); only a record without its id is refused.
//!
//! The JSON Schema of every record the `polyai` command writes is generated from these types
//! (`polyai schema`, and `schemas/` in the repository); `docs/records.md` describes each field.
//!
//! ```
//! use polyai_data::record::{Api, ConversationRecord};
//! use serde_json::json;
//!
//! let data_api = json!({"conversationId": "CA1", "accountId": "ws-1", "projectId": "P",
//!     "clientEnv": "live", "startedAt": "2026-06-03T14:00:38.580000+00:00", "handoff": false});
//! let v3 = json!({"id": "CA1", "account_id": "ws-1", "project_id": "P",
//!     "environment": "live", "started_at": "2026-06-03T14:00:38.58Z", "handoff": false,
//!     "turns": []});
//! let a = ConversationRecord::from_data_api(&data_api).expect("has an id");
//! let b = ConversationRecord::from_v3(&v3).expect("has an id");
//! assert_eq!((a.api, b.api), (Api::Data, Api::V3));
//! assert_eq!(a.started_at, b.started_at);
//! assert_eq!(a.environment.as_deref(), Some("live"));
//! assert_eq!(b.environment, a.environment);
//! assert!(a.turns.is_none() && b.turns == Some(vec![]));
//! assert_eq!(
//!     serde_json::to_value(&b)?["started_at"],
//!     json!("2026-06-03T14:00:38.580000Z")
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```

mod line;
mod read;
pub mod redact;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;

/// Version of the record contract, written in every manifest and dataset that holds records.
/// It changes when a field is removed or changes meaning or type; adding a field does not
/// change it.
pub const SCHEMA_VERSION: u32 = 1;

/// The API a record came from.
///
/// ```
/// use polyai_data::record::Api;
/// let v3: Api = "v3".parse()?;
/// let data: Api = "v1".parse()?;
/// assert_eq!((v3, data), (Api::V3, Api::Data));
/// assert_eq!(Api::Data.to_string(), "data");
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// The Data API (`/v1/agents/…`), deprecated by PolyAI on 2026-07-13.
    Data,
    /// The Conversations API v3 (`/v3/{account}/{project}/conversations`).
    V3,
}

impl Api {
    /// `data` or `v3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Data => "data",
            Api::V3 => "v3",
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Api {
    type Err = crate::Error;

    /// `data` (or `v1`, the Data API's path prefix) and `v3`, in any letter case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "data" | "v1" | "data-api" => Ok(Api::Data),
            "v3" => Ok(Api::V3),
            _ => Err(crate::Error::InvalidRequest(format!(
                "`{text}` is not an API: use `data` (the Data API) or `v3` (the Conversations API v3)"
            ))),
        }
    }
}

/// One conversation in the record contract (see the [module notes](self)).
///
/// ```
/// let record = polyai_data::record::ConversationRecord::new("CA1", polyai_data::record::Api::V3);
/// let json = serde_json::to_value(&record)?;
/// assert_eq!(json["conversation_id"], "CA1");
/// assert!(json["turns"].is_null());
/// assert!(json.get("raw").is_none(), "raw only when kept");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schemars",
    schemars(
        description = "One conversation in the record contract (docs/records.md): snake_case, one name and type per fact whichever API sent it; a fact the API lacks is null."
    )
)]
#[non_exhaustive]
pub struct ConversationRecord {
    /// The conversation's id, e.g. `CA681f3ad0d037c1884614548178a5bc1b` (Data API
    /// `conversationId`, v3 `id`).
    pub conversation_id: String,
    /// The API the record came from.
    pub api: Api,
    /// The account (Agent Studio workspace id, e.g. `ws-fd112d8f`; the Data API may send
    /// another form, e.g. `PLATFORM`).
    pub account_id: Option<String>,
    /// The project (agent) id, e.g. `PROJECT-58RP822I`.
    pub project_id: Option<String>,
    /// `sandbox`, `pre-release` or `live` (Data API `clientEnv`, v3 `environment`).
    pub environment: Option<String>,
    /// The medium, e.g. `VOICE-SIP`, `WEBCHAT`, `CHAT`, `SMS`.
    pub channel: Option<String>,
    /// `inbound` or `outbound` (Data API only).
    pub direction: Option<String>,
    /// When the conversation was created (Data API only).
    pub created_at: Option<Timestamp>,
    /// When it started (the Data API's creation time when it sends no start).
    pub started_at: Option<Timestamp>,
    /// When it finished (Data API only).
    pub finished_at: Option<Timestamp>,
    /// Whether the conversation was still going on when read.
    pub in_progress: Option<bool>,
    /// Length of the whole call, in seconds.
    pub total_duration: Option<i64>,
    /// Part of the call the agent handled, in seconds.
    pub polyai_duration: Option<i64>,
    /// The Data API's `duration`, in seconds (v3: null).
    pub duration: Option<i64>,
    /// Caller id (a phone number, or another identifier on chat channels).
    pub from_number: Option<String>,
    /// Number or address reached.
    pub to_number: Option<String>,
    /// Language code, e.g. `en-US` (Data API only).
    pub language: Option<String>,
    /// The variant's id.
    pub variant_id: Option<String>,
    /// The variant's name (v3 only).
    pub variant_name: Option<String>,
    /// Whether the call was handed off (transferred).
    pub handoff: Option<bool>,
    /// Where it was handed off to.
    pub handoff_destination: Option<String>,
    /// Why it was handed off, e.g. `CALLER_REQUESTED_HUMAN`.
    pub handoff_reason: Option<String>,
    /// PolyScore quality score (Data API only).
    pub poly_score: Option<f64>,
    /// Heading of the AI summary (Data API only).
    pub summary_heading: Option<String>,
    /// Text of the AI summary (Data API only).
    pub summary: Option<String>,
    /// Tags (Data API only).
    pub tags: Option<Vec<String>>,
    /// The QA note (Data API only).
    pub note: Option<String>,
    /// The deployment that served the call (Data API only).
    pub deployment_id: Option<String>,
    /// Where the API serves the recording, relative to the agent (Data API only).
    pub audio_url: Option<String>,
    /// Number of turns: of `turns` when the record has them, else as the API reported.
    pub turn_count: Option<i64>,
    /// Turns in which the caller was silent (v3 only).
    pub num_silences: Option<i64>,
    /// Turns out of the agent's domain (v3 only).
    pub num_ood: Option<i64>,
    /// The transcript; `null` when the source did not carry it.
    pub turns: Option<Vec<TurnRecord>>,
    /// Function calls; `null` when the source did not carry them (v3, listings).
    pub function_events: Option<Vec<FunctionEventRecord>>,
    /// Custom metrics; `null` when the source did not carry them.
    pub metrics: Option<Vec<MetricRecord>>,
    /// The recording saved with this record, relative to the folder of the export or the
    /// sync's audio folder (`audio/CA1.wav`); `null` when none was saved or asked for.
    pub audio_file: Option<String>,
    /// The body as the API sent it; only when asked for (`--keep-raw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
}

/// One turn: what the caller said and what the agent answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct TurnRecord {
    /// Position in the transcript, from 0 (the greeting).
    pub turn_index: i64,
    /// The API's turn id (Data API only; not an index).
    pub turn_id: Option<i64>,
    /// What the caller said (`""` for the greeting).
    pub user_input: Option<String>,
    /// What the agent answered.
    pub agent_response: Option<String>,
    /// When the caller spoke.
    pub user_input_at: Option<Timestamp>,
    /// When the agent answered.
    pub agent_response_at: Option<Timestamp>,
    /// Perceived latency of the answer, in seconds.
    pub latency: Option<f64>,
    /// Whether the caller interrupted the agent (Data API only).
    pub barge_in: Option<bool>,
    /// Speech recognition language (Data API only).
    pub asr_lang_code: Option<String>,
    /// Speech synthesis language (Data API only).
    pub tts_lang_code: Option<String>,
    /// The flow node the agent was in (Data API only).
    pub current_node: Option<String>,
}

/// One function call of the agent (Data API conversation details only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct FunctionEventRecord {
    /// The key the API grouped the event under (a turn number, as text).
    pub turn_key: String,
    /// Position within its group, from 0.
    pub position: i64,
    /// The turn number the key names, when it is one.
    pub turn_index: Option<i64>,
    /// The event's id.
    pub event_id: Option<String>,
    /// The API's turn id.
    pub turn_id: Option<i64>,
    /// The function's id, e.g. `FUNCTION-start`.
    pub function_id: Option<String>,
    /// The function's name.
    pub name: Option<String>,
    /// Its arguments, as sent.
    pub arguments: Option<Value>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// How long it ran, in milliseconds.
    pub duration_ms: Option<f64>,
    /// Its error, as sent.
    pub error: Option<Value>,
    /// The reason of the handoff it made, if it made one.
    pub handoff_reason: Option<String>,
    /// Whether it hung up.
    pub hangup: Option<bool>,
}

/// One value of a custom metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct MetricRecord {
    /// The metric, e.g. `CALL_DURATION`.
    pub name: String,
    /// Position among the metric's values, from 0.
    pub position: i64,
    /// When it was recorded.
    pub recorded_at: Option<Timestamp>,
    /// The value as text (the APIs send text even for numbers).
    pub value: Option<String>,
    /// The value as a number, when it is one.
    pub number: Option<f64>,
}

impl ConversationRecord {
    /// A record with only its id and source, every other field `null`.
    pub fn new(conversation_id: impl Into<String>, api: Api) -> Self {
        ConversationRecord {
            conversation_id: conversation_id.into(),
            api,
            account_id: None,
            project_id: None,
            environment: None,
            channel: None,
            direction: None,
            created_at: None,
            started_at: None,
            finished_at: None,
            in_progress: None,
            total_duration: None,
            polyai_duration: None,
            duration: None,
            from_number: None,
            to_number: None,
            language: None,
            variant_id: None,
            variant_name: None,
            handoff: None,
            handoff_destination: None,
            handoff_reason: None,
            poly_score: None,
            summary_heading: None,
            summary: None,
            tags: None,
            note: None,
            deployment_id: None,
            audio_url: None,
            turn_count: None,
            num_silences: None,
            num_ood: None,
            turns: None,
            function_events: None,
            metrics: None,
            audio_file: None,
            raw: None,
        }
    }

    /// A record from `value` as `api` sent it (see [`from_data_api`](Self::from_data_api) and
    /// [`from_v3`](Self::from_v3)).
    pub fn from_api(api: Api, value: &Value) -> Option<Self> {
        match api {
            Api::Data => Self::from_data_api(value),
            Api::V3 => Self::from_v3(value),
        }
    }

    /// A record from a Data API conversation: a listing summary (no turns) or a detail (turns,
    /// function events, metrics). `None` when `value` is not an object with a string
    /// `conversationId`. The raw body is not kept (see [`keep_raw`](Self::keep_raw)).
    pub fn from_data_api(value: &Value) -> Option<Self> {
        read::data_api(value.as_object()?)
    }

    /// A record from a Conversations API v3 listing item (snake_case, turns inline when asked
    /// for). `None` when `value` is not an object with a string `id`.
    pub fn from_v3(value: &Value) -> Option<Self> {
        read::v3(value.as_object()?)
    }

    /// A record from one line of a v3 export (`polyai export` of the Conversations API v3: a
    /// listing item as JSON text, `_export.audioFile` naming the saved recording), read
    /// straight from the text: its strings are copied once, into the record, with no
    /// `serde_json::Value` in between, which makes it several times faster than
    /// [`from_v3`](Self::from_v3) on a parsed line.
    ///
    /// The record is the one `from_v3` makes of the same text (with `audio_file` from
    /// `_export.audioFile`). `None` when the line is not one this reader takes on: not a JSON
    /// object with a string `id`; a Data API or contract record (a `conversationId` or
    /// `conversation_id` key); a key given twice. Read such a line through a `Value`, which
    /// also tells what is wrong with it.
    ///
    /// ```
    /// use polyai_data::record::ConversationRecord;
    /// let line = br#"{"id":"CA1","environment":"live","turns":[{"user_input":"","agent_response":"Hello"}],"_export":{"audioFile":"audio/CA1.wav"}}"#;
    /// let record = ConversationRecord::from_v3_export_line(line).expect("a v3 line");
    /// let value: serde_json::Value = serde_json::from_slice(line)?;
    /// let mut slow = ConversationRecord::from_v3(&value).expect("an id");
    /// slow.audio_file = Some("audio/CA1.wav".into());
    /// assert_eq!(record, slow);
    /// assert!(ConversationRecord::from_v3_export_line(br#"{"conversationId":"CA1"}"#).is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_v3_export_line(json: &[u8]) -> Option<Self> {
        line::v3_export_line(json)
    }

    /// Keeps `raw`, the body as the API sent it, under the record's `raw` key.
    #[must_use]
    pub fn keep_raw(mut self, raw: Value) -> Self {
        self.raw = Some(raw);
        self
    }

    /// Adds what a Data API detail carries and this record lacks: for a v3 record, its
    /// function events, summary, note, tags, and every other fact v3 does not send. A fact
    /// this record has is kept (v3's turns stay the transcript). Both must be the same
    /// conversation; the caller checks that.
    ///
    /// ```
    /// use polyai_data::record::ConversationRecord;
    /// use serde_json::json;
    /// let v3 = ConversationRecord::from_v3(&json!({"id": "CA1", "turns": []})).expect("id");
    /// let detail = ConversationRecord::from_data_api(&json!({"conversationId": "CA1",
    ///     "note": "call back", "functionEvents": {}})).expect("id");
    /// let both = v3.with_details(detail);
    /// assert_eq!(both.note.as_deref(), Some("call back"));
    /// assert_eq!(both.function_events, Some(vec![]));
    /// assert_eq!(both.turns, Some(vec![]));
    /// ```
    #[must_use]
    pub fn with_details(mut self, detail: ConversationRecord) -> Self {
        macro_rules! fill {
            ($($field:ident),* $(,)?) => {$(
                if self.$field.is_none() {
                    self.$field = detail.$field;
                }
            )*};
        }
        fill!(
            account_id,
            project_id,
            environment,
            channel,
            direction,
            created_at,
            started_at,
            finished_at,
            in_progress,
            total_duration,
            polyai_duration,
            duration,
            from_number,
            to_number,
            language,
            variant_id,
            variant_name,
            handoff,
            handoff_destination,
            handoff_reason,
            poly_score,
            summary_heading,
            summary,
            tags,
            note,
            deployment_id,
            audio_url,
            num_silences,
            num_ood,
            turns,
            function_events,
            metrics,
        );
        if let Some(turns) = &self.turns {
            self.turn_count = Some(turns.len() as i64);
        } else if self.turn_count.is_none() {
            self.turn_count = detail.turn_count;
        }
        self
    }
}

#[cfg(test)]
mod tests;
