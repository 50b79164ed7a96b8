"""StateStore: the versioned, authenticated state of the chain.

Layout in the shared SQLite file:
  state_history(key, version, value)     every write ever made (NULL = deleted); the
                                         current value is a key's latest row (hot keys
                                         cached in memory)
  state_meta(name, value)                the number of live keys
  state_roots(version, root)             the root after each block (version = height)
  state_node_log(version, created, dropped)  Merkle nodes each version made and left
  state_checkpoint(version, part, nodes, stale)  all retained nodes at one version

Merkle nodes are appended once per block as one row rather than one row per
node: inserting tens of thousands of random-keyed rows per block was the
largest cost of a commit, and it grew with the table. The node index lives in
memory; on start it is rebuilt from the last checkpoint plus the log after it.
A checkpoint is written when the log holds more records than the tree has
live nodes, so its cost is amortised over the changes that made it necessary.

A version's rows are written by `write_staged` inside the caller's transaction,
together with the block, so state and blocks can never disagree after a crash.

Nothing read from disk is believed unchecked: node records must hash to their
digests, the current tree must be complete and hold as many keys as recorded,
and every value read must hash to its leaf. A mismatch raises StoreCorrupt,
which halts the node rather than let it build a block on a value its own tree
does not prove.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from urbis._native import NodeBatch, NodeIndex, smt_apply_changes
from urbis.crypto.hashing import EMPTY_HASH
from urbis.state.database import Database, blob, integer
from urbis.state.errors import InvariantBroken, StoreCorrupt, UnknownHeight
from urbis.state.proof import StateProof, key_hash, value_hash
from urbis.state.tree import SparseMerkleTree

KEEP_VERSIONS_DEFAULT = 1000
"""Proofs are served for this many recent heights; older tree nodes are pruned."""

NODE_SIZE = 65
RECORD_SIZE = 32 + NODE_SIZE
VALUE_CACHE_MAX = 500_000
"""Current values (and absences) kept in memory; the rest are read from SQLite.
Bounds memory whatever the state's size: 500k entries is about 150 MiB."""

PARALLEL_INDEX_MIN = 20_000
"""Blocks making at least this many tree nodes index them while SQLite writes."""

CHECKPOINT_PART_RECORDS = 100_000
"""Records per checkpoint row, so no single blob nears SQLite's size limit."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state_history (
  key BLOB NOT NULL, version INTEGER NOT NULL, value BLOB, PRIMARY KEY (key, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_roots (version INTEGER PRIMARY KEY, root BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_node_log (
  version INTEGER PRIMARY KEY, created BLOB NOT NULL, dropped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state_checkpoint (
  version INTEGER NOT NULL, part INTEGER NOT NULL, nodes BLOB NOT NULL, stale BLOB NOT NULL,
  PRIMARY KEY (version, part)
);
"""

__all__ = ["InvariantBroken", "StateStore", "StoreCorrupt", "UnknownHeight"]


class _Staged:
    __slots__ = ("changes", "count_delta", "indexed", "nodes", "root", "version")

    def __init__(
        self,
        version: int,
        root: bytes,
        changes: dict[bytes, bytes | None],
        nodes: NodeBatch,
        count_delta: int,
    ) -> None:
        self.version = version
        self.root = root
        self.changes = changes
        self.nodes = nodes
        self.count_delta = count_delta
        self.indexed = False
        """Its nodes are already in the index (added while SQLite wrote the version)."""


