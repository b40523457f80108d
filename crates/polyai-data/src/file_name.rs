//! File names for ids: one name per id, never a path, the same on Linux, macOS and Windows.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// Longest id used as its own file name.
const MAX_VERBATIM: usize = 100;
/// Characters of an unusual id kept, made safe, at the front of its file name.
const READABLE_PREFIX: usize = 40;
/// Bytes of the SHA-256 of the id in a tagged name (shown as twice as many hex digits).
const TAG_BYTES: usize = 16;
/// Longest extension kept.
const MAX_EXTENSION: usize = 16;
/// Names Windows reserves for devices, whatever the case and extension.
const WINDOWS_DEVICES: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];

/// The file name for a record with this id, e.g. a conversation's recording: `{id}.{extension}`
/// when the id is an ordinary one, else a tagged name.
///
/// An ordinary id has 1 to 100 ASCII letters, digits, `-` and `_`, starts with a letter or a
/// digit, and is not a name Windows reserves for a device (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`,
/// `LPT0`–`LPT9`, in any case). Every other id — with `/`, `\`, `.`, `?`, `:`, spaces, non-ASCII
/// letters, control characters, or longer than 100 bytes — is named
/// `{prefix}~{tag}.{extension}`: up to 40 of its characters with anything but ASCII letters,
/// digits and `_` replaced by `_`, then `~` and 32 hex digits of the SHA-256 of the id.
///
/// What it guarantees, for any id (a server's ids are untrusted):
/// - the name is a single file name (no separator, not `.` or `..`, no leading `-` or `.`,
///   only ASCII letters, digits, `-`, `_`, `~` and the one `.` before the extension), so it
///   can neither leave the folder it is joined to nor be hidden or mistaken for an option;
/// - it is at most 118 bytes long, under the 255-byte limit of common file systems;
/// - it is valid on Windows, macOS and Linux;
/// - different ids get different names: ordinary ids are used as they are, tagged names hold
///   `~` (which ordinary ids never do) and a 128-bit hash of the id. One limit: on a
///   case-insensitive file system (Windows, macOS by default) two ordinary ids that differ only
///   in letter case share a file.
///
/// `extension` (e.g. `wav`) keeps only its first 16 ASCII letters and digits; empty gives no
/// extension.
///
/// ```
/// use polyai_data::file_name_for_id;
///
/// assert_eq!(file_name_for_id("CA681f3ad0d037c1884614548178a5bc1b", "wav"), "CA681f3ad0d037c1884614548178a5bc1b.wav");
/// let escaped = file_name_for_id("../escaped_from_cwd", "wav");
/// assert!(escaped.starts_with("___escaped_from_cwd~") && escaped.ends_with(".wav"));
/// assert_ne!(file_name_for_id("a/b", "wav"), file_name_for_id("a?b", "wav"));
/// assert_ne!(file_name_for_id("a/b", "wav"), file_name_for_id("a_b", "wav"));
/// assert!(file_name_for_id(&"x".repeat(300), "wav").len() <= 118);
/// assert_ne!(file_name_for_id("con", "wav"), "con.wav");
/// ```
pub fn file_name_for_id(id: &str, extension: &str) -> String {
    let mut name = if is_ordinary(id) {
        id.to_owned()
    } else {
        tagged(id)
    };
    let extension: String = extension
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(MAX_EXTENSION)
        .collect();
    if !extension.is_empty() {
        name.push('.');
        name.push_str(&extension);
    }
    name
}

fn is_ordinary(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=MAX_VERBATIM).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && !is_windows_device(id)
}

fn is_windows_device(id: &str) -> bool {
    let upper = id.to_ascii_uppercase();
    WINDOWS_DEVICES.contains(&upper.as_str())
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit())
}

/// `{safe prefix}~{hex of the SHA-256 of the id}`.
fn tagged(id: &str) -> String {
    let mut name: String = id
        .chars()
        .take(READABLE_PREFIX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        name.push('_');
    }
    name.push('~');
    for byte in &Sha256::digest(id.as_bytes())[..TAG_BYTES] {
        let _ = write!(name, "{byte:02x}");
    }
    name
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Characters a portable file name may hold (plus the extension's dot).
    fn portable(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 118
            && !name.starts_with(['.', '-', '~'])
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'.'))
            && name.matches('.').count() <= 1
    }

    #[test]
    fn ordinary_ids_are_their_own_names() {
        for id in [
            "CA681f3ad0d037c1884614548178a5bc1b",
            "LOCAL-0725f700-6fa7-437a-8fe6-3de9828a95c0",
            "AS_CHAT_106b4f9a-2541-4924-9ea1-fe5ced3c1eec",
            "COM10",
            "CONSOLE",
        ] {
            assert_eq!(file_name_for_id(id, "wav"), format!("{id}.wav"));
        }
    }

    #[test]
    fn the_issue_cases_get_distinct_safe_names() {
        let ids = [
            "a/b",
            "a_b",
            "a?b",
            "../escaped_from_cwd",
            "..",
            ".",
            "",
            "-rf",
            ".hidden",
            "con",
            "LPT1",
            "Nul",
            "a\\b",
            "a:b",
            "a b",
            "é",
            "e\u{301}",
            "a\u{0}b",
        ];
        let long = "x".repeat(300);
        let mut seen = HashMap::new();
        for id in ids.iter().copied().chain([long.as_str()]) {
            let name = file_name_for_id(id, "wav");
            assert!(portable(&name), "{id:?} -> {name}");
            assert!(name.ends_with(".wav"), "{name}");
            if let Some(other) = seen.insert(name.clone(), id) {
                panic!("{other:?} and {id:?} both map to {name}");
            }
        }
        assert!(file_name_for_id("a/b", "wav").starts_with("a_b~"));
        assert_eq!(file_name_for_id("CA1", ""), "CA1");
        assert_eq!(file_name_for_id("CA1", "../w.a v"), "CA1.wav");
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        #[test]
        fn names_are_portable_and_bounded(id in any::<String>()) {
            let name = file_name_for_id(&id, "wav");
            prop_assert!(portable(&name), "{:?} -> {}", id, name);
            let path = std::path::Path::new("out").join(&name);
            prop_assert_eq!(path.parent(), Some(std::path::Path::new("out")));
            prop_assert_eq!(path.file_name().and_then(|n| n.to_str()), Some(name.as_str()));
        }

        /// Ids that look alike (the same letters with separators, dots, case or length
        /// changed) still get different names.
        #[test]
        fn different_ids_get_different_names(
            ids in proptest::collection::hash_set("[aA_/?.~ -]{0,4}|[a-c]{95,105}", 2..40),
        ) {
            let mut seen = HashMap::new();
            for id in &ids {
                let name = file_name_for_id(id, "wav");
                if let Some(other) = seen.insert(name.clone(), id.clone()) {
                    prop_assert!(false, "{:?} and {:?} both map to {}", other, id, name);
                }
            }
        }
    }
}
