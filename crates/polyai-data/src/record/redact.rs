//! Masking of the personal fields a program can identify in a conversation record, for
//! exports that must not hold them (`polyai export --redacted`).
//!
//! One rule set serves the three shapes a record has: a [`ConversationRecord`] ([`mask_record`]),
//! and the JSON of a record, whether the Data API's (camelCase), the Conversations API v3's
//! (snake_case) or the record contract's ([`mask_json`]). What is masked ([`MASKED_FIELDS`]):
//!
//! | field | Data API | v3 / contract | rule |
//! |---|---|---|---|
//! | caller id | `fromNumber` | `from_number` | [`mask_value`] |
//! | number reached | `toNumber` | `to_number` | [`mask_value`] |
//! | function arguments that name a phone number or an e-mail address (key contains `phone`, `mobile`, `msisdn`, `email`, `e_mail`, `caller_id`, `callerid`, `from_number` or `to_number`, in any case) | `functionEvents.*[].arguments` | `function_events[].arguments` | [`mask_value`] |
//! | keypad input (DTMF: card numbers, PINs) | — | `turns[].user_input_dtmf` (v3) | every character `*` |
//! | the body as sent, when kept | — | `raw` | the same rules, by its own field names |
//!
//! [`mask_value`] keeps what analysis needs and no more:
//!
//! - a **phone number** (7 digits or more, with only `+`, digits, spaces, `-`, `.`, `(`, `)`):
//!   the `+` and the country calling code (E.164: `1`, `7`, the two-digit codes, else three
//!   digits) and the **last two digits** are kept, every other digit becomes `*`, separators
//!   are dropped: `+44 7700 900123` → `+44********23`. A number without `+` keeps only its
//!   last two digits (`07700900123` → `*********23`). `tel:` and `sip:` addresses keep their
//!   scheme and host, and their user part is masked the same way;
//! - an **e-mail address**: the domain is kept, the local part becomes `****`
//!   (`jane.doe@example.com` → `****@example.com`);
//! - **any other value holding a digit or an `@`** (a user id, a handle) becomes `[masked]`;
//! - values with neither (`polyai`, `anonymous`) cannot be a number or an address and are
//!   kept, as are short codes of fewer than 7 digits (`999`, `611`: services, not people).
//!
//! No hash of the number is kept: an unsalted hash of a phone number is undone by trying every
//! number (about 10¹⁰ per country), and a salted one needs a secret that must not travel with
//! the archive. The country code answers "where do callers call from", the last two digits
//! let an analyst tell apart most callers within one conversation list without identifying
//! any; counting distinct callers needs an unmasked export.
//!
//! **Not masked**, because no program can find every personal fact in free text:
//! transcripts (`turns[].user_input`, `agent_response` and v3's translations), summaries,
//! notes, tags, metrics, v3's `entities` and `intents`, and function arguments under other
//! names. [`NOT_MASKED`] lists them; an export says so in its manifest.
//!
//! ```
//! use polyai_data::record::redact::{mask_json, mask_value};
//! use serde_json::json;
//!
//! assert_eq!(mask_value("+44 7700 900123").as_deref(), Some("+44********23"));
//! assert_eq!(mask_value("jane@example.com").as_deref(), Some("****@example.com"));
//! assert_eq!(mask_value("polyai"), None, "not personal: kept");
//!
//! let mut detail = json!({"conversationId": "CA1", "fromNumber": "+15550100123",
//!     "toNumber": "polyai",
//!     "functionEvents": {"1": [{"name": "lookup", "arguments": {"phone_number": "+15550100123"}}]}});
//! let report = mask_json(&mut detail);
//! assert_eq!(detail["fromNumber"], "+1********23");
//! assert_eq!(detail["toNumber"], "polyai");
//! assert_eq!(detail["functionEvents"]["1"][0]["arguments"]["phone_number"], "+1********23");
//! assert_eq!(report.total(), 2);
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

use super::ConversationRecord;

