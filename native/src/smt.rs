//! The sparse Merkle tree's batch update, natively: the same algorithm and the
//! same bytes as `urbis/state/tree.py` (which stays the reference and serves
//! proofs), but without a Python call per node. Commit cost is dominated by
//! this walk, so it runs here.
//!
//! Nodes are 65 bytes: a kind byte (0 leaf, 1 internal) and two 32-byte hashes
//! (key hash and value hash, or left and right child). A node's digest is its
//! SHA-256. An empty subtree is 32 zero bytes.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, RwLock};

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use sha2::{Digest, Sha256};

use crate::keyfilter::KeyFilter;
use crate::locations::{LocationRun, RunSum, RunWriter, ENTRY};

type Hash = [u8; 32];

/// Digests are SHA-256 outputs, so 8 of their bytes make a good hash, but keys are
/// partly chosen by users (a document hash names a leaf): mixed with a per-process
/// secret, nobody can grind digests that crowd one bucket.
#[derive(Default)]
struct DigestHasher(u64);

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| RandomState::new().hash_one(0x5552_4253_u64) | 1)
}

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        let mixed = (self.0 ^ seed()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        mixed ^ (mixed >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Arrays hash as their bytes; keep the first 8 (later calls only add length words).
        if self.0 == 0 && bytes.len() >= 8 {
            self.0 = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        }
    }

    fn write_usize(&mut self, _: usize) {}
}

type ByDigest = BuildHasherDefault<DigestHasher>;
type Node = [u8; 65];

const LEAF: u8 = 0;
const INTERNAL: u8 = 1;
const EMPTY_HASH: Hash = [0; 32];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Leaf,
    Internal,
    Unknown,
}

#[derive(Clone, Copy)]
struct Item {
    key: Hash,
    value: Option<Hash>,
}

/// Where committed nodes come from: the node index (native, shareable between
/// threads), or any Python mapping (tests, tools).
trait Source {
    /// The node `digest`, found at `depth` on a path whose first 64 bits are `prefix`
    /// (the upper levels are kept by place).
    fn load(&self, digest: &Hash, depth: usize, prefix: u64) -> PyResult<Node>;
}

fn missing(digest: &Hash) -> PyErr {
    PyKeyError::new_err(format!("state node {} is missing", hex(digest)))
}

/// The node index seen by a walk or an update: its upper levels read-locked once for
/// the whole of it, not per node.
#[derive(Clone, Copy)]
struct Committed<'a> {
    index: &'a NodeIndex,
    upper: &'a Upper,
}

impl Source for Committed<'_> {
    fn load(&self, digest: &Hash, depth: usize, prefix: u64) -> PyResult<Node> {
        self.index.node_at(self.upper, digest, depth, prefix)
    }
}

struct Mapping<'a, 'py>(&'a Bound<'py, PyAny>);

impl Source for Mapping<'_, '_> {
    fn load(&self, digest: &Hash, _depth: usize, _prefix: u64) -> PyResult<Node> {
        let found = self
            .0
            .get_item(PyBytes::new(self.0.py(), digest))
            .map_err(|_| missing(digest))?;
        let bytes = found
            .cast::<PyBytes>()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        node_of(bytes.as_bytes())
    }
}

/// A node made by a batch, in the order first made (the order its records are appended).
struct Made {
    digest: Hash,
    node: Node,
    depth: u8,
    /// Its path's first 64 bits.
    prefix: u64,
    /// False once dropped again within the batch (made again, it comes back in place).
    live: bool,
}

struct Tree<S> {
    committed: S,
    /// Each new node with the depth it was made at and its path's first 64 bits.
    made: Vec<Made>,
    /// Where each digest this batch made is in `made`. The records stay in the vector
    /// and the table holds only their places: a table of the records themselves was
    /// some 6 MB at a block's 60,000 nodes, so nearly every probe missed the cache, and
    /// listing the batch took a removal per node from it.
    created: HashMap<Hash, u32, ByDigest>,
    dropped: HashSet<Hash, ByDigest>,
    /// Nodes at a new place without being made anew, with that place: a leaf a new key
    /// pushed down a level (dropped and made again), or one a deletion left alone, which
    /// rises to its parent's place.
    revived: Vec<(Hash, Node, u8, u64)>,
}

fn bit(key: &Hash, depth: usize) -> bool {
    (key[depth >> 3] >> (7 - (depth & 7))) & 1 == 1
}

/// Index of the first item whose key has bit `depth` set (items are sorted).
fn split(items: &[Item], depth: usize) -> usize {
    items.partition_point(|item| !bit(&item.key, depth))
}

/// A path's first 64 bits: all the upper levels' places need.
fn prefix_of(key: &Hash) -> u64 {
    u64::from_be_bytes(key[..8].try_into().expect("8 bytes"))
}

/// The path prefix of a node's left or right child, the node being at `depth`.
fn child_prefix(prefix: u64, depth: usize, right: bool) -> u64 {
    if depth >= 64 {
        return prefix;
    }
    let bit = 1u64 << (63 - depth);
    if right {
        prefix | bit
    } else {
        prefix & !bit
    }
}

fn to_hash(slice: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(slice);
    out
}

impl<S: Source> Tree<S> {
    /// A tree for a batch of `items` changes: its tables are sized for the nodes such a
    /// batch makes and drops (some ten a key below the levels keys share), so they do
    /// not grow through every doubling while the update runs.
    fn new(committed: S, items: usize) -> Self {
        let room = items.saturating_mul(NODES_PER_CHANGE).min(ROOM_MAX);
        Tree {
            committed,
            made: Vec::with_capacity(room),
            created: HashMap::with_capacity_and_hasher(room, ByDigest::default()),
            dropped: HashSet::with_capacity_and_hasher(room, ByDigest::default()),
            revived: Vec::new(),
        }
    }

    /// The live node this batch made with `digest`, if any.
    fn made_here(&self, digest: &Hash) -> Option<usize> {
        let at = *self.created.get(digest)? as usize;
        self.made[at].live.then_some(at)
    }

    fn node(&self, digest: &Hash, depth: usize, prefix: u64) -> PyResult<Node> {
        match self.made_here(digest) {
            Some(at) => Ok(self.made[at].node),
            None => self.committed.load(digest, depth, prefix),
        }
    }

    /// Take in the work of a tree that updated a disjoint subtree after this one's:
    /// the result is what one tree doing both in turn would hold.
    fn absorb<T>(&mut self, other: Tree<T>) {
        for made in other.made.into_iter().filter(|m| m.live) {
            match self.created.entry(made.digest) {
                Entry::Occupied(at) => self.made[*at.get() as usize] = made,
                Entry::Vacant(slot) => {
                    slot.insert(self.made.len() as u32);
                    self.made.push(made);
                }
            }
        }
        self.dropped.extend(other.dropped);
        self.revived.extend(other.revived);
    }

    fn into_batch(self) -> NodeBatch {
        let live = self.made.iter().filter(|m| m.live).count();
        let mut created = Vec::with_capacity(live);
        let mut depths = Vec::with_capacity(live);
        let mut paths = Vec::with_capacity(live);
        for made in self.made.into_iter().filter(|m| m.live) {
            created.push((made.digest, made.node));
            depths.push(made.depth);
            paths.push(made.prefix);
        }
        let mut dropped: Vec<Hash> = self.dropped.into_iter().collect();
        dropped.sort_unstable();
        NodeBatch {
            created,
            depths,
            paths,
            dropped,
            revived: self.revived,
        }
    }

    fn create(&mut self, node: Node, depth: usize, prefix: u64) -> Hash {
        let digest: Hash = Sha256::digest(node).into();
        let depth = depth.min(u8::MAX as usize) as u8;
        if self.dropped.remove(&digest) {
            self.revived.push((digest, node, depth, prefix));
            return digest;
        }
        let made = Made {
            digest,
            node,
            depth,
            prefix,
            live: true,
        };
        match self.created.entry(digest) {
            // Made again (after being dropped, or twice): its first place, its latest depth.
            Entry::Occupied(at) => self.made[*at.get() as usize] = made,
            Entry::Vacant(slot) => {
                slot.insert(self.made.len() as u32);
                self.made.push(made);
            }
        }
        digest
    }

    fn drop_node(&mut self, digest: &Hash) {
        match self.made_here(digest) {
            Some(at) => self.made[at].live = false,
            None => {
                self.dropped.insert(*digest);
            }
        }
    }

    fn update(&mut self, digest: Hash, depth: usize, items: &[Item]) -> PyResult<(Hash, Kind)> {
        if digest == EMPTY_HASH {
            let present: Vec<Item> = items
                .iter()
                .copied()
                .filter(|i| i.value.is_some())
                .collect();
            return self.build(depth, &present);
        }
        let prefix = prefix_of(&items[0].key);
        let node = self.node(&digest, depth, prefix)?;
        if node[0] == LEAF {
            let existing = to_hash(&node[1..33]);
            let mut merged: Vec<Item> = items.to_vec();
            if !items.iter().any(|i| i.key == existing) {
                let at = merged.partition_point(|i| i.key < existing);
                merged.insert(
                    at,
                    Item {
                        key: existing,
                        value: Some(to_hash(&node[33..65])),
                    },
                );
            }
            self.drop_node(&digest);
            let present: Vec<Item> = merged.into_iter().filter(|i| i.value.is_some()).collect();
            return self.build(depth, &present);
        }
        let left = to_hash(&node[1..33]);
        let right = to_hash(&node[33..65]);
        let at = split(items, depth);
        let mut new_left = (left, Kind::Unknown);
        let mut new_right = (right, Kind::Unknown);
        if at > 0 {
            new_left = self.update(left, depth + 1, &items[..at])?;
        }
        if at < items.len() {
            new_right = self.update(right, depth + 1, &items[at..])?;
        }
        if new_left.0 == left && new_right.0 == right {
            return Ok((digest, Kind::Internal));
        }
        self.drop_node(&digest);
        self.join(new_left, new_right, depth, prefix)
    }

    fn build(&mut self, depth: usize, items: &[Item]) -> PyResult<(Hash, Kind)> {
        match items.len() {
            0 => Ok((EMPTY_HASH, Kind::Empty)),
            1 => {
                let mut node = [0u8; 65];
                node[0] = LEAF;
                node[1..33].copy_from_slice(&items[0].key);
                node[33..65]
                    .copy_from_slice(&items[0].value.expect("only present items are built"));
                Ok((
                    self.create(node, depth, prefix_of(&items[0].key)),
                    Kind::Leaf,
                ))
            }
            _ => {
                let at = split(items, depth);
                let left = self.build(depth + 1, &items[..at])?;
                let right = self.build(depth + 1, &items[at..])?;
                self.join(left, right, depth, prefix_of(&items[0].key))
            }
        }
    }

