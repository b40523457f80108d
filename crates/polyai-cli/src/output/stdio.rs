//! The process's stdout and stderr, and the terminal behind them.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};

use crate::exit::CliError;

/// The locked stdout that command output is written to. Map its errors with
/// [`stdout_error`]: a closed pipe then ends the command quietly with success.
pub fn stdout() -> io::StdoutLock<'static> {
    io::stdout().lock()
}

/// A failed write to stdout, as a [`CliError`] (a broken pipe is turned into a quiet success
/// by `main`).
pub fn stdout_error(err: io::Error) -> CliError {
    CliError::file("writing", "<stdout>", err)
}

/// Writes one line to stderr; a closed or full stderr loses it (never a panic).
pub fn note_line(args: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.write_all(b"\n");
}

/// Writes `prompt` to stderr without a newline (the chat REPL's `you> `).
pub fn prompt(prompt: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
}

/// The unlocked stderr, for writers that take it (logs; the summary of `audio -o -`, whose
/// stdout holds the recording). Its errors are the caller's to ignore.
pub fn stderr() -> io::Stderr {
    io::stderr()
}

/// Stdout for async copies of binary data (`audio -o -`).
pub fn async_stdout() -> tokio::io::Stdout {
    tokio::io::stdout()
}

/// Whether stdout is a terminal.
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// The width a line of a side-by-side view should fit in: the terminal's when stdout is one,
/// else `COLUMNS` when it is set to a number (as shells export it), else none.
pub fn terminal_width() -> Option<usize> {
    stdout_width().or_else(columns)
}

/// `COLUMNS`, when it is set to a number above 0.
fn columns() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
}

/// The width tables fit in: the terminal's when stdout is one and reports a usable width;
/// `None` (never cut) when stdout is a pipe or a file, or the terminal reports a width of 0.
/// `COLUMNS` set to a number overrides what a terminal reports, as in most tools. Unit tests
/// render as piped output, whatever runs them.
pub fn stdout_width() -> Option<usize> {
    if cfg!(test) || !io::stdout().is_terminal() {
        return None;
    }
    let reported = console::Term::stdout()
        .size_checked()
        .map(|(_, cols)| usize::from(cols))
        .filter(|&w| w > 0);
    columns().or(reported)
}