/// Version of the masking rules. It changes whenever a rule or the list of fields changes, so
/// an archive says which rules masked it (and a resumed export can refuse to mix two).
pub const MASKING_VERSION: u32 = 1;

/// What replaces a value that is personal but neither a phone number nor an e-mail address.
pub const MASKED: &str = "[masked]";

/// A field the masking covers, for manifests and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskedField {
    /// Its name in the record contract (and the v3 API), e.g. `from_number`.
    pub field: &'static str,
    /// Its name in the Data API, when it has one, e.g. `fromNumber`.
    pub data_api: Option<&'static str>,
    /// How it is masked.
    pub rule: &'static str,
}

const VALUE_RULE: &str = "phone number: + and country calling code and last 2 digits kept, other digits *; \
     e-mail: domain kept, local part ****; other values with a digit or @: [masked]; \
     values with neither, and numbers of fewer than 7 digits: kept";

/// Every field [`mask_json`] and [`mask_record`] mask, with its rule.
pub const MASKED_FIELDS: &[MaskedField] = &[
    MaskedField {
        field: "from_number",
        data_api: Some("fromNumber"),
        rule: VALUE_RULE,
    },
    MaskedField {
        field: "to_number",
        data_api: Some("toNumber"),
        rule: VALUE_RULE,
    },
    MaskedField {
        field: "function_events[].arguments.<phone|mobile|msisdn|email|e_mail|caller_id|callerid|from_number|to_number>",
        data_api: Some("functionEvents.*[].arguments.<same keys>"),
        rule: VALUE_RULE,
    },
    MaskedField {
        field: "turns[].user_input_dtmf",
        data_api: None,
        rule: "every character replaced by *",
    },
    MaskedField {
        field: "raw",
        data_api: None,
        rule: "the body as the API sent it, when kept: the same rules by its own field names",
    },
];

/// What the masking leaves as the API sent it.
pub const NOT_MASKED: &[&str] = &[
    "transcripts: turns[].user_input, agent_response (and v3 translated_user_input, english_agent_response)",
    "summaries: summary, summary_heading (Data API shortSummary)",
    "note, tags, metrics",
    "v3 turns[].entities and intents",
    "function arguments under names other than those masked",
    "recordings: redacted by PolyAI when asked (redacted=true), not by this program",
];

/// Fields masked, by name (as in [`MaskedField::field`]), with how many values were masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskReport {
    counts: BTreeMap<&'static str, u64>,
}

impl MaskReport {
    /// Values masked in all.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Values masked per field, in name order.
    pub fn counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counts.iter().map(|(k, v)| (*k, *v))
    }

    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: &MaskReport) {
        for (field, n) in other.counts() {
            *self.counts.entry(field).or_default() += n;
        }
    }

    fn count(&mut self, field: &'static str) {
        *self.counts.entry(field).or_default() += 1;
    }
}

/// The masked form of `value` (see the [module notes](self)), or `None` when it is kept as
/// it is (empty, no digit and no `@`, or a number of fewer than 7 digits).
///
/// ```
/// use polyai_data::record::redact::mask_value;
/// assert_eq!(mask_value("+1 (555) 010-0123").as_deref(), Some("+1********23"));
/// assert_eq!(mask_value("+971501234567").as_deref(), Some("+971*******67"));
/// assert_eq!(mask_value("07700900123").as_deref(), Some("*********23"));
/// assert_eq!(mask_value("sip:+447700900123@pbx.example").as_deref(), Some("sip:+44********23@pbx.example"));
/// assert_eq!(mask_value("user-8812").as_deref(), Some("[masked]"));
/// assert_eq!(mask_value("999"), None);
/// ```
pub fn mask_value(value: &str) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || already_masked(trimmed) {
        return None;
    }
    if let Some(masked) = mask_phone(trimmed) {
        return masked;
    }
    for scheme in ["tel:", "sip:", "sips:"] {
        if let Some(rest) = strip_prefix_ignore_case(trimmed, scheme) {
            let (user, host) = match rest.split_once('@') {
                Some((user, host)) => (user, Some(host)),
                None => (rest, None),
            };
            let user = match mask_phone(user) {
                Some(Some(masked)) => masked,
                Some(None) => user.to_owned(),
                None => MASKED.to_owned(),
            };
            let scheme = &trimmed[..scheme.len()];
            return Some(match host {
                Some(host) => format!("{scheme}{user}@{host}"),
                None => format!("{scheme}{user}"),
            });
        }
    }
    if let Some((local, domain)) = trimmed.rsplit_once('@')
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains(char::is_whitespace)
        && domain.contains('.')
    {
        return Some(format!("****@{domain}"));
    }
    if trimmed.chars().any(|c| c.is_ascii_digit() || c == '@') {
        return Some(MASKED.to_owned());
    }
    None
}

