//! The check that a downloaded body is a whole WAV file, made while it streams.
//!
//! A WAV file is a RIFF container: `RIFF`, the size of the rest (32-bit little-endian),
//! `WAVE`, then chunks of `id` (4 bytes), `size` (32-bit little-endian) and `size` bytes of
//! payload padded to an even length. A recording needs a `fmt ` chunk (at least 16 bytes: the
//! sample format) before its `data` chunk (the samples). Streaming encoders write 0 or
//! 0xFFFFFFFF for sizes they do not know yet; such sizes are not checked against the length.

/// RIFF header length: `RIFF`, size, `WAVE`.
const HEADER: u64 = 12;
/// Chunk header length: id and size.
const CHUNK_HEADER: usize = 8;
/// Smallest `fmt ` chunk (PCM: format, channels, rate, byte rate, block align, bits).
const MIN_FMT: u32 = 16;
/// The `data` chunk must start within this many bytes (metadata chunks before it are small).
const MAX_DATA_OFFSET: u64 = 1 << 20;

/// Follows the RIFF structure of a body fed in pieces of any size; keeps a few bytes, never
/// the samples.
#[derive(Debug, Default)]
pub(crate) struct WavCheck {
    /// Bytes fed so far.
    fed: u64,
    /// The RIFF header as collected.
    header: Vec<u8>,
    /// Offset of the next chunk header.
    next_chunk: u64,
    /// The chunk header being collected.
    chunk: Vec<u8>,
    /// Whether a valid `fmt ` chunk was seen.
    fmt: bool,
    /// Offset and declared size of the `data` payload, once its header is seen.
    data: Option<(u64, u32)>,
    /// The first problem found.
    error: Option<String>,
}

impl WavCheck {
    /// Follows the next `bytes` of the body.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() && self.error.is_none() && self.data.is_none() {
            let at = self.fed + i as u64;
            let rest = &bytes[i..];
            if at < HEADER {
                let n = rest.len().min((HEADER - at) as usize);
                self.header.extend_from_slice(&rest[..n]);
                i += n;
                self.check_header();
                self.next_chunk = HEADER;
            } else if at < self.next_chunk {
                i += rest
                    .len()
                    .min(usize::try_from(self.next_chunk - at).unwrap_or(usize::MAX));
            } else {
                let n = rest.len().min(CHUNK_HEADER - self.chunk.len());
                self.chunk.extend_from_slice(&rest[..n]);
                i += n;
                if self.chunk.len() == CHUNK_HEADER {
                    self.chunk_header(at + n as u64);
                }
            }
        }
        self.fed += bytes.len() as u64;
    }

    /// What is wrong with the bytes fed so far, if anything already is.
    pub(crate) fn invalid(&self) -> Option<String> {
        self.error.clone()
    }

    /// What is wrong with the body if it ends after the bytes fed so far.
    pub(crate) fn check_complete(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(error.clone());
        }
        let received = self.fed;
        if received < HEADER {
            return Some(format!(
                "only {received} bytes received, too short for a WAV header"
            ));
        }
        if !self.fmt {
            return Some("no `fmt ` chunk: the body is not a playable WAV file".into());
        }
        let Some((offset, size)) = self.data else {
            return Some("no `data` chunk: the body holds no audio samples".into());
        };
        if let Some(size) = known(size) {
            let expected = offset + u64::from(size);
            if received < expected {
                return Some(format!(
                    "truncated: the data chunk ends at byte {expected} but {received} arrived"
                ));
            }
        }
        if let Some(riff) = known(le32(&self.header[4..8])) {
            let expected = u64::from(riff) + 8;
            if received < expected {
                return Some(format!(
                    "truncated: the RIFF header declares {expected} bytes but {received} arrived"
                ));
            }
        }
        None
    }

    fn check_header(&mut self) {
        let h = &self.header;
        let riff_ok = h.len() < 4 || &h[..4] == b"RIFF";
        let wave_ok = h.len() < 12 || &h[8..12] == b"WAVE";
        if !riff_ok || !wave_ok {
            self.error = Some(format!(
                "not a WAV file (starts with {:?})",
                String::from_utf8_lossy(h)
            ));
        }
    }

    /// A complete chunk header ending at `end`.
    fn chunk_header(&mut self, end: u64) {
        let id: [u8; 4] = [self.chunk[0], self.chunk[1], self.chunk[2], self.chunk[3]];
        let size = le32(&self.chunk[4..8]);
        self.chunk.clear();
        match &id {
            b"fmt " if size < MIN_FMT => {
                self.error = Some(format!(
                    "the `fmt ` chunk is {size} bytes, shorter than the {MIN_FMT} a sample format needs"
                ));
            }
            b"fmt " => self.fmt = true,
            b"data" if !self.fmt => {
                self.error = Some("the `data` chunk comes before any `fmt ` chunk".into());
            }
            b"data" => {
                self.data = Some((end, size));
                return;
            }
            _ => {}
        }
        self.next_chunk = end + u64::from(size) + u64::from(size & 1);
        if self.next_chunk > MAX_DATA_OFFSET {
            self.error = Some(format!(
                "no `data` chunk in the first {MAX_DATA_OFFSET} bytes"
            ));
        }
    }
}

