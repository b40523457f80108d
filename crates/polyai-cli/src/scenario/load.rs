//! From the paths on the command line to a checked suite: every `*.toml` below a directory,
//! each file parsed, names unique across the suite, then `--filter`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::model::Scenario;
use super::parse::{FileError, parse_file};

/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Every scenario under `paths`, or every mistake found in them.
///
/// A directory is searched recursively for `*.toml` files (hidden entries and symbolic links
/// to directories are skipped); a file named on the command line is read whatever its
/// extension. A directory's entries are read by name, depth first, so runs and reports keep
/// a stable order; mistakes are listed by file and position.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<FileError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files, &mut errors);
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    let mut scenarios = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        match read(file) {
            Ok(text) => match parse_file(&name, &text) {
                Ok(found) => scenarios.extend(found),
                Err(found) => errors.extend(found),
            },
            Err(e) => errors.push(e),
        }
    }
    let mut first: HashMap<String, String> = HashMap::new();
    for s in &scenarios {
        if let Some(earlier) = first.get(&s.name.to_lowercase()) {
            errors.push(FileError {
                file: s.location.file.clone(),
                position: Some((s.location.line, s.location.column)),
                message: format!(
                    "another scenario is already named {:?} (at {earlier}); names must be unique",
                    s.name
                ),
                excerpt: None,
            });
        } else {
            first.insert(s.name.to_lowercase(), s.location.to_string());
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        errors.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
        Err(errors)
    }
}

fn collect(path: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return errors.push(FileError::whole(&name, format!("cannot read: {e}"))),
    };
    if !meta.is_dir() {
        files.push(path.to_owned());
        return;
    }
    let before = files.len();
    walk(path, files, errors);
    if files.len() == before {
        errors.push(FileError::whole(
            &name,
            "no scenario files (*.toml) in this directory",
        ));
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return errors.push(FileError::whole(
                &dir.display().to_string(),
                format!("cannot list: {e}"),
            ));
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let is_file = kind.is_file() || (kind.is_symlink() && path.is_file());
        if kind.is_dir() {
            walk(&path, files, errors);
        } else if is_file && path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
}

fn read(path: &Path) -> Result<String, FileError> {
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| FileError::whole(&name, format!("cannot read: {e}"));
    let len = std::fs::metadata(path).map_err(cannot)?.len();
    if len > MAX_FILE_BYTES {
        return Err(FileError::whole(
            &name,
            format!(
                "{len} bytes is more than a scenario file may hold ({MAX_FILE_BYTES}); split it"
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(cannot)?;
    String::from_utf8(bytes).map_err(|e| {
        FileError::whole(
            &name,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Keeps the scenarios whose name contains one of `filters` (ignoring case); all of them when
/// there is no filter.
pub fn filter(scenarios: Vec<Scenario>, filters: &[String]) -> Vec<Scenario> {
    if filters.is_empty() {
        return scenarios;
    }
    let filters: Vec<String> = filters.iter().map(|f| f.to_lowercase()).collect();
    scenarios
        .into_iter()
        .filter(|s| {
            let name = s.name.to_lowercase();
            filters.iter().any(|f| name.contains(f))
        })
        .collect()
}

/// The message for a suite that has mistakes: each one with its excerpt.
pub fn describe(errors: &[FileError]) -> String {
    let files: BTreeSet<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    let mut text = format!(
        "{} in {} scenario file{}; no scenario was run:",
        match errors.len() {
            1 => "1 mistake".to_owned(),
            n => format!("{n} mistakes"),
        },
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    for e in errors {
        let _ = write!(text, "\n  {e}");
        if let Some(excerpt) = &e.excerpt {
            for line in excerpt.lines() {
                let _ = write!(text, "\n      {line}");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "[[scenario]]\nname = \"NAME\"\n[[scenario.turn]]\nuser = \"hi\"\n";

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    #[test]
    fn directories_are_walked_in_order_and_files_read_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "b.toml", &OK.replace("NAME", "b"));
        write(dir.path(), "a/z.toml", &OK.replace("NAME", "az"));
        write(dir.path(), "a.toml", &OK.replace("NAME", "a"));
        write(dir.path(), "notes.md", "not a scenario");
        write(dir.path(), ".hidden/x.toml", "broken [");
        let b = dir.path().join("b.toml");
        let found = load(&[dir.path().to_owned(), b]).unwrap_or_else(|e| panic!("{e:?}"));
        let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
        // Depth first, entries by name: `a/` sorts before `a.toml`.
        assert_eq!(names, ["az", "a", "b"]);
        assert_eq!(filter(found, &["A".into()]).len(), 2);
    }

    #[test]
    fn every_problem_is_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "one.toml", &OK.replace("NAME", "Same"));
        write(dir.path(), "two.toml", &OK.replace("NAME", "same"));
        let bad = write(dir.path(), "bad.txt", "[[scenario]\n");
        std::fs::write(dir.path().join("latin1.toml"), b"name = \"caf\xe9\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let errors = load(&[
            dir.path().join("one.toml"),
            dir.path().join("two.toml"),
            bad,
            dir.path().join("latin1.toml"),
            empty,
            dir.path().join("missing.toml"),
        ])
        .expect_err("broken suite");
        let text = describe(&errors);
        assert!(
            text.starts_with("5 mistakes in 5 scenario files; no scenario was run:"),
            "{text}"
        );
        for want in [
            "two.toml:2:8: another scenario is already named \"same\"",
            "bad.txt:1:",
            "latin1.toml: not UTF-8 text",
            "empty: no scenario files",
            "missing.toml: cannot read",
        ] {
            assert!(text.contains(want), "missing {want:?} in {text}");
        }
    }
}
