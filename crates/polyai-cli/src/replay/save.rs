//! `--save-scenarios DIR`: each replayed conversation as a `chat test` scenario file, so a real
//! call becomes a checked-in regression test.
//!
//! A file holds one scenario named after the conversation: its caller turns as they were sent,
//! each with the expectations that held in the replay — those on which the original and the
//! replayed turn agreed:
//!
//! - `function`: the functions both called (nothing when neither called one);
//! - `handoff`: `false` when neither handed off, the destination (or `true`) when both did;
//! - `ended`: `false` where both went on; `true` at the original's last turn when the replay
//!   ended there too;
//! - `contains`: up to three distinctive words of the reply (the longest words of four or more
//!   letters that are not common words, found in both replies), only when the replies had the
//!   same words; when they were merely similar, text is not checked, since a `contains` there
//!   would test wording the agent is free to change.
//!
//! Only the turns the replay sent are written (a replay the agent ended early stops there).
//! The scenario pins the language of the replay and the `--attribute`s; the variant only with
//! `--own-variant` (otherwise it is the one `chat test --variant` names, so the same suite
//! checks each candidate). A replay that could not be run, or was skipped, writes nothing.
//! Files are named by `polyai_data::file_name_for_id` (`CA….toml`) and replaced when they exist.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::compare::Side;
use super::run::{ReplayResult, Status, TurnComparison};
use super::similarity::words;
use crate::exit::CliError;

/// Words never chosen as distinctive.
const COMMON: &[&str] = &[
    "about", "after", "again", "also", "hello", "thanks", "thank", "sorry", "problem", "okay",
    "sure", "been", "before", "being", "can't", "could", "does", "doing", "don't", "from", "have",
    "here", "into", "just", "like", "more", "most", "much", "need", "only", "other", "over",
    "please", "should", "some", "than", "that", "their", "them", "then", "there", "these", "they",
    "this", "those", "very", "want", "what", "when", "where", "which", "while", "will", "with",
    "would", "your", "you're", "yours",
];

/// How the replay ran, for the file's header and settings.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Environment of the sessions.
    pub environment: &'a str,
    /// Whether each conversation ran against its own variant (then pinned in the file).
    pub own_variant: bool,
    /// The `--attribute`s sent.
    pub attributes: &'a [(String, String)],
    /// When the run started (RFC 3339).
    pub started_at: &'a str,
}

/// Creates `dir` (and checks it is a directory) before any replay runs.
pub fn prepare(dir: &Path) -> Result<(), CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "--save-scenarios {} is a file: name a directory (it is created if missing)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::file("creating", dir, e))
}

/// Writes the scenario of every replayed conversation of `results` into `dir`; the files
/// written, in order.
pub fn write_all(
    dir: &Path,
    results: &[ReplayResult],
    context: &Context<'_>,
) -> Result<Vec<PathBuf>, CliError> {
    let mut written = Vec::new();
    for r in results {
        let Some(text) = scenario(r, context) else {
            continue;
        };
        let path = dir.join(polyai_data::file_name_for_id(&r.conversation_id, "toml"));
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            polyai_data::file_name_for_id(&r.conversation_id, "toml"),
            std::process::id()
        ));
        std::fs::write(&temp, text).map_err(|e| CliError::file("writing", &temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            CliError::file("writing", &path, e)
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The scenario file of `r`, or `None` when it was not replayed (errored, skipped) or nothing
/// held that a scenario could check.
pub fn scenario(r: &ReplayResult, context: &Context<'_>) -> Option<String> {
    if !matches!(r.status, Status::Clean | Status::Diverged) || r.turns.is_empty() {
        return None;
    }
    let last_original = r
        .conversation
        .as_ref()
        .and_then(|c| c.turns.as_ref())
        .and_then(|t| t.iter().map(|t| t.turn_index).max());
    let mut greeting = None;
    let mut turns = Vec::new();
    for turn in &r.turns {
        let is_last = Some(turn.turn_index) == last_original;
        let keys = held(turn, is_last);
        match &turn.user_input {
            None => greeting = Some(keys),
            Some(user) => turns.push((user.clone(), keys)),
        }
    }
    if turns.is_empty() && greeting.as_ref().is_none_or(Vec::is_empty) {
        return None;
    }
    let mut text = String::new();
    let variant = match (&r.variant, context.own_variant) {
        (Some(v), _) => format!("variant {}", quote(v)),
        (None, _) => "the default variant".to_owned(),
    };
    let recorded = r
        .conversation
        .as_ref()
        .and_then(|c| c.started_at)
        .map(|t| format!(" (recorded {t})"))
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "# Conversation {}{recorded}, replayed by `polyai chat replay`",
        one_line(&r.conversation_id),
    );
    let _ = writeln!(
        text,
        "# on {} against {variant} in {}: {}. Its caller turns, each with the",
        context.started_at,
        context.environment,
        r.status.as_str()
    );
    let _ = writeln!(text, "# expectations that held in the replay.");
    let run = match (&r.variant, context.own_variant) {
        (Some(v), false) => format!(" --variant {}", quote(v)),
        _ => String::new(),
    };
    let _ = writeln!(
        text,
        "# Check it with: polyai chat test FILE --env {}{run}\n",
        context.environment
    );
    let _ = writeln!(text, "[[scenario]]");
    let first_request = turns
        .iter()
        .map(|(user, _)| user.as_str())
        .find(|u| !u.trim().is_empty())
        .map(|u| format!(": {}", crate::output::truncate(u.trim(), 60)))
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "name = {}",
        quote(&format!(
            "Replay of {}{first_request}",
            one_line(&r.conversation_id)
        ))
    );
    if context.own_variant
        && let Some(v) = &r.variant
    {
        let _ = writeln!(text, "variant = {}", quote(v));
    }
    if let Some(language) = &r.language {
        let _ = writeln!(text, "language = {}", quote(language));
    }
    if !context.attributes.is_empty() {
        let pairs: Vec<String> = context
            .attributes
            .iter()
            .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
            .collect();
        let _ = writeln!(text, "attributes = {{ {} }}", pairs.join(", "));
    }
    if let Some(keys) = greeting.filter(|k| !k.is_empty()) {
        let _ = writeln!(text, "\n[scenario.greeting]");
        for line in keys {
            let _ = writeln!(text, "{line}");
        }
    }
    for (user, keys) in turns {
        let _ = writeln!(text, "\n[[scenario.turn]]");
        let _ = writeln!(text, "user = {}", quote(&user));
        for line in keys {
            let _ = writeln!(text, "{line}");
        }
    }
    Some(text)
}