class StateStore:
    def __init__(self, db: Database, keep_versions: int = KEEP_VERSIONS_DEFAULT) -> None:
        if keep_versions < 1:
            raise ValueError("keep_versions must be at least 1")
        self.db = db
        self.keep_versions = keep_versions
        db.ensure_schema(SCHEMA)
        self._nodes = NodeIndex()
        """Committed tree nodes by digest, and which of them are stale since which
        version, held natively (urbis._native.NodeIndex)."""
        self._log_records = 0
        self._tree = SparseMerkleTree(self._node, self._nodes)
        self._staged: _Staged | None = None
        row = db.fetchone("SELECT version, root FROM state_roots ORDER BY version DESC LIMIT 1")
        self.version: int = -1 if row is None else integer(row[0], "the latest version")
        self.root: bytes = EMPTY_HASH if row is None else _digest(row[1], "the latest root")
        self._cache: dict[bytes, bytes | None] = {}
        count = db.fetchone("SELECT value FROM state_meta WHERE name = 'keys'")
        self._count = 0 if count is None else integer(count[0], "the key count")
        kept = db.fetchone("SELECT value FROM state_meta WHERE name = 'oldest_kept'")
        self._oldest_kept = 0 if kept is None else integer(kept[0], "the oldest kept height")
        """Heights before this lost their nodes to a checkpoint taken with a smaller window:
        raising `keep_versions` later cannot bring them back."""
        self._load_tree()

    def _load_tree(self) -> None:
        """Rebuild the node index, then prove the current tree whole before any read.

        From here each promoted batch keeps the set of present keys, so reading a
        key that does not exist costs a set lookup rather than a walk; building the
        set walks every node of the current tree once, which is also the check
        that none is missing.
        """
        try:
            self._rebuild_node_index()
            self._nodes.track_present(self.root)
        except (KeyError, ValueError) as error:
            raise StoreCorrupt(
                f"the state tree at height {self.version} is damaged: {_reason(error)}"
            ) from None
        present = self._nodes.present_count
        if present is not None and present != self._count:
            raise StoreCorrupt(
                f"the state tree at height {self.version} holds {present} keys, "
                f"but {self._count} are recorded"
            )

    # -- the in-memory node index --------------------------------------------------

    def _rebuild_node_index(self) -> None:
        """Last checkpoint, then every logged version after it."""
        row = self.db.fetchone("SELECT MAX(version) FROM state_checkpoint")
        checkpoint = -1 if row is None or row[0] is None else integer(row[0], "a checkpoint")
        for nodes, stale in self.db.fetchall(
            "SELECT nodes, stale FROM state_checkpoint WHERE version = ? ORDER BY part",
            (checkpoint,),
        ):
            self._nodes.add_records(blob(nodes, "a checkpoint's nodes"))
            self._nodes.add_stale_records(blob(stale, "a checkpoint's stale nodes"))
        for version, created, dropped in self.db.fetchall(
            "SELECT version, created, dropped FROM state_node_log WHERE version > ? "
            "ORDER BY version",
            (checkpoint,),
        ):
            created_bytes = blob(created, f"the nodes made by version {version}")
            self._nodes.add_records(created_bytes)
            self._log_records += len(created_bytes) // RECORD_SIZE
            self._nodes.mark_stale(
                blob(dropped, f"the nodes left by version {version}"),
                integer(version, "a logged version"),
            )
        self._prune_memory(self.version)
        if self.root != EMPTY_HASH and self.root not in self._nodes:
            raise KeyError(f"the root node {self.root.hex()} is missing")

    def _prune_memory(self, version: int) -> None:
        """Forget nodes that only versions older than the kept window still used."""
        self._nodes.prune(version - self.keep_versions + 1)

    def _node(self, digest: bytes) -> bytes:
        try:
            return self._nodes[digest]
        except KeyError:
            raise StoreCorrupt(f"state node {digest.hex()} is missing") from None

    @property
    def node_count(self) -> int:
        return len(self._nodes)

    # -- reads of committed state -------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        with self.db.lock:
            # The in-memory tree answers "absent" without a query: new keys (a
            # document being anchored, an account being created) never touch SQLite.
            leaf = self._leaf_value_hash(self.root, key)
            if leaf is None:
                value = None
            else:
                row = self.db.fetchone(
                    "SELECT value FROM state_history WHERE key = ? ORDER BY version DESC LIMIT 1",
                    (key,),
                )
                value = _proven(key, row, leaf, self.version)
            self._remember(key, value)
        return value

    def has(self, key: bytes) -> bool:
        """Whether `key` is set, from the tree alone (an existence check reads no value)."""
        try:
            return self._cache[key] is not None
        except KeyError:
            pass
        with self.db.lock:
            return self._leaf_value_hash(self.root, key) is not None

    def _leaf_value_hash(self, root: bytes, key: bytes) -> bytes | None:
        try:
            return self._nodes.value_hash(root, key)
        except KeyError as error:
            raise StoreCorrupt(f"the state tree is damaged: {_reason(error)}") from None

    def _remember(self, key: bytes, value: bytes | None) -> None:
        cache = self._cache
        if len(cache) >= VALUE_CACHE_MAX:
            self._evict(1)
        cache[key] = value

    def _remember_all(self, values: dict[bytes, bytes | None]) -> None:
        if len(self._cache) + len(values) > VALUE_CACHE_MAX:
            self._evict(len(values))
        self._cache.update(values)

    def _evict(self, room: int) -> None:
        """Drop the oldest quarter of the cache (more if `room` needs it)."""
        cache = self._cache
        for old in list(itertools.islice(cache, max(VALUE_CACHE_MAX // 4, room))):
            cache.pop(old, None)

    def __len__(self) -> int:
        return self._count

    def get_at(self, key: bytes, version: int) -> bytes | None:
        """`key`'s value after block `version`, checked against that version's tree.

        Only heights whose tree is kept can be read: an older value could not be
        shown to be the one the chain committed to.
        """
        self._check_version(version, for_proof=True)
        if version == self.version:
            return self.get(key)
        with self.db.lock:
            leaf = self._leaf_value_hash(self.root_at(version), key)
            if leaf is None:
                return None
            row = self.db.fetchone(
                "SELECT value FROM state_history WHERE key = ? AND version <= ? "
                "ORDER BY version DESC LIMIT 1",
                (key, version),
            )
            return _proven(key, row, leaf, version)

    def root_at(self, version: int) -> bytes:
        self._check_version(version, for_proof=False)
        if version == self.version:
            return self.root
        row = self.db.fetchone("SELECT root FROM state_roots WHERE version = ?", (version,))
        if row is None:
            raise StoreCorrupt(f"the state root of height {version} is missing")
        return _digest(row[0], f"the state root of height {version}")

    def scan_prefix(self, prefix: bytes, limit: int = 1000) -> list[tuple[bytes, bytes]]:
        """Committed keys under `prefix` in key order (for the read API, not for execution).

        Each value is checked against the current tree, like `get`.
        """
        with self.db.lock:
            rows = self.db.fetchall(
                "SELECT key, value FROM state_history AS h WHERE key >= ? AND key < ? "
                "AND version = (SELECT MAX(version) FROM state_history WHERE key = h.key) "
                "AND value IS NOT NULL ORDER BY key LIMIT ?",
                (prefix, _prefix_end(prefix), limit),
            )
            found = []
            for raw_key, raw_value in rows:
                key = blob(raw_key, "a state key")
                value = _proven(
                    key, (raw_value,), self._leaf_value_hash(self.root, key), self.version
                )
                if value is not None:
                    found.append((key, value))
            return found

    def prove(self, key: bytes, version: int | None = None) -> StateProof:
        """Inclusion or absence proof for `key` after block `version` (default: latest)."""
        with self.db.lock:
            version = self.version if version is None else version
            self._check_version(version, for_proof=True)
            root = self.root_at(version)
            try:
                siblings, leaf = self._tree.walk(root, key)
            except KeyError as error:
                raise StoreCorrupt(f"the state tree is damaged: {_reason(error)}") from None
            # The walk itself shows absence; a present value is read and checked
            # against the same leaf by get_at.
            absent = leaf is None or leaf[0] != key_hash(key)
            value = None if absent else self.get_at(key, version)
        return StateProof(key, value, tuple(siblings), leaf, root, version)

    def _check_version(self, version: int, for_proof: bool) -> None:
        if version > self.version or version < 0:
            raise UnknownHeight(f"height {version} is not committed (latest is {self.version})")
        oldest = max(self.version - self.keep_versions + 1, self._oldest_kept)
        if for_proof and version < oldest:
            raise UnknownHeight(
                f"proofs are kept for the last {self.keep_versions} heights "
                f"(oldest is {max(oldest, 0)}); {version} is older"
            )

    # -- writing a new version ----------------------------------------------------

    def stage(self, changes: Mapping[bytes, bytes | None], version: int) -> bytes:
        """Compute the root after applying `changes` as `version`; nothing is written yet."""
        if version != self.version + 1:
            raise ValueError(f"next version is {self.version + 1}, not {version}")
        effective: dict[bytes, bytes | None] = {}
        delta = 0
        for k, v in changes.items():
            old = self.get(k)
            if old != v:
                effective[k] = v
                delta += (v is not None) - (old is not None)
        with self.db.lock:
            # Hashes and sorts the changes as proof.key_hash/value_hash do, then runs
            # SparseMerkleTree.update natively; the nodes stay native until indexed.
            try:
                root, nodes = smt_apply_changes(self._nodes, self.root, list(effective.items()))
            except KeyError as error:
                raise StoreCorrupt(f"the state tree is damaged: {_reason(error)}") from None
        self._staged = _Staged(version, root, effective, nodes, delta)
        return root

    def write_staged(self, conn: sqlite3.Connection) -> None:
        """Write the staged version inside the caller's open transaction."""
        staged = self._staged
        if staged is None:
            raise RuntimeError("nothing staged")
        version = staged.version
        conn.executemany(
            "INSERT OR REPLACE INTO state_history VALUES (?, ?, ?)",
            [(k, version, v) for k, v in staged.changes.items()],
        )
        conn.execute(
            "INSERT INTO state_node_log VALUES (?, ?, ?)",
            (version, staged.nodes.records(), staged.nodes.dropped_bytes()),
        )
        conn.execute("INSERT INTO state_roots VALUES (?, ?)", (version, staged.root))
        conn.execute(
            "INSERT OR REPLACE INTO state_meta VALUES ('keys', ?)",
            (self._count + staged.count_delta,),
        )

    def promote_staged(self) -> None:
        """After the transaction committed: make the staged version the current one."""
        staged = self._staged
        if staged is None:
            raise RuntimeError("nothing staged")
        with self.db.lock:
            self._remember_all(staged.changes)
            self._count += staged.count_delta
            if not staged.indexed:
                self._nodes.apply(staged.nodes, staged.version)
            self._log_records += len(staged.nodes)
            self.version = staged.version
            self.root = staged.root
            self._staged = None
            self._prune_memory(self.version)
        if self._log_records > max(2 * len(self._nodes), 200_000):
            self.checkpoint()

    @contextmanager
    def indexing_staged(self) -> Iterator[None]:
        """Add the staged nodes to the index on another thread while the caller writes
        the version (the native `apply` releases the GIL, SQLite mostly does too).

        Holds the database lock throughout, so no reader sees the index mid-change.
        If the write fails, the index is rebuilt from disk: nodes marked stale for a
        version that never committed could otherwise be pruned while still live.
        """
        staged = self._staged
        if staged is None:
            raise RuntimeError("nothing staged")
        if len(staged.nodes) < PARALLEL_INDEX_MIN:
            yield  # small blocks: a thread costs more than it saves
            return
        failure: list[BaseException] = []

        def index() -> None:
            try:
                self._nodes.apply(staged.nodes, staged.version)
            except BaseException as error:  # re-raised on the caller's thread
                failure.append(error)

        with self.db.lock:
            worker = threading.Thread(target=index, name="urbis-index")
            worker.start()
            try:
                yield
            except BaseException:
                worker.join()
                self._reload_index()
                raise
            worker.join()
            if failure:
                self._reload_index()
                raise failure[0]
            staged.indexed = True

    def _reload_index(self) -> None:
        """Rebuild the node index from what is on disk (after a failed write)."""
        self._nodes = NodeIndex()
        self._tree = SparseMerkleTree(self._node, self._nodes)
        self._log_records = 0
        self._load_tree()
        if self._staged is not None:
            self._staged.indexed = False

    def discard_staged(self) -> None:
        self._staged = None

    def commit(self, changes: Mapping[bytes, bytes | None], version: int) -> bytes:
        """Stage, write and promote in one transaction of its own (genesis, tools, tests)."""
        root = self.stage(changes, version)
        with self.db.lock:  # readers never see the rows before the tree (see Application)
            with self.indexing_staged(), self.db.transaction() as conn:
                self.write_staged(conn)
            self.promote_staged()
        return root

    def checkpoint(self) -> None:
        """Write every retained node once and drop the log before it (bounded start-up)."""
        with self.db.transaction() as conn:
            node_chunks = self._nodes.record_chunks(CHECKPOINT_PART_RECORDS)
            stale_chunks = self._nodes.stale_chunks(CHECKPOINT_PART_RECORDS)
            conn.execute("DELETE FROM state_checkpoint")
            for part in range(max(len(node_chunks), len(stale_chunks), 1)):
                conn.execute(
                    "INSERT INTO state_checkpoint VALUES (?, ?, ?, ?)",
                    (
                        self.version,
                        part,
                        node_chunks[part] if part < len(node_chunks) else b"",
                        stale_chunks[part] if part < len(stale_chunks) else b"",
                    ),
                )
            conn.execute("DELETE FROM state_node_log WHERE version <= ?", (self.version,))
            oldest_kept = max(self.version - self.keep_versions + 1, self._oldest_kept, 0)
            conn.execute(
                "INSERT OR REPLACE INTO state_meta VALUES ('oldest_kept', ?)", (oldest_kept,)
            )
            self._log_records = 0
        self._oldest_kept = oldest_kept


def _proven(
    key: bytes, row: tuple[Any, ...] | None, leaf_value_hash: bytes | None, version: int
) -> bytes | None:
    """The stored value of `key`, if it hashes to the tree's leaf; StoreCorrupt if not."""
    value = None if row is None or row[0] is None else blob(row[0], f"the value of {key!r}")
    if leaf_value_hash is None:
        if value is not None:
            raise StoreCorrupt(f"state key {key!r} has a stored value but no leaf at {version}")
        return None
    if value is None:
        raise StoreCorrupt(f"the stored value of state key {key!r} is missing at {version}")
    if value_hash(value) != leaf_value_hash:
        raise StoreCorrupt(
            f"the stored value of state key {key!r} does not match its leaf at {version}"
        )
    return value


def _digest(raw: object, what: str) -> bytes:
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise StoreCorrupt(f"{what} is not a 32-byte hash")
    return raw


def _reason(error: BaseException) -> str:
    return str(error.args[0]) if error.args else type(error).__name__


def _prefix_end(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 64)
    return stripped[:-1] + bytes([stripped[-1] + 1])
