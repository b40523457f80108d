//! `polyai verify DIR`: checks that an export is what its manifest says it is — every listed
//! file present with its size and SHA-256, no file the manifest does not list (the export's
//! own bookkeeping aside), every record readable, the counts right, `SHA256SUMS` in agreement
//! and, with `--pubkey`, the manifest's signature valid — and reports each problem with the
//! file it concerns. Exit 0 when the archive verifies, 13 when it does not.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

#[cfg(feature = "dataset")]
mod dataset;

use crate::archive::minisign::{PublicKey, SignatureFile};
use crate::archive::sums::{self, SUMS_FILE};
use crate::archive::{self, Checker, Content, Format, Kind, Problem, Seen, hex};
use crate::cli::{OutputFormat, VerifyArgs};
use crate::exit::CliError;
use crate::export::checkpoint::CHECKPOINT_FILE;
use crate::export::failures::FAILURES_FILE;
use crate::export::journal::{INDEX_FILE, JOURNAL_FILE};
use crate::export::lock::LOCK_FILE;
use crate::export::manifest::MANIFEST_FILE;
use crate::export::{AUDIO_DIR, SIGNATURE_FILE};
use crate::output::Table;
use crate::output::stdout_error;
use crate::progress;

/// Manifest layouts this version reads (1: camelCase; 2: the snake_case one of the record
/// contract). A newer one is checked as far as it lists files, with a note.
const KNOWN_MANIFEST_VERSIONS: std::ops::RangeInclusive<u64> = 1..=2;
/// A dataset's manifest (`polyai-dataset`): its folders are meant to be another [`Format`].
const DATASET_MANIFEST: &str = "_polyai_dataset.json";
/// Largest signature file read.
const SIGNATURE_LIMIT: u64 = 64 * 1024;

/// An export folder: what is bookkeeping, and how each listed file is read.
struct ExportFormat;

impl ExportFormat {
    /// The files an export keeps for itself, never listed in its manifest: listed here
    /// explicitly, so anything else in the folder must be listed.
    const BOOKKEEPING: &'static [&'static str] = &[
        MANIFEST_FILE,
        SUMS_FILE,
        SIGNATURE_FILE,
        CHECKPOINT_FILE,
        INDEX_FILE,
        LOCK_FILE,
    ];

    fn content_of(path: &str) -> Content {
        if path.ends_with(".jsonl") {
            Content::Records
        } else {
            Content::Bytes
        }
    }
}

impl Format for ExportFormat {
    fn is_bookkeeping(&self, path: &str) -> bool {
        Self::BOOKKEEPING.contains(&path)
    }
}

/// What verification found besides problems.
#[derive(Debug, Default)]
struct Findings {
    kind: &'static str,
    /// What the manifest says the archive is: agent, when, by which polyai.
    about: Option<Value>,
    /// The same, in a line for people.
    headline: Option<String>,
    manifest_version: Option<u64>,
    status: Option<String>,
    notes: Vec<String>,
    signature: SignatureStatus,
    sums: &'static str,
}

#[derive(Debug, Default)]
enum SignatureStatus {
    #[default]
    Absent,
    NotChecked,
    Valid {
        key_id: String,
        trusted_comment: String,
    },
    Invalid,
}

impl SignatureStatus {
    fn json(&self) -> Value {
        match self {
            SignatureStatus::Absent => json!({"status": "absent"}),
            SignatureStatus::NotChecked => json!({"status": "not_checked"}),
            SignatureStatus::Valid {
                key_id,
                trusted_comment,
            } => {
                json!({"status": "valid", "key_id": key_id, "trusted_comment": trusted_comment})
            }
            SignatureStatus::Invalid => json!({"status": "invalid"}),
        }
    }
}

