//! The scripted agent's material and its one way of answering: businesses, topics, utterances,
//! functions, and [`answer`].
//!
//! Shared by the conversation generator (recorded transcripts) and the debug-chat agent (live
//! answers): every agent turn of a seeded conversation is what [`answer`] says to its caller turn,
//! so replaying a recorded conversation in a debug chat gets the same replies, function calls,
//! handoff and end.
//!
//! # Variants
//!
//! A debug chat opened with no `variantId`, or with one of the agent's own variants (the names in
//! [`VARIANTS`] its conversations carry), answers as the conversations were recorded
//! ([`Behaviour::Recorded`]). Every agent also has the variant [`CANDIDATE_VARIANT`]
//! (`Next Release`), which no seeded conversation ran on and which answers differently in three
//! documented ways ([`Behaviour::Candidate`]):
//!
//! - **a missing function call**: billing questions are answered with the same words, but without
//!   calling `lookup_account`;
//! - **another handoff destination**: a caller asking for a person is transferred to
//!   [`CANDIDATE_HANDOFF_DESTINATION`] (`Escalations`) instead of `Front Desk`;
//! - **another wording**: the opening-hours answers are reworded lightly
//!   ([`CANDIDATE_OPENING_HOURS_LINES`]: word similarity 0.92 and 0.85 to the recorded ones, above
//!   `polyai chat replay`'s default threshold of 0.8) and the order-status answers entirely
//!   ([`CANDIDATE_ORDER_STATUS_LINES`]: 0.17 and 0.29, below it).
//!
//! Everything else (greeting, password resets, bookings, goodbyes, the end of the conversation) is
//! the same. Any other variant name answers `400 CHAT_DRAFT_NOT_EXIST`.

/// One thing callers ask about, with what both sides say and what the agent does about it.
#[derive(Debug)]
pub struct Topic {
    /// Knowledge-base topic name, as it appears in `retrieved_topics` / `citedTopic`.
    pub name: &'static str,
    /// Lower-case words that route a chat message to this topic.
    pub keywords: &'static [&'static str],
    /// Things a caller says about it.
    pub user_lines: &'static [&'static str],
    /// Things the agent answers.
    pub agent_lines: &'static [&'static str],
    /// Flow node handling it.
    pub node: &'static str,
    /// Function the agent calls, if any: `(function_id, name, argument key)`.
    pub function: Option<(&'static str, &'static str, &'static str)>,
    /// Whether the function is slow enough that the reply is deferred (`delayedResponse`).
    pub slow: bool,
    /// Where a debug chat about it is handed off to (the function's argument, the reply's
    /// `handoffDestination`); the chat ends there.
    pub handoff: Option<&'static str>,
}

