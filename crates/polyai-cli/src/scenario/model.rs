//! What a scenario is once its file has been read and checked.

use std::fmt;
use std::time::Duration;

use polyai_data::ClientEnv;
use regex::Regex;

/// Where something was written: a file, a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (or as found under a named directory).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One scripted conversation and what each agent reply must look like.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Unique within the suite.
    pub name: String,
    /// Where its `name` is written.
    pub location: Location,
    /// Agent id; the command line's `--agent` when absent.
    pub agent: Option<String>,
    /// Agent variant; the command line's `--variant` when absent.
    pub variant: Option<String>,
    /// Environment; the command line's `--env` when absent.
    pub environment: Option<ClientEnv>,
    /// Input and output language; the command line's `--lang` when absent.
    pub language: Option<String>,
    /// Integration attributes the agent's functions can read.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Time limit of one run; the command line's `--timeout` when absent.
    pub timeout: Option<Duration>,
    /// Sessions to run (1 unless `repeat` is set).
    pub repeat: u32,
    /// Runs that must pass for the scenario to pass (all of them unless `must_pass` is set).
    pub must_pass: u32,
    /// Expectations on the greeting.
    pub greeting: Expect,
    /// The user turns, in order.
    pub turns: Vec<Turn>,
}

/// One user message and the expectations on the reply to it.
#[derive(Debug, Clone)]
pub struct Turn {
    /// What the user says (may be empty: silence).
    pub user: String,
    /// What the reply must look like.
    pub expect: Expect,
}

/// Expectations on one agent reply. Empty lists and `None` check nothing.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Each must appear in the reply text (ignoring case).
    pub contains: Vec<String>,
    /// None may appear in the reply text (ignoring case).
    pub not_contains: Vec<String>,
    /// Each must match the reply text.
    pub regex: Vec<Regex>,
    /// Each must be called in this turn (by name or function id).
    pub function: Vec<String>,
    /// None may be called in this turn.
    pub not_function: Vec<String>,
    /// Whether (and where) the turn hands off.
    pub handoff: Option<HandoffExpect>,
    /// Whether the agent ends the conversation with this reply.
    pub ended: Option<bool>,
}

impl Expect {
    /// Whether nothing is checked.
    pub fn is_empty(&self) -> bool {
        self.contains.is_empty()
            && self.not_contains.is_empty()
            && self.regex.is_empty()
            && self.function.is_empty()
            && self.not_function.is_empty()
            && self.handoff.is_none()
            && self.ended.is_none()
    }
}

/// `handoff = true | false | "Destination"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffExpect {
    /// A handoff to anywhere.
    Any,
    /// No handoff.
    No,
    /// A handoff to this destination (ignoring case).
    To(String),
}
