//! The one error type of the generation pipeline: what went wrong, and where in the document.

use std::fmt;

/// A problem with the spec, the corrections or the generator, located by a JSON pointer into the
/// document being processed (empty when the problem is not tied to one place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// Which document the pointer refers to (e.g. `openapi/polyai-data.json`).
    pub document: String,
    /// RFC 6901 JSON pointer to the offending value, e.g. `/components/schemas/Turn/prefixItems`.
    pub pointer: String,
    /// What is wrong and what to do about it.
    pub reason: String,
}

impl SpecError {
    /// Creates an error at `pointer` in `document`.
    pub fn new(document: &str, pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError {
            document: document.to_owned(),
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}: {}", self.document, self.reason)
        } else {
            write!(f, "{} at {}: {}", self.document, self.pointer, self.reason)
        }
    }
}

impl std::error::Error for SpecError {}

/// Appends one reference token to a JSON pointer, escaping `~` and `/` as RFC 6901 requires.
pub fn push(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}
