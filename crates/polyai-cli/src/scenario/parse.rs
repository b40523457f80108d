//! Scenario files: TOML read into [`Scenario`]s, every mistake reported with its file, line
//! and column.
//!
//! TOML rather than YAML: the `toml` crate is the one Cargo itself is built on, it is kept up
//! to date with the TOML 1.1 specification, and it gives the span of every value, so even a
//! mistake found after parsing (a bad regex, `must_pass` above `repeat`) points at its line and
//! column. TOML has no implicit typing either: `no`, `on` or `1.10` in a phrase to look for stay
//! text, where YAML would turn them into booleans or numbers.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use polyai_data::ClientEnv;
use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::model::{Expect, HandoffExpect, Location, Scenario, Turn};

/// Most runs a scenario may ask for.
pub const MAX_REPEAT: i64 = 100;
/// Longest time limit a scenario may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// A mistake in a scenario file: where it is and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line and column (in characters), when the mistake has a place.
    pub position: Option<(usize, usize)>,
    /// What is wrong, one line.
    pub message: String,
    /// The offending source line with a marker under the mistake.
    pub excerpt: Option<String>,
}

impl FileError {
    /// An error about the file as a whole (unreadable, empty).
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        FileError {
            file: file.to_owned(),
            position: None,
            message: message.into(),
            excerpt: None,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The text of one file, for turning byte spans into positions.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> FileError {
        let message = message
            .into()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let Some(span) = span else {
            return FileError::whole(self.file, message);
        };
        let mut start = span.start.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = self.text[..start].matches('\n').count() + 1;
        let prefix = &self.text[line_start..start];
        let column = prefix.chars().count() + 1;
        let source_line = self.text[line_start..line_end].trim_end_matches('\r');
        let marked = self
            .text
            .get(start..span.end.clamp(start, line_end))
            .map_or(1, |s| s.chars().count().max(1));
        let indent: String = prefix
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let gutter = " ".repeat(line.to_string().len());
        FileError {
            file: self.file.to_owned(),
            position: Some((line, column)),
            message,
            excerpt: Some(format!(
                "{line} | {source_line}\n{gutter} | {indent}{}",
                "^".repeat(marked)
            )),
        }
    }

    fn at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> FileError {
        self.error(Some(value.span()), message)
    }

    fn location<T>(&self, value: &Spanned<T>) -> Location {
        let (line, column) = self
            .error(Some(value.span()), "")
            .position
            .unwrap_or((1, 1));
        Location {
            file: self.file.to_owned(),
            line,
            column,
        }
    }
}

/// Parses one scenario file. `file` is how errors name it.
///
/// Returns every scenario, or every mistake found (a TOML syntax error stops at the first).
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Scenario>, Vec<FileError>> {
    let src = Source { file, text };
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![src.error(e.span(), e.message())])?;
    let mut errors = Vec::new();
    let defaults = raw
        .defaults
        .map(|d| settings(&src, d, &mut errors))
        .unwrap_or_default();
    if raw.scenario.is_empty() {
        errors.push(FileError::whole(
            file,
            "no scenario in this file: add a [[scenario]] table with a name and [[scenario.turn]]s",
        ));
    }
    let scenarios = raw
        .scenario
        .into_iter()
        .filter_map(|s| scenario(&src, s, &defaults, &mut errors))
        .collect();
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawSettings>,
    #[serde(default)]
    scenario: Vec<RawScenario>,
}

/// The settings a file's `[defaults]` and each scenario may give.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    agent: Option<Spanned<String>>,
    variant: Option<Spanned<String>>,
    environment: Option<Spanned<String>>,
    language: Option<Spanned<String>>,
    timeout: Option<Spanned<Loose>>,
    attributes: Option<Spanned<serde_json::Map<String, serde_json::Value>>>,
}

/// A `[[scenario]]`. Its settings repeat [`RawSettings`]'s fields rather than `flatten` them:
/// serde's `flatten` would lose both the spans and the unknown-key check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    agent: Option<Spanned<String>>,
    variant: Option<Spanned<String>>,
    environment: Option<Spanned<String>>,
    language: Option<Spanned<String>>,
    timeout: Option<Spanned<Loose>>,
    attributes: Option<Spanned<serde_json::Map<String, serde_json::Value>>>,
    repeat: Option<Spanned<i64>>,
    must_pass: Option<Spanned<i64>>,
    greeting: Option<Spanned<RawStep>>,
    #[serde(default)]
    turn: Vec<Spanned<RawStep>>,
}