/// Whether `text` is what [`mask_value`] writes, so masking twice changes nothing.
fn already_masked(text: &str) -> bool {
    let user = ["tel:", "sip:", "sips:"]
        .iter()
        .find_map(|scheme| strip_prefix_ignore_case(text, scheme))
        .map_or(text, |rest| {
            rest.split_once('@').map_or(rest, |(user, _)| user)
        });
    user == MASKED
        || text.starts_with("****@")
        || (user.contains('*')
            && user
                .strip_prefix('+')
                .unwrap_or(user)
                .chars()
                .all(|c| c == '*' || c.is_ascii_digit()))
}

/// `Some(Some(masked))` for a phone number, `Some(None)` for a number too short to be
/// personal, `None` when `text` is not a number at all.
fn mask_phone(text: &str) -> Option<Option<String>> {
    let (plus, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return None;
    }
    let digits: Vec<u8> = body.bytes().filter(u8::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    if digits.len() < 7 {
        return Some(None);
    }
    let kept_head = if plus { country_code_len(&digits) } else { 0 };
    let kept_tail = 2;
    let mut out = String::with_capacity(digits.len() + 1);
    if plus {
        out.push('+');
    }
    for (i, d) in digits.iter().enumerate() {
        if i < kept_head || i >= digits.len() - kept_tail {
            out.push(char::from(*d));
        } else {
            out.push('*');
        }
    }
    Some(Some(out))
}

/// Length of the E.164 country calling code at the start of `digits`: `1` (North America)
/// and `7` (Russia, Kazakhstan) are one digit; the two-digit codes are those of ITU zones 2–9
/// assigned as such; every other code has three digits.
fn country_code_len(digits: &[u8]) -> usize {
    const TWO: &[&[u8; 2]] = &[
        b"20", b"27", b"30", b"31", b"32", b"33", b"34", b"36", b"39", b"40", b"41", b"43", b"44",
        b"45", b"46", b"47", b"48", b"49", b"51", b"52", b"53", b"54", b"55", b"56", b"57", b"58",
        b"60", b"61", b"62", b"63", b"64", b"65", b"66", b"81", b"82", b"84", b"86", b"90", b"91",
        b"92", b"93", b"94", b"95", b"98",
    ];
    match digits {
        [b'1' | b'7', ..] => 1,
        [a, b, ..] if TWO.iter().any(|code| **code == [*a, *b]) => 2,
        _ => 3,
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Whether a function argument's name says it holds a phone number or an e-mail address.
pub fn is_personal_argument(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "phone",
        "mobile",
        "msisdn",
        "email",
        "e_mail",
        "caller_id",
        "callerid",
        "from_number",
        "to_number",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// Masks `value` in place (a JSON string, or a number, which becomes a string); counts it
/// under `field` when it changed.
fn mask_in_place(value: &mut Value, field: &'static str, report: &mut MaskReport) {
    let masked = match value {
        Value::String(text) => mask_value(text),
        Value::Number(number) => mask_value(&number.to_string()),
        _ => None,
    };
    if let Some(masked) = masked {
        *value = Value::String(masked);
        report.count(field);
    }
}

/// Masks the personal arguments of one function event's `arguments` (an object, or a string
/// holding one).
fn mask_arguments(arguments: &mut Value, report: &mut MaskReport) {
    const FIELD: &str = "function_events[].arguments";
    match arguments {
        Value::Object(map) => {
            for (name, value) in map.iter_mut() {
                if is_personal_argument(name) {
                    mask_in_place(value, FIELD, report);
                } else if value.is_object() {
                    mask_arguments(value, report);
                }
            }
        }
        Value::String(text) => {
            let Ok(mut inner @ Value::Object(_)) = serde_json::from_str::<Value>(text) else {
                return;
            };
            let mut inner_report = MaskReport::default();
            mask_arguments(&mut inner, &mut inner_report);
            if inner_report.total() > 0 {
                *text = inner.to_string();
                report.merge(&inner_report);
            }
        }
        _ => {}
    }
}

/// Masks the personal fields of a record's JSON (see the [module notes](self)): a Data API
/// conversation (summary or detail), a Conversations API v3 item, or a serialized
/// [`ConversationRecord`]. Anything that is not an object is left alone.
pub fn mask_json(record: &mut Value) -> MaskReport {
    let mut report = MaskReport::default();
    mask_object(record, &mut report, true);
    report
}

fn mask_object(record: &mut Value, report: &mut MaskReport, with_raw: bool) {
    let Some(object) = record.as_object_mut() else {
        return;
    };
    for (names, field) in [
        (["fromNumber", "from_number"], "from_number"),
        (["toNumber", "to_number"], "to_number"),
    ] {
        for name in names {
            if let Some(value) = object.get_mut(name) {
                mask_in_place(value, field, report);
            }
        }
    }
    for name in ["functionEvents", "function_events"] {
        match object.get_mut(name) {
            Some(Value::Object(by_turn)) => {
                for group in by_turn.values_mut() {
                    for_each_event(group, report);
                }
            }
            Some(group @ Value::Array(_)) => for_each_event(group, report),
            _ => {}
        }
    }
    if let Some(Value::Array(turns)) = object.get_mut("turns") {
        for turn in turns.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::String(dtmf)) = turn.get_mut("user_input_dtmf")
                && !dtmf.is_empty()
            {
                *dtmf = "*".repeat(dtmf.chars().count());
                report.count("turns[].user_input_dtmf");
            }
        }
    }
    if with_raw && let Some(raw) = object.get_mut("raw") {
        let mut inner = MaskReport::default();
        mask_object(raw, &mut inner, false);
        if inner.total() > 0 {
            report.count("raw");
        }
    }
}

fn for_each_event(group: &mut Value, report: &mut MaskReport) {
    let events: Vec<&mut Value> = match group {
        Value::Array(events) => events.iter_mut().collect(),
        single => vec![single],
    };
    for event in events {
        if let Some(arguments) = event.get_mut("arguments") {
            mask_arguments(arguments, report);
        }
    }
}

/// Masks the personal fields of `record` (see the [module notes](self)), its raw body
/// included when kept.
///
/// ```
/// use polyai_data::record::{Api, ConversationRecord, redact::mask_record};
/// let mut record = ConversationRecord::new("CA1", Api::V3);
/// record.from_number = Some("+447700900123".into());
/// let report = mask_record(&mut record);
/// assert_eq!(record.from_number.as_deref(), Some("+44********23"));
/// assert_eq!(report.counts().collect::<Vec<_>>(), [("from_number", 1)]);
/// ```
pub fn mask_record(record: &mut ConversationRecord) -> MaskReport {
    let mut report = MaskReport::default();
    for (value, field) in [
        (&mut record.from_number, "from_number"),
        (&mut record.to_number, "to_number"),
    ] {
        if let Some(masked) = value.as_deref().and_then(mask_value) {
            *value = Some(masked);
            report.count(field);
        }
    }
    for event in record.function_events.iter_mut().flatten() {
        if let Some(arguments) = &mut event.arguments {
            mask_arguments(arguments, &mut report);
        }
    }
    if let Some(raw) = &mut record.raw {
        let mut inner = MaskReport::default();
        mask_object(raw, &mut inner, false);
        if inner.total() > 0 {
            report.count("raw");
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phone_numbers_keep_country_code_and_last_two_digits() {
        let cases = [
            ("+440000000001", "+44********01"),
            ("+14155550123", "+1********23"),
            ("+7 912 345 67 89", "+7********89"),
            ("+353 87 123 4567", "+353*******67"),
            ("+86 138 0013 8000", "+86*********00"),
            ("(020) 7946-0958", "*********58"),
            ("0044 20 7946 0958", "************58"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_value(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn other_values() {
        assert_eq!(mask_value(""), None);
        assert_eq!(mask_value("  "), None);
        assert_eq!(mask_value("polyai"), None);
        assert_eq!(mask_value("anonymous"), None);
        assert_eq!(mask_value("611"), None);
        assert_eq!(mask_value("+44"), None);
        assert_eq!(
            mask_value("redacted@example.com").as_deref(),
            Some("****@example.com")
        );
        assert_eq!(mask_value("a@b").as_deref(), Some(MASKED));
        assert_eq!(mask_value("web-user-42").as_deref(), Some(MASKED));
        assert_eq!(
            mask_value("tel:+14155550123").as_deref(),
            Some("tel:+1********23")
        );
        assert_eq!(
            mask_value("SIP:alice@pbx.example").as_deref(),
            Some("SIP:[masked]@pbx.example")
        );
    }

    #[test]
    fn every_shape_is_masked_by_the_same_rules() {
        let mut v3 = json!({"id": "CA1", "from_number": "+447700900123", "to_number": "+447700900999",
            "turns": [{"user_input": "my number is 07700 900123", "user_input_dtmf": "1234"},
                      {"user_input": "", "user_input_dtmf": ""}]});
        let report = mask_json(&mut v3);
        assert_eq!(v3["from_number"], "+44********23");
        assert_eq!(v3["to_number"], "+44********99");
        assert_eq!(v3["turns"][0]["user_input_dtmf"], "****");
        assert_eq!(v3["turns"][1]["user_input_dtmf"], "");
        assert_eq!(
            v3["turns"][0]["user_input"], "my number is 07700 900123",
            "transcripts are not masked"
        );
        assert_eq!(
            report.counts().collect::<Vec<_>>(),
            [
                ("from_number", 1),
                ("to_number", 1),
                ("turns[].user_input_dtmf", 1)
            ]
        );

        let mut detail = json!({"conversationId": "CA1", "fromNumber": 447700900123u64,
            "functionEvents": {"2": [{"arguments": "{\"Caller_Phone\":\"+447700900123\",\"order\":\"42\"}"}]}});
        let report = mask_json(&mut detail);
        assert_eq!(detail["fromNumber"], "**********23");
        let arguments: Value = serde_json::from_str(
            detail["functionEvents"]["2"][0]["arguments"]
                .as_str()
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        assert_eq!(
            arguments,
            json!({"Caller_Phone": "+44********23", "order": "42"})
        );
        assert_eq!(report.total(), 2);

        let mut record = ConversationRecord::from_data_api(
            &json!({"conversationId": "CA1", "toNumber": "+33612345678",
                "functionEvents": {"1": [{"arguments": {"email": "jo@example.org"}}]}}),
        )
        .unwrap_or_else(|| panic!("a record"))
        .keep_raw(json!({"toNumber": "+33612345678"}));
        let report = mask_record(&mut record);
        assert_eq!(record.to_number.as_deref(), Some("+33*******78"));
        assert_eq!(record.raw, Some(json!({"toNumber": "+33*******78"})));
        let events = record.function_events.clone().unwrap_or_default();
        assert_eq!(
            events[0].arguments,
            Some(json!({"email": "****@example.org"}))
        );
        assert_eq!(
            report.counts().collect::<Vec<_>>(),
            [
                ("function_events[].arguments", 1),
                ("raw", 1),
                ("to_number", 1)
            ]
        );
        let mut contract = serde_json::to_value(&record).unwrap_or_default();
        assert_eq!(
            mask_json(&mut contract).total(),
            0,
            "masking twice changes nothing"
        );
    }
}
