//! A fast, non-cryptographic hasher for ID lookups (the multiply-rotate
//! scheme popularised by Firefox and rustc). IDs come from files the user
//! chose to load, so resistance to adversarial collisions is not needed,
//! while SipHash, std's default, dominated parse time on large networks.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` using [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Word-at-a-time multiply-rotate hasher.
#[derive(Default, Clone, Copy)]
pub struct IdHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// A multiply only carries entropy upwards, while the table picks its
    /// bucket from the low bits: fold the high half down before returning.
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.hash;
        (h ^ (h >> 32)).wrapping_mul(SEED) ^ (h >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_ids_keep_distinct_entries() {
        let mut m: IdMap<String, usize> = IdMap::default();
        let ids: Vec<String> = (0..10_000)
            .map(|i| format!("J-{i}"))
            .chain(["", "a", "a\0", "ABCDEFGH", "ABCDEFGHI"].map(String::from))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            m.insert(id.clone(), i);
        }
        assert_eq!(m.len(), ids.len());
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(m[id], i);
        }
    }
}
