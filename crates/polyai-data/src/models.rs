//! The API's data models, as generated from the corrected OpenAPI document.
//!
//! They are tolerant of what the wire sends: every optional field is an `Option` (the API
//! sends `null` for many of them), `shortSummary` accepts an object or a string, and nested
//! objects keep unknown keys in an `extra` map. Values PolyAI's document leaves untyped — turns,
//! metrics and function events — are [`Lenient`]: typed when they have the shape the wire has
//! shown, kept as JSON when not, so an unexpected shape never fails a call. Numbers decode into
//! `serde_json::Number` and re-encode as they arrived (`4108` stays `4108`). All derive
//! `Serialize`, `Deserialize`, `Clone`, `Debug` and `PartialEq`.
//!
//! Shorter names are provided for the two conversation models:
//! [`ConversationSummary`] (list items) and [`Conversation`] (one conversation with turns).
//! [`ConversationExt`] adds accessors such as [`summary_heading`](ConversationExt::summary_heading).
//!
//! The API's error envelope is [`ApiErrorBody`]; `models::Error` is the crate's own
//! [`Error`](crate::Error), so `use polyai_data::*` and `use polyai_data::models::*` together
//! name one `Error`:
//!
//! ```
//! use polyai_data::models::*;
//! use polyai_data::*;
//!
//! fn failed(err: &Error) -> bool {
//!     err.is_not_found()
//! }
//! let body: ApiErrorBody = serde_json::from_str(
//!     r#"{"data": null, "error": "Not found", "error_code": "CONVERSATIONS_NOT_FOUND",
//!         "error_id": "c-1", "error_message": "Not found", "success": false}"#,
//! )?;
//! assert_eq!(body.error_code, "CONVERSATIONS_NOT_FOUND");
//! # let _ = failed;
//! # Ok::<(), serde_json::Error>(())
//! ```

/// The crate's error type, named here too so that the generated envelope above does not take
/// the name `Error` from glob imports of this module.
pub use crate::error::Error;
pub use polyai_data_raw::Lenient;
/// The error envelope PolyAI's APIs answer failures with (`error_code`, `error_message`, …). The
/// client reads it for you into [`ApiError`](crate::ApiError); this is the raw shape, for mocks
/// and tests.
pub use polyai_data_raw::types::Error as ApiErrorBody;
pub use polyai_data_raw::types::*;

/// A conversation as listed (no turns).
///
/// ```
/// let c: polyai_data::ConversationSummary = serde_json::from_str(
///     r#"{"conversationId":"CA1","accountId":"PLATFORM","projectId":"p","note":null}"#,
/// )?;
/// assert_eq!(c.note, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type ConversationSummary = ConversationSummaryResponse;

/// One conversation with its turns, metrics and function events.
///
/// ```
/// let c: polyai_data::Conversation = serde_json::from_str(
///     r#"{"conversationId":"CA1","accountId":"A","projectId":"p","turns":[{"turn_id":7,"user_input":""}]}"#,
/// )?;
/// let turns = c.turns.unwrap_or_default();
/// assert_eq!(turns[0].typed().and_then(|t| t.turn_id), Some(7));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type Conversation = ConversationDetailResponse;

/// Convenience accessors on [`ConversationSummary`] and [`Conversation`].
///
/// ```
/// use polyai_data::models::{ConversationExt, ConversationSummary};
///
/// let c: ConversationSummary = serde_json::from_str(r#"{
///     "conversationId": "CA1", "accountId": "PLATFORM", "projectId": "p",
///     "shortSummary": {"heading": "Check appointment", "content": "The caller asked…"},
///     "audioUrl": null
/// }"#)?;
/// assert_eq!(c.summary_heading(), Some("Check appointment"));
/// assert_eq!(c.summary_text(), Some("The caller asked…"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait ConversationExt {
    /// The summary as sent: object, string, or absent (also when it had another shape; see the
    /// `short_summary` field for that value).
    fn short_summary_value(&self) -> Option<&ConversationShortSummary>;

    /// The summary heading (absent for plain-string summaries).
    fn summary_heading(&self) -> Option<&str> {
        match self.short_summary_value()? {
            ConversationShortSummary::ShortSummary(s) => Some(s.heading.as_str()),
            ConversationShortSummary::String(_) => None,
        }
    }

    /// The summary text: the `content` of an object summary, or the plain string.
    fn summary_text(&self) -> Option<&str> {
        match self.short_summary_value()? {
            ConversationShortSummary::ShortSummary(s) => Some(s.content.as_str()),
            ConversationShortSummary::String(s) => Some(s.as_str()),
        }
    }
}

impl ConversationExt for ConversationSummaryResponse {
    fn short_summary_value(&self) -> Option<&ConversationShortSummary> {
        self.short_summary.as_ref().and_then(Lenient::typed)
    }
}