/// `verify`.
pub fn run(format: OutputFormat, args: &VerifyArgs) -> Result<(), CliError> {
    let dir = args.dir.as_path();
    let meta = std::fs::metadata(dir).map_err(|e| CliError::file("opening", dir, e))?;
    if !meta.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a folder: verify takes the folder an export wrote (its --out)",
            dir.display()
        )));
    }
    // The key first: a bad --pubkey is a usage error, before any reading.
    let pubkey = match &args.pubkey {
        Some(path) => Some(PublicKey::read(path).map_err(|e| CliError::Usage(e.to_string()))?),
        None => None,
    };
    let started = Instant::now();
    let bar = progress::bytes(None);
    #[cfg(feature = "dataset")]
    if !exists(&dir.join(MANIFEST_FILE)) && exists(&dir.join(DATASET_MANIFEST)) {
        let format_ = dataset::DatasetFormat;
        let mut checker = Checker::new(dir, &format_, &bar);
        let mut findings = Findings::default();
        dataset::check(&mut checker, dir, &mut findings);
        if pubkey.is_some() {
            checker.problem(
                DATASET_MANIFEST,
                Kind::Signature,
                "--pubkey checks the signature of an export's manifest; a dataset is not signed",
            );
        }
        bar.finish_and_clear();
        return conclude(format, dir, &checker, &findings, started);
    }
    let format_ = ExportFormat;
    let mut checker = Checker::new(dir, &format_, &bar);
    let mut findings = Findings {
        kind: "export",
        ..Findings::default()
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest_hash = match archive::hash_file(&manifest_path) {
        Ok((_, hash)) => Some(hash),
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound
                && dir.join(DATASET_MANIFEST).exists()
            {
                format!(
                    "absent: this folder is a polyai dataset ({DATASET_MANIFEST}), which this \
                     polyai (built without the `dataset` feature) does not check"
                )
            } else if e.kind() == std::io::ErrorKind::NotFound {
                "absent: this is not a finished polyai export (an export in progress or \
                 interrupted has none; run it again to finish it)"
                    .to_owned()
            } else {
                format!("cannot be read: {e}")
            };
            checker.problem(MANIFEST_FILE, Kind::Manifest, why);
            None
        }
    };
    if manifest_hash.is_some() {
        check_export(&mut checker, &manifest_path, &mut findings);
        check_sums(&mut checker, dir, manifest_hash, &mut findings);
    }
    check_signature(&mut checker, dir, pubkey.as_ref(), &mut findings);
    bar.finish_and_clear();
    conclude(format, dir, &checker, &findings, started)
}

/// Whether something is at `path` (a symbolic link counts).
#[cfg(feature = "dataset")]
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Reports, and fails with the number of problems when there are any.
fn conclude(
    format: OutputFormat,
    dir: &Path,
    checker: &Checker<'_>,
    findings: &Findings,
    started: Instant,
) -> Result<(), CliError> {
    report(format, dir, checker, findings, started.elapsed())?;
    let (problems, left_off) = checker.problems();
    let count = problems.len() as u64 + left_off;
    if count == 0 {
        return Ok(());
    }
    Err(CliError::Verify(format!(
        "{} does not verify: {count} problem{} (listed above)",
        dir.display(),
        if count == 1 { "" } else { "s" }
    )))
}