/// A `[[scenario.turn]]` or the `[scenario.greeting]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    user: Option<Spanned<String>>,
    contains: Option<Spanned<Loose>>,
    not_contains: Option<Spanned<Loose>>,
    regex: Option<Spanned<Loose>>,
    function: Option<Spanned<Loose>>,
    not_function: Option<Spanned<Loose>>,
    handoff: Option<Spanned<Loose>>,
    ended: Option<Spanned<bool>>,
}

/// Settings after checking.
#[derive(Debug, Default)]
struct Settings {
    agent: Option<String>,
    variant: Option<String>,
    environment: Option<ClientEnv>,
    language: Option<String>,
    timeout: Option<Duration>,
    attributes: serde_json::Map<String, serde_json::Value>,
}

fn settings(src: &Source<'_>, raw: RawSettings, errors: &mut Vec<FileError>) -> Settings {
    let mut text = |value: Option<Spanned<String>>, key: &str| {
        let value = value?;
        let trimmed = value.get_ref().trim();
        if trimmed.is_empty() || trimmed.contains(char::is_control) {
            errors.push(src.at(
                &value,
                format!("`{key}` must be non-empty text on one line"),
            ));
            return None;
        }
        Some(trimmed.to_owned())
    };
    let agent = text(raw.agent, "agent");
    let variant = text(raw.variant, "variant");
    let language = text(raw.language, "language");
    let environment = raw
        .environment
        .and_then(|e| match e.get_ref().parse::<ClientEnv>() {
            Ok(env) => Some(env),
            Err(_) => {
                errors.push(src.at(
                    &e,
                    format!(
                        "unknown environment {:?}: use \"sandbox\", \"pre-release\" or \"live\"",
                        e.get_ref()
                    ),
                ));
                None
            }
        });
    let timeout = raw.timeout.and_then(|t| match parse_timeout(t.get_ref()) {
        Ok(d) => Some(d),
        Err(message) => {
            errors.push(src.at(&t, message));
            None
        }
    });
    let attributes = match raw.attributes {
        Some(a) if a.get_ref().values().any(has_datetime) => {
            errors.push(src.at(
                &a,
                "attributes cannot hold TOML dates or times; quote them as text",
            ));
            serde_json::Map::new()
        }
        Some(a) => a.into_inner(),
        None => serde_json::Map::new(),
    };
    Settings {
        agent,
        variant,
        environment,
        language,
        timeout,
        attributes,
    }
}

/// Whether a value holds a TOML date-time (which has no JSON form).
fn has_datetime(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with("$__toml_private") || has_datetime(v)),
        serde_json::Value::Array(items) => items.iter().any(has_datetime),
        _ => false,
    }
}

