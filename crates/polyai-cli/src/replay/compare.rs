//! The rules: what an original agent turn did, what its replay did, and where they differ.
//!
//! Both sides are read into one [`Side`]: the original from the conversation in the record
//! contract ([`ConversationRecord`]), the replay from the debug-chat reply. A turn diverges when
//! one of these differs:
//!
//! - **function**: the functions called in the turn, as a set of names (order and repeats
//!   aside). Compared only when the source carries function events (the Data API detail does;
//!   the v3 listing does not).
//! - **handoff**: whether the turn handed off and, when both did and the original names its
//!   destination, where to (ignoring letter case). The original's handoff is the conversation's:
//!   it happened at the turn whose function event carries a handoff, else at the last turn.
//! - **ended**: the original went on after every turn but its last, so a replay the agent ends
//!   earlier diverges there. At the last turn a recording does not say whether the agent or the
//!   caller ended the call, so it is not compared (a handoff there is compared as a handoff).
//! - **text**: the [similarity](super::similarity) of the two replies is below the threshold (an
//!   original turn without a reply, where the call ended before the agent answered, is not
//!   compared by text).

use polyai_data::DebugChatExt;
use polyai_data::models::DebugChatResponse;
use polyai_data::record::{ConversationRecord, TurnRecord};
use serde::Serialize;

use super::similarity::{round, similarity};

/// What one side did in one agent turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// The reply text; `null` when the source did not carry it.
    pub agent_response: Option<String>,
    /// Functions called in the turn; `null` when the source does not say (no function events).
    pub functions: Option<Vec<String>>,
    /// Whether the turn handed off; `null` when the source does not say.
    pub handoff: Option<bool>,
    /// Where to, when it did and the source names it.
    pub handoff_destination: Option<String>,
    /// Whether the conversation ended with this turn; `null` when the source does not say.
    pub ended: Option<bool>,
}

impl Side {
    /// The replayed side: what the debug chat answered.
    pub fn replayed(reply: &DebugChatResponse) -> Self {
        let handoff = reply.is_handoff();
        Side {
            agent_response: Some(reply.response.clone()),
            functions: Some(
                reply
                    .function_names()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            ),
            handoff: Some(handoff),
            handoff_destination: reply
                .handoff_destination()
                .filter(|_| handoff)
                .map(str::to_owned),
            ended: Some(reply.conversation_ended),
        }
    }
}

/// What the comparison looked at that differed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The functions called.
    Function,
    /// The handoff or its destination.
    Handoff,
    /// Whether the conversation ended.
    Ended,
    /// The reply text, by similarity.
    Text,
}

impl Kind {
    /// `function`, `handoff`, `ended` or `text`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Handoff => "handoff",
            Kind::Ended => "ended",
            Kind::Text => "text",
        }
    }
}

/// One way a replayed turn differs from the original.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// What differs.
    pub kind: Kind,
    /// One sentence saying how, the replay first.
    pub message: String,
}

/// The original conversation read turn by turn, with what each agent turn did.
#[derive(Debug, Clone)]
pub struct Original {
    turns: Vec<TurnRecord>,
    /// `(turn_index, destination)` of the handoff, when the conversation handed off;
    /// `None` inside when the record does not say whether it did.
    handoff: Option<Option<(i64, Option<String>)>>,
    has_functions: bool,
    functions: Vec<(i64, String)>,
}

impl Original {
    /// Reads `record`'s turns (in order) and its function events and handoff.
    pub fn new(record: &ConversationRecord) -> Self {
        let mut turns = record.turns.clone().unwrap_or_default();
        turns.sort_by_key(|t| t.turn_index);
        let events = record.function_events.as_deref().unwrap_or_default();
        let functions = events
            .iter()
            .filter_map(|e| {
                let name = e.name.clone().or_else(|| e.function_id.clone())?;
                Some((e.turn_index?, name))
            })
            .collect();
        let last = turns.last().map_or(0, |t| t.turn_index);
        let handoff = record.handoff.map(|handed| {
            handed.then(|| {
                let at = events
                    .iter()
                    .filter(|e| e.handoff_reason.is_some())
                    .find_map(|e| e.turn_index)
                    .filter(|&i| i <= last)
                    .unwrap_or(last);
                (at, record.handoff_destination.clone())
            })
        });
        Original {
            turns,
            handoff,
            has_functions: record.function_events.is_some(),
            functions,
        }
    }

