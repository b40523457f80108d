//! A compact set of conversation ids: 12 bytes per id, whatever the id's length.
//!
//! An id is kept as the first 96 bits of the SHA-256 of a secret drawn for this process and the
//! id ([`key`]); two different ids share a key with a probability of about n²/2⁹⁷ (1 in 10¹⁷
//! for a million ids), and as nobody outside the process knows the secret, nobody can craft a
//! pair that does. Keys are never saved: each run makes its set from its files. They live in
//! one sorted `Vec` (binary search) plus a small hash set of recent inserts that is merged into
//! the `Vec` in place whenever it fills, so a million ids cost 12 MiB plus a fixed 1–2 MiB, with
//! no doubling spike while the set grows.

use std::collections::HashSet;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Recent inserts held apart before a merge into the sorted part.
const MERGE_AT: usize = 1 << 16;

/// The key of an id in this process (see the [module documentation](self)).
pub type Key = [u8; 12];

/// The key of `id`: the first 96 bits of SHA-256(this process's secret ‖ id).
pub fn key(id: &str) -> Key {
    // The secret fills one SHA-256 block, absorbed once: each key then costs what a hash of the
    // id alone costs (one block for an id under 56 bytes), on the export's hot path.
    static SALTED: OnceLock<Sha256> = OnceLock::new();
    let salted = SALTED.get_or_init(|| {
        let mut secret = [0u8; 64];
        // Without the system's randomness the keys are still distinct by chance as above;
        // only a crafted collision would then be possible.
        let _ = getrandom::fill(&mut secret);
        Sha256::new().chain_update(secret)
    });
    let digest = salted.clone().chain_update(id.as_bytes()).finalize();
    let mut first = [0u8; 12];
    first.copy_from_slice(&digest[..12]);
    first
}

/// A set of id keys; see the [module documentation](self).
#[derive(Debug, Default)]
pub struct IdSet {
    sorted: Vec<Key>,
    recent: HashSet<Key>,
}

impl IdSet {
    /// An empty set.
    pub fn new() -> Self {
        IdSet::default()
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: Key) -> bool {
        self.recent.contains(&key) || self.sorted.binary_search(&key).is_ok()
    }

    /// Adds `key`; `false` when it was already there.
    pub fn insert(&mut self, key: Key) -> bool {
        if self.sorted.binary_search(&key).is_ok() || !self.recent.insert(key) {
            return false;
        }
        if self.recent.len() >= MERGE_AT {
            self.merge();
        }
        true
    }

    /// Number of keys.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Moves the recent keys into the sorted part, merging from the back in place.
    fn merge(&mut self) {
        let mut add: Vec<Key> = self.recent.drain().collect();
        add.sort_unstable();
        let old = self.sorted.len();
        self.sorted.reserve_exact(add.len());
        self.sorted.resize(old + add.len(), [0; 12]);
        let (mut i, mut j, mut k) = (old, add.len(), old + add.len());
        while j > 0 {
            k -= 1;
            if i > 0 && self.sorted[i - 1] > add[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = add[j - 1];
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(key("CA1"), key("CA1"));
        assert_ne!(key("CA1"), key("ca1"));
        assert_ne!(key(""), key(" "));
    }

    #[test]
    fn inserts_and_lookups_across_merges() {
        let mut set = IdSet::new();
        let n = MERGE_AT * 3 + 17;
        for i in 0..n {
            assert!(set.insert(key(&format!("id{i}"))), "{i}");
        }
        assert_eq!(set.len(), n);
        assert!(set.sorted.len() >= MERGE_AT * 3);
        assert!(
            set.sorted.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        for i in (0..n).step_by(997) {
            assert!(set.contains(key(&format!("id{i}"))));
            assert!(!set.insert(key(&format!("id{i}"))), "{i} again");
        }
        assert!(!set.contains(key("absent")));
        assert_eq!(set.len(), n);
    }
}
