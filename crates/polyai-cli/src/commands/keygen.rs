//! `polyai keygen --out FILE`: a key pair for `export --sign`, in minisign's format — the secret
//! key in FILE (mode 0600, created only if absent), the public key in FILE.pub.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::archive::minisign::SecretKey;
use crate::cli::{KeygenArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::write_json;

/// `keygen`.
pub fn run(format: OutputFormat, args: &KeygenArgs) -> Result<(), CliError> {
    let secret_path = args.out.as_path();
    let mut public_path = secret_path.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = PathBuf::from(public_path);
    for path in [secret_path, public_path.as_path()] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(exists(path));
        }
    }
    let key = SecretKey::generate().map_err(|e| CliError::Other(e.to_string()))?;
    let public = key.public();
    write_new(secret_path, key.to_file_text().as_bytes(), true)?;
    if let Err(err) = write_new(&public_path, public.to_file_text().as_bytes(), false) {
        let _ = std::fs::remove_file(secret_path);
        return Err(err);
    }
    let mut out = crate::output::stdout();
    match format {
        OutputFormat::Table => writeln!(
            out,
            "key {id}: secret key {secret} (keep it private: `polyai export --sign {secret}`), \
             public key {public} (give it to auditors: `polyai verify --pubkey {public} DIR`, \
             or `minisign -Vm DIR/manifest.json -p {public}`)",
            id = public.id,
            secret = secret_path.display(),
            public = public_path.display(),
        ),
        _ => write_json(
            &mut out,
            &json!({
                "key_id": public.id.to_string(),
                "secret_key_file": secret_path.display().to_string(),
                "public_key_file": public_path.display().to_string(),
            }),
        ),
    }
    .and_then(|()| out.flush())
    .map_err(stdout_error)
}

/// Writes a new file (never replacing one), `0600` when `private`, and syncs it.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let _ = private;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists(path)
        } else {
            CliError::file("creating", path, e)
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::file("writing", path, e))
}

/// A key file that is there already: never replaced (choose another --out).
fn exists(path: &Path) -> CliError {
    CliError::file(
        "creating",
        path,
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "it exists, and keygen never replaces a key: choose another --out",
        ),
    )
}