/// The topic table.
pub const TOPICS: &[Topic] = &[
    Topic {
        name: "Password reset",
        keywords: &["password", "login", "log in", "locked"],
        user_lines: &[
            "I forgot my password",
            "I can't log in to my account",
            "My account is locked, can you help?",
        ],
        agent_lines: &[
            "No problem. I've sent a reset link to the email address on your account; it expires in 30 minutes.",
            "I can help with that. You'll get a text with a one-time code to reset your password.",
        ],
        node: "password_reset",
        function: Some((
            "FUNCTION-send_reset_link",
            "send_reset_link",
            "account_email",
        )),
        slow: false,
        handoff: None,
    },
    Topic {
        name: "Appointment booking",
        keywords: &[
            "appointment",
            "book",
            "booking",
            "schedule",
            "reschedule",
            "free on",
        ],
        user_lines: &[
            "I'd like to book an appointment for next Tuesday",
            "Can I reschedule my appointment?",
            "Do you have anything free on Friday morning?",
        ],
        agent_lines: &[
            "I have a slot on Tuesday at 10:30 am or 2:15 pm. Which would you prefer?",
            "Sure, I've moved your appointment to Friday at 9 am. You'll get a confirmation by text.",
        ],
        node: "booking_flow",
        function: Some(("FUNCTION-check_availability", "check_availability", "date")),
        slow: true,
        handoff: None,
    },
    Topic {
        name: "Opening hours",
        keywords: &["open", "hours", "close", "closing", "weekend"],
        user_lines: &[
            "What time do you open on Saturday?",
            "Are you open on bank holidays?",
        ],
        agent_lines: &[
            "We're open Monday to Friday 8 am to 6 pm, and Saturday 9 am to 1 pm.",
            "On bank holidays we're closed, but the online portal is available all day.",
        ],
        node: "faq",
        function: None,
        slow: false,
        handoff: None,
    },
    Topic {
        name: "Billing question",
        keywords: &[
            "bill", "billing", "invoice", "charge", "charged", "refund", "payment",
        ],
        user_lines: &[
            "I think I was charged twice this month",
            "Can I get a copy of my last invoice?",
            "I'd like a refund please",
        ],
        agent_lines: &[
            "I can see two payments on the 3rd. I've raised a refund for the duplicate; it takes 3 to 5 working days.",
            "I've emailed your latest invoice to the address we have on file.",
        ],
        node: "billing",
        function: Some(("FUNCTION-lookup_account", "lookup_account", "phone_number")),
        slow: true,
        handoff: None,
    },
    Topic {
        name: "Order status",
        keywords: &[
            "order", "delivery", "parcel", "track", "tracking", "shipped",
        ],
        user_lines: &["Where is my order?", "My parcel hasn't arrived yet"],
        agent_lines: &[
            "Your order shipped yesterday and is due tomorrow before 6 pm.",
            "The courier shows your parcel out for delivery today.",
        ],
        node: "order_tracking",
        function: Some((
            "FUNCTION-get_order_status",
            "get_order_status",
            "order_number",
        )),
        slow: true,
        handoff: None,
    },
    Topic {
        name: "Speak to a person",
        keywords: &[
            "human",
            "person",
            "agent",
            "someone",
            "representative",
            "operator",
        ],
        user_lines: &[
            "Can I speak to a real person?",
            "Put me through to someone please",
        ],
        agent_lines: &["Of course, I'm transferring you to a member of the team now."],
        node: "handoff",
        function: Some(("FUNCTION-transfer_call", "transfer_call", "destination")),
        slow: false,
        handoff: Some("Front Desk"),
    },
];

/// What the agent says when no topic matches.
pub const FALLBACK_LINES: &[&str] = &[
    "Sorry, I didn't quite catch that. Could you tell me a bit more?",
    "I'm not sure I can help with that, but I can help with bookings, billing, orders and account access.",
];

/// Words that end a chat.
pub const GOODBYE_KEYWORDS: &[&str] = &[
    "bye",
    "goodbye",
    "that's all",
    "thats all",
    "no thanks",
    "hang up",
];

/// What the agent says before ending.
pub const GOODBYE_LINES: &[&str] = &[
    "Thanks for getting in touch. Goodbye!",
    "Glad I could help. Have a lovely day, goodbye!",
];

/// Businesses the generated agents represent.
pub const BUSINESSES: &[&str] = &[
    "Example Clinic",
    "Harbour Dental",
    "Northwind Energy",
    "Bluebell Hotels",
    "Acme Telecom",
    "Riverside Pharmacy",
    "Summit Insurance",
    "Maple Bank",
];

/// Transfer targets.
pub const HANDOFF_DESTINATIONS: &[&str] = &[
    "Example Clinic",
    "Front Desk",
    "Billing Team",
    "Escalations",
];

/// Transfer reason codes.
pub const HANDOFF_REASONS: &[&str] = &[
    "API_UNEXPECTED_FAIL_PATIENT_LOOKUP",
    "CALLER_REQUESTED_HUMAN",
    "OUT_OF_SCOPE",
    "AUTHENTICATION_FAILED",
];

/// Variant names agents are given.
pub const VARIANTS: &[&str] = &[
    "PDS Test Office",
    "Main Line",
    "After Hours",
    "Spanish Line",
];

/// Tags that conversations may carry.
pub const TAGS: &[&str] = &["vip", "complaint", "follow-up", "escalated", "test-call"];

/// The greeting of a business.
pub fn greeting(business: &str) -> String {
    format!("Hello, thanks for calling {business}. How can I help you today?")
}

