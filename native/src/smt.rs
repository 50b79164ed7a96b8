//! The sparse Merkle tree's batch update, natively: the same algorithm and the
//! same bytes as `urbis/state/tree.py` (which stays the reference and serves
//! proofs), but without a Python call per node. Commit cost is dominated by
//! this walk, so it runs here.
//!
//! Nodes are 65 bytes: a kind byte (0 leaf, 1 internal) and two 32-byte hashes
//! (key hash and value hash, or left and right child). A node's digest is its
//! SHA-256. An empty subtree is 32 zero bytes.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use sha2::{Digest, Sha256};

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
    fn load(&self, digest: &Hash) -> PyResult<Node>;
}

fn missing(digest: &Hash) -> PyErr {
    PyKeyError::new_err(format!("state node {} is missing", hex(digest)))
}

impl Source for &NodeIndex {
    fn load(&self, digest: &Hash) -> PyResult<Node> {
        self.node(digest).copied()
    }
}

struct Mapping<'a, 'py>(&'a Bound<'py, PyAny>);

impl Source for Mapping<'_, '_> {
    fn load(&self, digest: &Hash) -> PyResult<Node> {
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

struct Tree<S> {
    committed: S,
    created: HashMap<Hash, Node, ByDigest>,
    order: Vec<Hash>,
    dropped: HashSet<Hash, ByDigest>,
    /// Key hashes given a leaf (set or kept) and key hashes deleted, for the index's
    /// set of present keys.
    added: Vec<Hash>,
    removed: Vec<Hash>,
}

fn bit(key: &Hash, depth: usize) -> bool {
    (key[depth >> 3] >> (7 - (depth & 7))) & 1 == 1
}

/// Index of the first item whose key has bit `depth` set (items are sorted).
fn split(items: &[Item], depth: usize) -> usize {
    items.partition_point(|item| !bit(&item.key, depth))
}

fn to_hash(slice: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(slice);
    out
}

impl<S: Source> Tree<S> {
    fn new(committed: S) -> Self {
        Tree {
            committed,
            created: HashMap::default(),
            order: Vec::new(),
            dropped: HashSet::default(),
            added: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn node(&self, digest: &Hash) -> PyResult<Node> {
        match self.created.get(digest) {
            Some(node) => Ok(*node),
            None => self.committed.load(digest),
        }
    }

    /// Take in the work of a tree that updated a disjoint subtree after this one's:
    /// the result is what one tree doing both in turn would hold.
    fn absorb<T>(&mut self, other: Tree<T>) {
        self.created.extend(other.created);
        self.order.extend(other.order);
        self.dropped.extend(other.dropped);
        self.added.extend(other.added);
        self.removed.extend(other.removed);
    }

    fn into_batch(mut self, old_root: Hash, new_root: Hash) -> NodeBatch {
        let mut created = Vec::with_capacity(self.created.len());
        for digest in &self.order {
            // A digest dropped and made again appears twice in `order`: keep its first place.
            if let Some(node) = self.created.remove(digest) {
                created.push((*digest, node));
            }
        }
        let mut dropped: Vec<Hash> = self.dropped.into_iter().collect();
        dropped.sort_unstable();
        NodeBatch {
            created,
            dropped,
            old_root,
            new_root,
            added: self.added,
            removed: self.removed,
        }
    }

    fn create(&mut self, node: Node) -> Hash {
        let digest: Hash = Sha256::digest(node).into();
        if !self.dropped.remove(&digest) && self.created.insert(digest, node).is_none() {
            self.order.push(digest);
        }
        digest
    }

    fn drop_node(&mut self, digest: &Hash) {
        if self.created.remove(digest).is_none() {
            self.dropped.insert(*digest);
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
        let node = self.node(&digest)?;
        if node[0] == LEAF {
            let existing = to_hash(&node[1..33]);
            if items.iter().any(|i| i.key == existing && i.value.is_none()) {
                self.removed.push(existing);
            }
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
        self.join(new_left, new_right)
    }

    fn build(&mut self, depth: usize, items: &[Item]) -> PyResult<(Hash, Kind)> {
        match items.len() {
            0 => Ok((EMPTY_HASH, Kind::Empty)),
            1 => {
                self.added.push(items[0].key);
                let mut node = [0u8; 65];
                node[0] = LEAF;
                node[1..33].copy_from_slice(&items[0].key);
                node[33..65]
                    .copy_from_slice(&items[0].value.expect("only present items are built"));
                Ok((self.create(node), Kind::Leaf))
            }
            _ => {
                let at = split(items, depth);
                let left = self.build(depth + 1, &items[..at])?;
                let right = self.build(depth + 1, &items[at..])?;
                self.join(left, right)
            }
        }
    }

    fn join(&mut self, left: (Hash, Kind), right: (Hash, Kind)) -> PyResult<(Hash, Kind)> {
        // A lone leaf rises to its parent's place: one shape for one key set.
        let left_kind = self.kind(left)?;
        let right_kind = self.kind(right)?;
        if right_kind == Kind::Empty && matches!(left_kind, Kind::Empty | Kind::Leaf) {
            return Ok((left.0, left_kind));
        }
        if left_kind == Kind::Empty && right_kind == Kind::Leaf {
            return Ok((right.0, Kind::Leaf));
        }
        let mut node = [0u8; 65];
        node[0] = INTERNAL;
        node[1..33].copy_from_slice(&left.0);
        node[33..65].copy_from_slice(&right.0);
        Ok((self.create(node), Kind::Internal))
    }

    fn kind(&self, subtree: (Hash, Kind)) -> PyResult<Kind> {
        if subtree.1 != Kind::Unknown {
            return Ok(subtree.1);
        }
        if subtree.0 == EMPTY_HASH {
            return Ok(Kind::Empty);
        }
        Ok(if self.node(&subtree.0)?[0] == LEAF {
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
        let batch = NodeBatch {
            old_root: root,
            new_root: root,
            ..NodeBatch::default()
        };
        return Ok((root, batch));
    }
    let Ok(index) = committed.cast::<NodeIndex>() else {
        let mut tree = Tree::new(Mapping(committed));
        let (new_root, _) = tree.update(root, 0, items)?;
        return Ok((new_root, tree.into_batch(root, new_root)));
    };
    let index = index.borrow();
    let (new_root, tree) = update_in_halves(&index, root, items)?;
    Ok((new_root, tree.into_batch(root, new_root)))
}

/// `Tree::update` from the root, with the root's two subtrees updated at once on two
/// threads when the batch is large and falls on both sides. Nodes are content-
/// addressed and the halves hold keys of different first bits, so no node is made
/// in one half and dropped in the other: joining the two trees' work (left, then
/// right, then the new root) gives the very bytes, in the very order, of one pass.
fn update_in_halves<'a>(
    index: &'a NodeIndex,
    root: Hash,
    items: &[Item],
) -> PyResult<(Hash, Tree<&'a NodeIndex>)> {
    let mut tree = Tree::new(index);
    let at = split(items, 0);
    let worth_halving =
        root != EMPTY_HASH && items.len() >= PARALLEL_ITEMS && 0 < at && at < items.len();
    let internal_root = match worth_halving {
        true => Some(tree.node(&root)?).filter(|node| node[0] != LEAF),
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
            let mut half = Tree::new(index);
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
    let (new_root, _) = tree.join(new_left, new_right)?;
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
    dropped: Vec<Hash>,
    old_root: Hash,
    new_root: Hash,
    added: Vec<Hash>,
    removed: Vec<Hash>,
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

/// The committed tree's nodes by digest, held natively: half the memory of a dict of
/// bytes, and the batch update and proof walks read it without Python objects.
#[pyclass(module = "urbis._native")]
#[derive(Default)]
pub struct NodeIndex {
    map: HashMap<Hash, Node, ByDigest>,
    /// Nodes no longer in the latest tree, by the version that dropped them; they
    /// still serve proofs at older heights until that version leaves the kept window.
    stale_since: HashMap<Hash, u64, ByDigest>,
    stale_by_version: BTreeMap<u64, Vec<Hash>>,
    /// The key hashes present under `present_root` (the latest version), once tracked:
    /// an absent key (a new transfer id, a first nonce) is then known without a walk
    /// down some twenty cold nodes.
    present: Option<HashSet<Hash, ByDigest>>,
    present_root: Hash,
}

impl NodeIndex {
    fn node(&self, digest: &Hash) -> PyResult<&Node> {
        self.map.get(digest).ok_or_else(|| missing(digest))
    }

    fn apply_batch(&mut self, batch: &NodeBatch, version: u64) {
        match &mut self.present {
            Some(present) if batch.old_root == self.present_root => {
                for key in &batch.removed {
                    present.remove(key);
                }
                present.extend(batch.added.iter().copied());
                self.present_root = batch.new_root;
            }
            _ => self.present = None,
        }
        self.map.reserve(batch.created.len());
        for (digest, node) in &batch.created {
            self.map.insert(*digest, *node);
            self.stale_since.remove(digest);
        }
        if !batch.dropped.is_empty() {
            self.mark_stale_digests(batch.dropped.iter().copied(), version);
        }
    }

    fn mark_stale_digests(&mut self, digests: impl Iterator<Item = Hash>, version: u64) {
        let bucket = self.stale_by_version.entry(version).or_default();
        for digest in digests {
            self.stale_since.insert(digest, version);
            bucket.push(digest);
        }
    }
}

fn digest_of(raw: &[u8]) -> PyResult<Hash> {
    if raw.len() != 32 {
        return Err(PyValueError::new_err("a node digest is 32 bytes"));
    }
    Ok(to_hash(raw))
}

#[pymethods]
impl NodeIndex {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    fn __bool__(&self) -> bool {
        !self.map.is_empty()
    }

    fn __contains__(&self, digest: &[u8]) -> bool {
        digest.len() == 32 && self.map.contains_key(&to_hash(digest))
    }

    fn __getitem__<'py>(&self, py: Python<'py>, digest: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        match self.map.get(&digest_of(digest)?) {
            Some(node) => Ok(PyBytes::new(py, node)),
            None => Err(PyKeyError::new_err(hex(digest))),
        }
    }

    fn __setitem__(&mut self, digest: &[u8], node: &[u8]) -> PyResult<()> {
        self.map.insert(digest_of(digest)?, node_of(node)?);
        Ok(())
    }

    #[pyo3(signature = (digest, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        digest: &[u8],
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.map.get(&digest_of(digest)?) {
            Some(node) => Ok(Some(PyBytes::new(py, node).into_any())),
            None => Ok(default),
        }
    }

    #[pyo3(signature = (digest, default=None))]
    fn pop<'py>(
        &mut self,
        py: Python<'py>,
        digest: &[u8],
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.map.remove(&digest_of(digest)?) {
            Some(node) => Ok(Some(PyBytes::new(py, &node).into_any())),
            None => Ok(default),
        }
    }

    /// Make a version's batch current: its nodes join the index (a node made again
    /// after going stale is live again), and its dropped nodes go stale at `version`.
    /// The GIL is released meanwhile, so the store can index while SQLite writes.
    fn apply(&mut self, py: Python<'_>, batch: &NodeBatch, version: u64) {
        py.detach(|| self.apply_batch(batch, version));
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
                    self.stale_since.remove(&digest);
                    self.map.remove(&digest);
                }
            }
        }
    }

    /// Add `digest || node` records (a checkpoint part or a logged version).
    fn add_records(&mut self, records: &[u8]) -> PyResult<()> {
        if records.len() % RECORD != 0 {
            return Err(PyValueError::new_err("node records are 97 bytes each"));
        }
        self.map.reserve(records.len() / RECORD);
        for record in records.chunks_exact(RECORD) {
            let digest = to_hash(&record[..32]);
            // A node whose bytes no longer hash to its digest was damaged on disk: the
            // tree built on it would prove values it never held.
            let node = node_of(&record[32..])?;
            if <[u8; 32]>::from(Sha256::digest(node)) != digest {
                return Err(PyValueError::new_err(format!(
                    "state node {} does not hash to its digest",
                    hex(&digest)
                )));
            }
            self.map.insert(digest, node);
            self.stale_since.remove(&digest);
        }
        Ok(())
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
            self.mark_stale_digests(std::iter::once(to_hash(&record[..32])), since);
        }
        Ok(())
    }

    /// Every stale node as `digest || since` records, `per_chunk` records a chunk.
    fn stale_chunks<'py>(&self, py: Python<'py>, per_chunk: usize) -> Vec<Bound<'py, PyBytes>> {
        let records = self.stale_since.iter().map(|(digest, since)| {
            let mut record = [0u8; STALE_RECORD];
            record[..32].copy_from_slice(digest);
            record[32..].copy_from_slice(&since.to_be_bytes());
            record
        });
        chunked(py, records, per_chunk)
    }

