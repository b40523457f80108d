//! Checking one agent reply against its expectations.

use polyai_data::models::DebugChatExt;
use polyai_data::models::DebugChatResponse;

use super::model::{Expect, HandoffExpect};

/// Every expectation the reply does not meet, each as one sentence; empty when it meets all.
pub fn check(expect: &Expect, reply: &DebugChatResponse) -> Vec<String> {
    let text = reply.response.as_str();
    let lower = text.to_lowercase();
    let mut failed = Vec::new();
    for needle in &expect.contains {
        if !lower.contains(&needle.to_lowercase()) {
            failed.push(format!("expected the reply to contain {needle:?}"));
        }
    }
    for needle in &expect.not_contains {
        if lower.contains(&needle.to_lowercase()) {
            failed.push(format!("expected the reply not to contain {needle:?}"));
        }
    }
    for re in &expect.regex {
        if !re.is_match(text) {
            failed.push(format!("expected the reply to match /{}/", re.as_str()));
        }
    }
    let called = || match reply.function_names() {
        names if names.is_empty() => "no function was called".to_owned(),
        names => format!("called: {}", names.join(", ")),
    };
    for function in &expect.function {
        if !reply.called(function) {
            failed.push(format!(
                "expected a call to function {function:?}; {}",
                called()
            ));
        }
    }
    for function in &expect.not_function {
        if reply.called(function) {
            failed.push(format!("expected no call to function {function:?}"));
        }
    }
    let handoff = if reply.is_handoff() {
        Some(reply.handoff_destination().unwrap_or(""))
    } else {
        None
    };
    match (&expect.handoff, handoff) {
        (Some(HandoffExpect::Any), None) => {
            failed.push("expected a handoff; there was none".into())
        }
        (Some(HandoffExpect::To(want)), None) => {
            failed.push(format!("expected a handoff to {want:?}; there was none"));
        }
        (Some(HandoffExpect::To(want)), Some(to)) if !to.eq_ignore_ascii_case(want) => {
            failed.push(format!(
                "expected a handoff to {want:?}; it went to {}",
                destination(to)
            ));
        }
        (Some(HandoffExpect::No), Some(to)) => {
            failed.push(format!(
                "expected no handoff; it went to {}",
                destination(to)
            ));
        }
        _ => {}
    }
    match (expect.ended, reply.conversation_ended) {
        (Some(true), false) => {
            failed.push("expected the agent to end the conversation; it went on".into());
        }
        (Some(false), true) => {
            failed.push("expected the conversation to go on; the agent ended it".into());
        }
        _ => {}
    }
    failed
}

fn destination(to: &str) -> String {
    if to.is_empty() {
        "an unnamed destination".to_owned()
    } else {
        format!("{to:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn reply(
        text: &str,
        functions: &[&str],
        handoff: Option<&str>,
        ended: bool,
    ) -> DebugChatResponse {
        let events: Vec<serde_json::Value> = functions
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f,
                    "function_id": format!("FUNCTION-{f}"),
                    "handoff": if handoff.is_some() && *f == "transfer_call" {
                        serde_json::json!({"reason": "CALLER_REQUESTED_HUMAN", "type": "transfer"})
                    } else {
                        serde_json::Value::Null
                    },
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "conversationId": "AS_CHAT_1",
            "userInput": "x",
            "response": text,
            "conversationEnded": ended,
            "delayedResponse": false,
            "metadata": {
                "state": {}, "currentNode": "", "nodeTrace": [], "metrics": {},
                "functionEvents": events,
                "handoffDestination": handoff.unwrap_or(""),
            },
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_reply_meeting_everything_passes() {
        let expect = Expect {
            contains: vec!["RESET LINK".into()],
            not_contains: vec!["sorry".into()],
            regex: vec![Regex::new(r"expires in \d+ minutes").unwrap_or_else(|e| panic!("{e}"))],
            function: vec!["send_reset_link".into(), "FUNCTION-send_reset_link".into()],
            not_function: vec!["transfer_call".into()],
            handoff: Some(HandoffExpect::No),
            ended: Some(false),
        };
        let r = reply(
            "I've sent a reset link; it expires in 30 minutes.",
            &["send_reset_link"],
            None,
            false,
        );
        assert_eq!(check(&expect, &r), Vec::<String>::new());
    }

    #[test]
    fn each_unmet_expectation_is_one_sentence() {
        let expect = Expect {
            contains: vec!["refund".into()],
            not_contains: vec!["transfer".into()],
            regex: vec![Regex::new("^Sure").unwrap_or_else(|e| panic!("{e}"))],
            function: vec!["lookup_account".into()],
            not_function: vec!["transfer_call".into()],
            handoff: Some(HandoffExpect::To("Billing Team".into())),
            ended: Some(false),
        };
        let r = reply(
            "Of course, I'm transferring you now.",
            &["transfer_call"],
            Some("Front Desk"),
            true,
        );
        assert_eq!(
            check(&expect, &r),
            [
                "expected the reply to contain \"refund\"",
                "expected the reply not to contain \"transfer\"",
                "expected the reply to match /^Sure/",
                "expected a call to function \"lookup_account\"; called: transfer_call",
                "expected no call to function \"transfer_call\"",
                "expected a handoff to \"Billing Team\"; it went to \"Front Desk\"",
                "expected the conversation to go on; the agent ended it",
            ]
        );
    }

    #[test]
    fn handoff_and_end_in_both_directions() {
        let quiet = reply("Anything else?", &[], None, false);
        let any = Expect {
            handoff: Some(HandoffExpect::Any),
            ended: Some(true),
            function: vec!["transfer_call".into()],
            ..Expect::default()
        };
        assert_eq!(
            check(&any, &quiet),
            [
                "expected a call to function \"transfer_call\"; no function was called",
                "expected a handoff; there was none",
                "expected the agent to end the conversation; it went on",
            ]
        );
        let to = Expect {
            handoff: Some(HandoffExpect::To("front desk".into())),
            ..Expect::default()
        };
        assert_eq!(
            check(&to, &quiet),
            ["expected a handoff to \"front desk\"; there was none"]
        );
        let handed = reply(
            "Transferring.",
            &["transfer_call"],
            Some("Front Desk"),
            true,
        );
        assert!(check(&to, &handed).is_empty());
        let none = Expect {
            handoff: Some(HandoffExpect::No),
            ..Expect::default()
        };
        assert_eq!(
            check(&none, &handed),
            ["expected no handoff; it went to \"Front Desk\""]
        );
        // A function event asking for a handoff counts even without a destination.
        let unnamed = reply("Transferring.", &["transfer_call"], Some(""), true);
        assert_eq!(
            check(&none, &unnamed),
            ["expected no handoff; it went to an unnamed destination"]
        );
    }
}