    /// The node at `depth` (on a path starting `prefix`) over two subtrees (one level
    /// below).
    fn join(
        &mut self,
        left: (Hash, Kind),
        right: (Hash, Kind),
        depth: usize,
        prefix: u64,
    ) -> PyResult<(Hash, Kind)> {
        // A lone leaf rises to its parent's place: one shape for one key set.
        let left_kind = self.kind(left, depth + 1, child_prefix(prefix, depth, false))?;
        let right_kind = self.kind(right, depth + 1, child_prefix(prefix, depth, true))?;
        if right_kind == Kind::Empty && matches!(left_kind, Kind::Empty | Kind::Leaf) {
            if left_kind == Kind::Leaf {
                let below = child_prefix(prefix, depth, false);
                self.rise(left.0, depth, below, prefix)?;
            }
            return Ok((left.0, left_kind));
        }
        if left_kind == Kind::Empty && right_kind == Kind::Leaf {
            let below = child_prefix(prefix, depth, true);
            self.rise(right.0, depth, below, prefix)?;
            return Ok((right.0, Kind::Leaf));
        }
        let mut node = [0u8; 65];
        node[0] = INTERNAL;
        node[1..33].copy_from_slice(&left.0);
        node[33..65].copy_from_slice(&right.0);
        Ok((self.create(node, depth, prefix), Kind::Internal))
    }

    /// Note a leaf that rises from `depth + 1` to `depth` (its sibling is empty): it is
    /// not made anew, so its new place in the upper levels is written when the batch
    /// is applied.
    fn rise(&mut self, leaf: Hash, depth: usize, below: u64, prefix: u64) -> PyResult<()> {
        let node = self.node(&leaf, depth + 1, below)?;
        let depth = depth.min(u8::MAX as usize) as u8;
        self.revived.push((leaf, node, depth, prefix));
        Ok(())
    }

    fn kind(&self, subtree: (Hash, Kind), depth: usize, prefix: u64) -> PyResult<Kind> {
        if subtree.1 != Kind::Unknown {
            return Ok(subtree.1);
        }
        if subtree.0 == EMPTY_HASH {
            return Ok(Kind::Empty);
        }
        Ok(if self.node(&subtree.0, depth, prefix)?[0] == LEAF {
            Kind::Leaf
        } else {
            Kind::Internal
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_items(items: &[(Vec<u8>, Option<Vec<u8>>)]) -> PyResult<Vec<Item>> {
    let mut parsed = Vec::with_capacity(items.len());
    for (key, value) in items {
        if key.len() != 32 || value.as_ref().is_some_and(|v| v.len() != 32) {
            return Err(PyValueError::new_err("key and value hashes are 32 bytes"));
        }
        parsed.push(Item {
            key: to_hash(key),
            value: value.as_deref().map(to_hash),
        });
    }
    if parsed.windows(2).any(|w| w[0].key >= w[1].key) {
        return Err(PyValueError::new_err(
            "items must be sorted by key hash and unique",
        ));
    }
    Ok(parsed)
}

/// Nodes a changed key makes (and drops), for sizing a batch's tables: a path's nodes
/// below the levels the batch's keys share.
const NODES_PER_CHANGE: usize = 12;

/// The most nodes a batch's tables are sized for up front (a bulk load's batch of half
/// a million keys grows past it as it goes, rather than reserve gigabytes).
const ROOM_MAX: usize = 1 << 20;

/// Batches at least this large update the root's two halves on two threads.
const PARALLEL_ITEMS: usize = 1024;

/// The batch update over parsed items: the new root, the created nodes in creation
/// order (net of churn within the batch) and the dropped digests, sorted.
fn run_update(
    committed: &Bound<'_, PyAny>,
    root: Hash,
    items: &[Item],
) -> PyResult<(Hash, NodeBatch)> {
    if items.is_empty() {
        return Ok((root, NodeBatch::default()));
    }
    let Ok(index) = committed.cast::<NodeIndex>() else {
        let mut tree = Tree::new(Mapping(committed), items.len());
        let (new_root, _) = tree.update(root, 0, items)?;
        return Ok((new_root, tree.into_batch()));
    };
    let index = index.borrow();
    let upper = index.upper.read().unwrap_or_else(|e| e.into_inner());
    let committed = Committed {
        index: &index,
        upper: &upper,
    };
    let (new_root, tree) = update_in_halves(committed, root, items)?;
    Ok((new_root, tree.into_batch()))
}

/// `Tree::update` from the root, with the root's two subtrees updated at once on two
/// threads when the batch is large and falls on both sides. Nodes are content-
/// addressed and the halves hold keys of different first bits, so no node is made
/// in one half and dropped in the other: joining the two trees' work (left, then
/// right, then the new root) gives the very bytes, in the very order, of one pass.
fn update_in_halves<'a>(
    index: Committed<'a>,
    root: Hash,
    items: &[Item],
) -> PyResult<(Hash, Tree<Committed<'a>>)> {
    let at = split(items, 0);
    let worth_halving =
        root != EMPTY_HASH && items.len() >= PARALLEL_ITEMS && 0 < at && at < items.len();
    let mut tree = Tree::new(index, if worth_halving { at } else { items.len() });
    let internal_root = match worth_halving {
        true => Some(tree.node(&root, 0, 0)?).filter(|node| node[0] != LEAF),
        false => None,
    };
    let Some(node) = internal_root else {
        let (new_root, _) = tree.update(root, 0, items)?;
        return Ok((new_root, tree));
    };
    let left = to_hash(&node[1..33]);
    let right = to_hash(&node[33..65]);
    let (new_left, right_work) = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut half = Tree::new(index, items.len() - at);
            half.update(right, 1, &items[at..])
                .map(|new_right| (new_right, half))
        });
        let new_left = tree.update(left, 1, &items[..at]);
        (
            new_left,
            worker.join().expect("the tree worker does not panic"),
        )
    });
    let new_left = new_left?;
    let (new_right, half) = right_work?;
    tree.absorb(half);
    if new_left.0 == left && new_right.0 == right {
        return Ok((root, tree));
    }
    tree.drop_node(&root);
    let (new_root, _) = tree.join(new_left, new_right, 0, 0)?;
    Ok((new_root, tree))
}

/// Apply (key_hash, value_hash or None) items, sorted and unique, to the tree at
/// `root` whose committed nodes are in `committed` (digest -> node bytes).
///
/// Returns `(new_root, created [(digest, node)], dropped [digest])`, net of churn
/// within the batch, exactly as `SparseMerkleTree.update` computes them.
#[pyfunction]
pub fn smt_update<'py>(
    py: Python<'py>,
    committed: &Bound<'py, PyAny>,
    root: &[u8],
    items: Vec<(Vec<u8>, Option<Vec<u8>>)>,
) -> PyResult<(
    Bound<'py, PyBytes>,
    Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>,
    Vec<Bound<'py, PyBytes>>,
)> {
    if root.len() != 32 {
        return Err(PyValueError::new_err("root must be 32 bytes"));
    }
    let parsed = parse_items(&items)?;
    let (new_root, batch) = run_update(committed, to_hash(root), &parsed)?;
    let created = batch
        .created
        .iter()
        .map(|(d, n)| (PyBytes::new(py, d), PyBytes::new(py, n)))
        .collect();
    let dropped = batch.dropped.iter().map(|d| PyBytes::new(py, d)).collect();
    Ok((PyBytes::new(py, &new_root), created, dropped))
}

/// A state change's batch update in one call: hash the `(key, value or None)` changes
/// as `state_items` does, sort them, and apply them as `smt_update` does, keeping the
/// nodes native in a `NodeBatch`.
#[pyfunction]
pub fn smt_apply_changes<'py>(
    py: Python<'py>,
    committed: &Bound<'py, PyAny>,
    root: &[u8],
    changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
) -> PyResult<(Bound<'py, PyBytes>, NodeBatch)> {
    if root.len() != 32 {
        return Err(PyValueError::new_err("root must be 32 bytes"));
    }
    let mut items: Vec<Item> = changes
        .iter()
        .map(|(key, value)| Item {
            key: tagged(b"state/key", key),
            value: value.as_deref().map(|v| tagged(b"state/value", v)),
        })
        .collect();
    items.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    if items.windows(2).any(|w| w[0].key == w[1].key) {
        return Err(PyValueError::new_err(
            "a key appears twice in one change set",
        ));
    }
    let (new_root, batch) = run_update(committed, to_hash(root), &items)?;
    Ok((PyBytes::new(py, &new_root), batch))
}

/// The nodes one version adds (in creation order) and drops (sorted), held natively
/// from the update through the node log and into the index.
#[pyclass(module = "urbis._native")]
#[derive(Default)]
pub struct NodeBatch {
    created: Vec<(Hash, Node)>,
    /// The depth each created node was made at, and the first 64 bits of its path:
    /// its place, if it is one of the upper levels the cache keeps by place.
    depths: Vec<u8>,
    paths: Vec<u64>,
    dropped: Vec<Hash>,
    /// Nodes the batch moved without making them anew, with their new place.
    revived: Vec<(Hash, Node, u8, u64)>,
}

#[pymethods]
impl NodeBatch {
    /// How many nodes the batch creates.
    fn __len__(&self) -> usize {
        self.created.len()
    }

    #[getter]
    fn dropped_count(&self) -> usize {
        self.dropped.len()
    }

    /// The created nodes as the node log stores them: `digest || node` records.
    fn records<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new_with(py, self.created.len() * RECORD, |out| {
            for (i, (digest, node)) in self.created.iter().enumerate() {
                out[i * RECORD..i * RECORD + 32].copy_from_slice(digest);
                out[i * RECORD + 32..(i + 1) * RECORD].copy_from_slice(node);
            }
            Ok(())
        })
        .expect("filling a fresh buffer cannot fail")
    }

    /// The dropped digests, concatenated.
    fn dropped_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.dropped.concat())
    }

    /// The created nodes as a dict (tests and tools).
    fn created_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (digest, node) in &self.created {
            out.set_item(PyBytes::new(py, digest), PyBytes::new(py, node))?;
        }
        Ok(out)
    }

    /// The dropped digests as a list, sorted.
    fn dropped_list<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.dropped.iter().map(|d| PyBytes::new(py, d)).collect()
    }
}

const RECORD: usize = 32 + 65;
const STALE_RECORD: usize = 32 + 8;
/// A checkpoint record's `since` saying the node's mark was lifted (made again, or pruned).
const STALE_LIFTED: u64 = u64::MAX;

/// A checkpoint's stale mark: `digest || since` (big-endian).
fn stale_record(digest: &Hash, since: u64) -> [u8; STALE_RECORD] {
    let mut record = [0u8; STALE_RECORD];
    record[..32].copy_from_slice(digest);
    record[32..].copy_from_slice(&since.to_be_bytes());
    record
}

/// Fixed-size records joined into chunks of at most `per_chunk` records each.
fn chunked<'py, const N: usize>(
    py: Python<'py>,
    records: impl Iterator<Item = [u8; N]>,
    per_chunk: usize,
) -> Vec<Bound<'py, PyBytes>> {
    let per_chunk = per_chunk.max(1);
    let mut chunks = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for record in records {
        current.extend_from_slice(&record);
        if current.len() >= per_chunk * N {
            chunks.push(PyBytes::new(py, &current));
            current.clear();
        }
    }
    if !current.is_empty() {
        chunks.push(PyBytes::new(py, &current));
    }
    chunks
}

