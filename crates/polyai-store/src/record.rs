//! A conversation as the tables hold it: the record contract
//! ([`polyai_data::record::ConversationRecord`]) with the body as the API sent it.
//!
//! The columns are the contract's fields under the same names; times are written as
//! [`Timestamp::to_rfc3339_micros`] (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), so they sort as text and
//! SQLite's date functions read them; lists and JSON values (tags, arguments, errors) as JSON
//! text.

use polyai_data::Timestamp;
use polyai_data::record::ConversationRecord;
use serde_json::Value;

/// Every row of one conversation: its record and its raw body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub conversation: ConversationRecord,
    /// The body as the API sent it (the `raw` column).
    pub raw: String,
}

impl Record {
    /// A Data API summary or detail; `None` without a string `conversationId`.
    pub fn from_json(value: &Value) -> Option<Record> {
        Some(Record {
            conversation: ConversationRecord::from_data_api(value)?,
            raw: value.to_string(),
        })
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.conversation.conversation_id
    }
}

/// A time as the tables hold it.
pub(crate) fn time_text(time: Option<Timestamp>) -> Option<String> {
    time.map(Timestamp::to_rfc3339_micros)
}

/// Microseconds since the epoch as the tables hold a time.
pub(crate) fn format_micros(micros: i64) -> Option<String> {
    time_text(Timestamp::from_unix_micros(micros))
}

/// A JSON value as the tables hold it (text).
pub(crate) fn json_text(value: Option<&Value>) -> Option<String> {
    value.map(Value::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_from_every_wire_format() {
        // As a listed record's times reach the tables.
        let normalize_time = |text: &str| time_text(text.parse().ok());
        for (text, want) in [
            (
                "2026-06-03T14:00:38.580000+00:00",
                "2026-06-03T14:00:38.580000Z",
            ),
            ("2026-06-03T15:00:38+01:00", "2026-06-03T14:00:38.000000Z"),
            ("2026-06-03T13:19:19.757917", "2026-06-03T13:19:19.757917Z"),
            (
                "Wed, 03 Jun 2026 13:18:09 GMT",
                "2026-06-03T13:18:09.000000Z",
            ),
        ] {
            assert_eq!(normalize_time(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(normalize_time("soon"), None);
        assert_eq!(
            format_micros(1_780_495_200_000_000).as_deref(),
            Some("2026-06-03T14:00:00.000000Z")
        );
    }

    #[test]
    fn a_record_keeps_its_raw_body() {
        let body = serde_json::json!({"conversationId": "CA1", "odd": [1]});
        let record = Record::from_json(&body).unwrap_or_else(|| panic!("a record"));
        assert_eq!(record.id(), "CA1");
        assert_eq!(record.raw, body.to_string());
    }
}
