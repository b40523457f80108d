//! A detail record's JSONL line written from the body as the API sent it, with no decode into a
//! `Value` and no re-encoding.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// What the export reads out of a detail body: its id, and whether it already has the field
/// the export adds.
#[derive(Debug, Deserialize)]
pub struct DetailHead {
    /// The record's own `conversationId`.
    #[serde(rename = "conversationId")]
    pub conversation_id: Option<String>,
    #[serde(rename = "_export")]
    export: Option<IgnoredAny>,
}

impl DetailHead {
    /// Reads the head of `body`; `None` when the body is not an object of that shape (then the
    /// export goes through a `Value`).
    pub fn of(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// `body` (one JSON object) as one line, with `"<field>": extra` appended inside the object
/// when given. `None` when the bytes cannot be used as they are: a body spread over several
/// lines, one that is not an object, or one that already has `field` (it would appear twice).
pub fn raw_line(
    body: &[u8],
    head: &DetailHead,
    field: &str,
    extra: Option<&Value>,
) -> Option<Vec<u8>> {
    let object = body.trim_ascii();
    // A raw line break can only be whitespace between tokens; it would split the JSONL line.
    if head.export.is_some()
        || object.contains(&b'\n')
        || object.contains(&b'\r')
        || !object.starts_with(b"{")
        || !object.ends_with(b"}")
    {
        return None;
    }
    let mut line = Vec::with_capacity(object.len() + 64);
    match extra {
        None => line.extend_from_slice(object),
        Some(extra) => {
            let open = &object[..object.len() - 1];
            line.extend_from_slice(open);
            if !open[1..].trim_ascii().is_empty() {
                line.push(b',');
            }
            serde_json::to_writer(&mut line, field).ok()?;
            line.push(b':');
            serde_json::to_writer(&mut line, extra).ok()?;
            line.push(b'}');
        }
    }
    line.push(b'\n');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(body: &str, extra: Option<Value>) -> Option<String> {
        let head = DetailHead::of(body.as_bytes())?;
        raw_line(body.as_bytes(), &head, "_export", extra.as_ref())
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    }

    #[test]
    fn the_body_is_written_byte_for_byte() {
        let body = r#"{"conversationId":"CA1","n":1.0e3,"x":null, "s":"a\nb"}"#;
        assert_eq!(line(body, None), Some(format!("{body}\n")));
        assert_eq!(
            line(&format!("  {body}\t"), None),
            Some(format!("{body}\n"))
        );
    }

    #[test]
    fn the_export_field_is_appended_and_the_line_stays_valid_json() {
        let extra = json!({"audioFile": "audio/CA1.wav"});
        let got = line(r#"{"conversationId":"CA1","n":1}"#, Some(extra.clone()));
        assert_eq!(
            got.as_deref(),
            Some(
                "{\"conversationId\":\"CA1\",\"n\":1,\"_export\":{\"audioFile\":\"audio/CA1.wav\"}}\n"
            )
        );
        let empty = line("{ }", Some(extra.clone())).unwrap_or_default();
        let parsed: Value = serde_json::from_str(&empty).unwrap_or_default();
        assert_eq!(parsed, json!({"_export": extra}));
    }

    #[test]
    fn bodies_that_cannot_be_used_as_they_are_are_refused() {
        assert_eq!(line("{\n\"conversationId\": \"CA1\"\n}", None), None);
        assert_eq!(line(r#"{"conversationId":"CA1","_export":1}"#, None), None);
        assert_eq!(line("[1]", None), None);
        assert_eq!(line(r#"{"conversationId":7}"#, None), None);
    }
}
