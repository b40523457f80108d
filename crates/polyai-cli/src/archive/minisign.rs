//! Ed25519 signatures in [minisign](https://jedisct1.github.io/minisign/)'s format, so that
//! `minisign -Vm manifest.json -p KEY.pub` checks what `polyai export --sign` signed, and
//! `polyai verify --pubkey` checks what `minisign -S` signed.
//!
//! The three files, each a line `untrusted comment: …` then base64:
//!
//! - **public key** (`KEY.pub`): `"Ed"`, the 8-byte key id, the 32-byte Ed25519 public key;
//!   minisign's `-P` form (the base64 line alone) is read too;
//! - **secret key** (`KEY`): `"Ed"`, the KDF (`"\0\0"`: none, or `"Sc"`: scrypt, which
//!   minisign asks a password for), `"B2"`, a 32-byte salt, two 8-byte KDF limits, then the key
//!   id, the 64-byte secret key (seed and public key) and a BLAKE2b-256 checksum of `"Ed"`, the
//!   key id and the secret key (minisign 0.11 writes zeros there for an unencrypted key). Only unencrypted keys (`minisign -G -W`, or `polyai keygen`) are
//!   read: a password-protected key is refused with what to do instead;
//! - **signature** (`FILE.minisig`): `"ED"`, the key id and the Ed25519 signature of the
//!   file's BLAKE2b-512 (minisign's default "prehashed" mode; the legacy `"Ed"` mode, a
//!   signature of the file itself, is verified too), then `trusted comment: TEXT`, then the
//!   "global" signature of the signature followed by TEXT, so the trusted comment cannot be
//!   changed either.
//!
//! Secret material lives in [`SecretKey`], which never prints it and zeroes it when dropped.

use std::fmt;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blake2::Digest;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// Why a key or signature was refused; the text never holds secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refused<T>(message: impl Into<String>) -> Result<T, Refused> {
    Err(Refused(message.into()))
}

/// A key id: 8 bytes, shown as minisign shows it (hex of the little-endian number).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A minisign public key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Its id.
    pub id: KeyId,
    key: VerifyingKey,
}

/// A minisign secret key (unencrypted once read); never printed.
pub struct SecretKey {
    id: KeyId,
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, ***)", self.id)
    }
}

/// A parsed `.minisig` file.
#[derive(Debug, Clone)]
pub struct SignatureFile {
    /// The signing key's id.
    pub key_id: KeyId,
    /// Whether the file's BLAKE2b-512 was signed (`ED`) rather than the file itself (`Ed`).
    pub prehashed: bool,
    signature: Signature,
    /// The trusted comment (signed too).
    pub trusted_comment: String,
    global: Signature,
}

const UNTRUSTED: &str = "untrusted comment: ";
const TRUSTED: &str = "trusted comment: ";
const SECRET_KEY_LEN: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;
/// minisign's scrypt limits (libsodium's "sensitive" ones), written so the file has
/// minisign's layout; they are unused for an unencrypted key.
const OPSLIMIT: u64 = 33_554_432;
const MEMLIMIT: u64 = 1_073_741_824;

fn decode(line: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, Refused> {
    STANDARD
        .decode(line.trim())
        .map(Zeroizing::new)
        .or_else(|_| refused(format!("{what}: its key line is not base64")))
}

/// The base64 line of a key or signature file: the line after its untrusted comment, or the
/// only line.
fn payload_line<'a>(text: &'a str, what: &str) -> Result<&'a str, Refused> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some(first) if first.starts_with(UNTRUSTED) => match lines.next() {
            Some(line) => Ok(line),
            None => refused(format!("{what}: nothing after its comment line")),
        },
        Some(first) => Ok(first),
        None => refused(format!("{what}: empty")),
    }
}