/// A size, unless it is a streaming placeholder (0 or 0xFFFFFFFF).
fn known(size: u32) -> Option<u32> {
    (size != 0 && size != u32::MAX).then_some(size)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A WAV file: `extra` chunks (id, payload length) before `fmt `, `samples` data bytes.
    pub(crate) fn wav(extra: &[([u8; 4], u32)], samples: u32, placeholder_sizes: bool) -> Vec<u8> {
        let mut body = b"RIFF\0\0\0\0WAVE".to_vec();
        let chunk = |id: &[u8; 4], size: u32, body: &mut Vec<u8>| {
            body.extend_from_slice(id);
            body.extend_from_slice(&size.to_le_bytes());
            body.extend(std::iter::repeat_n(
                0x11,
                size as usize + (size & 1) as usize,
            ));
        };
        for (id, size) in extra {
            chunk(id, *size, &mut body);
        }
        chunk(b"fmt ", 16, &mut body);
        let data_at = body.len();
        chunk(b"data", samples, &mut body);
        body.truncate(data_at + 8 + samples as usize);
        let riff = if placeholder_sizes {
            u32::MAX
        } else {
            (body.len() - 8) as u32
        };
        body[4..8].copy_from_slice(&riff.to_le_bytes());
        if placeholder_sizes {
            body[data_at + 4..data_at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        body
    }

    fn check(pieces: &[&[u8]]) -> Option<String> {
        let mut c = WavCheck::default();
        for piece in pieces {
            c.feed(piece);
            if let Some(e) = c.invalid() {
                return Some(e);
            }
        }
        c.check_complete()
    }

    #[test]
    fn a_whole_wav_passes_and_a_cut_one_does_not() {
        let body = wav(&[(*b"LIST", 5)], 1000, false);
        assert_eq!(check(&[&body]), None);
        assert!(check(&[&body[..body.len() - 1]]).is_some_and(|m| m.contains("truncated")));
        let streaming = wav(&[], 1000, true);
        assert_eq!(check(&[&streaming[..100]]), None);
    }

    #[test]
    fn headers_without_fmt_or_data_are_refused() {
        for riff in [0u32, u32::MAX, 4] {
            let mut only_header = b"RIFF".to_vec();
            only_header.extend_from_slice(&riff.to_le_bytes());
            only_header.extend_from_slice(b"WAVE");
            assert!(
                check(&[&only_header]).is_some_and(|m| m.contains("fmt")),
                "{riff}"
            );
            only_header.extend_from_slice(b"WAVE");
            assert!(check(&[&only_header]).is_some(), "{riff} + 4");
        }
        let mut no_data = wav(&[], 0, false);
        no_data.truncate(12 + 8 + 16);
        assert!(check(&[&no_data]).is_some_and(|m| m.contains("data")));
        let mut data_first = b"RIFF\xff\xff\xff\xffWAVEdata\x04\0\0\0abcd".to_vec();
        assert!(check(&[&data_first]).is_some_and(|m| m.contains("before")));
        data_first[12..16].copy_from_slice(b"fmt ");
        assert!(check(&[&data_first]).is_some_and(|m| m.contains("shorter")));
        assert!(check(&[b"<html>"]).is_some_and(|m| m.contains("not a WAV")));
        assert!(check(&[b"RIF"]).is_some_and(|m| m.contains("too short")));
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any bytes, cut anywhere: no panic, and the verdict does not depend on the cuts.
        #[test]
        fn any_body_in_any_pieces(
            body in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                (proptest::collection::vec(any::<u8>(), 0..120))
                    .prop_map(|tail| [b"RIFF\x20\0\0\0WAVE".as_slice(), &tail].concat()),
            ],
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in at {
                pieces.push(&body[start..cut]);
                start = cut;
            }
            pieces.push(&body[start..]);
            prop_assert_eq!(check(&pieces).is_some(), check(&[&body]).is_some());
        }

        /// Well-formed recordings pass whole and fail when cut short.
        #[test]
        fn well_formed_recordings(
            extra in proptest::collection::vec((any::<[u8; 4]>(), 0u32..40), 0..4),
            samples in 1u32..3000,
            cut in 1usize..50,
        ) {
            let extra: Vec<_> = extra
                .into_iter()
                .filter(|(id, _)| id != b"fmt " && id != b"data")
                .collect();
            let body = wav(&extra, samples, false);
            prop_assert_eq!(check(&[&body]), None);
            let short = &body[..body.len().saturating_sub(cut)];
            prop_assert!(check(&[short]).is_some());
        }
    }
}
