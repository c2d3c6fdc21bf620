//! The map used for ID lookups: rustc's FxHash (crate `rustc-hash`). IDs come
//! from files the user chose to load, so resistance to adversarial
//! collisions is not needed, while SipHash, std's default, dominated parse
//! time on large networks.

/// A `HashMap` keyed by IDs, hashed with FxHash.
pub type IdMap<K, V> = rustc_hash::FxHashMap<K, V>;

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