impl ConversationExt for ConversationDetailResponse {
    fn short_summary_value(&self) -> Option<&ConversationShortSummary> {
        self.short_summary.as_ref().and_then(Lenient::typed)
    }
}

/// What a debug-chat turn did besides talking: the functions it called and any handoff.
///
/// Implemented for the wire model [`DebugChatResponse`] and for [`ChatReply`](crate::ChatReply),
/// so the same checks run on a live reply and on one read back from a file.
///
/// ```
/// use polyai_data::models::{DebugChatExt, DebugChatResponse};
///
/// let reply: DebugChatResponse = serde_json::from_str(r#"{
///     "conversationId": "AS_CHAT_1", "userInput": "put me through to someone",
///     "response": "Transferring you now.", "conversationEnded": true, "delayedResponse": false,
///     "metadata": {"state": {}, "currentNode": "handoff", "nodeTrace": [], "metrics": {},
///         "handoffDestination": "Front Desk",
///         "functionEvents": [{"function_id": "FUNCTION-transfer_call", "name": "transfer_call",
///             "handoff": {"reason": "CALLER_REQUESTED_HUMAN", "type": "transfer"}}]}
/// }"#)?;
/// assert!(reply.called("transfer_call"));
/// assert!(reply.called("FUNCTION-transfer_call"));
/// assert!(!reply.called("send_reset_link"));
/// assert_eq!(reply.function_names(), ["transfer_call"]);
/// assert!(reply.is_handoff());
/// assert_eq!(reply.handoff_destination(), Some("Front Desk"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait DebugChatExt {
    /// The wire model of the turn.
    fn debug_chat_response(&self) -> &DebugChatResponse;

    /// The function calls the agent made in this turn, in order (those of the event shape; an
    /// item of another shape is in `metadata.function_events` as the JSON it was).
    fn function_events(&self) -> Vec<&FunctionEvent> {
        self.debug_chat_response()
            .metadata
            .function_events
            .iter()
            .filter_map(Lenient::typed)
            .collect()
    }

    /// The name of each function called in this turn (its `function_id` when it has no name).
    fn function_names(&self) -> Vec<&str> {
        self.function_events()
            .into_iter()
            .filter_map(|e| e.name.as_deref().or(e.function_id.as_deref()))
            .collect()
    }

    /// Whether a function with this name or `function_id` (e.g. `send_reset_link` or
    /// `FUNCTION-send_reset_link`) was called in this turn.
    fn called(&self, function: &str) -> bool {
        self.function_events().into_iter().any(|e| {
            e.name.as_deref() == Some(function) || e.function_id.as_deref() == Some(function)
        })
    }

    /// Where the agent handed the conversation off to, when the turn names a destination.
    fn handoff_destination(&self) -> Option<&str> {
        self.debug_chat_response()
            .metadata
            .handoff_destination
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }

    /// Whether the turn handed off: it names a destination, or one of its function events
    /// requested a handoff.
    fn is_handoff(&self) -> bool {
        self.handoff_destination().is_some()
            || self
                .function_events()
                .into_iter()
                .any(|e| e.handoff.is_some())
    }
}

impl DebugChatExt for DebugChatResponse {
    fn debug_chat_response(&self) -> &DebugChatResponse {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_list_sample_decodes_with_nulls_and_string_summary() {
        let body = r#"{"count":3,"limit":2,"offset":0,"conversations":[
          {"accountId":"PLATFORM","audioUrl":null,"channel":"VOICE-SIP","clientEnv":"sandbox",
           "conversationId":"CA681f3ad0d037c1884614548178a5bc1b","createdAt":"2026-06-03T14:00:38.580000+00:00",
           "deploymentId":null,"direction":"inbound","duration":4,"finishedAt":"2026-06-03T14:00:45.580000+00:00",
           "fromNumber":"+440000000001","handoff":false,"handoffDestination":null,"handoffReason":null,
           "inProgress":false,"language":null,"note":null,"polyScore":null,"polyaiDuration":4,
           "projectId":"pacden-copy-usp","shortSummary":null,"startedAt":"2026-06-03T14:00:38.580000+00:00",
           "tags":[],"toNumber":"+440000000002","totalDuration":4,"variantId":null,"somethingNew":1},
          {"accountId":"PLATFORM","conversationId":"CA2","projectId":"p","shortSummary":"plain text"}]}"#;
        let page: GetConversationsResponse =
            crate::transport::decode_bytes("list", body.as_bytes(), "cid")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.count, 3);
        assert_eq!(page.conversations[0].summary_text(), None);
        assert_eq!(page.conversations[1].summary_text(), Some("plain text"));
        assert_eq!(page.conversations[1].summary_heading(), None);
    }
}
