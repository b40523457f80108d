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

/// `chat send -O json|jsonl` (and the REPL with `-O jsonl`): one turn of a debug chat.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChatTurn {
    /// The debug-chat session (`AS_CHAT_…`).
    pub conversation_id: String,
    /// What was sent (`""` for the greeting).
    pub user_input: String,
    /// The agent's answer.
    pub agent_response: String,
    /// Whether the agent ended the conversation with this turn.
    pub conversation_ended: bool,
    /// Whether the answer was deferred (a slow function ran).
    pub delayed_response: bool,
    /// The functions the agent called in this turn, in order.
    pub functions_called: Vec<String>,
    /// Whether the agent handed off (it named a destination, or a function requested it).
    pub handoff: bool,
    /// Where the agent handed off to, when it said.
    pub handoff_destination: Option<String>,
    /// The flow node the agent ended the turn in.
    pub current_node: Option<String>,
    /// The flow nodes visited in this turn.
    pub node_trace: Vec<String>,
    /// Knowledge-base topics retrieved.
    pub retrieved_topics: Vec<String>,
}

impl ChatTurn {
    /// The record of `reply`.
    pub fn of(reply: &polyai_data::ChatReply) -> Self {
        Self::from_response(reply.as_response())
    }

    /// The record of a debug-chat answer as the API sent it.
    pub fn from_response(reply: &polyai_data::models::DebugChatResponse) -> Self {
        use polyai_data::DebugChatExt;
        let meta = &reply.metadata;
        let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        ChatTurn {
            conversation_id: reply.conversation_id.clone(),
            user_input: reply.user_input.clone(),
            agent_response: reply.response.clone(),
            conversation_ended: reply.conversation_ended,
            delayed_response: reply.delayed_response,
            functions_called: reply
                .function_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            handoff: reply.is_handoff(),
            handoff_destination: nonempty(reply.handoff_destination()),
            current_node: nonempty(Some(meta.current_node.as_str())),
            node_trace: meta.node_trace.clone(),
            retrieved_topics: meta.retrieved_topics.clone().unwrap_or_default(),
        }
    }
}