impl PublicKey {
    /// Reads a public key file's text (minisign's two lines, or its base64 line alone).
    pub fn parse(text: &str) -> Result<PublicKey, Refused> {
        const WHAT: &str = "not a minisign public key";
        let bytes = decode(payload_line(text, WHAT)?, WHAT)?;
        if bytes.len() != 42 {
            return refused(format!(
                "{WHAT}: {} bytes where a public key has 42",
                bytes.len()
            ));
        }
        if &bytes[..2] != b"Ed" {
            return refused(format!("{WHAT}: not an Ed25519 key"));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[2..10]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[10..42]);
        let key = VerifyingKey::from_bytes(&key)
            .or_else(|_| refused(format!("{WHAT}: not a valid Ed25519 point")))?;
        Ok(PublicKey { id: KeyId(id), key })
    }

    /// Reads a public key file.
    pub fn read(path: &Path) -> Result<PublicKey, Refused> {
        let text = std::fs::read_to_string(path)
            .or_else(|e| refused(format!("cannot read {}: {e}", path.display())))?;
        PublicKey::parse(&text).map_err(|e| Refused(format!("{}: {e}", path.display())))
    }

    /// The public key file's text, as minisign writes it.
    pub fn to_file_text(&self) -> String {
        let mut bytes = Vec::with_capacity(42);
        bytes.extend_from_slice(b"Ed");
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "{UNTRUSTED}minisign public key {}\n{}\n",
            self.id,
            STANDARD.encode(bytes)
        )
    }

    /// Checks `signature` against the signed file's bytes (read from `file`, streamed) and
    /// its trusted comment.
    pub fn verify(&self, signature: &SignatureFile, file: impl Read) -> Result<(), Refused> {
        if signature.key_id != self.id {
            return refused(format!(
                "signed by another key: the signature's key id is {}, the public key's is {}",
                signature.key_id, self.id
            ));
        }
        let message = if signature.prehashed {
            Zeroizing::new(blake2b512(file)?.to_vec())
        } else {
            let mut all = Vec::new();
            let mut file = file;
            file.read_to_end(&mut all)
                .or_else(|e| refused(format!("reading the signed file: {e}")))?;
            Zeroizing::new(all)
        };
        self.key
            .verify_strict(&message, &signature.signature)
            .or_else(|_| {
                refused("the signature does not match the file: it changed after it was signed, or was signed by another key with the same id")
            })?;
        let mut global = signature.signature.to_bytes().to_vec();
        global.extend_from_slice(signature.trusted_comment.as_bytes());
        self.key
            .verify_strict(&global, &signature.global)
            .or_else(|_| {
                refused("the trusted comment does not match its signature: it was changed")
            })
    }
}