fn scenario(
    src: &Source<'_>,
    raw: RawScenario,
    defaults: &Settings,
    errors: &mut Vec<FileError>,
) -> Option<Scenario> {
    let before = errors.len();
    let name = raw.name.get_ref().trim().to_owned();
    if name.is_empty() || name.contains(char::is_control) {
        errors.push(src.at(&raw.name, "`name` must be non-empty text on one line"));
    }
    let own = settings(
        src,
        RawSettings {
            agent: raw.agent,
            variant: raw.variant,
            environment: raw.environment,
            language: raw.language,
            timeout: raw.timeout,
            attributes: raw.attributes,
        },
        errors,
    );
    let count = |value: &Option<Spanned<i64>>, key: &str, max: i64| match value {
        Some(v) if !(1..=max).contains(v.get_ref()) => {
            Err(src.at(v, format!("`{key}` must be a whole number from 1 to {max}")))
        }
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    };
    let repeat = count(&raw.repeat, "repeat", MAX_REPEAT)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten()
        .unwrap_or(1);
    let must_pass = match count(&raw.must_pass, "must_pass", MAX_REPEAT) {
        Ok(Some(n)) if n > repeat => {
            if let Some(v) = &raw.must_pass {
                errors.push(src.at(
                    v,
                    format!(
                        "`must_pass` ({n}) is more than the runs asked for with `repeat` ({repeat})"
                    ),
                ));
            }
            repeat
        }
        Ok(n) => n.unwrap_or(repeat),
        Err(e) => {
            errors.push(e);
            repeat
        }
    };
    let greeting = match raw.greeting {
        Some(g) => {
            if let Some(user) = &g.get_ref().user {
                errors.push(src.at(
                    user,
                    "the greeting answers no user message: move `user` into a [[scenario.turn]]",
                ));
            }
            expect(src, g.into_inner(), errors)
        }
        None => Expect::default(),
    };
    let last = raw.turn.len().saturating_sub(1);
    let mut turns = Vec::with_capacity(raw.turn.len());
    for (i, step) in raw.turn.into_iter().enumerate() {
        let user = match &step.get_ref().user {
            Some(user) => user.get_ref().clone(),
            None => {
                errors.push(src.at(
                    &step,
                    "this turn has no `user` message: add `user = \"…\"` (\"\" sends silence)",
                ));
                String::new()
            }
        };
        if i < last
            && let Some(ended) = &step.get_ref().ended
            && *ended.get_ref()
        {
            errors.push(src.at(
                ended,
                format!(
                    "`ended = true` on turn {} of {}: no turn can follow the end of the conversation",
                    i + 1,
                    last + 1
                ),
            ));
        }
        turns.push(Turn {
            user,
            expect: expect(src, step.into_inner(), errors),
        });
    }
    if turns.is_empty() && greeting.is_empty() {
        errors.push(src.at(
            &raw.name,
            "this scenario checks nothing: add [[scenario.turn]]s or expectations under [scenario.greeting]",
        ));
    }
    if errors.len() > before {
        return None;
    }
    let mut attributes = defaults.attributes.clone();
    attributes.extend(own.attributes);
    Some(Scenario {
        name,
        location: src.location(&raw.name),
        agent: own.agent.or_else(|| defaults.agent.clone()),
        variant: own.variant.or_else(|| defaults.variant.clone()),
        environment: own.environment.or(defaults.environment),
        language: own.language.or_else(|| defaults.language.clone()),
        attributes,
        timeout: own.timeout.or(defaults.timeout),
        repeat: u32::try_from(repeat).unwrap_or(1),
        must_pass: u32::try_from(must_pass).unwrap_or(1),
        greeting,
        turns,
    })
}

fn expect(src: &Source<'_>, raw: RawStep, errors: &mut Vec<FileError>) -> Expect {
    let mut texts = |value: Option<Spanned<Loose>>, key: &str| -> Vec<String> {
        let Some(value) = value else {
            return Vec::new();
        };
        let items = match value.get_ref() {
            Loose::Text(text) => vec![text.clone()],
            Loose::Texts(items) if items.is_empty() => {
                errors.push(src.at(
                    &value,
                    format!(
                        "an empty `{key}` list checks nothing: name at least one, or remove it"
                    ),
                ));
                return Vec::new();
            }
            Loose::Texts(items) => items.clone(),
            _ => {
                errors.push(src.at(&value, format!("`{key}` must be text or an array of text")));
                return Vec::new();
            }
        };
        if items.iter().any(|s| s.trim().is_empty()) {
            errors.push(src.at(
                &value,
                format!("empty text in `{key}` would match every reply"),
            ));
        }
        items
    };
    let contains = texts(raw.contains, "contains");
    let not_contains = texts(raw.not_contains, "not_contains");
    let function = texts(raw.function, "function");
    let not_function = texts(raw.not_function, "not_function");
    let regex_span = raw.regex.as_ref().map(Spanned::span);
    let regex = texts(raw.regex, "regex")
        .iter()
        .filter_map(|p| match Regex::new(p) {
            Ok(re) => Some(re),
            Err(e) => {
                errors.push(src.error(
                    regex_span.clone(),
                    format!("invalid regex {p:?}: {}", regex_reason(&e)),
                ));
                None
            }
        })
        .collect();
    let handoff = raw.handoff.and_then(|h| match h.get_ref() {
        Loose::Bool(true) => Some(HandoffExpect::Any),
        Loose::Bool(false) => Some(HandoffExpect::No),
        Loose::Text(to) if !to.trim().is_empty() => Some(HandoffExpect::To(to.trim().to_owned())),
        _ => {
            errors.push(src.at(
                &h,
                "`handoff` must be true (any handoff), false (none) or a destination",
            ));
            None
        }
    });
    Expect {
        contains,
        not_contains,
        regex,
        function,
        not_function,
        handoff,
        ended: raw.ended.map(Spanned::into_inner),
    }
}

