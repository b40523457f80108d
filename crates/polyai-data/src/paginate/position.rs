//! [`Position`]: where a page starts, as a value a walk can be saved as and resumed from.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The longest cursor accepted, in bytes. The Conversations API v3's cursors are a few hundred
/// bytes; anything far longer is not one (and would make every request carry it).
///
/// ```
/// use polyai_data::paginate::{MAX_CURSOR_LEN, Position};
/// let long = format!("cursor:{}", "x".repeat(MAX_CURSOR_LEN + 1));
/// assert!(long.parse::<Position>().is_err());
/// ```
pub const MAX_CURSOR_LEN: usize = 4096;

/// Where a page of a listing starts: an offset (the Data API, and v3's `offset` parameter) or a
/// cursor (the Conversations API v3).
///
/// Every [`Page`](crate::paginate::Page) says where it was requested
/// ([`position`](crate::paginate::Page::position)) and where the next one starts
/// ([`next`](crate::paginate::Page::next)); both listing builders start from one with `.from(..)`.
/// So a walk is saved and resumed by this one value, whichever API it reads.
///
/// Its forms, for files and flags:
///
/// | form | JSON (serde) | text ([`Display`](fmt::Display) / [`FromStr`]) |
/// |---|---|---|
/// | offset | `{"offset": 200}` | `offset:200` |
/// | cursor | `{"cursor": "eyJ…"}` | `cursor:eyJ…` (everything after the first `:`) |
///
/// A position read from outside (a file, a flag, a database) is untrusted: parsing never panics,
/// and a bad one is an error that says what was wrong — an unknown form, an offset that is not a
/// whole number, an empty cursor, one longer than [`MAX_CURSOR_LEN`] bytes or one holding control
/// characters or white space.
///
/// ```
/// use polyai_data::paginate::Position;
///
/// let next: Position = "offset:200".parse()?;
/// assert_eq!(next, Position::Offset(200));
/// assert_eq!(serde_json::to_string(&next)?, r#"{"offset":200}"#);
///
/// let saved: Position = serde_json::from_str(r#"{"cursor":"c-42"}"#)?;
/// assert_eq!(saved.to_string(), "cursor:c-42");
/// assert_eq!(saved.cursor(), Some("c-42"));
///
/// assert!("offset:-1".parse::<Position>().is_err());
/// assert!(serde_json::from_str::<Position>(r#"{"page":3}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Position {
    /// The number of items before the page.
    Offset(u64),
    /// An opaque cursor a previous page returned (Conversations API v3).
    Cursor(String),
}

impl Position {
    /// The offset, for an offset position.
    ///
    /// ```
    /// use polyai_data::paginate::Position;
    /// assert_eq!(Position::Offset(5).offset(), Some(5));
    /// assert_eq!(Position::Cursor("c".into()).offset(), None);
    /// ```
    pub fn offset(&self) -> Option<u64> {
        match self {
            Position::Offset(offset) => Some(*offset),
            Position::Cursor(_) => None,
        }
    }

    /// The cursor, for a cursor position.
    ///
    /// ```
    /// use polyai_data::paginate::Position;
    /// assert_eq!(Position::Cursor("c-1".into()).cursor(), Some("c-1"));
    /// assert_eq!(Position::Offset(5).cursor(), None);
    /// ```
    pub fn cursor(&self) -> Option<&str> {
        match self {
            Position::Cursor(cursor) => Some(cursor),
            Position::Offset(_) => None,
        }
    }
}

/// Why `cursor` cannot be one, if it cannot.
fn check_cursor(cursor: &str) -> Result<(), String> {
    if cursor.is_empty() {
        return Err("the cursor is empty; pass the `cursor` of a page unchanged".into());
    }
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(format!(
            "the cursor is {} bytes long, more than the {MAX_CURSOR_LEN} a cursor may have ({}); \
             pass the `cursor` of a page unchanged",
            cursor.len(),
            shown(cursor)
        ));
    }
    if cursor.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "the cursor {} holds white space or control characters, which no cursor has; pass \
             the `cursor` of a page unchanged",
            shown(cursor)
        ));
    }
    Ok(())
}

/// At most the first 40 characters of `text`, escaped and quoted, for an error message.
fn shown(text: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    format!("\"{out}\"")
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Offset(offset) => write!(f, "offset:{offset}"),
            Position::Cursor(cursor) => write!(f, "cursor:{cursor}"),
        }
    }
}

impl FromStr for Position {
    type Err = Error;

    /// `offset:N` or `cursor:TEXT` (the form is not case-sensitive).
    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |why: String| Error::InvalidRequest(format!("invalid position: {why}"));
        let Some((form, value)) = text.trim().split_once(':') else {
            return Err(invalid(format!(
                "{} is not `offset:N` or `cursor:TEXT`",
                shown(text)
            )));
        };
        match form.to_ascii_lowercase().as_str() {
            "offset" => value.parse().map(Position::Offset).map_err(|_| {
                invalid(format!(
                    "the offset {} is not a whole number from 0 to {}",
                    shown(value),
                    u64::MAX
                ))
            }),
            "cursor" => {
                check_cursor(value).map_err(invalid)?;
                Ok(Position::Cursor(value.to_owned()))
            }
            _ => Err(invalid(format!(
                "unknown form {} (in {}); a position is `offset:N` or `cursor:TEXT`",
                shown(form),
                shown(text)
            ))),
        }
    }
}

