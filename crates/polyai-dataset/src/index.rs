//! The writer's index of the dataset's conversations: each id's key (its 128-bit xxh3) → the
//! slot of the fragment holding it and its fingerprint. A million conversations are held at
//! once, so an entry is kept to 28 bytes (4-byte aligned: a `u128` key would pad it to 32) and
//! the key, a hash already, is not hashed again.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A conversation in the index: the slot of the fragment holding it, and its fingerprint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub slot: u32,
    fingerprint: [u32; 2],
}

impl Entry {
    pub fn new(slot: u32, fingerprint: u64) -> Self {
        Entry {
            slot,
            fingerprint: [fingerprint as u32, (fingerprint >> 32) as u32],
        }
    }

    pub fn fingerprint(&self) -> u64 {
        u64::from(self.fingerprint[0]) | (u64::from(self.fingerprint[1]) << 32)
    }
}

/// An id's key ([`id_key`](crate::manifest::id_key)) in 4-byte words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u32; 4]);

impl From<u128> for Key {
    fn from(key: u128) -> Self {
        Key([
            key as u32,
            (key >> 32) as u32,
            (key >> 64) as u32,
            (key >> 96) as u32,
        ])
    }
}

impl Hash for Key {
    /// Its low 64 bits: uniform already.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.0[0]) | (u64::from(self.0[1]) << 32));
    }
}

/// Passes a [`Key`]'s 64 bits through (other input, which the index never gives it, is
/// folded in with a multiply).
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The index.
#[derive(Debug, Default)]
pub(crate) struct Index(HashMap<Key, Entry, BuildHasherDefault<KeyHasher>>);

impl Index {
    pub fn get(&self, key: u128) -> Option<Entry> {
        self.0.get(&Key::from(key)).copied()
    }

    pub fn insert(&mut self, key: u128, entry: Entry) {
        self.0.insert(Key::from(key), entry);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.0.values_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_small_and_keep_what_they_are_given() {
        assert_eq!(std::mem::size_of::<(Key, Entry)>(), 28);
        let mut index = Index::default();
        for n in 0..1000u64 {
            let key = crate::manifest::id_key(&format!("CA{n}"));
            index.insert(
                key,
                Entry::new(n as u32, n.wrapping_mul(0x0123_4567_89AB_CDEF)),
            );
        }
        assert_eq!(index.len(), 1000);
        for n in 0..1000u64 {
            let entry = index.get(crate::manifest::id_key(&format!("CA{n}")));
            assert_eq!(
                entry.map(|e| (e.slot, e.fingerprint())),
                Some((n as u32, n.wrapping_mul(0x0123_4567_89AB_CDEF)))
            );
        }
        assert!(index.get(crate::manifest::id_key("CA1000")).is_none());
        index.insert(crate::manifest::id_key("CA1"), Entry::new(7, u64::MAX));
        let again = index.get(crate::manifest::id_key("CA1"));
        assert_eq!(
            again.map(|e| (e.slot, e.fingerprint())),
            Some((7, u64::MAX))
        );
        assert_eq!(index.len(), 1000);
    }
}
