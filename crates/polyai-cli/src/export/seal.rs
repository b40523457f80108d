//! What an export writes beside `manifest.json` once the manifest is in place: `SHA256SUMS`
//! (every listed file and the manifest itself, for `sha256sum -c`) and, with `--sign KEYFILE`,
//! `manifest.json.minisig` (minisign's format, for `minisign -V` and `polyai verify --pubkey`).
//!
//! Both are derived from the manifest, which is read back entry by entry, so memory stays flat;
//! both are replaced atomically, and removed when a run starts (with the manifest).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use crate::archive::minisign::SecretKey;
use crate::archive::sums::{SUMS_FILE, push_line};
use crate::archive::{self, hex};
use crate::exit::CliError;
use crate::export::checkpoint::{rename_into, replace_file};
use crate::export::manifest::MANIFEST_FILE;

/// The manifest's signature file.
pub const SIGNATURE_FILE: &str = "manifest.json.minisig";

/// Removes a `SHA256SUMS` and a signature left by an earlier run.
pub fn remove(dir: &Path) -> Result<(), CliError> {
    for name in [SUMS_FILE, SIGNATURE_FILE] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(CliError::file("removing", path, e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads the signing key of `--sign` (before an export starts, so a bad key costs nothing).
pub fn load_key(path: Option<&Path>) -> Result<Option<SecretKey>, CliError> {
    path.map(|path| SecretKey::read(path).map_err(|e| CliError::Usage(e.to_string())))
        .transpose()
}

/// Writes `SHA256SUMS` from `dir`'s manifest, then signs the manifest with `key` when given;
/// `agent` goes in the signature's trusted comment.
pub fn seal(dir: &Path, key: Option<&SecretKey>, agent: &str) -> Result<(), CliError> {
    let manifest = dir.join(MANIFEST_FILE);
    let (_, manifest_hash) =
        archive::hash_file(&manifest).map_err(|e| CliError::file("reading", &manifest, e))?;
    let temp = dir.join(format!(".{SUMS_FILE}.tmp"));
    let write = || -> Result<(), CliError> {
        let io = |e| CliError::file("writing", &temp, e);
        let mut out = BufWriter::new(File::create(&temp).map_err(io)?);
        let mut line = String::new();
        push_line(&mut line, &hex(&manifest_hash), MANIFEST_FILE);
        out.write_all(line.as_bytes()).map_err(io)?;
        let mut failed = None;
        let file = File::open(&manifest).map_err(|e| CliError::file("reading", &manifest, e))?;
        archive::read_manifest(BufReader::new(file), |entry| {
            let Some(sha256) = entry.sha256 else { return };
            line.clear();
            push_line(&mut line, &sha256, &entry.path);
            if failed.is_none()
                && let Err(e) = out.write_all(line.as_bytes())
            {
                failed = Some(e);
            }
        })
        .map_err(|e| CliError::Other(format!("reading back {}: {e}", manifest.display())))?;
        if let Some(e) = failed {
            return Err(io(e));
        }
        out.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)
    };
    write()?;
    rename_into(&temp, &dir.join(SUMS_FILE))?;
    let Some(key) = key else { return Ok(()) };
    let trusted = format!(
        "timestamp:{}\tfile:{MANIFEST_FILE}\thashed\tsha256:{}\tagent:{agent}\tpolyai {}",
        jiff::Timestamp::now().as_second(),
        hex(&manifest_hash),
        env!("CARGO_PKG_VERSION"),
    );
    let file = File::open(&manifest).map_err(|e| CliError::file("reading", &manifest, e))?;
    let signature = key
        .sign(BufReader::new(file), &trusted.replace(['\n', '\r'], " "))
        .map_err(|e| CliError::Other(format!("signing {}: {e}", manifest.display())))?;
    replace_file(dir, SIGNATURE_FILE, signature.as_bytes())
}
