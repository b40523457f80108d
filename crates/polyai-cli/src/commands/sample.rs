//! Samples we draw ourselves: `conversations list --sample --seed N` and `--with-recording`.
//!
//! The Conversations API v3 samples on the server (`--sample` alone: one page in random order),
//! with no seed, and the Data API does not sample at all. A sample a QA team can draw again, or
//! one of conversations that have a recording, is drawn here from every conversation the
//! listing returns (either API, within `--since`/`--until` and the other filters):
//!
//! - each conversation gets a key: the first 8 bytes of SHA-256 over the seed (8 bytes,
//!   big-endian) and its id;
//! - the sample is the conversations with the smallest keys, in key order ("bottom-k").
//!
//! So the same seed over the same conversations gives the same sample whatever the page size or
//! order, a conversation that appears later enters it only if its key is small enough, and
//! memory holds the candidates only. With `--with-recording`, conversations still in progress
//! are left out; the Data API says in each record whether there is a recording (`audio_url`),
//! while for v3 records each candidate's recording is asked for, in key order, until the sample
//! is full (the download is stopped at its headers).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use futures_util::StreamExt;
use polyai_data::record::{Api, ConversationRecord};
use sha2::{Digest, Sha256};

use crate::exit::CliError;

/// Recordings asked for at once with `--with-recording` through v3.
const PROBES_AT_ONCE: usize = 8;

/// A seeded bottom-k sample; see the [module documentation](self).
#[derive(Debug)]
pub struct Sampler {
    seed: u64,
    /// Conversations to keep as candidates (more than the sample when recordings are asked
    /// for after the walk).
    pool: usize,
    /// Only conversations with a recording.
    with_recording: bool,
    /// The candidates, the largest key on top.
    heap: BinaryHeap<Candidate>,
    /// Conversations offered.
    pub seen: u64,
    /// Whether an eligible conversation was left out because the pool was full.
    left_out: bool,
}

#[derive(Debug)]
struct Candidate {
    key: u64,
    record: ConversationRecord,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then_with(|| {
            self.record
                .conversation_id
                .cmp(&other.record.conversation_id)
        })
    }
}

/// A conversation's key in the sample of `seed`.
pub fn key(seed: u64, id: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_be_bytes());
    hasher.update(id.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// A seed for a run that gave none (printed, so that the sample can be drawn again).
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    key(u64::from(std::process::id()), &nanos.to_string()) % 1_000_000_000
}

impl Sampler {
    /// A sample of `size` with `seed`.
    pub fn new(seed: u64, size: usize, with_recording: bool) -> Self {
        Sampler {
            seed,
            // Recordings asked for after the walk: candidates enough for most agents (a
            // quarter with recordings), bounded.
            pool: if with_recording {
                size.saturating_mul(4).max(size.saturating_add(100))
            } else {
                size
            },
            with_recording,
            heap: BinaryHeap::new(),
            seen: 0,
            left_out: false,
        }
    }

    /// Offers a conversation of the listing.
    pub fn offer(&mut self, record: ConversationRecord) {
        self.seen += 1;
        if self.with_recording
            && (record.in_progress == Some(true)
                || (record.api == Api::Data && record.audio_url.is_none()))
        {
            return;
        }
        let candidate = Candidate {
            key: key(self.seed, &record.conversation_id),
            record,
        };
        if self.heap.len() < self.pool {
            self.heap.push(candidate);
            return;
        }
        self.left_out = true;
        if self.heap.peek().is_some_and(|top| candidate < *top) {
            self.heap.pop();
            self.heap.push(candidate);
        }
    }

    /// The sample of `size`, in key order: with `--with-recording`, the first candidates whose
    /// recording `has_recording` finds (asked only for v3 records, a few at a time). Also gives,
    /// when the candidates ran out before the sample was full while conversations beyond them
    /// were left out, how many candidates there were.
    pub async fn draw<F, Fut>(
        self,
        size: usize,
        has_recording: F,
    ) -> Result<(Vec<ConversationRecord>, Option<usize>), CliError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<bool, CliError>>,
    {
        let full = self.left_out.then_some(self.heap.len());
        let candidates = self.heap.into_sorted_vec();
        if !self.with_recording || candidates.iter().all(|c| c.record.api == Api::Data) {
            let sample: Vec<_> = candidates
                .into_iter()
                .take(size)
                .map(|c| c.record)
                .collect();
            return Ok((sample, None));
        }
        let mut probes = futures_util::stream::iter(candidates.into_iter().map(|c| {
            let probe = has_recording(c.record.conversation_id.clone());
            async move { probe.await.map(|found| found.then_some(c.record)) }
        }))
        .buffered(PROBES_AT_ONCE);
        let mut sample = Vec::with_capacity(size);
        while sample.len() < size {
            match probes.next().await {
                Some(found) => sample.extend(found?),
                None => return Ok((sample, full)),
            }
        }
        Ok((sample, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ConversationRecord {
        ConversationRecord::from_v3(&serde_json::json!({"id": id})).expect("a record")
    }

    fn draw(sampler: Sampler, size: usize) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime
            .block_on(sampler.draw(size, |id| async move { Ok(id.ends_with('0')) }))
            .expect("drawn")
            .0
            .into_iter()
            .map(|r| r.conversation_id)
            .collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_in_any_order() {
        let ids: Vec<String> = (0..500).map(|n| format!("CA{n}")).collect();
        let mut forward = Sampler::new(7, 20, false);
        ids.iter().for_each(|id| forward.offer(record(id)));
        let mut backward = Sampler::new(7, 20, false);
        ids.iter().rev().for_each(|id| backward.offer(record(id)));
        let a = draw(forward, 20);
        assert_eq!(a.len(), 20);
        assert_eq!(a, draw(backward, 20));
        let mut other = Sampler::new(8, 20, false);
        ids.iter().for_each(|id| other.offer(record(id)));
        assert_ne!(a, draw(other, 20), "another seed, another sample");
        // The keys are in order, and none left out is smaller than the largest kept.
        let keys: Vec<u64> = a.iter().map(|id| key(7, id)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        let largest = keys[keys.len() - 1];
        let smaller = ids.iter().filter(|id| key(7, id) <= largest).count();
        assert_eq!(smaller, 20);
    }

    #[test]
    fn with_recording_keeps_the_first_candidates_that_have_one() {
        let ids: Vec<String> = (0..500).map(|n| format!("CA{n}")).collect();
        let mut sampler = Sampler::new(3, 10, true);
        ids.iter().for_each(|id| sampler.offer(record(id)));
        let drawn = draw(sampler, 10);
        assert_eq!(drawn.len(), 10);
        assert!(drawn.iter().all(|id| id.ends_with('0')), "{drawn:?}");
        // The same as the bottom 10 keys among the ids with a recording.
        let mut with: Vec<&String> = ids.iter().filter(|id| id.ends_with('0')).collect();
        with.sort_by_key(|id| (key(3, id), id.to_string()));
        let want: Vec<String> = with.into_iter().take(10).cloned().collect();
        assert_eq!(drawn, want);
    }
}