/// What a position reads: a map with exactly one key, `offset` (a whole number) or `cursor` (a
/// string checked as [`FromStr`] does).
impl<'de> serde::Deserialize<'de> for Position {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PositionVisitor)
    }
}

/// The keys of a position's map; any other is an error naming these.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Key {
    Offset,
    Cursor,
}

struct PositionVisitor;

impl<'de> serde::de::Visitor<'de> for PositionVisitor {
    type Value = Position;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a position: {\"offset\": N} or {\"cursor\": \"…\"}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Position, A::Error> {
        use serde::de::Error as _;
        let mut position = None;
        while let Some(key) = map.next_key::<Key>()? {
            if position.is_some() {
                return Err(A::Error::custom(
                    "a position has one `offset` or one `cursor`, not both or two: \
                     {\"offset\": N} or {\"cursor\": \"…\"}",
                ));
            }
            position = Some(match key {
                Key::Offset => Position::Offset(map.next_value()?),
                Key::Cursor => {
                    let cursor: String = map.next_value()?;
                    check_cursor(&cursor).map_err(A::Error::custom)?;
                    Position::Cursor(cursor)
                }
            });
        }
        position.ok_or_else(|| {
            A::Error::custom(
                "a position needs an `offset` or a `cursor`: {\"offset\": N} or {\"cursor\": \"…\"}",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn json(position: &Position) -> String {
        serde_json::to_string(position).unwrap_or_default()
    }

    #[test]
    fn the_forms_round_trip() {
        for position in [
            Position::Offset(0),
            Position::Offset(200),
            Position::Offset(u64::MAX),
            Position::Cursor("eyJuZXh0IjoxMDB9".into()),
            Position::Cursor("a:b:c".into()),
        ] {
            let text = position.to_string();
            assert_eq!(
                text.parse::<Position>().ok(),
                Some(position.clone()),
                "{text}"
            );
            let saved = json(&position);
            let read: Option<Position> = serde_json::from_str(&saved).ok();
            assert_eq!(read, Some(position), "{saved}");
        }
        assert_eq!(json(&Position::Offset(200)), r#"{"offset":200}"#);
        assert_eq!(json(&Position::Cursor("c".into())), r#"{"cursor":"c"}"#);
        assert_eq!(
            " OFFSET:7 ".parse::<Position>().ok(),
            Some(Position::Offset(7))
        );
    }

    #[test]
    fn hostile_text_is_refused_with_the_reason() {
        let long = format!("cursor:{}", "x".repeat(MAX_CURSOR_LEN + 1));
        for (text, why) in [
            ("", "not `offset:N`"),
            ("200", "not `offset:N`"),
            ("offset:", "not a whole number"),
            ("offset:-1", "not a whole number"),
            ("offset:1e3", "not a whole number"),
            ("offset:99999999999999999999999", "not a whole number"),
            ("page:3", "unknown form"),
            ("cursor:", "empty"),
            ("cursor:a b", "white space"),
            ("cursor:a\u{0}b", "control"),
            ("cursor:a\nb", "control"),
            (long.as_str(), "bytes long"),
        ] {
            let err = text.parse::<Position>().err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("invalid position") && e.contains(why)),
                "{text:?}: {err:?}"
            );
            assert!(err.is_some_and(|e| e.len() < 300 && !e.contains('\n')));
        }
    }

    #[test]
    fn hostile_json_is_refused_with_the_reason() {
        let long = format!(r#"{{"cursor":"{}"}}"#, "x".repeat(MAX_CURSOR_LEN + 1));
        for (text, why) in [
            (r#"{}"#, "needs an `offset` or a `cursor`"),
            (r#"{"offset":1,"cursor":"c"}"#, "not both"),
            (r#"{"offset":1,"offset":2}"#, "not both"),
            (r#"{"offset":-1}"#, "invalid value"),
            (r#"{"offset":"12"}"#, "invalid type"),
            (r#"{"offset":1.5}"#, "invalid type"),
            (r#"{"cursor":""}"#, "empty"),
            (r#"{"cursor":7}"#, "invalid type"),
            (r#"{"cursor":"a\u0000"}"#, "control"),
            (
                r#"{"page":3}"#,
                "unknown field `page`, expected `offset` or `cursor`",
            ),
            (r#""offset:3""#, "invalid type"),
            (r#"[1]"#, "invalid type: sequence, expected a position"),
            (r#"null"#, "invalid type"),
            (long.as_str(), "bytes long"),
        ] {
            let err = serde_json::from_str::<Position>(text)
                .err()
                .map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(why)),
                "{text}: {err:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any text parses or is refused, never panics; what parses prints back as itself.
        #[test]
        fn parsing_any_text_never_panics(text in any::<String>()) {
            if let Ok(position) = text.parse::<Position>() {
                prop_assert_eq!(position.to_string().parse::<Position>().ok(), Some(position));
            }
            let _ = serde_json::from_str::<Position>(&text);
        }

        /// Every valid cursor survives both forms.
        #[test]
        fn cursors_round_trip(cursor in "[!-~]{1,200}") {
            let position = Position::Cursor(cursor);
            prop_assert_eq!(position.to_string().parse::<Position>().ok(), Some(position.clone()));
            let saved = serde_json::to_string(&position).unwrap_or_default();
            prop_assert_eq!(serde_json::from_str::<Position>(&saved).ok(), Some(position));
        }
    }
}