/// Reads the manifest, checking each listed file as it is read, then the counts and the
/// folder's other files.
fn check_export(checker: &mut Checker<'_>, path: &Path, findings: &mut Findings) {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            checker.problem(
                MANIFEST_FILE,
                Kind::Manifest,
                format!("cannot be read: {e}"),
            );
            return;
        }
    };
    let mut audio_listed = 0u64;
    let parsed = archive::read_manifest(BufReader::with_capacity(1 << 16, file), |entry| {
        if entry.path.starts_with(&format!("{AUDIO_DIR}/")) {
            audio_listed += 1;
        }
        checker.check_file(&entry, ExportFormat::content_of(&entry.path));
    });
    let (head, files_seen) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            checker.problem(
                MANIFEST_FILE,
                Kind::Manifest,
                format!("is not a valid manifest: {e}; the files it lists after that point were not checked"),
            );
            return;
        }
    };
    if !files_seen {
        checker.problem(MANIFEST_FILE, Kind::Manifest, "lists no `files`");
    }
    let number = |v: Option<&Value>| v.and_then(Value::as_u64);
    let version = number(head.get("manifest_version").or(head.get("manifestVersion")));
    findings.manifest_version = version;
    match version {
        None => checker.problem(
            MANIFEST_FILE,
            Kind::Manifest,
            "has no manifest version: not a polyai export manifest",
        ),
        Some(v) if !KNOWN_MANIFEST_VERSIONS.contains(&v) => findings.notes.push(format!(
            "manifest version {v} is newer than this polyai reads ({}..={}); its files were checked, its other fields may not be",
            KNOWN_MANIFEST_VERSIONS.start(),
            KNOWN_MANIFEST_VERSIONS.end()
        )),
        Some(_) => {}
    }
    let field = |camel: &str, snake: &str| head.get(snake).or(head.get(camel)).cloned();
    findings.about = Some(json!({
        "agent_id": field("agentId", "agent_id"),
        "exported_at": field("exportedAt", "exported_at"),
        "tool_version": head.get("tool").and_then(|t| t.get("version")).cloned(),
    }));
    let about = &findings.about;
    let text = |k: &str| {
        about
            .as_ref()
            .and_then(|a| a[k].as_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into())
    };
    findings.headline = Some(format!(
        "export of agent {} made {} by polyai {}",
        text("agent_id"),
        text("exported_at"),
        text("tool_version")
    ));
    findings.status = head
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let counts = head.get("counts").cloned().unwrap_or(Value::Null);
    if findings.status.as_deref() == Some("partial") {
        findings.notes.push(format!(
            "the export is partial: {} conversations could not be exported (listed in {FAILURES_FILE})",
            number(counts.get("failed")).unwrap_or(0)
        ));
    }
    let records_of = |checker: &Checker<'_>, file: &str| {
        checker
            .records
            .iter()
            .find(|(path, _)| path == file)
            .map(|(_, count)| count.records)
    };
    let compare =
        |checker: &mut Checker<'_>, file: &str, what: &str, listed: Option<u64>, found: u64| {
            if let Some(listed) = listed
                && listed != found
            {
                checker.problem(
                    file,
                    Kind::Count,
                    format!("{found} {what} where the manifest counts {listed}"),
                );
            }
        };
    let conversations = number(counts.get("conversations"));
    match records_of(checker, JOURNAL_FILE) {
        Some(found) => compare(checker, JOURNAL_FILE, "conversations", conversations, found),
        None if files_seen => checker.problem(
            JOURNAL_FILE,
            Kind::Missing,
            "the manifest does not list the conversations file",
        ),
        None => {}
    }
    let failed = number(counts.get("failed"));
    let failures = records_of(checker, FAILURES_FILE).unwrap_or(0);
    compare(
        checker,
        FAILURES_FILE,
        "failed conversations",
        failed,
        failures,
    );
    let recordings = number(counts.get("recordings"));
    compare(
        checker,
        AUDIO_DIR,
        "recordings listed",
        recordings,
        audio_listed,
    );
    checker.finish();
}

