//! Reading a success body into memory, never more than the client's limit.

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_LENGTH, HeaderMap};

/// Why [`read_capped`] stopped.
pub(crate) enum CappedError {
    /// The body is (or announced to be) longer than `limit`.
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// The length a response announces in `Content-Length`: `Some` only when every value (in
/// every header line, and in a comma-separated list) is the same run of ASCII digits that fits
/// a `u64`. Anything else — signs, spaces inside, empty values, different values, overflow —
/// is `None`, as if no length were announced.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        let text = value.to_str().ok()?;
        for item in text.split(',') {
            let item = item.trim_matches([' ', '\t']);
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n = item.parse::<u64>().ok()?;
            if length.is_some_and(|l| l != n) {
                return None;
            }
            length = Some(n);
        }
    }
    length
}

/// Reads the whole body, failing with [`CappedError::TooLarge`] as soon as it announces
/// (`announced`, its [`content_length`]) or delivers more than `limit` bytes, so an endless or
/// huge body costs at most `limit` bytes. A body that arrives in one chunk is kept as it came,
/// without a copy.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    announced: Option<u64>,
    limit: u64,
) -> Result<Bytes, CappedError> {
    if announced.is_some_and(|n| n > limit) {
        return Err(CappedError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut length: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(CappedError::Transport)? {
        length += chunk.len() as u64;
        if length > limit {
            return Err(CappedError::TooLarge);
        }
        match (&mut joined, first.take()) {
            (Some(joined), _) => joined.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(first)) => {
                let capacity = announced.unwrap_or(0).min(limit).min(1 << 20).max(length);
                let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
                body.extend_from_slice(&first);
                body.extend_from_slice(&chunk);
                joined = Some(body);
            }
        }
    }
    Ok(match joined {
        Some(joined) => joined.freeze(),
        None => first.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                map.append(CONTENT_LENGTH, v);
            }
        }
        map
    }

    #[test]
    fn content_length_forms() {
        assert_eq!(content_length(&headers(&[b"42"])), Some(42));
        assert_eq!(content_length(&headers(&[b"42, 42"])), Some(42));
        assert_eq!(content_length(&headers(&[b"42", b"42"])), Some(42));
        assert_eq!(content_length(&headers(&[])), None);
        for bad in [
            &b"42, 43"[..],
            b"-1",
            b"+1",
            b"",
            b"4 2",
            b"0x10",
            b"99999999999999999999",
            b"1e3",
            b"\xff",
        ] {
            assert_eq!(content_length(&headers(&[bad])), None, "{bad:?}");
        }
        assert_eq!(content_length(&headers(&[b"1", b"2"])), None);
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        #[test]
        fn any_content_length_is_parsed_without_panic(
            values in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..24),
                    "[0-9 ,+-]{0,24}".prop_map(String::into_bytes),
                ],
                0..3,
            ),
        ) {
            let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            let _ = content_length(&headers(&refs));
        }

        #[test]
        fn a_number_reads_back_exactly(n: u64, repeat in 1usize..3) {
            let text = vec![n.to_string(); repeat].join(", ");
            prop_assert_eq!(content_length(&headers(&[text.as_bytes()])), Some(n));
        }
    }
}