fn node_of(raw: &[u8]) -> PyResult<Node> {
    if raw.len() != 65 {
        return Err(PyValueError::new_err("a state node is 65 bytes"));
    }
    let mut node = [0u8; 65];
    node.copy_from_slice(raw);
    Ok(node)
}

/// Bytes the upper levels 0..depth take when kept by place: a full tree's worth of
/// slots (2^depth - 1), a record (digest and node) each.
fn upper_bytes(depth: usize) -> u64 {
    ((1u64 << depth) - 1) * RECORD as u64
}

/// The most upper levels (0..depth) that fit in `budget` bytes: 21 levels (two
/// million slots, 203 MB) for half of the default cache.
fn pin_depth(budget: u64) -> usize {
    (0..40)
        .take_while(|d| upper_bytes(*d) <= budget)
        .last()
        .unwrap_or(0)
}

/// Default bound on the node cache: a quarter of a 4 GiB server, the rest being
/// the location index, the value cache and the process itself.
const CACHE_BYTES_DEFAULT: u64 = 512 << 20;
/// Bytes a cached node costs: 97 bytes of digest and node, its hash-map slot, and the
/// map's spare room (tables are at most 7/8 full and grow by doubling).
const CACHE_ENTRY_BYTES: u64 = 224;
/// Locks over the cache: the tree update walks two halves on two threads, and the
/// block's nodes are indexed on a third.
const CACHE_SHARDS: usize = 64;
/// A segment file takes appends until it is this large, then the next one starts: small
/// enough that compacting one is a short pause, large enough to keep the files few.
const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;

/// One shard of the node cache's deeper part: two generations, so a node read twice
/// in a while stays and the bound holds without per-entry bookkeeping (a cheap LRU).
#[derive(Default)]
struct Shard {
    hot: HashMap<Hash, Node, ByDigest>,
    cold: HashMap<Hash, Node, ByDigest>,
    cap: usize,
}

impl Shard {
    fn get(&mut self, digest: &Hash) -> Option<Node> {
        if let Some(node) = self.hot.get(digest) {
            return Some(*node);
        }
        let node = self.cold.remove(digest)?;
        self.put(*digest, node);
        Some(node)
    }

    fn put(&mut self, digest: Hash, node: Node) {
        if self.cap == 0 {
            return;
        }
        if self.hot.len() >= self.cap && !self.hot.contains_key(&digest) {
            // The old cold table's memory becomes the new hot one's: a fresh table
            // would grow again through every doubling, rehashing as it went. Shrunk
            // to the cap, which only reallocates when the cap was lowered since.
            std::mem::swap(&mut self.hot, &mut self.cold);
            self.hot.clear();
            self.hot.shrink_to(self.cap);
        }
        self.hot.insert(digest, node);
    }

    fn remove(&mut self, digest: &Hash) {
        self.hot.remove(digest);
        self.cold.remove(digest);
    }

    fn len(&self) -> usize {
        self.hot.len() + self.cold.len()
    }
}

/// The tree's upper levels, kept by place: level `d` is 2^d slots, one per path
/// prefix of `d` bits, each holding the record (digest and node) last made there, or
/// read there by the start's warm-up. Every walk passes through these levels, so
/// they stay; a walk asking for a digest finds it in one array index, without
/// hashing, and a block's new node simply overwrites the one it replaced.
///
/// Kept by digest in hash tables instead (as before), the same levels took twice
/// the memory: tables round up to a power of two at 7/8 load, and at the high
/// load that would have saved it, each block's churn of removals left tombstones
/// until a table doubled anyway. By place, 21 levels fit where 20 did.
///
/// A slot may still hold a node a block dropped (its subtree emptied, or the leaf
/// rose): it is only ever returned for its own digest, and nodes are content-
/// addressed, so it is never wrong, only idle until the place is written again.
struct Upper {
    /// Level d's records end to end, allocated zeroed on the level's first write: a
    /// large zeroed allocation is fresh pages from the kernel, resident only once
    /// written (a vector of 97-byte arrays would be written out in full instead).
    levels: Vec<Vec<u8>>,
}

impl Upper {
    fn new(depth: usize) -> Self {
        Upper {
            levels: (0..depth).map(|_| Vec::new()).collect(),
        }
    }

    /// The record at a place, if its level is allocated.
    fn record(&self, depth: usize, prefix: u64) -> Option<&[u8]> {
        let start = Upper::slot(depth, prefix) * RECORD;
        self.levels.get(depth)?.get(start..start + RECORD)
    }

    fn slot(depth: usize, prefix: u64) -> usize {
        match depth {
            0 => 0,
            _ => (prefix >> (64 - depth)) as usize,
        }
    }

    fn get(&self, digest: &Hash, depth: usize, prefix: u64) -> Option<Node> {
        let record = self.record(depth, prefix)?;
        if record[..32] != digest[..] || *digest == EMPTY_HASH {
            return None;
        }
        Some(
            record[32..]
                .try_into()
                .expect("a record's node is 65 bytes"),
        )
    }

    /// Whether the place holds a record (any digest).
    fn taken(&self, depth: usize, prefix: u64) -> bool {
        self.record(depth, prefix)
            .is_some_and(|record| record[..32] != EMPTY_HASH)
    }

    /// Keep `node` at its place; `nodes` (the index's size) says whether the level is
    /// dense enough for huge pages when it is first allocated.
    fn put(&mut self, digest: &Hash, node: &Node, depth: usize, prefix: u64, nodes: usize) {
        let Some(level) = self.levels.get_mut(depth) else {
            return;
        };
        if level.is_empty() {
            *level = vec![0u8; RECORD << depth];
            // A level with more places than a quarter of the tree's nodes is written
            // sparsely: on huge pages each write would make 2 MiB resident, not 4 KiB.
            if (1usize << depth) > nodes / 4 {
                crate::alloc::small_pages(level.as_ptr(), level.len());
            }
        }
        let start = Upper::slot(depth, prefix) * RECORD;
        level[start..start + 32].copy_from_slice(digest);
        level[start + 32..start + RECORD].copy_from_slice(node);
    }
}

/// Where a segment's records live: a file in the store's folder, or memory (tests,
/// tools, a store without a folder).
enum Data {
    File(File),
    Memory(Vec<u8>),
}

struct Segment {
    data: Data,
    /// Bytes of records written (the file may be longer after a crash: it is cut back).
    len: u64,
    /// Index entries that point into this segment; the rest of its records are garbage.
    live: u64,
}

impl Segment {
    fn records(&self) -> u64 {
        self.len / RECORD as u64
    }

    fn read(&self, first: u64, count: u64) -> std::io::Result<Vec<u8>> {
        let start = first * RECORD as u64;
        let end = start + count * RECORD as u64;
        if end > self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the segment",
            ));
        }
        match &self.data {
            Data::Memory(bytes) => Ok(bytes[start as usize..end as usize].to_vec()),
            Data::File(file) => {
                let mut out = vec![0u8; (end - start) as usize];
                file.read_exact_at(&mut out, start)?;
                Ok(out)
            }
        }
    }

    fn append(&mut self, records: &[u8]) -> std::io::Result<()> {
        match &mut self.data {
            Data::Memory(bytes) => bytes.extend_from_slice(records),
            Data::File(file) => file.write_all_at(records, self.len)?,
        }
        self.len += records.len() as u64;
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        match &self.data {
            Data::Memory(_) => Ok(()),
            Data::File(file) => file.sync_data(),
        }
    }
}

/// A map whose keys are already keyed hashes: use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type ByKey = BuildHasherDefault<Identity>;

fn io_error(what: &str, error: std::io::Error) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(format!("{what}: {error}"))
}

fn corrupt(message: String) -> PyErr {
    // KeyError, as a missing node is: the store turns both into StoreCorrupt.
    PyKeyError::new_err(message)
}

fn segment_path(folder: &Path, id: u16) -> PathBuf {
    folder.join(format!("nodes-{id:05}.seg"))
}

fn pack(segment: u16, record: u64, tag: u16) -> u64 {
    (u64::from(segment) << 48) | ((record & 0xFFFF_FFFF) << 16) | u64::from(tag)
}

fn unpack(location: u64) -> (u16, u64, u16) {
    (
        (location >> 48) as u16,
        (location >> 16) & 0xFFFF_FFFF,
        location as u16,
    )
}

/// 16 digest bits kept beside each location: two digests whose keyed hashes collide
/// are told apart without reading either record.
fn tag_of(digest: &Hash) -> u16 {
    u16::from_be_bytes([digest[30], digest[31]])
}

/// The segment number a tombstone names: no segment has it.
const TOMB_SEGMENT: u16 = u16::MAX;

fn tomb(tag: u16) -> u64 {
    pack(TOMB_SEGMENT, 0, tag)
}

fn is_tomb(location: u64) -> bool {
    unpack(location).0 == TOMB_SEGMENT
}

/// What a caller of `place` knows of the node's previous location.
#[derive(Clone, Copy)]
enum Prior {
    /// A node just made: in the run only if it was stale (made again).
    Made,
    /// It was at this location (a compaction's source).
    At(u64),
    /// Look it up (a replayed move: the source may be in the run).
    Unknown,
}

/// The committed tree's nodes, on disk with a bounded cache in memory.
///
/// Records (`digest || node`, 97 bytes) are appended to segment files as versions
/// commit; nothing is rewritten in place, so a crash can only leave a torn tail past
/// the end the store recorded (cut back on open). A node's location (a keyed 64-bit
/// hash of its digest to segment, record and 16 more digest bits) is in the sorted
/// run the last snapshot wrote, on disk, or among the changes since, in memory; the
/// cache's size is configured. Every record read
/// from disk must hash to the digest asked for, so a flipped bit is found, never used.
///
/// Stale nodes (no longer in the latest tree) are kept until their version leaves the
/// kept window, then forgotten; a segment that is mostly forgotten records is
/// compacted: its live records are appended again and the file is deleted.
#[pyclass(module = "urbis._native")]
pub struct NodeIndex {
    sip: (u64, u64),
    /// The key's bits kept: all 64, except in tests that narrow it so that keyed-hash
    /// collisions (and the collided-digest paths) are common.
    key_mask: u64,
    /// The locations as of the last snapshot, on disk (None: no snapshot of this
    /// layout yet, or an index in memory).
    run: Option<LocationRun>,
    /// What changed since: new locations, and tombstones (`TOMB`) for nodes forgotten
    /// since, which may still be in `run`. Emptied into a new run by each snapshot, so
    /// its size is bounded by how often the store takes one, not by the state.
    locations: HashMap<u64, u64, ByKey>,
    /// Digests whose keyed hash collided with another's (rare: about one in 10^5 stores
    /// of 10^7 nodes, and the key is secret, so nobody can aim for it); a tombstone
    /// here hides the digest's entry in `run`.
    overflow: HashMap<Hash, u64, ByDigest>,
    /// Nodes indexed: exact after a snapshot or an open; between them, a node the
    /// store re-creates while it is still in `run` unmarked would count twice (a live
    /// node is never made again, so this does not happen).
    nodes: u64,
    segments: BTreeMap<u16, Segment>,
    active: u16,
    folder: Option<PathBuf>,
    segment_bytes: u64,
    cache: Vec<Mutex<Shard>>,
    /// The upper levels, kept by place while the deeper nodes come and go in `cache`.
    /// Every walk passes through them, but a node at depth 20 is met once in a million
    /// random walks: with one recency-ordered cache, the tens of thousands of deep
    /// nodes each block reads and writes pushed it out first, and every walk read its
    /// lowest nine levels from disk. Walks read-lock it once each; blocks write it
    /// through `&mut self`, the start's warm-up under the write lock.
    upper: RwLock<Upper>,
    /// How many levels `upper` keeps.
    upper_depth: usize,
    /// Nodes no longer in the latest tree, by the version that dropped them; they
    /// still serve proofs at older heights until that version leaves the kept window.
    stale_since: HashMap<Hash, u64, ByDigest>,
    stale_by_version: BTreeMap<u64, Vec<Hash>>,
    /// Digests whose stale mark was set or lifted since the marks were last written
    /// down, in that order (a digest may be there twice): a checkpoint writes only
    /// these, not every mark of the kept window. A list, not a set: a set's table cost
    /// a block of 1,500 transfers 30,000 random inserts into memory it kept doubling
    /// (in profiles, its fresh pages alone were some 3% of the app's CPU), where the
    /// list appends, and keeps its room from one checkpoint to the next.
    stale_journal: Vec<Hash>,
    reads: std::sync::atomic::AtomicU64,
    /// Every key path a leaf was ever made for: absent keys are answered without a walk.
    keys: KeyFilter,
    /// The memory bound given at construction: the pinned levels, the deeper nodes'
    /// shards, the key filter and the run's fences together (see `rebudget`).
    cache_bytes: u64,
}

