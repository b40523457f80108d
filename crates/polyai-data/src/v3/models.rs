//! Readers for the v3 models: what the raw fields hold, whatever shape they arrived in. The turn
//! readers, shared with the Data API's turns, are [`TurnExt`](crate::models::TurnExt).

use serde_json::Value;

use crate::timestamp::{Timestamp, field_time};
use crate::v3::{Conversation, Turn};

/// A metric value as the v3 listing sends it.
///
/// ```
/// use polyai_data::v3::{Conversation, ConversationExt, Metric};
/// let c: Conversation = serde_json::from_str(r#"{
///     "id": "CA1", "account_id": "ws-1", "project_id": "P", "environment": "live",
///     "started_at": "2026-06-03T14:00:00Z", "channel": "VOICE-SIP", "in_progress": false,
///     "metrics": {"CALL_DURATION": "73", "TOPIC": ["billing", "orders"], "ODD": {"x": 1}}
/// }"#)?;
/// assert_eq!(c.metric("CALL_DURATION"), Some(Metric::Text("73")));
/// assert_eq!(c.metric("TOPIC"), Some(Metric::List(vec!["billing", "orders"])));
/// assert!(matches!(c.metric("ODD"), Some(Metric::Other(_))));
/// assert_eq!(c.metric("MISSING"), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Metric<'a> {
    /// Written once: its value.
    Text(&'a str),
    /// Written several times: every value, in order.
    List(Vec<&'a str>),
    /// Any other shape, as sent.
    Other(&'a Value),
}

/// Readers on a v3 [`Conversation`].
pub trait ConversationExt {
    /// The turns (empty when the response carried none).
    fn turns(&self) -> &[Turn];

    /// `started_at` as a [`Timestamp`], or `None` when it is not a date-time.
    fn started_at_time(&self) -> Option<Timestamp>;

    /// The metric `name`, if the agent logged it.
    fn metric(&self, name: &str) -> Option<Metric<'_>>;
}

impl ConversationExt for Conversation {
    fn turns(&self) -> &[Turn] {
        self.turns.as_deref().unwrap_or_default()
    }

    fn started_at_time(&self) -> Option<Timestamp> {
        field_time(Some(&self.started_at))
    }

    fn metric(&self, name: &str) -> Option<Metric<'_>> {
        let value = self.metrics.as_ref()?.get(name)?;
        Some(match value {
            Value::String(text) => Metric::Text(text),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                Metric::List(items.iter().filter_map(Value::as_str).collect())
            }
            other => Metric::Other(other),
        })
    }
}
