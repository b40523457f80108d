//! WAV recordings synthesised from a conversation's turns and streamed as they are generated.
//!
//! Caller speech is a low buzzy tone with breath noise, agent speech a brighter tone with a syllable
//! envelope, and the gaps carry faint comfort noise. Every sample is a pure function of its index, so a
//! recording of any length is produced chunk by chunk in constant memory.
//!
//! **Redaction.** In the redacted recording (`redacted=true`, or any recording for a key without
//! PII access) the personal-data spans of the caller's speech are replaced by a 1 kHz tone at
//! a quarter of full scale (-12 dBFS peak), the "bleep" of redacted calls, so redaction is audible and
//! visible in a waveform. The spans, deterministic for each conversation:
//!
//! - the last 40% (at least 600 ms, at most all) of the caller's **first** turn, where by the
//!   mock's convention the caller confirms their phone number; so every recording with a caller
//!   turn differs from its redacted form;
//! - the turn's own personal-data span ([`TurnPlan::pii_span`](crate::data::TurnPlan)), in about
//!   a third of the longer caller turns.
//!
//! Everything outside those spans is byte for byte the plain recording.

use std::str::FromStr;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use crate::config::SampleRate;
use crate::data::{Conversation, Speaker};
use crate::prng::{Rng, hash};

/// Length of the RIFF/WAVE header the mock writes.
pub const WAV_HEADER_LEN: u64 = 44;

/// Frequency of the tone that replaces personal data in redacted recordings.
pub const REDACTION_TONE_HZ: u64 = 1000;

/// Samples generated per streamed chunk (64 KiB of PCM).
const CHUNK_SAMPLES: u64 = 32 * 1024;

/// Which side(s) of the call a recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both sides mixed (the default).
    #[default]
    Combined,
    /// The caller only.
    User,
    /// The agent only.
    Agent,
}

impl FromStr for Direction {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "combined" => Ok(Direction::Combined),
            "user" => Ok(Direction::User),
            "agent" => Ok(Direction::Agent),
            _ => Err(()),
        }
    }
}

