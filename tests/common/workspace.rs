//! A copy of the workspace that builds into the workspace's own target directory: its
//! dependencies are the ones already built, so only the copied path crates compile.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's root folder.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
}

/// The workspace's own target directory (`CARGO_TARGET_TMPDIR` is its `tmp/`): the copy's
/// dependencies are the workspace's, already built, so only the copied path crates compile.
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or_else(|| tmp.join("spec-probe-target"), Path::to_path_buf)
}

/// Copies the workspace's sources (not `target/`, not `.git`) to `to`, replacing what was there;
/// the copy's crates get the version `<version>-<suffix>` (see [`give_the_copy_its_own_version`]).
pub fn copy_workspace(to: &Path, suffix: &str) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create folder");
        for entry in std::fs::read_dir(from).expect("read folder") {
            let entry = entry.expect("entry");
            let name = entry.file_name();
            let path = entry.path();
            if matches!(
                name.to_str(),
                Some("target" | ".git" | "node_modules" | ".venv")
            ) || name.to_string_lossy().starts_with("target-")
            {
                continue;
            }
            if entry.file_type().expect("file type").is_dir() {
                copy(&path, &to.join(&name));
            } else {
                std::fs::copy(&path, to.join(&name)).expect("copy file");
            }
        }
    }
    if to.exists() {
        std::fs::remove_dir_all(to).expect("clear the previous copy");
    }
    copy(root(), to);
    give_the_copy_its_own_version(to, suffix);
}

/// Cargo names a path crate's artifacts by its name and version, not by its folder: a copy built
/// into the workspace's target directory under the same version would overwrite the workspace's
/// own `polyai-data-raw` and `polyai-data`. The copy's crates get a version of their own.
fn give_the_copy_its_own_version(work: &Path, suffix: &str) {
    let root_manifest = std::fs::read_to_string(work.join("Cargo.toml")).expect("manifest");
    let version = root_manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .expect("[workspace.package] version")
        .to_owned();
    let own = format!("{}-{suffix}\"", version.trim_end_matches('"'));
    for manifest in [
        work.join("Cargo.toml"),
        work.join("crates/polyai-data/Cargo.toml"),
    ] {
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        let text: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("version = ") || l.contains("path = ") {
                    l.replace(&version, &own)
                } else {
                    l.to_owned()
                }
            })
            .collect();
        std::fs::write(&manifest, text.join("\n") + "\n").expect("write manifest");
    }
}

/// Runs cargo in the copy at `work`, offline and quiet, into the workspace's target directory.
pub fn cargo(work: &Path, args: &[&str]) -> std::process::Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .args(["--offline", "--quiet"])
        .current_dir(work)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs")
}