/// The topic a message is about, if any keyword matches.
pub fn route(message: &str) -> Option<&'static Topic> {
    let lower = message.to_lowercase();
    TOPICS
        .iter()
        .find(|t| t.keywords.iter().any(|k| lower.contains(k)))
}

/// Whether a message says goodbye.
pub fn is_goodbye(message: &str) -> bool {
    let lower = message.to_lowercase();
    GOODBYE_KEYWORDS.iter().any(|k| lower.contains(k))
}

/// The variant every agent has besides its own, answering as [`Behaviour::Candidate`].
pub const CANDIDATE_VARIANT: &str = "Next Release";

/// Where [`CANDIDATE_VARIANT`] hands a caller asking for a person off to.
pub const CANDIDATE_HANDOFF_DESTINATION: &str = "Escalations";

/// The topic whose function [`CANDIDATE_VARIANT`] does not call.
pub const CANDIDATE_SKIPPED_FUNCTION_TOPIC: &str = "Billing question";

/// [`CANDIDATE_VARIANT`]'s opening-hours answers: the recorded ones lightly reworded, line for
/// line (word similarity 0.92 and 0.85).
pub const CANDIDATE_OPENING_HOURS_LINES: &[&str] = &[
    "We're open from Monday to Friday, 8 am to 6 pm, and on Saturday from 9 am to 1 pm.",
    "We're closed on bank holidays, but the online portal is available all day.",
];

/// [`CANDIDATE_VARIANT`]'s order-status answers: the recorded ones said another way, line for
/// line (word similarity 0.17 and 0.29).
pub const CANDIDATE_ORDER_STATUS_LINES: &[&str] = &[
    "Good news: it's on its way and should reach you tomorrow evening.",
    "Your parcel is with the courier, who expects to deliver it today.",
];

/// How a debug-chat session answers, by the variant it was opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// No variant, or one of the agent's own: as the seeded conversations were recorded.
    #[default]
    Recorded,
    /// [`CANDIDATE_VARIANT`]: the differences listed in the [module notes](self).
    Candidate,
}

impl Behaviour {
    /// The behaviour of a session opened with `variant` (an accepted one: the caller checks).
    pub fn of(variant: Option<&str>) -> Self {
        match variant {
            Some(CANDIDATE_VARIANT) => Behaviour::Candidate,
            _ => Behaviour::Recorded,
        }
    }
}

/// One reply of the scripted agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// What the agent says.
    pub text: &'static str,
    /// The index in [`TOPICS`] of the topic the message was routed to.
    pub topic: Option<usize>,
    /// The function called: `(function_id, name, argument key)`.
    pub function: Option<(&'static str, &'static str, &'static str)>,
    /// Where the conversation is handed off to.
    pub handoff: Option<&'static str>,
    /// Whether the agent ends the conversation with this reply.
    pub ends: bool,
    /// The flow node that answered.
    pub node: &'static str,
}

/// The key that makes one agent's wording its own: from the server's seed and the agent's index.
pub fn answer_key(seed: u64, agent: usize) -> u64 {
    crate::prng::hash(&[seed, 0x5C41, agent as u64])
}

