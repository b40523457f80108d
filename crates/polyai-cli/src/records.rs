//! The records `polyai` writes besides conversations (those are
//! [`polyai_data::record::ConversationRecord`]): what a command did, in the same snake_case
//! contract, each with its JSON Schema (`polyai schema NAME`).

use schemars::JsonSchema;
use serde::Serialize;

/// `conversations audio -O json`: the recording that was saved.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SavedRecording {
    /// The conversation.
    pub conversation_id: String,
    /// Where the WAV file was written (`<stdout>` for `-o -`).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// `combined`, `user` or `agent`.
    pub direction: String,
    /// Whether the PII-redacted recording was asked for.
    pub redacted: bool,
}

/// `conversations annotate -O json`: the annotations added.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AddedAnnotations {
    /// The conversation.
    pub conversation_id: String,
    /// How many were added.
    pub added: usize,
    /// Each annotation.
    pub annotations: Vec<AnnotationRecord>,
}

/// One annotation of a turn.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnnotationRecord {
    /// The turn, from 0 (as `turn_index` in a conversation's turns).
    pub turn_index: i64,
    /// `user` or `agent`: the side of the turn.
    pub role: String,
    /// `missing_topic`, `wrong_transcript` or `wrong_info`.
    pub annotation_type: String,
}

/// `conversations note -O json`: the note saved.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SavedNote {
    /// The conversation.
    pub conversation_id: String,
    /// The note's text.
    pub note: String,
}

/// `sync -O json`: what a run did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SyncSummary {
    /// `complete` or `interrupted`.
    pub status: String,
    /// The run's row in `sync_runs`.
    pub run_id: i64,
    /// The API it read: `data` or `v3`.
    pub api: String,
    /// Conversations stored for the first time.
    pub new: u64,
    /// Stored conversations read again (younger than the refresh window).
    pub refreshed: u64,
    /// Conversations that failed in an earlier run, read again.
    pub retried: u64,
    /// Conversations or recordings that could not be read (tried again next run).
    pub failed: u64,
    /// Conversations listed.
    pub listed: u64,
    /// Listing pages read.
    pub pages: u64,
    /// Recordings saved.
    pub recordings: u64,
    /// Bytes of the recordings saved.
    pub recording_bytes: u64,
    /// Conversations of the agent in the database afterwards.
    pub stored: u64,
    /// How long the run took, in seconds.
    pub seconds: f64,
}
