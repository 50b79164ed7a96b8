//! Which state keys may be in the tree: a Bloom filter of every leaf's key path.
//!
//! Reading a key that does not exist (a new transfer id, a first nonce, a document
//! being anchored) would otherwise walk the tree down to where the key's path ends,
//! some twenty node lookups in memory that no cache keeps close. The filter answers
//! "absent" for almost all of them with one cache line, at about 1.5 bytes a key.
//!
//! It only ever says "maybe" for a key that is in a tree the store keeps: every leaf
//! created is added, and nothing is taken out (a deleted key stays a "maybe", which
//! costs a walk, never a wrong answer). It grows by adding a layer twice the size of
//! the last when that one is full, so nothing is rebuilt from the tree. Positions come
//! from a SipHash under the store's secret seed: nobody can grind keys that all
//! land as false positives.

use std::hash::Hasher;

/// Bits of a block: one cache line, so a lookup in a layer touches one line.
const BLOCK_WORDS: usize = 8;
const BLOCK_BITS: u64 = 512;
/// Bits set per key within its block (9 bits of hash each).
const PROBES: u32 = 6;
/// Filter bits per key a layer is sized for: about 1% false positives with 6 probes
/// in 512-bit blocks.
const BITS_PER_KEY: u64 = 12;
/// The first layer's keys: 1.5 MB, enough for a city's first million keys.
const FIRST_CAPACITY: u64 = 1 << 20;

struct Layer {
    blocks: Vec<[u64; BLOCK_WORDS]>,
    capacity: u64,
    count: u64,
}

impl Layer {
    fn new(capacity: u64) -> Self {
        Layer {
            blocks: vec![[0; BLOCK_WORDS]; Layer::new_blocks(capacity) as usize],
            capacity,
            count: 0,
        }
    }

    fn block(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.blocks.len() as u128) >> 64) as usize
    }

    fn insert(&mut self, (first, second): (u64, u64)) {
        let block = self.block(first);
        let words = &mut self.blocks[block];
        for probe in 0..PROBES {
            let bit = (second >> (probe * 9)) & 511;
            words[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.count += 1;
    }

    fn may_contain(&self, (first, second): (u64, u64)) -> bool {
        let words = &self.blocks[self.block(first)];
        (0..PROBES).all(|probe| {
            let bit = (second >> (probe * 9)) & 511;
            words[(bit / 64) as usize] & (1 << (bit % 64)) != 0
        })
    }
}

pub struct KeyFilter {
    sip: (u64, u64),
    layers: Vec<Layer>,
}

impl KeyFilter {
    pub fn new(sip: (u64, u64)) -> Self {
        KeyFilter {
            sip,
            layers: vec![Layer::new(FIRST_CAPACITY)],
        }
    }

    #[allow(deprecated)]
    fn hashes(&self, path: &[u8; 32]) -> (u64, u64) {
        // A different key from the node locations' hash (those use the seed as given).
        let mut first = std::hash::SipHasher::new_with_keys(self.sip.0 ^ 0x6b65_7966, self.sip.1);
        first.write(path);
        let mut second = std::hash::SipHasher::new_with_keys(self.sip.0, self.sip.1 ^ 0x6b65_7966);
        second.write(path);
        (first.finish(), second.finish())
    }

    /// Returns whether the filter grew a layer (each new layer is twice the last).
    pub fn insert(&mut self, path: &[u8; 32]) -> bool {
        let hashes = self.hashes(path);
        // A key written again (most leaves made are new values of old keys) is already
        // in: counted once, the filter grows with keys, not with writes.
        if self.layers.iter().any(|layer| layer.may_contain(hashes)) {
            return false;
        }
        let last = self.layers.last().expect("a filter has a layer");
        let grows = last.count >= last.capacity;
        if grows {
            let capacity = last.capacity * 2;
            self.layers.push(Layer::new(capacity));
        }
        self.layers.last_mut().expect("just checked").insert(hashes);
        grows
    }

    /// False only for a key path never inserted.
    pub fn may_contain(&self, path: &[u8; 32]) -> bool {
        let hashes = self.hashes(path);
        self.layers.iter().any(|layer| layer.may_contain(hashes))
    }

    pub fn memory_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.blocks.len() * 64).sum()
    }

    /// Layers as bytes, for the store's snapshot: per layer its capacity, count and
    /// block count, then the blocks (little-endian words).
    pub fn to_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.layers.len() as u64).to_le_bytes());
        for layer in &self.layers {
            for word in [layer.capacity, layer.count, layer.blocks.len() as u64] {
                out.extend_from_slice(&word.to_le_bytes());
            }
            for block in &layer.blocks {
                for word in block {
                    out.extend_from_slice(&word.to_le_bytes());
                }
            }
        }
    }

    /// The inverse of `to_bytes`; None when `data` is not exactly one such filter.
    pub fn from_bytes(sip: (u64, u64), data: &[u8]) -> Option<Self> {
        let mut at = 0usize;
        let mut word = || -> Option<u64> {
            let bytes = data.get(at..at + 8)?;
            at += 8;
            Some(u64::from_le_bytes(bytes.try_into().ok()?))
        };
        let count = word()?;
        let mut layers = Vec::new();
        for _ in 0..count {
            let (capacity, keys, blocks) = (word()?, word()?, word()?);
            if capacity == 0 || blocks != Layer::new_blocks(capacity) {
                return None;
            }
            let mut layer = Layer {
                blocks: Vec::with_capacity(blocks as usize),
                capacity,
                count: keys,
            };
            for _ in 0..blocks {
                let mut block = [0u64; BLOCK_WORDS];
                for slot in &mut block {
                    *slot = word()?;
                }
                layer.blocks.push(block);
            }
            layers.push(layer);
        }
        (!layers.is_empty() && at == data.len()).then_some(KeyFilter { sip, layers })
    }
}

impl Layer {
    fn new_blocks(capacity: u64) -> u64 {
        capacity
            .checked_mul(BITS_PER_KEY)
            .map_or(0, |bits| bits.div_ceil(BLOCK_BITS).max(1))
    }
}