/// What the agent whose [`answer_key`] is `key` answers to `message`, the `turn`-th message
/// (from 1) of a conversation: a pure function of its arguments, so a recorded conversation
/// replayed message by message gets the same replies. The topic comes from the message's
/// keywords ([`route`]); which of the topic's lines is said, from the key, the turn and the
/// message (ignoring letter case and surrounding blanks).
pub fn answer(key: u64, turn: u64, message: &str, behaviour: Behaviour) -> Answer {
    let normalized = message.trim().to_lowercase();
    let pick = |lines: &[&'static str]| -> &'static str {
        let h = crate::prng::hash(&[key, turn, crate::prng::text_hash(&normalized)]);
        let i = ((u128::from(h) * lines.len() as u128) >> 64) as usize;
        lines.get(i).or(lines.first()).copied().unwrap_or_default()
    };
    let plain = |text, node, ends| Answer {
        text,
        topic: None,
        function: None,
        handoff: None,
        ends,
        node,
    };
    if is_goodbye(message) {
        return plain(pick(GOODBYE_LINES), "end_call", true);
    }
    let Some(index) = TOPICS
        .iter()
        .position(|t| t.keywords.iter().any(|k| normalized.contains(k)))
    else {
        return if normalized.is_empty() {
            plain("Are you still there?", "no_input", false)
        } else {
            plain(pick(FALLBACK_LINES), "fallback", false)
        };
    };
    let topic = &TOPICS[index];
    let candidate = behaviour == Behaviour::Candidate;
    let lines = match topic.name {
        "Opening hours" if candidate => CANDIDATE_OPENING_HOURS_LINES,
        "Order status" if candidate => CANDIDATE_ORDER_STATUS_LINES,
        _ => topic.agent_lines,
    };
    let function = topic
        .function
        .filter(|_| !(candidate && topic.name == CANDIDATE_SKIPPED_FUNCTION_TOPIC));
    let handoff = topic.handoff.map(|to| {
        if candidate {
            CANDIDATE_HANDOFF_DESTINATION
        } else {
            to
        }
    });
    Answer {
        text: pick(lines),
        topic: Some(index),
        function,
        handoff,
        ends: handoff.is_some(),
        node: topic.node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_caller_line_routes_to_its_own_topic() {
        for (i, topic) in TOPICS.iter().enumerate() {
            for line in topic.user_lines {
                assert!(!is_goodbye(line), "{line:?} says goodbye");
                let a = answer(1, 1, line, Behaviour::Recorded);
                assert_eq!(a.topic, Some(i), "{line:?}");
                assert!(topic.agent_lines.contains(&a.text), "{line:?}");
                assert_eq!(a.function, topic.function);
            }
        }
        let bye = answer(
            1,
            3,
            "No, that's everything, thanks. Bye",
            Behaviour::Recorded,
        );
        assert!(bye.ends && GOODBYE_LINES.contains(&bye.text));
    }

    #[test]
    fn answers_are_a_function_of_key_turn_and_message() {
        let a = answer(7, 2, "Where is my order?", Behaviour::Recorded);
        assert_eq!(a, answer(7, 2, "  where is my ORDER?", Behaviour::Recorded));
        let texts: std::collections::HashSet<&str> = (0..32)
            .map(|turn| answer(7, turn, "Where is my order?", Behaviour::Recorded).text)
            .collect();
        assert_eq!(texts.len(), 2, "both lines are said at some turn");
    }

    #[test]
    fn the_candidate_differs_in_exactly_the_documented_ways() {
        assert_eq!(Behaviour::of(Some(CANDIDATE_VARIANT)), Behaviour::Candidate);
        assert_eq!(Behaviour::of(Some("Main Line")), Behaviour::Recorded);
        assert_eq!(Behaviour::of(None), Behaviour::Recorded);
        for topic in TOPICS {
            for line in topic.user_lines {
                for turn in 1..6 {
                    let r = answer(3, turn, line, Behaviour::Recorded);
                    let c = answer(3, turn, line, Behaviour::Candidate);
                    assert_eq!((r.topic, r.ends, r.node), (c.topic, c.ends, c.node));
                    let i = topic.agent_lines.iter().position(|l| *l == r.text);
                    match topic.name {
                        "Billing question" => {
                            assert_eq!((r.text, c.function), (c.text, None));
                        }
                        "Speak to a person" => {
                            assert_eq!(r.handoff, Some("Front Desk"));
                            assert_eq!(c.handoff, Some(CANDIDATE_HANDOFF_DESTINATION));
                            assert_eq!((r.text, r.function), (c.text, c.function));
                        }
                        "Opening hours" => {
                            let j = CANDIDATE_OPENING_HOURS_LINES
                                .iter()
                                .position(|l| *l == c.text);
                            assert_eq!(i, j, "line for line");
                        }
                        "Order status" => {
                            let j = CANDIDATE_ORDER_STATUS_LINES
                                .iter()
                                .position(|l| *l == c.text);
                            assert_eq!(i, j, "line for line");
                        }
                        _ => assert_eq!(r, c, "{line:?}"),
                    }
                }
            }
        }
    }
}
