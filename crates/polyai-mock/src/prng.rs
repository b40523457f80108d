//! Small, portable, deterministic pseudo-random tools.
//!
//! Everything the mock generates is derived from a seed through these functions, so the same seed gives
//! the same bytes on every run and platform. Nothing here is cryptographic.

/// The splitmix64 finaliser: a fast, well-mixed 64-bit hash of `x`.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hashes a list of words into one well-mixed value (order matters).
pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x243F_6A88_85A3_08D3, |acc, &p| mix64(acc ^ mix64(p)))
}

/// A stable hash of a text: its bytes folded through [`mix64`].
pub fn text_hash(text: &str) -> u64 {
    text.bytes()
        .fold(0x9E37_79B9_7F4A_7C15, |acc, b| mix64(acc ^ u64::from(b)))
}

/// A splitmix64 generator: tiny state, good enough statistics for fake data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose stream is fully determined by `parts`.
    pub fn new(parts: &[u64]) -> Self {
        Rng(hash(parts))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (`n` must be non-zero; 0 is returned otherwise).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len() as u64) as usize;
        &items[i.min(items.len().saturating_sub(1))]
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let v = self.next_u64();
            s.push_str(&format!("{v:016x}"));
        }
        s.truncate(n);
        s
    }

    /// A UUID-shaped string (version 4 layout) built from this stream.
    pub fn uuid(&mut self) -> String {
        uuid_from(self.next_u64(), self.next_u64())
    }
}

/// Formats two words as a version-4-layout UUID string.
pub fn uuid_from(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    uuid::Uuid::from_u64_pair(hi, lo).to_string()
}

/// A keyed, invertible permutation of 128-bit blocks (a small Feistel network).
///
/// Used to turn `(agent, index, check)` into an opaque conversation id and back without any table.
#[derive(Debug, Clone)]
pub struct Permutation {
    keys: [u64; 6],
}

impl Permutation {
    /// A permutation keyed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(&[seed, 0x5045_524D]);
        let mut keys = [0u64; 6];
        for k in &mut keys {
            *k = rng.next_u64();
        }
        Permutation { keys }
    }

    /// Maps a block to its image.
    pub fn encrypt(&self, (mut l, mut r): (u64, u64)) -> (u64, u64) {
        for k in self.keys {
            let t = l ^ mix64(r ^ k);
            l = r;
            r = t;
        }
        (l, r)
    }

    /// Inverse of [`Permutation::encrypt`].
    pub fn decrypt(&self, (mut l, mut r): (u64, u64)) -> (u64, u64) {
        for k in self.keys.iter().rev() {
            let t = r ^ mix64(l ^ k);
            r = l;
            l = t;
        }
        (l, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_round_trips() {
        let p = Permutation::new(7);
        for i in 0..1000u64 {
            let b = (i, mix64(i));
            assert_eq!(p.decrypt(p.encrypt(b)), b);
        }
    }

    #[test]
    fn rng_is_stable() {
        let mut r = Rng::new(&[1, 2, 3]);
        let a = r.next_u64();
        let mut r2 = Rng::new(&[1, 2, 3]);
        assert_eq!(a, r2.next_u64());
        assert!(r.below(10) < 10);
    }
}