/// BLAKE2b-512 of everything `reader` gives.
fn blake2b512(mut reader: impl Read) -> Result<[u8; 64], Refused> {
    let mut hasher = blake2::Blake2b512::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return refused(format!("reading the signed file: {e}")),
        };
        hasher.update(&buf[..n]);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(&hasher.finalize());
    Ok(out)
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Result<SecretKey, Refused> {
        let mut seed = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; 8];
        getrandom::fill(seed.as_mut())
            .and_then(|()| getrandom::fill(&mut id))
            .or_else(|e| refused(format!("no randomness from the operating system: {e}")))?;
        Ok(SecretKey {
            id: KeyId(id),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Reads a secret key file's text. A password-protected key is refused.
    pub fn parse(text: &str) -> Result<SecretKey, Refused> {
        const WHAT: &str = "not a minisign secret key";
        let bytes = decode(payload_line(text, WHAT)?, WHAT)?;
        if bytes.len() != SECRET_KEY_LEN {
            return refused(format!(
                "{WHAT}: {} bytes where a secret key has {SECRET_KEY_LEN}",
                bytes.len()
            ));
        }
        if &bytes[..2] != b"Ed" || &bytes[4..6] != b"B2" {
            return refused(format!(
                "{WHAT}: not an Ed25519 key with a BLAKE2b checksum"
            ));
        }
        match &bytes[2..4] {
            [0, 0] => {}
            b"Sc" => {
                return refused(
                    "this secret key is protected by a password, which polyai does not read \
                     (it never takes a password on the command line): make an unencrypted key \
                     for signing archives with `polyai keygen --out FILE` or `minisign -G -W`, \
                     or sign the manifest yourself with `minisign -Sm DIR/manifest.json`, which \
                     asks for the password",
                );
            }
            _ => return refused(format!("{WHAT}: unknown key derivation")),
        }
        let keynum = &bytes[54..];
        let mut id = [0u8; 8];
        id.copy_from_slice(&keynum[..8]);
        let mut secret = Zeroizing::new([0u8; 64]);
        secret.copy_from_slice(&keynum[8..72]);
        // minisign 0.11 writes an unencrypted key (`-G -W`) with an all-zero checksum; the
        // public half is checked against the secret below either way.
        let unchecked = keynum[72..104].iter().all(|b| *b == 0);
        if !unchecked && checksum(&id, &secret)[..] != keynum[72..104] {
            return refused(format!(
                "{WHAT}: its checksum does not match (a damaged file?)"
            ));
        }
        let key = SigningKey::from_keypair_bytes(&secret)
            .or_else(|_| refused(format!("{WHAT}: its public half does not match its secret")))?;
        Ok(SecretKey { id: KeyId(id), key })
    }

    /// Reads a secret key file by the rule of API key files: readable, not empty, and (on
    /// Unix) open to its owner only.
    pub fn read(path: &Path) -> Result<SecretKey, Refused> {
        let text = polyai_data::config::read_secret_file(
            path,
            "signing key file",
            "check the path given to --sign",
            "make a key with `polyai keygen --out FILE`",
        )
        .map_err(|e| Refused(e.to_string()))?;
        SecretKey::parse(text.expose_secret())
            .map_err(|e| Refused(format!("{}: {e}", path.display())))
    }

    /// The secret key file's text: unencrypted (minisign's `-W` form).
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET_KEY_LEN));
        bytes.extend_from_slice(b"Ed");
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(b"B2");
        let mut salt = [0u8; 32];
        let _ = getrandom::fill(&mut salt);
        bytes.extend_from_slice(&salt);
        bytes.extend_from_slice(&OPSLIMIT.to_le_bytes());
        bytes.extend_from_slice(&MEMLIMIT.to_le_bytes());
        let secret = Zeroizing::new(self.key.to_keypair_bytes());
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(secret.as_ref());
        bytes.extend_from_slice(&checksum(&self.id.0, &secret));
        Zeroizing::new(format!(
            "{UNTRUSTED}minisign secret key {} (unencrypted: keep it private)\n{}\n",
            self.id,
            STANDARD.encode(bytes.as_slice())
        ))
    }

    /// Signs what `file` gives (streamed: its BLAKE2b-512 is signed), with `trusted_comment`
    /// (one line), and returns the `.minisig` file's text.
    pub fn sign(&self, file: impl Read, trusted_comment: &str) -> Result<String, Refused> {
        if trusted_comment.contains(['\n', '\r']) {
            return refused("a trusted comment is one line");
        }
        let digest = blake2b512(file)?;
        let signature = self.key.sign(&digest);
        let mut global = signature.to_bytes().to_vec();
        global.extend_from_slice(trusted_comment.as_bytes());
        let global = self.key.sign(&global);
        let mut head = Vec::with_capacity(74);
        head.extend_from_slice(b"ED");
        head.extend_from_slice(&self.id.0);
        head.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{UNTRUSTED}signature from polyai, minisign secret key {}\n{}\n{TRUSTED}{trusted_comment}\n{}\n",
            self.id,
            STANDARD.encode(head),
            STANDARD.encode(global.to_bytes())
        ))
    }
}