/// The `key = value` lines of the expectations that held in `turn`.
fn held(turn: &TurnComparison, is_last: bool) -> Vec<String> {
    let (was, now) = (&turn.original, &turn.replayed);
    let mut keys = Vec::new();
    if turn.similarity == Some(1.0)
        && let (Some(a), Some(b)) = (&was.agent_response, &now.agent_response)
    {
        let distinct = distinctive(a, b);
        if !distinct.is_empty() {
            keys.push(format!("contains = {}", list(&distinct)));
        }
    }
    if let (Some(a), Some(b)) = (&was.functions, &now.functions) {
        let both: Vec<String> = a.iter().filter(|f| b.contains(f)).cloned().collect();
        let mut unique = Vec::new();
        for f in both {
            if !unique.contains(&f) {
                unique.push(f);
            }
        }
        if !unique.is_empty() {
            keys.push(format!("function = {}", list(&unique)));
        }
    }
    if let Some(line) = handoff(was, now) {
        keys.push(line);
    }
    match (was.ended, now.ended) {
        (Some(false), Some(false)) => keys.push("ended = false".to_owned()),
        (None, Some(true)) if is_last => keys.push("ended = true".to_owned()),
        _ => {}
    }
    keys
}

fn handoff(was: &Side, now: &Side) -> Option<String> {
    match (was.handoff?, now.handoff?) {
        (false, false) => Some("handoff = false".to_owned()),
        (true, true) => match (&was.handoff_destination, &now.handoff_destination) {
            (Some(a), Some(b)) if a.trim().eq_ignore_ascii_case(b.trim()) => {
                Some(format!("handoff = {}", quote(b.trim())))
            }
            (None, _) => Some("handoff = true".to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// Up to three words of `b` (as written there) that also appear in `a`: the longest of four
/// or more letters or digits that are not common words, in the order `b` says them.
fn distinctive(a: &str, b: &str) -> Vec<String> {
    let in_a: Vec<String> = words(a);
    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (position, raw) in b.split_whitespace().enumerate() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let lower = word.to_lowercase();
        if word.chars().count() < 4
            || !word.chars().all(char::is_alphanumeric)
            || COMMON.contains(&lower.as_str())
            || !in_a.contains(&lower)
            || candidates.iter().any(|(_, w)| w.to_lowercase() == lower)
        {
            continue;
        }
        candidates.push((position, word.to_owned()));
    }
    candidates.sort_by(|x, y| {
        y.1.chars()
            .count()
            .cmp(&x.1.chars().count())
            .then(x.0.cmp(&y.0))
    });
    candidates.truncate(3);
    candidates.sort_by_key(|(position, _)| *position);
    candidates.into_iter().map(|(_, w)| w).collect()
}

fn list(items: &[String]) -> String {
    match items {
        [one] => quote(one),
        _ => format!(
            "[{}]",
            items
                .iter()
                .map(|i| quote(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `text` as a TOML basic string: quotes, backslashes and control characters escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An id for a comment line: control characters (a line break would end the comment) shown
/// as `?`.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse::parse_file;

    #[test]
    fn quoting_round_trips_through_the_scenario_parser() {
        let nasty = "say \"hi\" \\ then\ttab\nnewline \u{1} \u{7f} 🎧 'single'";
        let text = format!(
            "[[scenario]]\nname = {}\n[[scenario.turn]]\nuser = {}\ncontains = {}\n",
            quote("n"),
            quote(nasty),
            list(&["a\"b".to_owned(), "c".to_owned()])
        );
        let parsed = parse_file("t.toml", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert_eq!(parsed[0].turns[0].user, nasty);
        assert_eq!(parsed[0].turns[0].expect.contains, ["a\"b", "c"]);
    }

    #[test]
    fn distinctive_words_are_long_uncommon_and_in_both_replies() {
        let reply = "No problem. I've sent a reset link to the email address on your account; it expires in 30 minutes.";
        assert_eq!(distinctive(reply, reply), ["address", "account", "expires"]);
        assert_eq!(
            distinctive(
                "Hello, thanks for calling Acme Telecom.",
                "hello THANKS for calling acme telecom!"
            ),
            ["calling", "acme", "telecom"]
        );
        assert!(distinctive("Are you still there?", "Goodbye!").is_empty());
    }
}