impl NodeIndex {
    #[allow(deprecated)]
    fn key(&self, digest: &Hash) -> u64 {
        let mut hasher = std::hash::SipHasher::new_with_keys(self.sip.0, self.sip.1);
        hasher.write(digest);
        hasher.finish() & self.key_mask
    }

    fn shard(&self, digest: &Hash) -> std::sync::MutexGuard<'_, Shard> {
        // Not a byte the map hashes (the first 8): each shard keeps the full spread.
        let index = (digest[31] as usize) % CACHE_SHARDS;
        self.cache[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where `digest`'s record is: the changes since the last snapshot first, then the
    /// run it wrote.
    fn locate(&self, digest: &Hash) -> PyResult<Option<u64>> {
        if let Some(location) = self.overflow.get(digest) {
            return Ok((!is_tomb(*location)).then_some(*location));
        }
        let key = self.key(digest);
        let tag = tag_of(digest);
        if let Some(location) = self.locations.get(&key) {
            if unpack(*location).2 == tag {
                return Ok((!is_tomb(*location)).then_some(*location));
            }
        }
        self.run_locate(key, tag)
    }

    fn run_locate(&self, key: u64, tag: u16) -> PyResult<Option<u64>> {
        let Some(run) = &self.run else {
            return Ok(None);
        };
        let found = run
            .find(key)
            .map_err(|e| corrupt(format!("the node location snapshot is unreadable: {e}")))?;
        Ok(found.filter(|location| unpack(*location).2 == tag))
    }

    fn contains(&self, digest: &Hash) -> PyResult<bool> {
        Ok(self.locate(digest)?.is_some())
    }

    fn count(&self) -> usize {
        self.nodes as usize
    }

    fn node(&self, digest: &Hash) -> PyResult<Node> {
        self.cached_or_read(digest)
    }

    /// The node `digest`, met at `depth` of a walk down a path starting `prefix`:
    /// from its place in the upper levels, the cache, or read from its segment into
    /// the cache.
    fn node_at(&self, upper: &Upper, digest: &Hash, depth: usize, prefix: u64) -> PyResult<Node> {
        if let Some(node) = upper.get(digest, depth, prefix) {
            return Ok(node);
        }
        self.cached_or_read(digest)
    }

    fn cached_or_read(&self, digest: &Hash) -> PyResult<Node> {
        if let Some(node) = self.shard(digest).get(digest) {
            return Ok(node);
        }
        let node = self.read_node(digest)?;
        self.shard(digest).put(*digest, node);
        Ok(node)
    }

    /// The node `digest` read from its segment (and checked), past the cache.
    fn read_node(&self, digest: &Hash) -> PyResult<Node> {
        let location = self.locate(digest)?.ok_or_else(|| missing(digest))?;
        let (segment, record, _) = unpack(location);
        let data = self
            .segments
            .get(&segment)
            .ok_or_else(|| corrupt(format!("state node segment {segment} is missing")))?
            .read(record, 1)
            .map_err(|e| corrupt(format!("state node {} unreadable: {e}", hex(digest))))?;
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let node = node_of(&data[32..])?;
        // A record must be the one asked for and hash to it: a flipped bit in the file
        // (or in a location) is found here, before anything is built on it.
        if data[..32] != digest[..] || <[u8; 32]>::from(Sha256::digest(node)) != *digest {
            return Err(corrupt(format!(
                "state node {} does not match its stored record",
                hex(digest)
            )));
        }
        Ok(node)
    }

    /// Add a node record's key path to the key filter if it is a leaf.
    fn note_leaf(&mut self, node: &[u8]) {
        if node[0] == LEAF && self.keys.insert(&to_hash(&node[1..33])) {
            self.rebudget();
        }
    }

    /// Bytes of the cache budget held by what grows with the state and cannot be
    /// evicted: the pinned upper levels, the key filter and the run's fences.
    fn fixed_cache_bytes(&self) -> u64 {
        let fences = self.run.as_ref().map_or(0, LocationRun::memory_bytes);
        upper_bytes(self.upper_depth) + (self.keys.memory_bytes() + fences) as u64
    }

    /// Size the deeper nodes' shards to what the budget leaves once the pinned levels,
    /// the key filter and the fences are counted, so the whole stays within
    /// `cache_bytes` as the filter and fences grow with the state (until those alone
    /// fill it: past some 130 million keys at the default budget, where the filter's
    /// eighth layer would not fit). A shard over a lowered cap loses its old generation
    /// now, and its young one's room at its next rotation; at a cap of 0 it is emptied.
    fn rebudget(&mut self) {
        let room = self.cache_bytes.saturating_sub(self.fixed_cache_bytes());
        let per_shard = (room / CACHE_ENTRY_BYTES / 2) as usize / CACHE_SHARDS;
        for shard in &mut self.cache {
            let shard = shard.get_mut().unwrap_or_else(|e| e.into_inner());
            if per_shard < shard.cap {
                shard.cold = HashMap::default();
                if per_shard == 0 {
                    shard.hot = HashMap::default();
                }
            }
            shard.cap = per_shard;
        }
    }

    /// Like `note_leaf`, for a record read back from disk: a leaf must hash to its
    /// digest first. Reads check every record, but the filter is built without reading:
    /// a flipped bit in a leaf's key path would make its key look absent.
    fn note_leaf_read(&mut self, record: &[u8]) -> PyResult<()> {
        if record[32] == LEAF {
            if !record_is_sound(record) {
                return Err(corrupt(format!(
                    "state node {} does not match its stored record",
                    hex(&record[..32])
                )));
            }
            self.note_leaf(&record[32..]);
        }
        Ok(())
    }

    /// Put every leaf of every segment in the key filter (a snapshot from before the
    /// filter): the files hold every live node, so this holds at least every key.
    fn rebuild_key_filter(&mut self) -> PyResult<()> {
        self.keys = KeyFilter::new(self.sip);
        let ids: Vec<u16> = self.segments.keys().copied().collect();
        for id in ids {
            let segment = &self.segments[&id];
            let data = segment
                .read(0, segment.records())
                .map_err(|e| corrupt(format!("state node segment {id} is short: {e}")))?;
            for (i, record) in data.chunks_exact(RECORD).enumerate() {
                if record[32] != LEAF {
                    continue;
                }
                if record_is_sound(record) {
                    self.note_leaf(&record[32..]);
                } else if self.locate(&to_hash(&record[..32]))?
                    == Some(pack(id, i as u64, tag_of(&to_hash(&record[..32]))))
                {
                    // Garbage records (pruned nodes) may be anything; a live one may not.
                    return Err(corrupt(format!(
                        "state node {} does not match its stored record",
                        hex(&record[..32])
                    )));
                }
            }
        }
        Ok(())
    }

    fn live_change(&mut self, location: u64, delta: i64) {
        if let Some(segment) = self.segments.get_mut(&unpack(location).0) {
            segment.live = segment.live.saturating_add_signed(delta);
        }
    }

    /// Point `digest` at a record holding it. The node's previous location, if it had
    /// one, loses a live record; found in memory, or as `prior` says.
    fn place(&mut self, digest: &Hash, segment: u16, record: u64, prior: Prior) -> PyResult<()> {
        let location = pack(segment, record, tag_of(digest));
        let key = self.key(digest);
        let tag = tag_of(digest);
        let replaced = if let Some(slot) = self.overflow.get_mut(digest) {
            Some(std::mem::replace(slot, location))
        } else {
            // One probe of the table, where a lookup and then an insert made two.
            match self.locations.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(location);
                    None
                }
                Entry::Occupied(mut slot) if unpack(*slot.get()).2 == tag => {
                    Some(slot.insert(location))
                }
                Entry::Occupied(_) => {
                    self.overflow.insert(*digest, location);
                    None
                }
            }
        };
        let old = match replaced {
            Some(old) if is_tomb(old) => None,
            Some(old) => Some(old),
            None => match prior {
                Prior::At(old) => Some(old),
                Prior::Made if !self.stale_since.contains_key(digest) => None,
                Prior::Made | Prior::Unknown => self.run_locate(key, tag)?,
            },
        };
        match old {
            Some(old) => self.live_change(old, -1),
            None => self.nodes += 1,
        }
        self.live_change(location, 1);
        Ok(())
    }

    /// Drop `digest` from the index. With a run on disk it leaves a tombstone, which
    /// hides the run's entry until the next snapshot writes the run without it; the
    /// segment's live count then catches up (a node only in the run has no known
    /// location here, and looking it up would cost a read a pruned node).
    fn forget(&mut self, digest: &Hash) {
        let key = self.key(digest);
        let tag = tag_of(digest);
        let keep_tomb = self.run.is_some();
        let old = if let Some(slot) = self.overflow.get_mut(digest) {
            let old = std::mem::replace(slot, tomb(tag));
            if !keep_tomb {
                self.overflow.remove(digest);
            }
            Some(old)
        } else {
            match self.locations.entry(key) {
                Entry::Occupied(mut slot) if unpack(*slot.get()).2 == tag => {
                    if keep_tomb {
                        Some(slot.insert(tomb(tag)))
                    } else {
                        Some(slot.remove())
                    }
                }
                Entry::Occupied(_) => {
                    if keep_tomb {
                        self.overflow.insert(*digest, tomb(tag));
                    }
                    None
                }
                Entry::Vacant(slot) => {
                    if keep_tomb {
                        slot.insert(tomb(tag));
                    }
                    None
                }
            }
        };
        match old {
            Some(old) if is_tomb(old) => {}
            Some(old) => {
                self.live_change(old, -1);
                self.nodes = self.nodes.saturating_sub(1);
            }
            None if keep_tomb => self.nodes = self.nodes.saturating_sub(1),
            None => {}
        }
        self.shard(digest).remove(digest);
    }

    /// Lift a node's stale mark (made again, moved back in, or pruned for good).
    fn unmark(&mut self, digest: &Hash) {
        if self.stale_since.remove(digest).is_some() {
            self.stale_journal.push(*digest);
        }
    }

    fn open_segment(&self, id: u16) -> PyResult<Segment> {
        let data = match &self.folder {
            None => Data::Memory(Vec::new()),
            Some(folder) => {
                let path = segment_path(folder, id);
                let new = !path.exists();
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map_err(|e| io_error(&format!("opening {}", path.display()), e))?;
                if new {
                    // Records in it are synced before their block commits; the file's
                    // name must be as durable, or a power cut could lose the whole file.
                    File::open(folder)
                        .and_then(|dir| dir.sync_all())
                        .map_err(|e| io_error(&format!("syncing {}", folder.display()), e))?;
                }
                Data::File(file)
            }
        };
        let len = match &data {
            Data::File(file) => file.metadata().map_err(|e| io_error("a segment", e))?.len(),
            Data::Memory(_) => 0,
        };
        let len = len - len % RECORD as u64;
        Ok(Segment { data, len, live: 0 })
    }

    /// Append records at the tail (a new segment once the active one is full); returns
    /// where they went as (segment, first record).
    fn append(&mut self, records: &[u8]) -> PyResult<(u16, u64)> {
        let full = self
            .segments
            .get(&self.active)
            .is_none_or(|s| s.len >= self.segment_bytes);
        if full && !records.is_empty() {
            if self.segments.contains_key(&self.active) {
                self.active = self
                    .active
                    .checked_add(1)
                    .filter(|id| *id != TOMB_SEGMENT)
                    .ok_or_else(|| {
                        PyValueError::new_err("the node store ran out of segment numbers")
                    })?;
            }
            let segment = self.open_segment(self.active)?;
            self.segments.insert(self.active, segment);
        }
        let active = self.active;
        let Some(segment) = self.segments.get_mut(&active) else {
            return Ok((active, 0));
        };
        let first = segment.records();
        segment
            .append(records)
            .map_err(|e| io_error("writing state nodes", e))?;
        Ok((active, first))
    }

    fn sync(&self) -> PyResult<()> {
        if let Some(segment) = self.segments.get(&self.active) {
            segment
                .sync()
                .map_err(|e| io_error("syncing state nodes", e))?;
        }
        Ok(())
    }

    fn apply_batch(&mut self, batch: &NodeBatch, version: u64) -> PyResult<(u16, u64, u64)> {
        let mut records = Vec::with_capacity(batch.created.len() * RECORD);
        for (digest, node) in &batch.created {
            records.extend_from_slice(digest);
            records.extend_from_slice(node);
        }
        let (segment, first) = self.append(&records)?;
        self.locations.reserve(batch.created.len());
        let levels = self.upper_depth;
        let depth_of = |i: usize| batch.depths.get(i).map_or(usize::MAX, |d| *d as usize);
        for (i, (digest, node)) in batch.created.iter().enumerate() {
            self.place(digest, segment, first + i as u64, Prior::Made)?;
            self.unmark(digest);
            self.note_leaf(node);
            if depth_of(i) >= levels {
                self.shard(digest).put(*digest, *node);
            }
        }
        let nodes = self.count();
        let upper = self.upper.get_mut().unwrap_or_else(|e| e.into_inner());
        for (i, (digest, node)) in batch.created.iter().enumerate() {
            if depth_of(i) < levels {
                let prefix = batch.paths.get(i).copied().unwrap_or(0);
                upper.put(digest, node, depth_of(i), prefix, nodes);
            }
        }
        // A node at a new place without being made anew (a leaf a new key pushed down,
        // or one a deletion left alone) is written there too.
        for (digest, node, depth, prefix) in &batch.revived {
            if (*depth as usize) < levels {
                upper.put(digest, node, *depth as usize, *prefix, nodes);
            }
        }
        if !batch.dropped.is_empty() {
            self.mark_stale_digests(batch.dropped.iter().copied(), version);
        }
        Ok((segment, first, batch.created.len() as u64))
    }

    fn mark_stale_digests(&mut self, digests: impl Iterator<Item = Hash>, version: u64) {
        let digests: Vec<Hash> = digests.collect();
        for digest in &digests {
            self.stale_since.insert(*digest, version);
            // Only a proof at an older height reads it now: its place in the cache goes
            // to the node that replaced it.
            self.shard(digest).remove(digest);
        }
        self.stale_journal.extend_from_slice(&digests);
        self.stale_by_version
            .entry(version)
            .or_default()
            .extend(digests);
    }
}