/// BLAKE2b-256 of `"Ed"`, the key id and the secret key: minisign's secret key checksum.
fn checksum(id: &[u8; 8], secret: &[u8; 64]) -> [u8; 32] {
    let mut hasher = blake2::Blake2b256::new();
    hasher.update(b"Ed");
    hasher.update(id);
    hasher.update(secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    out
}

impl SignatureFile {
    /// Reads a `.minisig` file's text.
    pub fn parse(text: &str) -> Result<SignatureFile, Refused> {
        const WHAT: &str = "not a minisign signature";
        let lines: Vec<&str> = text.lines().collect();
        let [first, sig, trusted, global, ..] = lines.as_slice() else {
            return refused(format!("{WHAT}: it has fewer than 4 lines"));
        };
        if !first.starts_with(UNTRUSTED) {
            return refused(format!(
                "{WHAT}: its first line is not an untrusted comment"
            ));
        }
        let Some(trusted_comment) = trusted.strip_prefix(TRUSTED) else {
            return refused(format!("{WHAT}: its third line is not a trusted comment"));
        };
        let head = decode(sig, WHAT)?;
        if head.len() != 74 {
            return refused(format!(
                "{WHAT}: its signature line has {} bytes, not 74",
                head.len()
            ));
        }
        let prehashed = match &head[..2] {
            b"ED" => true,
            b"Ed" => false,
            _ => return refused(format!("{WHAT}: unknown signature algorithm")),
        };
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&head[2..10]);
        let signature = Signature::from_slice(&head[10..74])
            .or_else(|_| refused(format!("{WHAT}: malformed signature")))?;
        let global = decode(global, WHAT)?;
        let global = Signature::from_slice(&global)
            .or_else(|_| refused(format!("{WHAT}: malformed global signature")))?;
        Ok(SignatureFile {
            key_id: KeyId(key_id),
            prehashed,
            signature,
            trusted_comment: trusted_comment.trim_end_matches('\r').to_owned(),
            global,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_is_caught() {
        let key = SecretKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let text = key.to_file_text();
        let again = SecretKey::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.id, key.id);
        let public =
            PublicKey::parse(&key.public().to_file_text()).unwrap_or_else(|e| panic!("{e}"));
        let signed = key
            .sign(&b"manifest"[..], "timestamp:1\tfile:manifest.json")
            .unwrap_or_else(|e| panic!("{e}"));
        let sig = SignatureFile::parse(&signed).unwrap_or_else(|e| panic!("{e}"));
        assert!(sig.prehashed);
        assert_eq!(public.verify(&sig, &b"manifest"[..]), Ok(()));
        let changed = public.verify(&sig, &b"manifesT"[..]);
        assert!(changed.is_err_and(|e| e.0.contains("does not match the file")));
        let mut comment = sig.clone();
        comment.trusted_comment.push('x');
        let changed = public.verify(&comment, &b"manifest"[..]);
        assert!(changed.is_err_and(|e| e.0.contains("trusted comment")));
        let other = SecretKey::generate()
            .unwrap_or_else(|e| panic!("{e}"))
            .public();
        let wrong = other.verify(&sig, &b"manifest"[..]);
        assert!(wrong.is_err_and(|e| e.0.contains("signed by another key")));
    }

    #[test]
    fn secrets_never_print_and_encrypted_keys_are_refused() {
        let key = SecretKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{key:?}");
        assert!(shown.contains("***") && shown.len() < 40, "{shown}");
        let text = key.to_file_text();
        let line = text.lines().nth(1).unwrap_or_default();
        let mut bytes = STANDARD.decode(line).unwrap_or_default();
        bytes[2..4].copy_from_slice(b"Sc");
        let encrypted = format!("{UNTRUSTED}x\n{}\n", STANDARD.encode(&bytes));
        let err = SecretKey::parse(&encrypted)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(
            err.contains("password") && err.contains("minisign -G -W"),
            "{err}"
        );
        bytes[2..4].copy_from_slice(&[0, 0]);
        bytes[100] ^= 1;
        let damaged = format!("{UNTRUSTED}x\n{}\n", STANDARD.encode(&bytes));
        let err = SecretKey::parse(&damaged)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(err.contains("checksum"), "{err}");
        assert!(!err.contains(line), "no key material in errors");
    }

    #[test]
    fn a_known_minisign_public_key_and_signature_are_read() {
        // minisign's own example key (from its documentation).
        let public = PublicKey::parse("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(public.id.to_string(), "E7620F1842B4E81F");
    }
}
