//! `cargo xtask generate [--check]`: regenerates the raw client of every API, or checks each is
//! current. `cargo xtask diff OLD NEW`: the structural changes between two versions of a document.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use similar::TextDiff;
use xtask::{Layout, run_files};

const USAGE: &str = "usage: cargo xtask generate [--check] | cargo xtask diff OLD NEW

  generate          for every API in openapi/ (the Data API, the Conversations API v3),
                    regenerate its normalized document and its module of polyai-data-raw;
                    and schemas/, the JSON Schema of every record `polyai` writes
  generate --check  fail with a diff if any checked-in file is stale
  diff OLD NEW      print, as Markdown, what changed in structure between two
                    versions of a document (operations, parameters, fields,
                    types, nullability, enums), ignoring prose";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate"] => false,
        ["generate", "--check"] => true,
        ["diff", old, new] => return diff(Path::new(old), Path::new(new)),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let mut stale = false;
    let mut lines = 0;
    for layout in Layout::all(&workspace_root()) {
        let output = match run_files(&layout) {
            Ok(output) => output,
            Err(e) => {
                eprintln!("error: {} API: {e}", layout.api);
                return ExitCode::FAILURE;
            }
        };
        for note in &output.nothing_to_do {
            println!("{note}");
        }
        lines += output.code.lines().count();
        let files = [
            (&layout.normalized, &output.normalized),
            (&layout.generated, &output.code),
        ];
        for (path, fresh) in files {
            let current = std::fs::read_to_string(path).ok();
            if current.as_deref() == Some(fresh.as_str()) {
                continue;
            }
            if check {
                stale = true;
                eprintln!("{} is stale; run `cargo xtask generate`:", relative(path));
                let current = current.unwrap_or_default();
                let diff = TextDiff::from_lines(current.as_str(), fresh.as_str());
                eprint!(
                    "{}",
                    diff.unified_diff()
                        .context_radius(2)
                        .header("checked in", "generated")
                );
            } else if let Err(e) = std::fs::write(path, fresh) {
                eprintln!("error: cannot write {}: {e}", relative(path));
                return ExitCode::FAILURE;
            } else {
                println!("wrote {}", relative(path));
            }
        }
    }
    match schemas(&workspace_root(), check) {
        Ok(fresh) => stale |= !fresh,
        Err(e) => {
            eprintln!("error: record schemas: {e}");
            return ExitCode::FAILURE;
        }
    }
    let ms = started.elapsed().as_millis();
    if stale {
        return ExitCode::FAILURE;
    }
    if check {
        println!("generated code is up to date ({ms} ms)");
    } else {
        println!("generated {lines} lines of Rust in {ms} ms");
    }
    ExitCode::SUCCESS
}

/// Regenerates `schemas/` (the JSON Schema of every record `polyai` writes) from the CLI's
/// types, by running `polyai schema --write-to`; with `check`, reports each stale or extra file
/// instead. `Ok(false)`: something was stale.
fn schemas(root: &Path, check: bool) -> Result<bool, String> {
    let dir = root.join("schemas");
    let fresh_dir = root.join("target").join("xtask-schemas");
    let _ = std::fs::remove_dir_all(&fresh_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "polyai-cli",
            "--bin",
            "polyai",
            "--",
        ])
        .arg("schema")
        .arg("--write-to")
        .arg(&fresh_dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`polyai schema --write-to` failed ({status})"));
    }
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".schema.json"))
            .collect();
        names.sort();
        names
    };
    let mut fresh = true;
    for name in names(&dir) {
        if !fresh_dir.join(&name).exists() {
            fresh = false;
            if check {
                eprintln!(
                    "schemas/{name} describes no record polyai writes; run `cargo xtask generate`"
                );
            } else if let Err(e) = std::fs::remove_file(dir.join(&name)) {
                return Err(format!("cannot remove schemas/{name}: {e}"));
            } else {
                println!("removed schemas/{name}");
            }
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create schemas/: {e}"))?;
    for name in names(&fresh_dir) {
        let generated = std::fs::read_to_string(fresh_dir.join(&name))
            .map_err(|e| format!("cannot read the generated {name}: {e}"))?;
        let path = dir.join(&name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(generated.as_str()) {
            continue;
        }
        fresh = false;
        if check {
            eprintln!("schemas/{name} is stale; run `cargo xtask generate`:");
            let current = current.unwrap_or_default();
            let diff = TextDiff::from_lines(current.as_str(), generated.as_str());
            eprint!(
                "{}",
                diff.unified_diff()
                    .context_radius(2)
                    .header("checked in", "generated")
            );
        } else {
            std::fs::write(&path, generated).map_err(|e| format!("cannot write {name}: {e}"))?;
            println!("wrote schemas/{name}");
        }
    }
    Ok(fresh || !check)
}

fn diff(old: &Path, new: &Path) -> ExitCode {
    let read = |path: &Path| {
        xtask::read_json(path).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })
    };
    let (before, after) = match (read(old), read(new)) {
        (Ok(before), Ok(after)) => (before, after),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    print!(
        "{}",
        xtask::diff::changelog(
            &before,
            &after,
            &old.display().to_string(),
            &new.display().to_string()
        )
    );
    ExitCode::SUCCESS
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