    #[getter]
    fn stale_count(&self) -> usize {
        self.stale_since.len()
    }

    /// Every node as `digest || node` records, `per_chunk` records a chunk (checkpoints).
    fn record_chunks<'py>(&self, py: Python<'py>, per_chunk: usize) -> Vec<Bound<'py, PyBytes>> {
        let records = self.map.iter().map(|(digest, node)| {
            let mut record = [0u8; RECORD];
            record[..32].copy_from_slice(digest);
            record[32..].copy_from_slice(node);
            record
        });
        chunked(py, records, per_chunk)
    }

    /// Track the key hashes present under `root` from now on (the store calls this
    /// with its current root after loading); each applied batch then keeps the set.
    fn track_present(&mut self, root: &[u8]) -> PyResult<()> {
        let root = digest_of(root)?;
        let mut present: HashSet<Hash, ByDigest> = HashSet::default();
        let mut todo = vec![root];
        while let Some(digest) = todo.pop() {
            if digest == EMPTY_HASH {
                continue;
            }
            let node = self.node(&digest)?;
            if node[0] == LEAF {
                present.insert(to_hash(&node[1..33]));
            } else {
                todo.push(to_hash(&node[1..33]));
                todo.push(to_hash(&node[33..65]));
            }
        }
        self.present = Some(present);
        self.present_root = root;
        Ok(())
    }

    /// How many keys the present-key set holds (None: not tracked).
    #[getter]
    fn present_count(&self) -> Option<usize> {
        self.present.as_ref().map(HashSet::len)
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
        if let Some(present) = &self.present {
            if current == self.present_root && !present.contains(&path) {
                return Ok(None);
            }
        }
        let mut depth = 0;
        while current != EMPTY_HASH {
            let node = self.node(&current)?;
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
        let mut siblings = Vec::new();
        let mut depth = 0;
        while current != EMPTY_HASH {
            let node = self.node(&current)?;
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
