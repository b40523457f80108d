//! Everything `polyai` prints goes through this module: the only code allowed to touch stdout
//! and stderr (`clippy::print_stdout`, `print_stderr` and `disallowed_methods` deny it
//! elsewhere).
//!
//! - [`stdio`]: the stdout handle, notes and warnings on stderr that never panic, and the
//!   terminal's width;
//! - [`table`]: aligned columns that never wrap an id (the free-text column is cut instead);
//! - [`json`] and [`csv`]: the machine formats;
//! - [`text`]: the small formatters of the human views (times, durations, truncation).
//!
//! A closed pipe is not an error: a write to a stdout whose reader went away (`| head`) ends the
//! command quietly with success, and a closed stderr loses the message instead of panicking.

pub mod csv;
pub mod json;
pub mod stdio;
pub mod table;
pub mod text;

pub use self::csv::{parse_csv, write_csv_record};
pub use self::json::{write_json, write_json_line};
pub use self::stdio::{stdout, stdout_error, terminal_width};
pub use self::table::Table;
pub use self::text::{count, duration, or_dash, short_time, truncate, utc_time, yes_no};

/// Writes a line to stderr (a status note, a warning, an error). Never panics: a closed
/// stderr loses the line.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::stdio::note_line(format_args!($($arg)*))
    };
}
pub(crate) use note;

/// Creates the folder `dir` that the option `flag` names (and its parents), or fails naming
/// the path the user gave and what to do: a file in the way, a missing permission.
pub fn make_folder(flag: &str, dir: &std::path::Path) -> Result<(), crate::exit::CliError> {
    use crate::exit::CliError;
    if dir.is_file() {
        return Err(CliError::Usage(format!(
            "{flag} {} is a file, not a folder: name a folder (it is created if missing)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotADirectory => {
            CliError::Usage(format!(
                "{flag} {}: a part of this path is a file, not a folder: choose another path",
                dir.display()
            ))
        }
        _ => CliError::file("creating the folder", dir, e),
    })
}
