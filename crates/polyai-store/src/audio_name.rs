//! File names of recordings under `--with-audio DIR`.
//!
//! TEMPORARY (issue 10): replace [`audio_file_name`] with `polyai_data::file_name_for_id(id, "wav")`
//! once that lands; it names every id safely and injectively. Until then only ids that are safe
//! file names as they are get a recording, so no id can name a path outside DIR or two ids one
//! file; others are skipped with a warning.

/// `ID.wav` for an id of 1 to 100 ASCII letters, digits, `-` and `_` starting with a letter or
/// digit; `None` for any other id.
pub(crate) fn audio_file_name(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    let plain = (1..=100).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    plain.then(|| format!("{id}.wav"))
}

#[cfg(test)]
mod tests {
    use super::audio_file_name;

    #[test]
    fn only_plain_ids_name_files() {
        assert_eq!(
            audio_file_name("CA681f3ad0d037c1884614548178a5bc1b").as_deref(),
            Some("CA681f3ad0d037c1884614548178a5bc1b.wav")
        );
        for bad in ["", "../x", "a/b", ".hidden", "-rf", "a b", "é", &"x".repeat(101)] {
            assert_eq!(audio_file_name(bad), None, "{bad:?}");
        }
    }
}
