//! `SHA256SUMS`: the hash of every file of an archive in the format of GNU coreutils'
//! `sha256sum`, so `sha256sum -c SHA256SUMS` (run in the archive's folder) checks it without
//! this program.
//!
//! One line per file: 64 lowercase hex digits, two spaces (text mode; there is no difference
//! on the systems that matter), the path relative to the folder with `/` separators. A path
//! holding a backslash or a line break is written as coreutils does: the line starts with `\`
//! and the path has `\\` and `\n` in their place.

use std::fmt::Write as _;

/// The file name.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumLine {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Relative path, `/`-separated.
    pub path: String,
}

/// Appends the line for `path` with `sha256` to `out`.
pub fn push_line(out: &mut String, sha256: &str, path: &str) {
    if path.contains(['\\', '\n', '\r']) {
        let escaped = path
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r");
        let _ = writeln!(out, "\\{sha256}  {escaped}");
    } else {
        let _ = writeln!(out, "{sha256}  {path}");
    }
}

/// One line: `None` when blank, or what is wrong with it.
pub fn parse_line(line: &str) -> Result<Option<SumLine>, &'static str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Ok(None);
    }
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let Some((hash, path)) = line.split_once("  ").or_else(|| line.split_once(" *")) else {
        return Err("not `HASH  PATH`");
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("its hash is not 64 hex digits");
    }
    let path = if escaped {
        unescape(path).ok_or("its path has an unknown escape")?
    } else {
        path.to_owned()
    };
    Ok(Some(SumLine {
        sha256: hash.to_ascii_lowercase(),
        path,
    }))
}

fn unescape(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_with_escapes() {
        let hash = "ab".repeat(32);
        let mut text = String::new();
        push_line(&mut text, &hash, "audio/CA1.wav");
        push_line(&mut text, &hash, "odd\\name\nx");
        assert_eq!(
            text,
            format!("{hash}  audio/CA1.wav\n\\{hash}  odd\\\\name\\nx\n")
        );
        let lines: Vec<SumLine> = text
            .lines()
            .filter_map(|l| parse_line(l).ok().flatten())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].path, "audio/CA1.wav");
        assert_eq!(lines[1].path, "odd\\name\nx");
        assert_eq!(parse_line("xyz  a"), Err("its hash is not 64 hex digits"));
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("0123"), Err("not `HASH  PATH`"));
    }
}