/// What a snapshot's merge wrote: the run's entry count and fences, the collided
/// digests, and the live records per segment.
struct Merged {
    entries: u64,
    fences: Vec<u64>,
    overflow: Vec<(Hash, u64)>,
    live: HashMap<u16, u64>,
    sum: RunSum,
}

/// A sorted snapshot's header: the magic, five words (entries, collided digests,
/// the tail's segment and record, the filter's length), the entries' checksum, and a
/// SHA-256 over all that and the collided digests, so a damaged count or collision is
/// refused at open rather than read as a smaller index.
fn sorted_header(words: [u64; 5], entries_sum: &RunSum, collisions: &[u8]) -> Vec<u8> {
    let mut header = Vec::with_capacity(SORTED_HEADER_BYTES);
    header.extend_from_slice(SNAPSHOT_MAGIC_SORTED);
    for word in words {
        header.extend_from_slice(&word.to_le_bytes());
    }
    header.extend_from_slice(entries_sum);
    let mut hasher = Sha256::new();
    hasher.update(&header);
    hasher.update(collisions);
    header.extend_from_slice(&hasher.finalize());
    header
}

/// Bytes of a sorted snapshot's header that are used (the rest of its page is zero).
const SORTED_HEADER_BYTES: usize = 8 + 5 * 8 + 32 + 32;

enum Merge {
    Io(std::io::Error),
    Damaged(PyErr),
}

impl From<std::io::Error> for Merge {
    fn from(error: std::io::Error) -> Self {
        Merge::Io(error)
    }
}

/// Whether a `digest || node` record's node hashes to its digest.
fn record_is_sound(record: &[u8]) -> bool {
    <[u8; 32]>::from(Sha256::digest(&record[32..RECORD])) == record[..32]
}

fn digest_of(raw: &[u8]) -> PyResult<Hash> {
    if raw.len() != 32 {
        return Err(PyValueError::new_err("a node digest is 32 bytes"));
    }
    Ok(to_hash(raw))
}

/// A snapshot of the sorted layout: the locations as a run sorted by key, read in place.
const SNAPSHOT_MAGIC_SORTED: &[u8; 8] = b"URBISNI4";
/// Where its entries start: one page of header, so each page of entries is one of the
/// file's pages.
const SNAPSHOT_HEADER_SORTED: u64 = 4096;
/// The earlier layouts, a hash table's entries in its order, loaded into memory whole.
const SNAPSHOT_MAGIC: &[u8; 8] = b"URBISNI3";
const SNAPSHOT_MAGIC_NO_FILTER: &[u8; 8] = b"URBISNI2";
const SNAPSHOT_HEADER: usize = 40;