/// `SHA256SUMS` must list the manifest and every file it lists, each with the manifest's
/// hash.
fn check_sums(
    checker: &mut Checker<'_>,
    dir: &Path,
    manifest_hash: Option<[u8; 32]>,
    findings: &mut Findings,
) {
    let path = dir.join(SUMS_FILE);
    let file = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            findings.sums = "absent";
            findings.notes.push(format!(
                "no {SUMS_FILE}: `sha256sum -c` cannot check this archive (an export from \
                 before polyai wrote one, or it was removed); the manifest's hashes were checked"
            ));
            return;
        }
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_file() => {
            checker.problem(SUMS_FILE, Kind::Sums, "not a regular file");
            return;
        }
        _ => match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) => {
                checker.problem(SUMS_FILE, Kind::Sums, format!("cannot be read: {e}"));
                return;
            }
        },
    };
    findings.sums = "checked";
    let mut seen = Seen::default();
    let mut covered = 0usize;
    let mut manifest_seen = false;
    for (n, line) in BufReader::new(file).split(b'\n').enumerate() {
        let number = n + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                checker.problem(SUMS_FILE, Kind::Sums, format!("cannot be read: {e}"));
                return;
            }
        };
        let text = String::from_utf8_lossy(&line);
        let entry = match sums::parse_line(&text) {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(why) => {
                checker.problem(SUMS_FILE, Kind::Sums, format!("line {number}: {why}"));
                continue;
            }
        };
        if !seen.first(&entry.path) {
            checker.problem(
                SUMS_FILE,
                Kind::Sums,
                format!("line {number}: {} is listed twice", entry.path),
            );
            continue;
        }
        let listed = if entry.path == MANIFEST_FILE {
            manifest_seen = true;
            Some(manifest_hash)
        } else {
            checker.listed_sha256(&entry.path)
        };
        match listed {
            None => checker.problem(
                SUMS_FILE,
                Kind::Sums,
                format!(
                    "line {number}: lists {}, which the manifest does not",
                    entry.path
                ),
            ),
            Some(Some(want)) if hex(&want) != entry.sha256 => checker.problem(
                SUMS_FILE,
                Kind::Sums,
                format!(
                    "line {number}: gives {} for {}, where the {} is {}",
                    entry.sha256,
                    entry.path,
                    if entry.path == MANIFEST_FILE {
                        "file's SHA-256"
                    } else {
                        "manifest lists"
                    },
                    hex(&want)
                ),
            ),
            Some(_) => {
                if entry.path != MANIFEST_FILE {
                    covered += 1;
                }
            }
        }
    }
    if !manifest_seen {
        checker.problem(
            SUMS_FILE,
            Kind::Sums,
            format!("does not list {MANIFEST_FILE}"),
        );
    }
    let listed = checker.listed_count();
    if covered < listed {
        checker.problem(
            SUMS_FILE,
            Kind::Sums,
            format!(
                "lists {covered} of the {listed} files of the manifest: `sha256sum -c` would not check the others"
            ),
        );
    }
}

/// The manifest's signature, when a public key is given (and a note when not).
fn check_signature(
    checker: &mut Checker<'_>,
    dir: &Path,
    pubkey: Option<&PublicKey>,
    findings: &mut Findings,
) {
    let path = dir.join(SIGNATURE_FILE);
    let text = match archive::read_small(&path, SIGNATURE_LIMIT) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            checker.problem(
                SIGNATURE_FILE,
                Kind::Signature,
                format!("cannot be read: {e}"),
            );
            findings.signature = SignatureStatus::Invalid;
            return;
        }
    };
    let (Some(pubkey), Some(text)) = (pubkey, &text) else {
        match (pubkey, text) {
            (Some(_), None) => {
                checker.problem(
                    SIGNATURE_FILE,
                    Kind::Signature,
                    "absent: the manifest is not signed, so --pubkey cannot be checked (export with --sign KEYFILE)",
                );
                findings.signature = SignatureStatus::Invalid;
            }
            (None, Some(_)) => {
                findings.signature = SignatureStatus::NotChecked;
                findings.notes.push(format!(
                    "{SIGNATURE_FILE} is present but was not checked: pass --pubkey FILE (the signer's public key)"
                ));
            }
            _ => {}
        }
        return;
    };
    let signature = match SignatureFile::parse(text) {
        Ok(signature) => signature,
        Err(e) => {
            checker.problem(SIGNATURE_FILE, Kind::Signature, e.to_string());
            findings.signature = SignatureStatus::Invalid;
            return;
        }
    };
    let manifest = match std::fs::File::open(dir.join(MANIFEST_FILE)) {
        Ok(file) => file,
        Err(e) => {
            checker.problem(
                SIGNATURE_FILE,
                Kind::Signature,
                format!("cannot check: {MANIFEST_FILE} cannot be read ({e})"),
            );
            findings.signature = SignatureStatus::Invalid;
            return;
        }
    };
    match pubkey.verify(&signature, BufReader::new(manifest)) {
        Ok(()) => {
            findings.signature = SignatureStatus::Valid {
                key_id: signature.key_id.to_string(),
                trusted_comment: signature.trusted_comment,
            }
        }
        Err(e) => {
            checker.problem(
                SIGNATURE_FILE,
                Kind::Signature,
                format!("does not verify {MANIFEST_FILE}: {e}"),
            );
            findings.signature = SignatureStatus::Invalid;
        }
    }
}