/// The one line of a regex error that says what is wrong.
fn regex_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.trim())
        .to_owned()
}

/// A value of one of the kinds that several keys accept (`contains = "x"` or `["x", "y"]`,
/// `handoff = true` or `"Front Desk"`, `timeout = 30` or `"30s"`); each key then checks that
/// it got a kind it takes, and says so at the value's position.
#[derive(Debug)]
enum Loose {
    Bool(bool),
    Number(f64),
    Text(String),
    Texts(Vec<String>),
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, a number, text or an array of text")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose, E> {
                Ok(Loose::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
                Ok(Loose::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose, E> {
                Ok(Loose::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Text(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(Loose::Texts(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `timeout = 30` (seconds) or `timeout = "1m30s"`.
fn parse_timeout(value: &Loose) -> Result<Duration, String> {
    let duration = match value {
        Loose::Number(s) => seconds(*s),
        Loose::Text(t) => parse_duration(t),
        _ => Err(
            "`timeout` must be seconds, or text such as \"90s\", \"2m\" or \"500ms\"".to_owned(),
        ),
    }?;
    if duration.is_zero() || duration > MAX_TIMEOUT {
        return Err(format!(
            "`timeout` must be more than 0 and at most {}s",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(duration)
}

fn seconds(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| format!("`timeout` of {s} seconds is not a duration"))
}

/// `500ms`, `90s`, `2m`, `1h`, `1m30s`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{text:?} is not a duration: write e.g. \"90s\", \"2m\", \"1m30s\" or \"500ms\"")
    };
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return seconds(secs).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += seconds(value * scale).map_err(|_| bad())?;
        rest = tail.trim_start();
    }
    if text.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Scenario>, Vec<FileError>> {
        parse_file("s.toml", text)
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(s) => panic!("parsed {} scenarios", s.len()),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_full_scenario_with_defaults() {
        let scenarios = parse(
            r#"
[defaults]
environment = "pre-release"
language = "en-GB"
timeout = "1m30s"
attributes = { tier = "gold", retries = 2 }

[[scenario]]
name = "Password reset"
variant = "Main Line"
attributes = { tier = "silver" }
repeat = 5
must_pass = 4

[scenario.greeting]
contains = "How can I help"

[[scenario.turn]]
user = "I forgot my password"
contains = ["reset", "link"]
not_contains = "sorry"
regex = '(?i)reset (link|code)'
function = "send_reset_link"
not_function = ["transfer_call"]
handoff = false
ended = false

[[scenario.turn]]
user = ""

[[scenario]]
name = "Handoff"
environment = "live"
timeout = 20
[[scenario.turn]]
user = "a person please"
handoff = "Front Desk"
ended = true
"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(scenarios.len(), 2);
        let s = &scenarios[0];
        assert_eq!(s.name, "Password reset");
        assert_eq!(s.location.line, 9);
        assert_eq!(s.environment, Some(ClientEnv::PreRelease));
        assert_eq!(s.language.as_deref(), Some("en-GB"));
        assert_eq!(s.variant.as_deref(), Some("Main Line"));
        assert_eq!(s.timeout, Some(Duration::from_secs(90)));
        assert_eq!(s.attributes["tier"], "silver");
        assert_eq!(s.attributes["retries"], 2);
        assert_eq!((s.repeat, s.must_pass), (5, 4));
        assert_eq!(s.greeting.contains, ["How can I help"]);
        let t = &s.turns[0].expect;
        assert_eq!(t.contains, ["reset", "link"]);
        assert_eq!(t.not_contains, ["sorry"]);
        assert_eq!(t.regex[0].as_str(), "(?i)reset (link|code)");
        assert_eq!(t.function, ["send_reset_link"]);
        assert_eq!(t.not_function, ["transfer_call"]);
        assert_eq!(t.handoff, Some(HandoffExpect::No));
        assert_eq!(t.ended, Some(false));
        assert_eq!(s.turns[1].user, "");
        assert!(s.turns[1].expect.is_empty());
        let h = &scenarios[1];
        assert_eq!(h.environment, Some(ClientEnv::Live));
        assert_eq!(h.timeout, Some(Duration::from_secs(20)));
        assert_eq!((h.repeat, h.must_pass), (1, 1));
        assert_eq!(
            h.turns[0].expect.handoff,
            Some(HandoffExpect::To("Front Desk".into()))
        );
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = errors("[[scenario]]\nname = \"a\"\n[[scenario.turn]]\nuser = \"hi\nx = 1\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("s.toml:4:11: invalid basic string"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_point_at_the_value() {
        let text =
            "[[scenario]]\nname = \"a\"\n\n[[scenario.turn]]\nuser = \"hi\"\ncontain = \"x\"\n";
        let e = errors(text);
        assert!(
            e[0].starts_with("s.toml:6:1: unknown field `contain`"),
            "{e:?}"
        );
        let e = errors(
            "[[scenario]]\nname = \"a\"\n[[scenario.turn]]\nuser = \"hi\"\nended = \"yes\"\n",
        );
        assert!(e[0].starts_with("s.toml:5:9: "), "{e:?}");
        let e =
            errors("[[scenario]]\nname = \"a\"\n[[scenario.turn]]\nuser = \"hi\"\ncontains = 3\n");
        assert!(
            e[0].starts_with("s.toml:5:12: `contains` must be text or an array of text"),
            "{e:?}"
        );
    }

    #[test]
    fn semantic_errors_are_all_reported_with_their_place() {
        let text = r#"[[scenario]]
name = "a"
environment = "staging"
repeat = 2
must_pass = 3
timeout = "soon"
[scenario.greeting]
user = "hello"
[[scenario.turn]]
user = "x"
regex = ["ok", "(unclosed"]
ended = true
[[scenario.turn]]
contains = ""
not_function = []
handoff = ""
"#;
        let e = errors(text);
        let want = [
            "s.toml:3:15: unknown environment \"staging\"",
            "s.toml:6:11: \"soon\" is not a duration",
            "s.toml:5:13: `must_pass` (3) is more than the runs asked for with `repeat` (2)",
            "s.toml:8:8: the greeting answers no user message",
            "s.toml:12:9: `ended = true` on turn 1 of 2",
            "s.toml:11:9: invalid regex \"(unclosed\": unclosed group",
            "s.toml:13:1: this turn has no `user` message",
            "s.toml:14:12: empty text in `contains`",
            "s.toml:15:16: an empty `not_function` list checks nothing",
            "s.toml:16:11: `handoff` must be true (any handoff), false (none) or a destination",
        ];
        assert_eq!(e.len(), want.len(), "{e:#?}");
        for w in want {
            assert!(
                e.iter().any(|e| e.starts_with(w)),
                "missing {w:?} in {e:#?}"
            );
        }
    }

    #[test]
    fn excerpt_marks_the_value() {
        let err =
            &parse("[[scenario]]\nname = \"a\"\nrepeat = 0\n[[scenario.turn]]\nuser = \"x\"\n")
                .expect_err("repeat 0")[0];
        assert_eq!(err.position, Some((3, 10)));
        assert_eq!(
            err.excerpt.as_deref(),
            Some("3 | repeat = 0\n  |          ^")
        );
    }

    #[test]
    fn empty_files_and_scenarios_that_check_nothing_are_errors() {
        assert!(errors("# nothing\n")[0].contains("no scenario in this file"));
        let e = errors("[[scenario]]\nname = \"idle\"\n");
        assert!(
            e[0].starts_with("s.toml:2:8: this scenario checks nothing"),
            "{e:?}"
        );
        let e = errors("[[scenario]]\nname = \" \"\n[[scenario.turn]]\nuser = \"x\"\n");
        assert!(e[0].contains("`name` must be non-empty"), "{e:?}");
        let e = errors("[[scenario]]\n[[scenario.turn]]\nuser = \"x\"\n");
        assert!(e[0].contains("missing field `name`"), "{e:?}");
    }

    #[test]
    fn dates_cannot_be_attributes() {
        let e = errors(
            "[[scenario]]\nname = \"a\"\nattributes = { born = 1979-05-27 }\n[[scenario.turn]]\nuser = \"x\"\n",
        );
        assert!(e[0].contains("cannot hold TOML dates"), "{e:?}");
    }

    #[test]
    fn durations() {
        let ok = [
            ("90s", 90_000),
            ("2m", 120_000),
            ("1m30s", 90_000),
            ("500ms", 500),
            ("1h", 3_600_000),
            ("2.5", 2_500),
            ("1.5s", 1_500),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis()),
                Ok(ms),
                "{text}"
            );
        }
        for bad in ["", "s", "10x", "1m30", "-1s", "ten seconds", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