#[pymethods]
impl NodeIndex {
    /// `folder`: where segment files live (None: in memory). `seed`: 16 bytes keying
    /// the location hashes, kept by the store (None: random, for a memory index).
    #[new]
    /// `key_bits`: the location keys' width (tests narrow it to make collisions common).
    #[pyo3(signature = (folder=None, cache_bytes=CACHE_BYTES_DEFAULT, seed=None, segment_bytes=SEGMENT_BYTES_DEFAULT, key_bits=64))]
    fn new(
        folder: Option<PathBuf>,
        cache_bytes: u64,
        seed: Option<&[u8]>,
        segment_bytes: u64,
        key_bits: u32,
    ) -> PyResult<Self> {
        if !(1..=64).contains(&key_bits) {
            return Err(PyValueError::new_err("key_bits is 1 to 64"));
        }
        let sip = match seed {
            Some(seed) if seed.len() == 16 => (
                u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
                u64::from_le_bytes(seed[8..].try_into().expect("8 bytes")),
            ),
            Some(_) => return Err(PyValueError::new_err("the seed is 16 bytes")),
            None => (
                RandomState::new().hash_one(1u64),
                RandomState::new().hash_one(2u64),
            ),
        };
        let pin_depth = pin_depth(cache_bytes / 2);
        let cache = (0..CACHE_SHARDS)
            .map(|_| Mutex::new(Shard::default()))
            .collect();
        let mut index = NodeIndex {
            sip,
            key_mask: u64::MAX >> (64 - key_bits),
            run: None,
            locations: HashMap::default(),
            overflow: HashMap::default(),
            nodes: 0,
            segments: BTreeMap::new(),
            active: 0,
            folder: folder.clone(),
            segment_bytes: segment_bytes.max(RECORD as u64),
            cache,
            upper: RwLock::new(Upper::new(pin_depth)),
            upper_depth: pin_depth,
            stale_since: HashMap::default(),
            stale_by_version: BTreeMap::new(),
            stale_journal: Vec::new(),
            reads: std::sync::atomic::AtomicU64::new(0),
            keys: KeyFilter::new(sip),
            cache_bytes,
        };
        index.rebudget();
        if let Some(folder) = folder {
            std::fs::create_dir_all(&folder)
                .map_err(|e| io_error(&format!("creating {}", folder.display()), e))?;
            let listing = std::fs::read_dir(&folder)
                .map_err(|e| io_error(&format!("listing {}", folder.display()), e))?;
            for entry in listing.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(id) = name
                    .strip_prefix("nodes-")
                    .and_then(|rest| rest.strip_suffix(".seg"))
                    .and_then(|digits| digits.parse::<u16>().ok())
                {
                    let segment = index.open_segment(id)?;
                    index.segments.insert(id, segment);
                    index.active = index.active.max(id);
                }
            }
        }
        Ok(index)
    }

    fn __len__(&self) -> usize {
        self.count()
    }

    fn __bool__(&self) -> bool {
        self.count() > 0
    }

    fn __contains__(&self, digest: &[u8]) -> PyResult<bool> {
        Ok(digest.len() == 32 && self.contains(&to_hash(digest))?)
    }

    fn __getitem__<'py>(&self, py: Python<'py>, digest: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.node(&digest_of(digest)?)?))
    }

    /// Add one node (tests and tools; the store adds whole batches).
    fn __setitem__(&mut self, digest: &[u8], node: &[u8]) -> PyResult<()> {
        let mut record = digest_of(digest)?.to_vec();
        record.extend_from_slice(&node_of(node)?);
        self.add_records(&record, true)
    }

    #[pyo3(signature = (digest, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        digest: &[u8],
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let digest = digest_of(digest)?;
        if !self.contains(&digest)? {
            return Ok(default);
        }
        Ok(Some(PyBytes::new(py, &self.node(&digest)?).into_any()))
    }

    /// Make a version's batch current: its records are appended to the segment files
    /// (and synced with `sync`), its nodes join the index (a node made again after going
    /// stale is live again), and its dropped nodes go stale at `version`. Returns where
    /// the records went, `(segment, first record, count)`, for the store's node log.
    #[pyo3(signature = (batch, version, sync=false))]
    fn apply(
        &mut self,
        py: Python<'_>,
        batch: &NodeBatch,
        version: u64,
        sync: bool,
    ) -> PyResult<(u16, u64, u64)> {
        py.detach(|| {
            let placed = self.apply_batch(batch, version)?;
            if sync && placed.2 > 0 {
                if let Some(segment) = self.segments.get(&placed.0) {
                    segment
                        .sync()
                        .map_err(|e| io_error("syncing state nodes", e))?;
                }
            }
            Ok(placed)
        })
    }

    /// Forget nodes that only versions up to `through` still used.
    fn prune(&mut self, through: i64) {
        if through < 0 {
            return;
        }
        let keep = self.stale_by_version.split_off(&(through as u64 + 1));
        let expired = std::mem::replace(&mut self.stale_by_version, keep);
        for (since, digests) in expired {
            for digest in digests {
                // A node made again after going stale (and perhaps dropped again
                // later) carries a newer `since`; it stays.
                if self.stale_since.get(&digest) == Some(&since) {
                    self.unmark(&digest);
                    self.forget(&digest);
                }
            }
        }
    }

    /// Append `digest || node` records and index them (tests, tools). With `trusted`
    /// false each must hash to its digest.
    #[pyo3(signature = (records, trusted=false))]
    fn add_records(&mut self, records: &[u8], trusted: bool) -> PyResult<()> {
        if records.len() % RECORD != 0 {
            return Err(PyValueError::new_err("node records are 97 bytes each"));
        }
        for record in records.chunks_exact(RECORD) {
            let node = node_of(&record[32..])?;
            if !trusted && <[u8; 32]>::from(Sha256::digest(node)) != record[..32] {
                return Err(PyValueError::new_err(format!(
                    "state node {} does not hash to its digest",
                    hex(&record[..32])
                )));
            }
        }
        let (segment, first) = self.append(records)?;
        for (i, record) in records.chunks_exact(RECORD).enumerate() {
            let digest = to_hash(&record[..32]);
            // Tools and tests: a node added again is found wherever it is, for an exact count.
            self.place(&digest, segment, first + i as u64, Prior::Unknown)?;
            self.unmark(&digest);
            self.note_leaf(&record[32..]);
        }
        Ok(())
    }

    /// Re-index `count` records of `segment` from `first` (a logged version, on open).
    /// `moved`: records a compaction copied, which keep their stale marks. `copied`:
    /// copies too (whose marks the move logged), so their source is looked up.
    #[pyo3(signature = (segment, first, count, moved, copied=false))]
    fn replay(
        &mut self,
        py: Python<'_>,
        segment: u16,
        first: u64,
        count: u64,
        moved: bool,
        copied: bool,
    ) -> PyResult<()> {
        py.detach(|| {
            let data = self
                .segments
                .get(&segment)
                .ok_or_else(|| corrupt(format!("state node segment {segment} is missing")))?
                .read(first, count)
                .map_err(|e| corrupt(format!("state node segment {segment} is short: {e}")))?;
            self.locations.reserve(count as usize);
            for (i, record) in data.chunks_exact(RECORD).enumerate() {
                let digest = to_hash(&record[..32]);
                // A copy's source may be in the run: found there, it loses a live
                // record rather than the copy counting as a new node.
                let prior = if moved || copied {
                    Prior::Unknown
                } else {
                    Prior::Made
                };
                self.place(&digest, segment, first + i as u64, prior)?;
                if !moved {
                    self.unmark(&digest);
                }
                // Also for moved records: the row that made a leaf is skipped on replay
                // once its segment is retired, so the move is the only trace left.
                self.note_leaf_read(record)?;
            }
            Ok(())
        })
    }

    /// Write a logged version's records back where they went and index them (on open).
    /// Segment writes are synced only before a snapshot or a compaction: until then the
    /// node log in SQLite holds the records, and this puts the bytes back whatever a
    /// crash or power cut left in the file.
    fn replay_records(
        &mut self,
        py: Python<'_>,
        segment: u16,
        first: u64,
        records: &[u8],
    ) -> PyResult<()> {
        if records.len() % RECORD != 0 {
            return Err(PyValueError::new_err("node records are 97 bytes each"));
        }
        if !self.segments.contains_key(&segment) {
            let opened = self.open_segment(segment)?;
            self.segments.insert(segment, opened);
            self.active = self.active.max(segment);
        }
        py.detach(|| {
            let target = self.segments.get_mut(&segment).expect("opened above");
            let start = first * RECORD as u64;
            match &mut target.data {
                Data::Memory(bytes) => {
                    let end = start as usize + records.len();
                    if bytes.len() < end {
                        bytes.resize(end, 0);
                    }
                    bytes[start as usize..end].copy_from_slice(records);
                }
                Data::File(file) => file
                    .write_all_at(records, start)
                    .map_err(|e| io_error("rewriting state nodes", e))?,
            }
            target.len = target.len.max(start + records.len() as u64);
            self.locations.reserve(records.len() / RECORD);
            for (i, record) in records.chunks_exact(RECORD).enumerate() {
                let digest = to_hash(&record[..32]);
                self.place(&digest, segment, first + i as u64, Prior::Made)?;
                self.unmark(&digest);
                self.note_leaf_read(record)?;
            }
            Ok(())
        })
    }

    /// Sync every segment file (before a snapshot lets the log's records go).
    fn sync_all(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            for segment in self.segments.values() {
                segment
                    .sync()
                    .map_err(|e| io_error("syncing state nodes", e))?;
            }
            Ok(())
        })
    }

    /// Mark concatenated digests as dropped by `version` (a logged version's `dropped`).
    fn mark_stale(&mut self, digests: &[u8], version: u64) -> PyResult<()> {
        if digests.len() % 32 != 0 {
            return Err(PyValueError::new_err("digests are 32 bytes each"));
        }
        self.mark_stale_digests(digests.chunks_exact(32).map(to_hash), version);
        Ok(())
    }

    /// Restore `digest || since (8 bytes, big-endian)` records from a checkpoint.
    fn add_stale_records(&mut self, records: &[u8]) -> PyResult<()> {
        if records.len() % STALE_RECORD != 0 {
            return Err(PyValueError::new_err("stale records are 40 bytes each"));
        }
        for record in records.chunks_exact(STALE_RECORD) {
            let since = u64::from_be_bytes(record[32..].try_into().expect("8 bytes"));
            let digest = to_hash(&record[..32]);
            if since == STALE_LIFTED {
                self.unmark(&digest);
            } else {
                self.mark_stale_digests(std::iter::once(digest), since);
            }
        }
        Ok(())
    }

    /// The marks set or lifted since `forget_stale_changes`, as `stale_chunks` records;
    /// a lifted mark's `since` is 2^64 - 1. Written after the earlier checkpoints' marks
    /// and read back in order, they give the marks as they are now.
    ///
    /// In the order the marks changed, not sorted: each record carries the digest's
    /// mark as it is now, so a digest changed twice gives the same record twice, and
    /// reading applies records one by one. Sorting a checkpoint's half million or more
    /// (each block of 1,500 transfers drops some 30,000 nodes) was a third of the
    /// checkpoint's time.
    fn stale_changes<'py>(&self, py: Python<'py>, per_chunk: usize) -> Vec<Bound<'py, PyBytes>> {
        let records = self.stale_journal.iter().map(|digest| {
            let since = self.stale_since.get(digest).copied();
            stale_record(digest, since.unwrap_or(STALE_LIFTED))
        });
        chunked(py, records, per_chunk)
    }

    /// How many marks were set or lifted since they were last written down (a digest
    /// changed twice counts twice).
    #[getter]
    fn stale_changed(&self) -> usize {
        self.stale_journal.len()
    }

    /// The marks as they are now are written down (a checkpoint committed). The list
    /// keeps its room: the next checkpoint's marks reuse the same pages.
    fn forget_stale_changes(&mut self) {
        self.stale_journal.clear();
    }

    /// Every stale node as `digest || since` records, `per_chunk` records a chunk.
    fn stale_chunks<'py>(&self, py: Python<'py>, per_chunk: usize) -> Vec<Bound<'py, PyBytes>> {
        let mut stale: Vec<(&Hash, &u64)> = self.stale_since.iter().collect();
        stale.sort_unstable();
        let records = stale
            .into_iter()
            .map(|(digest, since)| stale_record(digest, *since));
        chunked(py, records, per_chunk)
    }

    /// Locations held in memory: changed since the last snapshot (tombstones included),
    /// and collided digests. The store takes a snapshot before this passes its bound.
    #[getter]
    fn changed_locations(&self) -> usize {
        self.locations.len() + self.overflow.len()
    }

    #[getter]
    fn stale_count(&self) -> usize {
        self.stale_since.len()
    }

    /// Write the locations to `path` as a new sorted run: the last run merged with the
    /// changes since (through a temporary file, synced, then renamed). Opening then
    /// reads this file instead of replaying every logged version, and the changes held
    /// in memory start again from nothing.
    fn save_snapshot(&mut self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| {
            let failed = |e: std::io::Error| io_error(&format!("writing {}", path.display()), e);
            let partial = path.with_extension("partial");
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&partial)
                .map_err(failed)?;
            let merged = self.merge_into(&file).map_err(|e| match e {
                Merge::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    corrupt(format!("the node location snapshot in use is damaged: {e}"))
                }
                Merge::Io(e) => failed(e),
                Merge::Damaged(e) => e,
            })?;
            let finish = || -> std::io::Result<()> {
                file.sync_all()?;
                std::fs::rename(&partial, &path)?;
                if let Some(parent) = path.parent() {
                    File::open(parent)?.sync_all()?;
                }
                Ok(())
            };
            finish().map_err(failed)?;
            self.nodes = merged.entries + merged.overflow.len() as u64;
            self.run = Some(LocationRun::written(
                file,
                SNAPSHOT_HEADER_SORTED,
                merged.entries,
                merged.fences,
                merged.sum,
            ));
            // A new table, not a cleared one: its room goes back to the allocator.
            self.locations = HashMap::default();
            self.overflow = merged.overflow.into_iter().collect();
            for (id, segment) in self.segments.iter_mut() {
                segment.live = merged.live.get(id).copied().unwrap_or(0);
            }
            self.rebudget();
            Ok(())
        })
    }

    /// Read the locations a snapshot holds (on open, before the log after it); returns
    /// the tail `(segment, records)` the files had when it was taken.
    fn load_snapshot(&mut self, py: Python<'_>, path: PathBuf) -> PyResult<(u16, u64)> {
        py.detach(|| {
            let unreadable = |e: std::io::Error| {
                corrupt(format!(
                    "the node snapshot {} is unreadable: {e}",
                    path.display()
                ))
            };
            let file = File::open(&path).map_err(unreadable)?;
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, 0).map_err(unreadable)?;
            let tail = if &magic == SNAPSHOT_MAGIC_SORTED {
                self.load_sorted_snapshot(file, &path)
            } else {
                let data = std::fs::read(&path).map_err(unreadable)?;
                self.load_table_snapshot(data, &path)
            };
            self.rebudget();
            tail
        })
    }

    /// Cut the segment files back to `(segment, records)`, the end the store recorded
    /// with its last committed version: anything after it is a torn or abandoned write.
    fn truncate(&mut self, segment: u16, records: u64) -> PyResult<()> {
        let later: Vec<u16> = self
            .segments
            .range(segment + 1..)
            .map(|(id, _)| *id)
            .collect();
        for id in later {
            self.delete_segment(id)?;
        }
        if let Some(current) = self.segments.get_mut(&segment) {
            let len = records * RECORD as u64;
            if let Data::File(file) = &current.data {
                file.set_len(len)
                    .map_err(|e| io_error("cutting a segment back", e))?;
                file.sync_all()
                    .map_err(|e| io_error("cutting a segment back", e))?;
            }
            current.len = len;
        }
        self.active = segment;
        Ok(())
    }

    /// Remove a segment and its file (one compacted, or past the recorded end).
    fn delete_segment(&mut self, segment: u16) -> PyResult<()> {
        self.segments.remove(&segment);
        if let Some(folder) = &self.folder {
            match std::fs::remove_file(segment_path(folder, segment)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("deleting a segment", e)),
            }
        }
        Ok(())
    }

    /// The tail: `(active segment, records in it)`.
    #[getter(tail)]
    fn py_tail(&self) -> (u16, u64) {
        self.tail()
    }

    /// `(segment, records, live records)` for each segment.
    fn segment_stats(&self) -> Vec<(u16, u64, u64)> {
        self.segments
            .iter()
            .map(|(id, s)| (*id, s.records(), s.live))
            .collect()
    }

    /// Bytes the segment files hold.
    #[getter]
    fn disk_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.len).sum()
    }

    /// Copy the live records `[start, start + count)` of `segment` (not the active
    /// one) to the tail and point the index at the copies, so a large segment is moved
    /// in short steps, each its own logged move; once every step is logged the segment
    /// is garbage, for the store to delete. Returns `(segment, first record, count)` of
    /// the copies and their stale marks as `digest || since` records: a replay cannot
    /// rebuild those from the rows that made the nodes once the source segment is
    /// retired (those rows are skipped), so the move logs them.
    fn compact_part_marked<'py>(
        &mut self,
        py: Python<'py>,
        segment: u16,
        start: u64,
        count: u64,
    ) -> PyResult<(u16, u64, u64, Bound<'py, PyBytes>)> {
        let (target, first, moved, stale) = self.compact_records(py, segment, start, count)?;
        Ok((target, first, moved, PyBytes::new(py, &stale)))
    }

    /// Read the nodes `frontier` names into their places in the upper levels: records
    /// of a digest and its path's first 64 bits (big-endian), 40 bytes each, all at
    /// `depth`. Returns their children as the next level's frontier. The store warms
    /// the upper levels after a start this way, a slice of a level per call, so no
    /// one call holds the index for long. A place a block has written since is left
    /// as it is, and so is a node gone stale (the root moved on during the warm-up).
    fn warm_frontier<'py>(
        &self,
        py: Python<'py>,
        frontier: &[u8],
        depth: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if frontier.len() % 40 != 0 {
            return Err(PyValueError::new_err(
                "a frontier is whole 40-byte records (digest, path prefix)",
            ));
        }
        let next = py.detach(|| -> PyResult<Vec<u8>> {
            let nodes = self.count();
            let mut upper = self.upper.write().unwrap_or_else(|e| e.into_inner());
            let mut next = Vec::with_capacity(frontier.len() * 2);
            for record in frontier.chunks_exact(40) {
                let digest = to_hash(&record[..32]);
                let prefix = u64::from_be_bytes(record[32..].try_into().expect("8 bytes"));
                if digest == EMPTY_HASH {
                    continue;
                }
                let node = match upper.get(&digest, depth, prefix) {
                    Some(node) => node,
                    None => {
                        // Not through the cache: the place is where this node stays.
                        let node = match self.shard(&digest).get(&digest) {
                            Some(node) => node,
                            None => self.read_node(&digest)?,
                        };
                        if !upper.taken(depth, prefix) && !self.stale_since.contains_key(&digest) {
                            upper.put(&digest, &node, depth, prefix, nodes);
                        }
                        node
                    }
                };
                if node[0] == INTERNAL {
                    for (right, child) in [(false, &node[1..33]), (true, &node[33..65])] {
                        next.extend_from_slice(child);
                        next.extend_from_slice(&child_prefix(prefix, depth, right).to_be_bytes());
                    }
                }
            }
            Ok(next)
        })?;
        Ok(PyBytes::new(py, &next))
    }

    /// The levels (0 to this, exclusive) whose nodes stay in the cache.
    #[getter]
    fn pin_depth(&self) -> usize {
        self.upper_depth
    }

    /// Whether a leaf for state key `key` may exist (False: never made, so absent from
    /// every kept tree); for tests and tools.
    fn may_hold_key(&self, key: &[u8]) -> bool {
        self.keys.may_contain(&tagged(b"state/key", key))
    }

    /// Bytes of memory the key filter takes.
    #[getter]
    fn key_filter_bytes(&self) -> usize {
        self.keys.memory_bytes()
    }

    /// Nodes read from the segment files so far (cache misses).
    #[getter]
    fn disk_reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the cache budget holds, in bytes: `(budget, fixed, deeper)`, where `fixed`
    /// is the pinned levels, the key filter and the fences, and `deeper` the most the
    /// deeper nodes' shards may hold now (both generations).
    #[getter]
    fn cache_budget(&self) -> (u64, u64, u64) {
        let cap = self.cache[0].lock().unwrap_or_else(|e| e.into_inner()).cap as u64;
        let deeper = cap * 2 * CACHE_SHARDS as u64 * CACHE_ENTRY_BYTES;
        (self.cache_bytes, self.fixed_cache_bytes(), deeper)
    }

    /// Nodes in the cache now (beside the upper levels, which are kept by place).
    #[getter]
    fn cached(&self) -> usize {
        self.cache
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// The value hash `key` (a state key, hashed here) has under `root`, or None when
    /// the key is absent: the store's "is this key set?" without siblings or a query.
    fn value_hash<'py>(
        &self,
        py: Python<'py>,
        root: &[u8],
        key: &[u8],
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let path = tagged(b"state/key", key);
        let mut current = digest_of(root)?;
        if !self.keys.may_contain(&path) {
            return Ok(None);
        }
        let upper = self.upper.read().unwrap_or_else(|e| e.into_inner());
        let mut depth = 0;
        while current != EMPTY_HASH {
            let node = self.node_at(&upper, &current, depth, prefix_of(&path))?;
            if node[0] == LEAF {
                return Ok((node[1..33] == path).then(|| PyBytes::new(py, &node[33..65])));
            }
            current = if bit(&path, depth) {
                to_hash(&node[33..65])
            } else {
                to_hash(&node[1..33])
            };
            depth += 1;
        }
        Ok(None)
    }

    /// Siblings from `root` down `path` (a key hash), and the leaf where it ends.
    fn walk<'py>(
        &self,
        py: Python<'py>,
        root: &[u8],
        path: &[u8],
    ) -> PyResult<(
        Vec<Bound<'py, PyBytes>>,
        Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>,
    )> {
        let path = digest_of(path)?;
        let mut current = digest_of(root)?;
        let upper = self.upper.read().unwrap_or_else(|e| e.into_inner());
        let mut siblings = Vec::new();
        let mut depth = 0;
        while current != EMPTY_HASH {
            let node = self.node_at(&upper, &current, depth, prefix_of(&path))?;
            if node[0] == LEAF {
                let leaf = (
                    PyBytes::new(py, &node[1..33]),
                    PyBytes::new(py, &node[33..65]),
                );
                return Ok((siblings, Some(leaf)));
            }
            if bit(&path, depth) {
                siblings.push(PyBytes::new(py, &node[1..33]));
                current = to_hash(&node[33..65]);
            } else {
                siblings.push(PyBytes::new(py, &node[33..65]));
                current = to_hash(&node[1..33]);
            }
            depth += 1;
        }
        Ok((siblings, None))
    }
}