/// The 44-byte header of a 16-bit mono PCM WAV file holding `data_bytes` of samples.
///
/// Sizes past 4 GiB are written as `0xFFFFFFFF`, the usual convention for streamed WAV.
pub fn wav_header(sample_rate: u32, data_bytes: u64) -> [u8; 44] {
    let data = u32::try_from(data_bytes).unwrap_or(u32::MAX);
    let riff = u32::try_from(data_bytes + 36).unwrap_or(u32::MAX);
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

#[derive(Debug, Clone)]
struct Segment {
    start: u64,
    end: u64,
    speaker: Speaker,
    /// Sample ranges replaced by the redaction tone.
    pii: Vec<(u64, u64)>,
}

/// Everything needed to produce one recording.
#[derive(Debug, Clone)]
pub struct AudioPlan {
    rate: u32,
    cycle: u64,
    total_samples: u64,
    segments: Vec<Segment>,
    seed: u64,
    tone_step: u32,
    user_step: u32,
    agent_step: u32,
    direction: Direction,
    redacted: bool,
}

/// A fast integer sine approximation: phase in `0..2^16`, result in `-16384..=16384`.
fn sine(phase: u32) -> i32 {
    let p = (phase & 0xFFFF) as i32;
    // Map to x in [-32768, 32768) over one half-wave pair.
    let half = p & 0x7FFF; // 0..32767 within a half period
    let x = half - 16384; // -16384..16383
    let y = 16384 - ((x * x) >> 14); // parabola, 0..16384
    if p < 0x8000 { y } else { -y }
}

impl AudioPlan {
    /// The recording of `conv` at `rate`, as `direction`, optionally redacted.
    ///
    /// With `bytes_override` the PCM data has that many bytes (rounded down to whole samples), the
    /// conversation's timeline repeating as needed.
    pub fn new(
        conv: &Conversation,
        rate: SampleRate,
        direction: Direction,
        redacted: bool,
        bytes_override: Option<u64>,
    ) -> Self {
        let hz = rate.hz();
        let ms_to_sample = |ms: u64| ms * u64::from(hz) / 1000;
        let cycle = (conv.total_duration.max(1)) * u64::from(hz);
        let total_samples = bytes_override.map_or(cycle, |b| b / 2);
        let mut segments = Vec::new();
        let mut first_caller_turn = true;
        for t in &conv.turns {
            if t.user_span.1 > t.user_span.0 {
                let mut pii: Vec<(u64, u64)> = t
                    .pii_span
                    .map(|(a, b)| (ms_to_sample(a), ms_to_sample(b)))
                    .into_iter()
                    .collect();
                if std::mem::take(&mut first_caller_turn) {
                    let (a, b) = t.user_span;
                    let len = ((b - a) * 2 / 5).max(600).min(b - a);
                    pii.push((ms_to_sample(b - len), ms_to_sample(b)));
                }
                segments.push(Segment {
                    start: ms_to_sample(t.user_span.0),
                    end: ms_to_sample(t.user_span.1),
                    speaker: Speaker::User,
                    pii,
                });
            }
            segments.push(Segment {
                start: ms_to_sample(t.agent_span.0),
                end: ms_to_sample(t.agent_span.1),
                speaker: Speaker::Agent,
                pii: Vec::new(),
            });
        }
        segments.retain(|s| s.start < cycle);
        let seed = hash(&[conv.seed, 0xA0D10]);
        let step = |freq: u64| ((freq << 16) / u64::from(hz)) as u32;
        AudioPlan {
            rate: hz,
            cycle,
            total_samples,
            segments,
            seed,
            tone_step: step(REDACTION_TONE_HZ),
            user_step: step(130 + seed % 60),
            agent_step: step(260 + (seed >> 8) % 80),
            direction,
            redacted,
        }
    }

    /// Total size of the WAV file (header included): the `Content-Length`.
    pub fn content_length(&self) -> u64 {
        WAV_HEADER_LEN + self.total_samples * 2
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Sample ranges (within the whole recording's first cycle) that redaction replaces with
    /// the tone.
    pub fn pii_spans(&self) -> Vec<(u64, u64)> {
        self.segments
            .iter()
            .flat_map(|s| s.pii.iter().copied())
            .collect()
    }

    /// One sample: `n` is its index in the recording, `t` its position in the cycle, `bits` 16 random
    /// bits for the noise, `seg` the speech segment at `t` if any.
    fn sample(&self, n: u64, t: u64, bits: u32, seg: Option<&Segment>) -> i16 {
        let noise = (bits & 0x1F) as i32 - 16; // comfort noise, -16..15
        let Some(seg) = seg else {
            return noise as i16;
        };
        if self.redacted && seg.pii.iter().any(|&(a, b)| t >= a && t < b) {
            return (sine((n as u32).wrapping_mul(self.tone_step)) / 2) as i16;
        }
        let voiced = match (self.direction, seg.speaker) {
            (Direction::Combined, _) => true,
            (Direction::User, s) => s == Speaker::User,
            (Direction::Agent, s) => s == Speaker::Agent,
        };
        if !voiced {
            return noise as i16;
        }
        let v = match seg.speaker {
            Speaker::User => {
                let tone = sine((n as u32).wrapping_mul(self.user_step));
                let breath = ((bits >> 5) & 0x3FF) as i32 - 512;
                tone / 3 + tone / 8 + breath
            }
            Speaker::Agent => {
                // Syllables at ~4 Hz: amplitude follows a rectified slow sine.
                let syllable = sine(((n * 4 * 65536) / u64::from(self.rate)) as u32).abs();
                let tone = sine((n as u32).wrapping_mul(self.agent_step));
                (tone * (6000 + syllable)) >> 15
            }
        };
        v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
    }

    /// Appends the PCM bytes of chunk number `chunk` (samples `chunk * CHUNK_SAMPLES ..`) to `out`.
    ///
    /// Noise comes from a generator seeded per chunk, so any chunk renders on its own.
    pub fn render_chunk(&self, chunk: u64, out: &mut BytesMut) {
        let from = chunk * CHUNK_SAMPLES;
        let to = (from + CHUNK_SAMPLES).min(self.total_samples);
        if from >= to {
            return;
        }
        let start = out.len();
        out.resize(start + ((to - from) * 2) as usize, 0);
        let pcm = &mut out[start..];
        let mut rng = Rng::new(&[self.seed, chunk]);
        let mut bits = 0u64;
        let mut t = from % self.cycle;
        let mut idx = self.segments.partition_point(|s| s.end <= t);
        let segments = self.segments.as_slice();
        for (k, pair) in pcm.chunks_exact_mut(2).enumerate() {
            if k % 4 == 0 {
                bits = rng.next_u64();
            }
            while idx < segments.len() && segments[idx].end <= t {
                idx += 1;
            }
            let seg = segments.get(idx).filter(|s| s.start <= t);
            let n = from + k as u64;
            let v = self.sample(n, t, (bits >> ((k % 4) * 16)) as u32 & 0xFFFF, seg);
            pair.copy_from_slice(&v.to_le_bytes());
            t += 1;
            if t == self.cycle {
                t = 0;
                idx = 0;
            }
        }
    }

    /// The whole WAV file as a stream of chunks, generated lazily.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let chunks = self.total_samples.div_ceil(CHUNK_SAMPLES);
        futures_util::stream::unfold((self, 0u64), move |(plan, chunk)| async move {
            if chunk > 0 && chunk >= chunks {
                return None;
            }
            let mut buf = BytesMut::new();
            if chunk == 0 {
                buf.extend_from_slice(&wav_header(plan.rate, plan.total_samples * 2));
            }
            plan.render_chunk(chunk, &mut buf);
            Some((Ok(buf.freeze()), (plan, chunk + 1)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_is_bounded_and_periodic() {
        assert_eq!(sine(0), 0);
        assert_eq!(sine(0x4000), 16384);
        assert_eq!(sine(0xC000), -16384);
        for p in 0..65536u32 {
            assert!(sine(p).abs() <= 16384);
        }
    }
}
