//! Fast hashers: FxHash for the engine's own tables, whose keys are names from
//! the template (not from requests), and a seeded hasher for template maps,
//! whose keys may come from request payloads.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::OnceLock;

/// Builds [`FxHasher`]s.
pub(crate) type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A `HashMap` hashed with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// rustc's FxHash: a rotate, xor and multiply per word.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Multiplies as 128 bits and folds the halves together: the mixing step of
/// foldhash and aHash.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// This process's secret hash seed, drawn once from the standard library's
/// random keys.
pub(crate) fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        // An odd seed keeps every multiply by it invertible.
        RandomState::new().build_hasher().finish() | 1
    })
}

/// The hasher of template map keys ([`crate::value::MapHasher`]): a folded
/// multiply per word, keyed with a secret per-process seed, as foldhash
/// (`hashbrown`'s default) does.
#[derive(Debug, Clone, Copy)]
pub struct MapKeyHasher {
    seed: u64,
    acc: u64,
}

impl MapKeyHasher {
    pub(crate) fn new(seed: u64) -> Self {
        Self { seed, acc: seed }
    }

    fn add(&mut self, word: u64) {
        self.acc = folded_multiply(self.acc ^ word, MULTIPLIER ^ self.seed);
    }
}

/// The first eight bytes of `bytes` (which has at least eight), little-endian.
fn word8(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// The first four bytes of `bytes` (which has at least four), little-endian.
fn word4(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

/// An odd constant with well-spread bits (the fractional digits of pi).
const MULTIPLIER: u64 = 0x243f_6a88_85a3_08d3;

impl Hasher for MapKeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole-word reads only, overlapping at the end, as foldhash does: copying
        // a short tail into a buffer byte by byte and reading it back as a word
        // stalls the CPU's store forwarding.
        let len = bytes.len();
        self.add(len as u64);
        if len >= 8 {
            let mut chunks = bytes.chunks_exact(8);
            for chunk in &mut chunks {
                self.add(word8(chunk));
            }
            if !chunks.remainder().is_empty() {
                self.add(word8(&bytes[len - 8..]));
            }
        } else if len >= 4 {
            let low = u64::from(word4(&bytes[..4]));
            let high = u64::from(word4(&bytes[len - 4..]));
            self.add(low | (high << 32));
        } else if len > 0 {
            let word = u64::from(bytes[0])
                | (u64::from(bytes[len / 2]) << 8)
                | (u64::from(bytes[len - 1]) << 16);
            self.add(word);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.acc, self.seed.rotate_left(23) | 1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use crate::value::MapHasher;

    #[test]
    fn short_keys_hash_apart() {
        let hasher = MapHasher::default();
        let keys = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "aa",
            "aab",
            "abb",
            "abc",
            "abcd",
            "abcde",
            "abcdf",
            "bbcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "bbcdefghi",
            "abcdefghij",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
        ];
        let hashes: HashSet<u64> = keys.iter().map(|k| hasher.hash_one(k)).collect();
        assert_eq!(hashes.len(), keys.len());
        assert_eq!(
            hasher.hash_one("photo"),
            MapHasher::default().hash_one("photo")
        );
    }
}