impl NodeIndex {
    fn compact_records(
        &mut self,
        py: Python<'_>,
        segment: u16,
        start: u64,
        count: u64,
    ) -> PyResult<(u16, u64, u64, Vec<u8>)> {
        if segment == self.active {
            return Err(PyValueError::new_err("the active segment is not compacted"));
        }
        py.detach(|| {
            let source = self
                .segments
                .get(&segment)
                .ok_or_else(|| corrupt(format!("state node segment {segment} is missing")))?;
            let count = count.min(source.records().saturating_sub(start));
            let data = source
                .read(start, count)
                .map_err(|e| io_error("reading a segment to compact", e))?;
            let mut kept = Vec::new();
            let mut sources = Vec::new();
            for (i, record) in data.chunks_exact(RECORD).enumerate() {
                let digest = to_hash(&record[..32]);
                let here = pack(segment, start + i as u64, tag_of(&digest));
                if self.locate(&digest)? == Some(here) {
                    kept.extend_from_slice(record);
                    sources.push(here);
                }
            }
            let (target, first) = self.append(&kept)?;
            self.sync()?;
            let count = (kept.len() / RECORD) as u64;
            let mut stale = Vec::new();
            for (i, record) in kept.chunks_exact(RECORD).enumerate() {
                let digest = to_hash(&record[..32]);
                self.place(&digest, target, first + i as u64, Prior::At(sources[i]))?;
                if let Some(since) = self.stale_since.get(&digest) {
                    stale.extend_from_slice(&digest);
                    stale.extend_from_slice(&since.to_be_bytes());
                }
            }
            Ok((target, first, count, stale))
        })
    }

    fn tail(&self) -> (u16, u64) {
        (
            self.active,
            self.segments.get(&self.active).map_or(0, Segment::records),
        )
    }