    /// The turns, in order.
    pub fn turns(&self) -> &[TurnRecord] {
        &self.turns
    }

    /// Whether the first turn is the agent's greeting (no caller input before it).
    pub fn has_greeting(&self) -> bool {
        self.turns
            .first()
            .is_some_and(|t| t.user_input.as_deref().is_none_or(str::is_empty))
    }

    /// What the agent did in `turn`.
    pub fn side(&self, turn: &TurnRecord) -> Side {
        let last = self.turns.last().map_or(0, |t| t.turn_index);
        let (handoff, handoff_destination) = match &self.handoff {
            None => (None, None),
            Some(None) => (Some(false), None),
            Some(Some((at, to))) if *at == turn.turn_index => (Some(true), to.clone()),
            Some(Some(_)) => (Some(false), None),
        };
        Side {
            agent_response: turn.agent_response.clone(),
            functions: self.has_functions.then(|| {
                self.functions
                    .iter()
                    .filter(|(i, _)| *i == turn.turn_index)
                    .map(|(_, name)| name.clone())
                    .collect()
            }),
            handoff,
            handoff_destination,
            ended: (turn.turn_index < last).then_some(false),
        }
    }
}

/// The similarity of the two replies (rounded to 3 decimals) and every difference beyond the
/// rules, in the order function, handoff, ended, text.
pub fn compare(original: &Side, replayed: &Side, threshold: f64) -> (Option<f64>, Vec<Difference>) {
    let mut found = Vec::new();
    let mut differ = |kind, message: String| found.push(Difference { kind, message });
    if let (Some(was), Some(now)) = (&original.functions, &replayed.functions) {
        let missing: Vec<&str> = was
            .iter()
            .filter(|f| !now.contains(f))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = now
            .iter()
            .filter(|f| !was.contains(f))
            .map(String::as_str)
            .collect();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "no call to {} (the original called it)",
                missing.join(", ")
            ));
        }
        if !extra.is_empty() {
            parts.push(format!(
                "a call to {} the original did not make",
                extra.join(", ")
            ));
        }
        if !parts.is_empty() {
            differ(Kind::Function, parts.join("; "));
        }
    }
    if let (Some(was), Some(now)) = (original.handoff, replayed.handoff) {
        let to = |d: &Option<String>| {
            d.as_deref()
                .map_or_else(|| "an unnamed destination".to_owned(), |d| format!("{d:?}"))
        };
        match (was, now) {
            (false, true) => differ(
                Kind::Handoff,
                format!(
                    "handed off to {}; the original did not hand off",
                    to(&replayed.handoff_destination)
                ),
            ),
            (true, false) => differ(
                Kind::Handoff,
                format!(
                    "did not hand off; the original handed off to {}",
                    to(&original.handoff_destination)
                ),
            ),
            (true, true) => {
                if let Some(want) = &original.handoff_destination
                    && !replayed
                        .handoff_destination
                        .as_deref()
                        .is_some_and(|got| got.trim().eq_ignore_ascii_case(want.trim()))
                {
                    differ(
                        Kind::Handoff,
                        format!(
                            "handed off to {}; the original went to {want:?}",
                            to(&replayed.handoff_destination)
                        ),
                    );
                }
            }
            (false, false) => {}
        }
    }
    if original.ended == Some(false) && replayed.ended == Some(true) {
        differ(
            Kind::Ended,
            "the agent ended the conversation; the original went on".to_owned(),
        );
    }
    // An original turn without a reply (the call ended before the agent answered) has no
    // words to compare.
    let score = match (&original.agent_response, &replayed.agent_response) {
        (Some(was), Some(now)) if !was.trim().is_empty() => Some(similarity(was, now)),
        _ => None,
    };
    if let Some(score) = score
        && score < threshold
    {
        differ(
            Kind::Text,
            format!("reply similarity {score:.2} is below the threshold {threshold:.2}"),
        );
    }
    (score.map(|s| round(s, 3)), found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(text: &str, functions: &[&str], handoff: Option<&str>, ended: bool) -> Side {
        Side {
            agent_response: Some(text.to_owned()),
            functions: Some(functions.iter().map(|f| (*f).to_owned()).collect()),
            handoff: Some(handoff.is_some()),
            handoff_destination: handoff.map(str::to_owned),
            ended: Some(ended),
        }
    }

    #[test]
    fn the_same_turn_has_no_difference() {
        let a = side(
            "Transferring you now.",
            &["transfer_call"],
            Some("Front Desk"),
            true,
        );
        let b = side(
            "transferring you now",
            &["transfer_call"],
            Some("front desk"),
            true,
        );
        assert_eq!(compare(&a, &b, 0.8), (Some(1.0), vec![]));
    }

    #[test]
    fn every_kind_of_difference_is_one_sentence() {
        let was = Side {
            ended: Some(false),
            ..side(
                "I've raised a refund for the duplicate.",
                &["lookup_account"],
                Some("Front Desk"),
                false,
            )
        };
        let now = side("Goodbye then.", &["end_call"], Some("Escalations"), true);
        let (score, found) = compare(&was, &now, 0.8);
        assert_eq!(score, Some(0.0));
        let kinds: Vec<Kind> = found.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [Kind::Function, Kind::Handoff, Kind::Ended, Kind::Text]
        );
        assert_eq!(
            found[0].message,
            "no call to lookup_account (the original called it); a call to end_call the original did not make"
        );
        assert_eq!(
            found[1].message,
            "handed off to \"Escalations\"; the original went to \"Front Desk\""
        );
        assert_eq!(
            found[3].message,
            "reply similarity 0.00 is below the threshold 0.80"
        );
        let none = side("x", &[], None, false);
        let handed = side("x", &[], Some("Front Desk"), false);
        assert_eq!(
            compare(&none, &handed, 0.0).1[0].message,
            "handed off to \"Front Desk\"; the original did not hand off"
        );
        assert_eq!(
            compare(&handed, &none, 0.0).1[0].message,
            "did not hand off; the original handed off to \"Front Desk\""
        );
    }

    #[test]
    fn what_the_source_does_not_say_is_not_compared() {
        let unknown = Side {
            agent_response: None,
            functions: None,
            handoff: None,
            handoff_destination: None,
            ended: None,
        };
        let now = side("Bye.", &["end_call"], Some("Front Desk"), true);
        assert_eq!(compare(&unknown, &now, 1.0), (None, vec![]));
        let silent = Side {
            agent_response: Some(" ".into()),
            ..unknown.clone()
        };
        assert_eq!(compare(&silent, &now, 1.0), (None, vec![]));
        // A handoff to a destination the original does not name is still a handoff.
        let any = Side {
            handoff_destination: None,
            ..side("Bye.", &["end_call"], Some("x"), true)
        };
        assert!(compare(&any, &now, 1.0).1.is_empty());
    }

    #[test]
    fn the_original_side_comes_from_the_record() {
        let record = ConversationRecord::from_data_api(&json!({
            "conversationId": "CA1",
            "handoff": true,
            "handoffDestination": "Front Desk",
            "turns": [
                {"user_input": "", "agent_response": "Hello"},
                {"user_input": "my bill", "agent_response": "Looking"},
                {"user_input": "a person", "agent_response": "Transferring"},
                {"user_input": "hello?", "agent_response": "(silence)"},
            ],
            "functionEvents": {
                "1": [{"name": "lookup_account"}],
                "2": [{"name": "transfer_call", "handoff": {"reason": "CALLER_REQUESTED_HUMAN"}}],
            },
        }))
        .expect("record");
        let original = Original::new(&record);
        assert!(original.has_greeting());
        let sides: Vec<Side> = original.turns().iter().map(|t| original.side(t)).collect();
        assert_eq!(sides[0].functions, Some(vec![]));
        assert_eq!(sides[1].functions, Some(vec!["lookup_account".to_owned()]));
        assert_eq!(sides[1].handoff, Some(false));
        assert_eq!(sides[2].handoff, Some(true));
        assert_eq!(sides[2].handoff_destination.as_deref(), Some("Front Desk"));
        assert_eq!(sides[2].ended, Some(false));
        assert_eq!(sides[3].ended, None, "who ended the call is not recorded");
        // Without function events (v3) functions are unknown; without a handoff event the
        // handoff is the last turn's.
        let v3 = ConversationRecord::from_v3(&json!({
            "id": "CA2", "handoff": true, "handoff_destination": "",
            "turns": [{"user_input": "", "agent_response": "Hi"}, {"user_input": "x", "agent_response": "y"}],
        }))
        .expect("record");
        let original = Original::new(&v3);
        let last = original.side(&original.turns()[1]);
        assert_eq!((last.functions, last.handoff), (None, Some(true)));
        assert_eq!(last.handoff_destination, None);
    }
}
