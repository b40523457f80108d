//! The scripted agent's material: businesses, topics, utterances and functions.
//!
//! Shared by the conversation generator (recorded transcripts) and the debug-chat agent (live answers).

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
        keywords: &["appointment", "book", "booking", "schedule", "reschedule"],
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