    /// The last run and the changes since, merged into `file` as a snapshot of the
    /// sorted layout (`SNAPSHOT_MAGIC_SORTED`): header, entries, collided digests, key
    /// filter and its hash. Tombstones drop out here, and the segments' live counts
    /// are counted afresh.
    fn merge_into(&self, file: &File) -> Result<Merged, Merge> {
        let mut changes: Vec<(u64, u64)> = self.locations.iter().map(|(k, v)| (*k, *v)).collect();
        changes.sort_unstable_by_key(|(key, _)| *key);
        // A digest in `overflow` (moved, or forgotten) overrides its entry in the run.
        let hidden: HashSet<(u64, u16)> = self
            .overflow
            .keys()
            .map(|digest| (self.key(digest), tag_of(digest)))
            .collect();
        let mut writer = RunWriter::new(file.try_clone()?);
        writer.write_tail(&[0u8; SNAPSHOT_HEADER_SORTED as usize])?;
        let mut live: HashMap<u16, u64> = HashMap::new();
        let mut displaced = Vec::new();
        let mut pending = changes.iter().copied().peekable();
        let mut emit = |writer: &mut RunWriter<File>, key: u64, location: u64| {
            *live.entry(unpack(location).0).or_default() += 1;
            writer.push(key, location)
        };
        if let Some(run) = &self.run {
            run.stream(|_, key, location| {
                while let Some((changed, at)) = pending.next_if(|(changed, _)| *changed < key) {
                    if !is_tomb(at) {
                        emit(&mut writer, changed, at)?;
                    }
                }
                let visible = !hidden.contains(&(key, unpack(location).2));
                match pending.next_if(|(changed, _)| *changed == key) {
                    // The same digest: the change stands (a tombstone drops it).
                    Some((_, at)) if unpack(at).2 == unpack(location).2 => {
                        if !is_tomb(at) {
                            emit(&mut writer, key, at)?;
                        }
                    }
                    // Two digests under one key: the run's goes to the collided ones.
                    Some((_, at)) if !is_tomb(at) => {
                        emit(&mut writer, key, at)?;
                        if visible {
                            displaced.push(location);
                        }
                    }
                    _ if visible => emit(&mut writer, key, location)?,
                    _ => {}
                }
                Ok(())
            })?;
        }
        for (key, at) in pending {
            if !is_tomb(at) {
                emit(&mut writer, key, at)?;
            }
        }
        let mut overflow: Vec<(Hash, u64)> = self
            .overflow
            .iter()
            .filter(|(_, location)| !is_tomb(**location))
            .map(|(digest, location)| (*digest, *location))
            .collect();
        for location in displaced {
            overflow.push((self.digest_at(location).map_err(Merge::Damaged)?, location));
        }
        for (_, location) in &overflow {
            *live.entry(unpack(*location).0).or_default() += 1;
        }
        let entries = writer.entries();
        let entries_sum = writer.sum();
        let mut collisions = Vec::with_capacity(overflow.len() * 40);
        for (digest, location) in &overflow {
            collisions.extend_from_slice(digest);
            collisions.extend_from_slice(&location.to_le_bytes());
        }
        writer.write_tail(&collisions)?;
        let mut filter = Vec::new();
        self.keys.to_bytes(&mut filter);
        // Locations are checked by every read; the filter is not, so it carries a hash.
        let sum = <[u8; 32]>::from(Sha256::digest(&filter));
        writer.write_tail(&filter)?;
        writer.write_tail(&sum)?;
        let (file, fences) = writer.finish()?;
        let (segment, records) = self.tail();
        let header = sorted_header(
            [
                entries,
                overflow.len() as u64,
                u64::from(segment),
                records,
                filter.len() as u64,
            ],
            &entries_sum,
            &collisions,
        );
        file.write_all_at(&header, 0)?;
        Ok(Merged {
            entries,
            fences,
            overflow,
            live,
            sum: entries_sum,
        })
    }

    /// The digest of the record at `location`, checked (a run entry a collision moves
    /// to the collided digests, which are keyed by digest).
    fn digest_at(&self, location: u64) -> PyResult<Hash> {
        let (segment, record, tag) = unpack(location);
        let data = self
            .segments
            .get(&segment)
            .ok_or_else(|| corrupt(format!("state node segment {segment} is missing")))?
            .read(record, 1)
            .map_err(|e| corrupt(format!("state node segment {segment} is short: {e}")))?;
        let digest = to_hash(&data[..32]);
        if !record_is_sound(&data) || tag_of(&digest) != tag {
            return Err(corrupt(format!(
                "state node {} does not match its stored record",
                hex(&digest)
            )));
        }
        Ok(digest)
    }

    /// A snapshot of the sorted layout: the run stays on disk; memory gets its fences,
    /// the collided digests and the key filter.
    fn load_sorted_snapshot(&mut self, file: File, path: &Path) -> PyResult<(u16, u64)> {
        let bad = || corrupt(format!("the node snapshot {} is damaged", path.display()));
        let mut header = [0u8; SORTED_HEADER_BYTES];
        file.read_exact_at(&mut header, 0).map_err(|_| bad())?;
        let word =
            |i: usize| u64::from_le_bytes(header[8 + 8 * i..16 + 8 * i].try_into().expect("8"));
        let (entries, collided, tail_segment, tail_records, filter_len) =
            (word(0), word(1), word(2), word(3), word(4));
        let tail_segment = u16::try_from(tail_segment).map_err(|_| bad())?;
        let after_entries = entries
            .checked_mul(ENTRY as u64)
            .and_then(|n| n.checked_add(SNAPSHOT_HEADER_SORTED))
            .ok_or_else(bad)?;
        let after_collided = collided
            .checked_mul(40)
            .and_then(|n| n.checked_add(after_entries))
            .ok_or_else(bad)?;
        let end = filter_len
            .checked_add(32)
            .and_then(|n| n.checked_add(after_collided))
            .ok_or_else(bad)?;
        let length = file.metadata().map_err(|_| bad())?.len();
        if length != end {
            return Err(bad());
        }
        let mut rest = vec![0u8; (end - after_entries) as usize];
        file.read_exact_at(&mut rest, after_entries)
            .map_err(|_| bad())?;
        let (collisions, tail) = rest.split_at(collided as usize * 40);
        let entries_sum: RunSum = header[48..80].try_into().expect("32 bytes");
        let words: [u64; 5] = std::array::from_fn(word);
        if sorted_header(words, &entries_sum, collisions) != header {
            return Err(bad());
        }
        let mut live: HashMap<u16, u64> = HashMap::new();
        let mut tombs = false;
        let run = LocationRun::open(
            file.try_clone().map_err(|_| bad())?,
            SNAPSHOT_HEADER_SORTED,
            entries,
            entries_sum,
            |_, location| {
                tombs |= is_tomb(location);
                *live.entry(unpack(location).0).or_default() += 1;
            },
        )
        .map_err(|_| bad())?;
        if tombs {
            return Err(bad());
        }
        let (filter, sum) = tail.split_at(filter_len as usize);
        if <[u8; 32]>::from(Sha256::digest(filter)) != sum {
            return Err(bad());
        }
        self.keys = KeyFilter::from_bytes(self.sip, filter).ok_or_else(bad)?;
        self.locations = HashMap::default();
        self.overflow = HashMap::default();
        for record in collisions.chunks_exact(40) {
            let location = u64::from_le_bytes(record[32..].try_into().expect("8 bytes"));
            if is_tomb(location) {
                return Err(bad());
            }
            *live.entry(unpack(location).0).or_default() += 1;
            self.overflow.insert(to_hash(&record[..32]), location);
        }
        for (id, segment) in self.segments.iter_mut() {
            segment.live = live.get(id).copied().unwrap_or(0);
        }
        self.nodes = entries + collided;
        self.run = Some(run);
        Ok((tail_segment, tail_records))
    }

    /// A snapshot of an earlier layout (a hash table's entries, unsorted): loaded into
    /// memory as changes, which the next snapshot writes out as a sorted run.
    fn load_table_snapshot(&mut self, data: Vec<u8>, path: &Path) -> PyResult<(u16, u64)> {
        let bad = || corrupt(format!("the node snapshot {} is damaged", path.display()));
        if data.len() < SNAPSHOT_HEADER {
            return Err(bad());
        }
        // Version 2 had no key filter after the locations; it is rebuilt.
        let with_filter = match &data[..8] {
            magic if magic == SNAPSHOT_MAGIC => true,
            magic if magic == SNAPSHOT_MAGIC_NO_FILTER => false,
            _ => return Err(bad()),
        };
        let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
        let tail_segment = u16::try_from(word(24)).map_err(|_| bad())?;
        let tail_records = word(32);
        let plain = u64::from_le_bytes(data[8..16].try_into().expect("8 bytes")) as usize;
        let collided = u64::from_le_bytes(data[16..24].try_into().expect("8 bytes")) as usize;
        let end = plain
            .checked_mul(16)
            .and_then(|p| collided.checked_mul(40).map(|c| (p, c)))
            .and_then(|(p, c)| p.checked_add(c))
            .and_then(|n| n.checked_add(SNAPSHOT_HEADER))
            .ok_or_else(bad)?;
        if end > data.len() || (!with_filter && end != data.len()) {
            return Err(bad());
        }
        self.locations.reserve(plain);
        let mut at = SNAPSHOT_HEADER;
        for _ in 0..plain {
            let key = u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
            let location = u64::from_le_bytes(data[at + 8..at + 16].try_into().expect("8 bytes"));
            self.locations.insert(key, location);
            at += 16;
        }
        for _ in 0..collided {
            let digest = to_hash(&data[at..at + 32]);
            let location = u64::from_le_bytes(data[at + 32..at + 40].try_into().expect("8 bytes"));
            self.overflow.insert(digest, location);
            at += 40;
        }
        self.recount();
        if with_filter {
            let filter = data
                .get(end..data.len().saturating_sub(32))
                .ok_or_else(bad)?;
            if data.len() < end + 32
                || <[u8; 32]>::from(Sha256::digest(filter)) != data[data.len() - 32..]
            {
                return Err(bad());
            }
            self.keys = KeyFilter::from_bytes(self.sip, filter).ok_or_else(bad)?;
        } else {
            self.rebuild_key_filter()?;
        }
        Ok((tail_segment, tail_records))
    }

    /// Live counts per segment, from the locations (after loading a snapshot).
    fn recount(&mut self) {
        for segment in self.segments.values_mut() {
            segment.live = 0;
        }
        let all: Vec<u64> = self
            .locations
            .values()
            .chain(self.overflow.values())
            .copied()
            .filter(|location| !is_tomb(*location))
            .collect();
        self.nodes = all.len() as u64;
        for location in all {
            self.live_change(location, 1);
        }
    }
}

fn tagged(tag: &[u8], data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"urbis/");
    hasher.update(tag);
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// A block's changes as tree items: `(key_hash, value_hash or None)` sorted by key
/// hash, hashed as `proof.key_hash` / `proof.value_hash` do (`urbis/state/key`,
/// `urbis/state/value` tags).
#[pyfunction]
pub fn state_items<'py>(
    py: Python<'py>,
    changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
) -> Vec<(Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>)> {
    let mut items: Vec<(Hash, Option<Hash>)> = changes
        .iter()
        .map(|(key, value)| {
            (
                tagged(b"state/key", key),
                value.as_deref().map(|v| tagged(b"state/value", v)),
            )
        })
        .collect();
    items.sort_unstable();
    items
        .iter()
        .map(|(k, v)| (PyBytes::new(py, k), v.as_ref().map(|v| PyBytes::new(py, v))))
        .collect()
}