fn report(
    format: OutputFormat,
    dir: &Path,
    checker: &Checker<'_>,
    findings: &Findings,
    elapsed: std::time::Duration,
) -> Result<(), CliError> {
    let (problems, left_off) = checker.problems();
    let mut out = crate::output::stdout();
    let records: u64 = checker.records.iter().map(|(_, c)| c.records).sum();
    let ok = problems.is_empty() && left_off == 0;
    match format {
        OutputFormat::Json | OutputFormat::Jsonl => {
            let value = json!({
                "dir": dir.display().to_string(),
                "ok": ok,
                "kind": findings.kind,
                "manifest": findings.about,
                "manifest_version": findings.manifest_version,
                "status": findings.status,
                "files": checker.files,
                "bytes": checker.bytes,
                "records": records,
                "files_without_hash": checker.unhashed,
                "sha256sums": findings.sums,
                "signature": findings.signature.json(),
                "problems": problems,
                "problems_left_off": left_off,
                "notes": findings.notes,
                "seconds": elapsed.as_secs_f64(),
            });
            if format == OutputFormat::Json {
                crate::output::write_json(&mut out, &value)
            } else {
                crate::output::write_json_line(&mut out, &value)
            }
        }
        OutputFormat::Csv => {
            let mut table = Table::new(["file", "kind", "message"]);
            for p in problems {
                table.push(vec![p.file.clone(), kind_name(p), p.message.clone()]);
            }
            table.write_csv(&mut out)
        }
        OutputFormat::Table => (|| {
            if let Some(headline) = &findings.headline {
                match &findings.status {
                    Some(status) => writeln!(out, "{}: {headline} ({status})", dir.display())?,
                    None if findings.kind == "export" => {
                        writeln!(out, "{}: {headline} (no status)", dir.display())?
                    }
                    None => writeln!(out, "{}: {headline}", dir.display())?,
                }
            }
            for p in problems {
                writeln!(out, "FAIL  {}: {} [{}]", p.file, p.message, kind_name(p))?;
            }
            if left_off > 0 {
                writeln!(out, "FAIL  … and {left_off} more problems")?;
            }
            for note in &findings.notes {
                writeln!(out, "NOTE  {note}")?;
            }
            if let SignatureStatus::Valid {
                key_id,
                trusted_comment,
            } = &findings.signature
            {
                writeln!(
                    out,
                    "OK    {SIGNATURE_FILE}: {MANIFEST_FILE} signed by key {key_id} ({trusted_comment})"
                )?;
            }
            let verdict = if ok {
                "verified".to_owned()
            } else {
                let n = problems.len() as u64 + left_off;
                format!("{n} problem{}", if n == 1 { "" } else { "s" })
            };
            writeln!(
                out,
                "{}: {} files, {} records, {:.1} MB checked in {:.1} s: {verdict}",
                dir.display(),
                checker.files,
                records,
                checker.bytes as f64 / 1e6,
                elapsed.as_secs_f64()
            )
        })(),
    }
    .and_then(|()| out.flush())
    .map_err(stdout_error)
}

fn kind_name(problem: &Problem) -> String {
    serde_json::to_value(problem.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
