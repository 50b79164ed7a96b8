"""StateStore: the versioned, authenticated state of the chain.

Layout:
  state_values(key, value)               each live key's current value (hot keys, and
                                         absence, cached in memory)
  state_undo(version, key, value)        what each kept version's writes replaced, for the
                                         keys that were set before: the older heights' values
  state_meta(name, value)                the number of live keys, the node store's tail,
                                         snapshot and seed
  state_roots(version, root)             the root after each block (version = height)
  state_node_log(seq, version, segment, first, count, moved, created, dropped)
                                         where each version's new tree nodes went in the
                                         segment files, and the nodes it left
  state_checkpoint(version, part, stale) the stale nodes at the last snapshot, as the
                                         changes each snapshot made, in part order
  state_node_retired(segment)            segment files emptied by compaction
  <db>.nodes/nodes-NNNNN.seg             tree node records, appended (urbis._native.NodeIndex)
  <db>.nodes/index-N.snap                the node locations at the last checkpoint, by key

Tree nodes live on disk, and so do their locations (a run sorted by key, written at
each checkpoint); memory holds the locations changed since and a cache of bounded
size. A version's node records are appended to a segment file and synced on a
thread of their own while the block's rows are written; its node log row (where
they went, which nodes it left) is in the same SQLite transaction as the block, so
the SQL commit makes the version durable. Opening reads the last snapshot of the
locations, cuts the files back to the recorded tail (an append whose block never
committed), and re-indexes the records the log names after the snapshot: no walk
of the tree. A snapshot drops the log.

Nothing read from disk is believed unchecked: a node record must hash to the
digest asked for, and every value read must hash to its leaf. A mismatch raises
StoreCorrupt, which halts the node rather than let it build a block on a value
its own tree does not prove.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from operator import itemgetter
from pathlib import Path
from typing import Any

from urbis._native import NodeBatch, NodeIndex, smt_apply_changes
from urbis.crypto.hashing import EMPTY_HASH
from urbis.state.database import Database, blob, insert_rows, integer
from urbis.state.errors import InvariantBroken, StoreCorrupt, UnknownHeight
from urbis.state.proof import StateProof, key_hash, value_hash
from urbis.state.tree import SparseMerkleTree

log = logging.getLogger(__name__)

KEEP_VERSIONS_DEFAULT = 1000
"""Proofs are served for this many recent heights; older tree nodes are pruned."""

NODE_CACHE_BYTES_DEFAULT = 512 * 1024 * 1024
"""Tree nodes kept in memory (half for the upper levels, kept by place; half for the
deeper nodes, by use): a quarter of a 4 GiB server, beside the value cache and the node
locations changed since the last snapshot (at most `LOCATION_CHANGES_MAX`); the rest
of the locations are on disk."""

WARM_SLICE_NODES = 4096
"""Nodes the start's warm-up reads per hold of the lock (some 5-10 ms of reads): the
upper levels kept by place (native/src/smt.rs `pin_depth`, 21 levels for the default
cache) are two million nodes, and blocks and readers must get the lock in between."""

VALUE_CACHE_MAX = 500_000
"""Current values (and absences) kept in memory; the rest are read from SQLite.
Bounds memory whatever the state's size: 500k entries is about 150 MiB."""

RECORD_SIZE = 32 + 65
"""A node record: its digest, then the node."""

LOG_RECORDS, LOG_MOVED, LOG_SYNCED, LOG_MOVED_MARKED = 0, 1, 2, 3
"""Where a node log row's records are: in the row (`created`, from stores written before
the segments were synced per block), copied by a compaction, appended and synced, or
copied by a compaction that also logged the copies' stale marks (in `dropped`, as
`digest || since` records): the rows that made or revived those nodes are skipped on
replay once their segment is retired, so only the move can say which are stale."""

CHECKPOINT_PART_RECORDS = 100_000
"""Records per checkpoint row, so no single blob nears SQLite's size limit."""

STALE_RECORD_SIZE = 40
"""A stale mark in a checkpoint: the node's digest and the version that dropped it
(big-endian; 2^64 - 1: a mark lifted since an earlier checkpoint's rows)."""

CHECKPOINT_LOG_RECORDS_MIN = 1_000_000
"""A snapshot of the node locations is written once the log since the last one names
this many records or a quarter of the index, whichever is more: opening re-reads at
most that much (a million records, 97 MB read back from the segments, is well under a
second), and the snapshot's cost is spread over the writes that needed it (at 200,000
a 100,000-account city of 5,000-transfer blocks wrote one every block)."""

LOCATION_CHANGES_MAX = 3_000_000
"""Node locations changed since the last snapshot (new ones and tombstones) held in
memory before the next snapshot merges them into the sorted run on disk: at most some
68 MiB of hash table (4M buckets of 17 bytes), whatever the state's size. Each snapshot
rewrites the whole run (16 bytes a node, 430 MB at 10 million accounts), so a smaller
bound would mean more of those rewrites."""

NODE_SEGMENT_BYTES = 64 * 1024 * 1024
"""Node records go to a new segment file past this size: compacting one is a short
pause (at most this much read, half of it written), and the files stay few."""

COMPACT_GARBAGE_MIN = 0.5
"""A segment is compacted once at least this share of its records are pruned nodes,
so the files hold at most about twice the live nodes."""

COMPACT_STEP_RECORDS = 20_000
"""Records a compaction step reads (1.9 MB): the longest a block's commit or a reader
waits behind compaction. Each record's liveness is a location lookup, on disk for a
record placed before the last snapshot: at 10 million accounts a step of 100,000
held the lock 260-320 ms, one of 25,000 held it 65 ms."""

HISTORY_PRUNE_KEYS = 5_000
"""Undo rows one pruning step deletes (a few ms of SQLite work, at the table's front)."""

COMPACT_PAUSE_S = 0.002
"""The shortest pause between maintenance steps, so the lock goes to whoever waits."""

MAINTENANCE_SHARE = 3
"""Maintenance holds the lock at most one part in this many: after each step it pauses
twice as long as the step took. Back to back, a backlog of steps (the garbage of a bulk
load, or of a burst) held the lock nine tenths of the time and blocks ran at half
speed until it was cleared."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state_values (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_undo (
  version INTEGER NOT NULL, key BLOB NOT NULL, value BLOB, PRIMARY KEY (version, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_roots (version INTEGER PRIMARY KEY, root BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_node_log (
  seq INTEGER PRIMARY KEY, version INTEGER NOT NULL, segment INTEGER NOT NULL,
  first INTEGER NOT NULL, count INTEGER NOT NULL, moved INTEGER NOT NULL, created BLOB NOT NULL,
  dropped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state_checkpoint (
  version INTEGER NOT NULL, part INTEGER NOT NULL, stale BLOB NOT NULL,
  PRIMARY KEY (version, part)
);
CREATE TABLE IF NOT EXISTS state_node_retired (segment INTEGER PRIMARY KEY);
"""

__all__ = ["InvariantBroken", "StateStore", "StoreCorrupt", "UnknownHeight"]

_NOT_CACHED: Any = object()


class _Indexing:
    """`NodeIndex.apply(nodes, version, sync=True)` running on a thread of its own."""

    def __init__(self, index: NodeIndex, nodes: NodeBatch, version: int) -> None:
        self._placed: tuple[int, int, int] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(index, nodes, version), name="state-nodes", daemon=True
        )
        self._thread.start()

    def _run(self, index: NodeIndex, nodes: NodeBatch, version: int) -> None:
        try:
            self._placed = index.apply(nodes, version, True)
        except BaseException as error:  # handed to the committing thread by result()
            self._error = error

    def wait(self) -> None:
        self._thread.join()

    @property
    def done(self) -> bool:
        return self._placed is not None

    def result(self) -> tuple[int, int, int]:
        """(segment, first record, count), once the records are durable and indexed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._placed is not None
        return self._placed


class _Staged:
    __slots__ = (
        "changes",
        "count_delta",
        "indexed",
        "indexing",
        "nodes",
        "replaced",
        "root",
        "version",
    )

    def __init__(
        self,
        version: int,
        root: bytes,
        changes: dict[bytes, bytes | None],
        replaced: dict[bytes, bytes | None],
        nodes: NodeBatch,
        count_delta: int,
    ) -> None:
        self.version = version
        self.root = root
        self.changes = changes
        self.replaced = replaced
        """Each changed key's value before this version (None: absent): its undo rows."""
        self.nodes = nodes
        self.count_delta = count_delta
        self.indexed = False
        """Its nodes may be in the index (set when their indexing starts, before the SQL
        commit): a failed write must then rebuild the index from disk."""
        self.indexing: _Indexing | None = None


class StateStore:
    def __init__(
        self,
        db: Database,
        keep_versions: int = KEEP_VERSIONS_DEFAULT,
        node_cache_bytes: int = NODE_CACHE_BYTES_DEFAULT,
        background_compaction: bool = True,
    ) -> None:
        if keep_versions < 1:
            raise ValueError("keep_versions must be at least 1")
        self.db = db
        self.keep_versions = keep_versions
        self.node_cache_bytes = node_cache_bytes
        self.background_compaction = background_compaction
        """False: compaction runs in the commit path, to the end (tests, tools)."""
        self._compacting: tuple[int, int] | None = None
        """The segment being compacted and the next record to look at."""
        self._compactor: threading.Thread | None = None
        self._hurry = threading.Event()
        """Set while someone waits for maintenance to finish: no pauses then."""
        self.folder = Path(db.path + ".nodes")
        """Where the tree's node segments and location snapshots live."""
        _history_to_undo_rows(db)
        db.ensure_schema(SCHEMA)
        self._seed = self._node_seed()
        self._nodes = self._new_index()
        """Committed tree nodes by digest: on disk, located and cached natively
        (urbis._native.NodeIndex), with which are stale since which version."""
        self._log_records = 0
        self._stale_written = 0  # stale marks in state_checkpoint's rows
        self._cache_outgrown = False  # warned that the node cache no longer holds the tree's bound
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
        self._snapshot = self._meta("node_snapshot", 0)
        self._load_tree()
        self._warmer = self._start_warm_up()

    def _start_warm_up(self) -> threading.Thread:
        """Fill the upper levels from disk on a thread: nothing else writes them but the
        blocks' new nodes, so an index opened (or rebuilt) without it stays cold."""
        warmer = threading.Thread(
            target=self._warm_cache, args=(self._nodes.pin_depth,), name="state-warm", daemon=True
        )
        warmer.start()
        return warmer

    def _warm_cache(self, levels: int) -> None:
        """Read the tree's upper levels into their places after opening, a slice of a
        level at a time under the lock (each a short hold), so the first blocks after a
        restart do not fetch them from disk walk by walk."""
        slice_bytes = WARM_SLICE_NODES * 40  # a digest and its path's first 64 bits each
        try:
            frontier = self.root + bytes(8)
            for depth in range(levels):
                following = []
                for start in range(0, len(frontier), slice_bytes):
                    with self.db.lock:
                        if self.db.closed:
                            return
                        following.append(
                            self._nodes.warm_frontier(frontier[start : start + slice_bytes], depth)
                        )
                frontier = b"".join(following)
                if not frontier:
                    return
        except (KeyError, ValueError, sqlite3.ProgrammingError):
            return  # damage is reported by the read that needs the node, not here

    def wait_for_warm_up(self) -> None:
        """Until the start's warm-up has read the upper levels (benches, tests): until
        then walks may read upper nodes from disk and share the lock with it."""
        self._warmer.join()

    def _meta(self, name: str, default: int) -> int:
        row = self.db.fetchone("SELECT value FROM state_meta WHERE name = ?", (name,))
        return default if row is None else integer(row[0], f"the stored {name}")

    def _node_seed(self) -> bytes:
        """The secret that keys the node locations' hashes, made once per store."""
        halves = [self._meta(f"node_seed_{i}", -1) for i in (0, 1)]
        if -1 in halves:
            halves = [int.from_bytes(os.urandom(8), "little") >> 1 for _ in (0, 1)]
            with self.db.transaction() as conn:
                for i, half in enumerate(halves):
                    conn.execute(
                        "INSERT OR REPLACE INTO state_meta VALUES (?, ?)", (f"node_seed_{i}", half)
                    )
        return b"".join(half.to_bytes(8, "little") for half in halves)

    def _new_index(self) -> NodeIndex:
        return NodeIndex(self.folder, self.node_cache_bytes, self._seed, NODE_SEGMENT_BYTES)

    def _snapshot_path(self, number: int) -> Path:
        return self.folder / f"index-{number}.snap"

    def _load_tree(self) -> None:
        """Rebuild the node locations (snapshot, then the log after it), then check the
        current root's node before any read.

        No walk of the tree: each node is checked against its digest when it is read.
        """
        try:
            self._rebuild_node_index()
            if self.root != EMPTY_HASH:
                self._nodes[self.root]
        except (KeyError, ValueError) as error:
            raise StoreCorrupt(
                f"the state tree at height {self.version} is damaged: {_reason(error)}"
            ) from None

    # -- the node index ------------------------------------------------------------

    def _rebuild_node_index(self) -> None:
        """Last snapshot, then every logged version after it."""
        expected = (0, 0)
        if self._snapshot:
            expected = self._nodes.load_snapshot(self._snapshot_path(self._snapshot))
        elif self.version >= 0 and not self.folder.exists():
            raise KeyError(f"the node folder {self.folder} is missing")
        self._stale_written = 0
        for (stale,) in self.db.fetchall("SELECT stale FROM state_checkpoint ORDER BY part"):
            records = blob(stale, "a checkpoint's stale nodes")
            self._nodes.add_stale_records(records)
            self._stale_written += len(records) // STALE_RECORD_SIZE
        # What the checkpoints hold is written down; the log replayed below is not.
        self._nodes.forget_stale_changes()
        last = self.db.fetchone(
            "SELECT segment, first, count FROM state_node_log ORDER BY seq DESC LIMIT 1"
        )
        if last is not None:
            expected = (
                integer(last[0], "a logged segment"),
                integer(last[1], "a logged first record") + integer(last[2], "a logged count"),
            )
        # The files are cut back to this end: a damaged record of it must never cut
        # committed nodes, so it has to agree with the last logged write (or snapshot).
        recorded = (self._meta("node_tail_segment", 0), self._meta("node_tail", 0))
        if recorded != expected:
            raise KeyError(
                f"the node files' recorded end {recorded} is not the last write's {expected}"
            )
        self._nodes.truncate(*recorded)
        retired = {
            integer(segment, "a retired segment")
            for (segment,) in self.db.fetchall("SELECT segment FROM state_node_retired")
        }
        for row in self.db.fetchall(
            "SELECT version, segment, first, count, moved, created, dropped FROM state_node_log "
            "ORDER BY seq"
        ):
            version = integer(row[0], "a logged version")
            segment = integer(row[1], "a logged segment")
            first = integer(row[2], "a logged first record")
            count = integer(row[3], "a logged record count")
            created = blob(row[5], f"the nodes made by version {version}")
            source = integer(row[4], "a log row's source")
            # A retired segment's live records were copied later (a logged move);
            # the rest had been pruned.
            if count and segment not in retired:
                if source == LOG_MOVED:
                    self._nodes.replay(segment, first, count, True)
                elif source == LOG_MOVED_MARKED:  # copies whose source may be in the run
                    self._nodes.replay(segment, first, count, False, True)
                elif source == LOG_SYNCED:
                    self._nodes.replay(segment, first, count, False)
                elif source != LOG_RECORDS or len(created) != count * RECORD_SIZE:
                    raise KeyError(f"the node log of version {version} is damaged")
                else:
                    self._nodes.replay_records(segment, first, created)
            self._log_records += count
            dropped = blob(row[6], f"the nodes left by version {version}")
            if source == LOG_MOVED_MARKED:
                if segment not in retired:
                    self._nodes.add_stale_records(dropped)
            else:
                self._nodes.mark_stale(dropped, version)
        for segment in retired:
            self._nodes.delete_segment(segment)
        for stray in self.folder.glob("index-*.snap"):
            if stray != self._snapshot_path(self._snapshot):
                stray.unlink(missing_ok=True)
        self._prune_memory(self.version)

    def _prune_memory(self, version: int) -> None:
        """Forget nodes that only versions older than the kept window still used."""
        self._nodes.prune(version - self.keep_versions + 1)

    def _node(self, digest: bytes) -> bytes:
        try:
            return self._nodes[digest]
        except KeyError as error:
            raise StoreCorrupt(f"the state tree is damaged: {_reason(error)}") from None

    @property
    def node_count(self) -> int:
        with self.db.lock:  # the maintenance thread may be inside the index
            return len(self._nodes)

    @property
    def node_reads(self) -> int:
        """Tree nodes read from the segment files since opening (node cache misses)."""
        with self.db.lock:
            return int(self._nodes.disk_reads)

    def disk_bytes(self) -> int:
        """Bytes on disk for state and everything beside it in the database file."""
        with self.db.lock:
            total = self._nodes.disk_bytes
        for path in (
            self._snapshot_path(self._snapshot),
            Path(self.db.path),
            Path(self.db.path + "-wal"),
        ):
            with suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def disk_usage(self) -> dict[str, int]:
        """Bytes on disk by part: the node segments and snapshot, the state's tables in
        SQLite (pages in use, from `dbstat`: a scan of those pages, for reports), the
        rest of the database file (blocks, other modules' tables, free pages) and the
        WAL (committed pages not yet copied into the file, bounded by checkpoints)."""
        snapshot = self._snapshot_path(self._snapshot)
        sizes = {}
        for name, path in (("file", Path(self.db.path)), ("wal", Path(self.db.path + "-wal"))):
            try:
                sizes[name] = path.stat().st_size
            except FileNotFoundError:
                sizes[name] = 0
        with self.db.lock:
            row = self.db.fetchone(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat "
                "WHERE name LIKE 'state\\_%' ESCAPE '\\' "
                "OR name LIKE 'sqlite_autoindex_state\\_%' ESCAPE '\\'"
            )
        tables = integer(row[0], "a table size") if row else 0
        with self.db.lock:
            segments = self._nodes.disk_bytes
        return {
            "segments": segments,
            "snapshot": snapshot.stat().st_size if snapshot.exists() else 0,
            "state_tables": tables,
            "other_sqlite": sizes["file"] - tables,
            "wal": sizes["wal"],
        }

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
                row = self.db.fetchone("SELECT value FROM state_values WHERE key = ?", (key,))
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
            return self._value_at(key, version, leaf)

    def _value_at(self, key: bytes, version: int, leaf: bytes | None) -> bytes | None:
        """The stored value of `key` after `version`, whose leaf value hash is `leaf`
        (None: no leaf), checked against it. Under the lock; `version` is kept."""
        if leaf is None:
            return None
        row = None
        if version == self.version:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        else:
            # The value after `version` is what the first later write replaced, or, if
            # no kept version wrote the key since, its current value. The undo rows are
            # in version order: one lookup per later version, in SQLite, stopping at
            # the first that has the key.
            row = self.db.fetchone(
                "WITH RECURSIVE later(v) AS (SELECT ? UNION ALL SELECT v + 1 FROM later "
                "WHERE v < ? AND NOT EXISTS (SELECT 1 FROM state_undo WHERE version = v "
                "AND key = ?)) SELECT value FROM state_undo "
                "WHERE version = (SELECT MAX(v) FROM later) AND key = ?",
                (version + 1, self.version, key, key),
            )
        if row is None:
            row = self.db.fetchone("SELECT value FROM state_values WHERE key = ?", (key,))
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
                "SELECT key, value FROM state_values WHERE key >= ? AND key < ? "
                "ORDER BY key LIMIT ?",
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
            # against the leaf it found. A proof reads the execution's value cache but
            # does not fill it: a reader's cold keys would only push out a block's hot
            # ones.
            value = None
            if leaf is not None and leaf[0] == key_hash(key):
                value = self._value_at(key, version, leaf[1])
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
        replaced: dict[bytes, bytes | None] = {}
        delta = 0
        cache = self._cache  # the block read nearly every key it writes: mostly a hit
        for k, v in changes.items():
            # One lookup, not `in` then `[]`: a reader's eviction may come between two.
            old = cache.get(k, _NOT_CACHED)
            if old is _NOT_CACHED:
                old = self.get(k)
            if old != v:
                effective[k] = v
                replaced[k] = old
                delta += (v is not None) - (old is not None)
        with self.db.lock:
            # Hashes and sorts the changes as proof.key_hash/value_hash do, then runs
            # SparseMerkleTree.update natively; the nodes stay native until indexed.
            try:
                root, nodes = smt_apply_changes(self._nodes, self.root, list(effective.items()))
            except KeyError as error:
                raise StoreCorrupt(f"the state tree is damaged: {_reason(error)}") from None
        self._staged = _Staged(version, root, effective, replaced, nodes, delta)
        return root

    def write_staged(self, conn: sqlite3.Connection) -> None:
        """Write the staged version inside the caller's open transaction.

        The tree nodes are appended to the segment files and synced (on the thread
        `indexing_staged` started, if the caller entered it first: the appends overlap
        the caller's SQL writes), then logged in the same transaction, so the SQL
        commit makes the version durable.
        """
        staged = self._staged
        if staged is None:
            raise RuntimeError("nothing staged")
        version = staged.version
        if staged.indexing is None:
            self._start_indexing(staged)
        # In key order: each page of the values' B-tree is then touched once, in order,
        # instead of at random. The undo rows go at the end of their table, a few pages
        # a block: a table of every write keyed by (key, version) dirtied a page a row
        # once it outgrew a block (history_growth: 8.7 -> 51 KiB written a transfer).
        changes = sorted(staged.changes.items(), key=itemgetter(0))  # keys are unique
        insert_rows(
            conn,
            "INSERT OR REPLACE INTO state_values",
            [(k, v) for k, v in changes if v is not None],
        )
        conn.executemany(
            "DELETE FROM state_values WHERE key = ?", [(k,) for k, v in changes if v is None]
        )
        # A key that was absent gets no undo row: an older height reads a value only
        # where its tree has the key's leaf, so "absent" is never read from a row (a
        # transfer's record, an anchored document: one row in four or in two).
        replaced = staged.replaced
        insert_rows(
            conn,
            "INSERT INTO state_undo",
            [(version, k, replaced[k]) for k, _ in changes if replaced[k] is not None],
        )
        conn.execute("INSERT INTO state_roots VALUES (?, ?)", (version, staged.root))
        conn.execute(
            "INSERT OR REPLACE INTO state_meta VALUES ('keys', ?)",
            (self._count + staged.count_delta,),
        )
        assert staged.indexing is not None
        segment, first, count = staged.indexing.result()
        conn.execute(
            "INSERT INTO state_node_log (version, segment, first, count, moved, created, dropped) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (version, segment, first, count, LOG_SYNCED, b"", staged.nodes.dropped_bytes()),
        )
        self._write_tail(conn)

    def _start_indexing(self, staged: _Staged) -> None:
        """Append, sync and index the staged nodes on a thread (the native call lets go
        of the GIL); the store's lock keeps every other user of the index out."""
        staged.indexed = True  # from here the index may hold them: a failure reloads it
        staged.indexing = _Indexing(self._nodes, staged.nodes, staged.version)

    def _write_tail(self, conn: sqlite3.Connection) -> None:
        segment, records = self._nodes.tail
        conn.executemany(
            "INSERT OR REPLACE INTO state_meta VALUES (?, ?)",
            [("node_tail_segment", segment), ("node_tail", records)],
        )

    def promote_staged(self) -> None:
        """After the transaction committed: make the staged version the current one."""
        staged = self._staged
        if staged is None:
            raise RuntimeError("nothing staged")
        if staged.indexing is None or not staged.indexing.done:
            raise RuntimeError("write_staged first: its nodes are not on disk")
        with self.db.lock:
            self._remember_all(staged.changes)
            self._count += staged.count_delta
            self._log_records += len(staged.nodes)
            self.version = staged.version
            self.root = staged.root
            self._staged = None
            self._prune_memory(self.version)
            self._maintenance_due()
            # Under the lock: the maintenance thread may be inside the index.
            due = (
                self._log_records > max(len(self._nodes) // 4, CHECKPOINT_LOG_RECORDS_MIN)
                or self._nodes.changed_locations > LOCATION_CHANGES_MAX
            )
        if due:
            self.checkpoint()

    def _maintenance_due(self) -> None:
        """Start the maintenance thread (compaction, history pruning) if there is work
        and it is not running."""
        if self._compactor is not None and self._compactor.is_alive():
            return
        if (
            self._compacting is None
            and self._compaction_candidate() is None
            and self._prunable_version() is None
        ):
            return
        if not self.background_compaction:
            while self._maintenance_step():
                pass
            return
        self._compactor = threading.Thread(
            target=self._maintain_in_background, name="state-maintenance", daemon=True
        )
        self._compactor.start()

    def _maintenance_step(self) -> bool:
        return self.compact_step() or self.prune_history_step()

    def wait_for_maintenance(self) -> None:
        """Until the maintenance thread (if any) has nothing left to do (tests, tools).
        Meanwhile it runs without its pauses: whoever waits wants it done."""
        self._hurry.set()
        try:
            while (thread := self._compactor) is not None and thread.is_alive():
                thread.join()
        finally:
            self._hurry.clear()

    def _maintain_in_background(self) -> None:
        try:
            while True:
                with self.db.lock:  # timed from holding it: a wait behind a block is not work
                    began = time.perf_counter()
                    if not self._maintenance_step():
                        return
                    took = time.perf_counter() - began
                # Between steps the lock is free: a block's commit or a reader goes first.
                # Someone waiting for maintenance to finish cuts the pause short.
                self._hurry.wait(max(COMPACT_PAUSE_S, took * (MAINTENANCE_SHARE - 1)))
        except sqlite3.ProgrammingError:  # the database was closed under it
            return
        except Exception:
            log.exception("state maintenance stopped; it resumes after the next block")

    def _prunable_version(self) -> int | None:
        """The oldest version with undo rows no kept height reads: those of version `u`
        give the values before `u`, read only by heights older than `u`."""
        row = self.db.fetchone("SELECT MIN(version) FROM state_undo")
        if row is None or row[0] is None:
            return None
        version = integer(row[0], "an undo row's version")
        return version if version <= self.version - self.keep_versions + 1 else None

    def prune_history_step(self) -> bool:
        """Delete the undo rows of the oldest kept height or older, HISTORY_PRUNE_KEYS
        rows a step, from the front of the table (no random page). Returns whether a
        step was taken."""
        with self.db.lock:
            if self.db.closed:
                return False
            version = self._prunable_version()
            if version is None:
                return False
            row = self.db.fetchone(
                "SELECT MAX(key) FROM (SELECT key FROM state_undo WHERE version = ? "
                "ORDER BY key LIMIT ?)",
                (version, HISTORY_PRUNE_KEYS),
            )
            assert row is not None
            last = blob(row[0], "an undo row's key")
            with self.db.transaction() as conn:
                conn.execute(
                    "DELETE FROM state_undo WHERE version = ? AND key <= ?", (version, last)
                )
                # Heights before `version` lost what they read: a wider window after a
                # restart must refuse them, not find a leaf without its value.
                oldest_kept = max(self._oldest_kept, version)
                conn.execute(
                    "INSERT OR REPLACE INTO state_meta VALUES ('oldest_kept', ?)", (oldest_kept,)
                )
            self._oldest_kept = oldest_kept
            return True

    def _compaction_candidate(self) -> int | None:
        """The segment (not the active one) with the smallest live share, if at most
        1 - COMPACT_GARBAGE_MIN of it is live."""
        active, _ = self._nodes.tail
        candidates = [
            (live / records, segment)
            for segment, records, live in self._nodes.segment_stats()
            if segment != active and records and live <= records * (1 - COMPACT_GARBAGE_MIN)
        ]
        return min(candidates)[1] if candidates else None

    def compact_step(self) -> bool:
        """Move the live records of the next COMPACT_STEP_RECORDS of the segment being
        compacted to the tail, logged as a move; after its last step the segment is
        retired (in the same transaction) and its file deleted. Returns whether a step
        was taken.

        Pruning forgets nodes at once; this is what gives their bytes back, so disk use
        follows the live nodes, not the history. Steps are short (at most 1.9 MB read)
        so a block never waits long behind one.
        """
        with self.db.lock:
            if self.db.closed:
                return False
            if self._compacting is None:
                segment = self._compaction_candidate()
                if segment is None:
                    return False
                self._compacting = (segment, 0)
            segment, start = self._compacting
            records = dict((s, r) for s, r, _ in self._nodes.segment_stats()).get(segment, 0)
            last = start + COMPACT_STEP_RECORDS >= records
            try:
                with self.db.transaction() as conn:
                    target, first, count, stale = self._nodes.compact_part_marked(
                        segment, start, COMPACT_STEP_RECORDS
                    )
                    if count:
                        conn.execute(
                            "INSERT INTO state_node_log "
                            "(version, segment, first, count, moved, created, dropped) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (self.version, target, first, count, LOG_MOVED_MARKED, b"", stale),
                        )
                    if last:
                        conn.execute(
                            "INSERT OR IGNORE INTO state_node_retired VALUES (?)", (segment,)
                        )
                    self._write_tail(conn)
            except BaseException:
                self._compacting = None
                self._reload_index()
                raise
            self._log_records += count
            if last:
                self._compacting = None
                self._nodes.delete_segment(segment)
            else:
                self._compacting = (segment, start + COMPACT_STEP_RECORDS)
            return True

    @contextmanager
    def indexing_staged(self) -> Iterator[None]:
        """Hold the lock while the caller writes the staged version; if the write fails,
        rebuild the index from disk: it already holds the staged nodes (and their stale
        marks), which a version that never committed must not leave behind."""
        with self.db.lock:
            staged = self._staged
            if staged is not None and staged.indexing is None:
                self._start_indexing(staged)
            try:
                yield
            except BaseException:
                if staged is not None and staged.indexing is not None:
                    staged.indexing.wait()
                if self._staged is not None and self._staged.indexed:
                    self._reload_index()
                raise

    def _reload_index(self) -> None:
        """Rebuild the node index from what is on disk (after a failed write)."""
        self._nodes = self._new_index()
        self._tree = SparseMerkleTree(self._node, self._nodes)
        self._log_records = 0
        self._compacting = None
        self._load_tree()
        self._warmer = self._start_warm_up()
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
        """Snapshot the node locations and drop the log before it (bounded start-up)."""
        with self.db.lock:
            number = self._snapshot + 1
            # The log's copies of the records go with this transaction: the files
            # must hold them durably first.
            self._nodes.sync_all()
            self._nodes.save_snapshot(self._snapshot_path(number))
            # The stale marks change only by the blocks since the last checkpoint, so only
            # those changes are written, after the earlier ones (rewriting every mark of
            # the kept window cost each checkpoint 0.25-0.56 s at 45,000-80,000
            # transfers, growing with the window). When the rows hold more than twice
            # the live marks (lifted and expired ones pile up), they are written afresh.
            changed = self._nodes.stale_changed
            afresh = self._stale_written + changed > 2 * self._nodes.stale_count + (
                CHECKPOINT_PART_RECORDS
            )
            with self.db.transaction() as conn:
                if afresh:
                    conn.execute("DELETE FROM state_checkpoint")
                    chunks = self._nodes.stale_chunks(CHECKPOINT_PART_RECORDS)
                    written = self._nodes.stale_count
                else:
                    chunks = self._nodes.stale_changes(CHECKPOINT_PART_RECORDS)
                    written = self._stale_written + changed
                row = conn.execute("SELECT MAX(part) FROM state_checkpoint").fetchone()
                first = 0 if row is None or row[0] is None else integer(row[0], "a part") + 1
                for part, stale in enumerate(chunks, first):
                    conn.execute(
                        "INSERT INTO state_checkpoint VALUES (?, ?, ?)", (self.version, part, stale)
                    )
                conn.execute("DELETE FROM state_node_log")
                oldest_kept = max(self.version - self.keep_versions + 1, self._oldest_kept, 0)
                conn.execute(
                    "INSERT OR REPLACE INTO state_meta VALUES ('oldest_kept', ?)", (oldest_kept,)
                )
                conn.execute(
                    "INSERT OR REPLACE INTO state_meta VALUES ('node_snapshot', ?)", (number,)
                )
                self._write_tail(conn)
            self._nodes.forget_stale_changes()
            self._stale_written = written
            self._log_records = 0
            self._oldest_kept = oldest_kept
            old, self._snapshot = self._snapshot, number
            if old:
                self._snapshot_path(old).unlink(missing_ok=True)
            self._warn_if_cache_outgrown()
            # The merge counted every segment's live records afresh (between snapshots a
            # node pruned from the run is not counted out), so a segment may only now
            # show as mostly garbage.
            self._maintenance_due()

    def _warn_if_cache_outgrown(self) -> None:
        """Say so (once a process) when the pinned levels, the key filter and the run's
        fences alone take more than the node cache: memory then grows with the keys."""
        budget, fixed, _ = self._nodes.cache_budget
        if fixed > budget and not self._cache_outgrown:
            self._cache_outgrown = True
            log.warning(
                "the state's key filter and upper tree levels (%d MiB) outgrew the node "
                "cache (%d MiB): raise state_node_cache_mib in the node's config",
                fixed >> 20,
                budget >> 20,
            )


def _history_to_undo_rows(db: Database) -> None:
    """Rewrite a store of the earlier layout (every write in `state_history`, keyed by
    key and version, and `state_changes` for its pruning) as current values and undo
    rows, in one transaction: a crash leaves the old layout, and the next open redoes
    it. Each history row becomes the undo row of its version, holding the key's row
    before it (NULL if none): pruning kept every row a kept height reads, so the rows a
    kept height's reads need are complete; older ones are pruned as usual."""
    with db.lock:
        found = db.fetchone(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_history'"
        )
        if found is None:
            return
        log.info("rewriting the state's history rows as current values and undo rows")
        with db.transaction() as conn:
            for statement in SCHEMA.split(";"):
                if "state_values" in statement or "state_undo" in statement:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO state_values SELECT key, value FROM state_history AS h "
                "WHERE version = (SELECT MAX(version) FROM state_history WHERE key = h.key) "
                "AND value IS NOT NULL"
            )
            conn.execute(
                "INSERT INTO state_undo SELECT version, key, (SELECT value FROM state_history "
                "AS p WHERE p.key = h.key AND p.version < h.version ORDER BY p.version DESC "
                "LIMIT 1) FROM state_history AS h"
            )
            conn.execute("DROP TABLE state_history")
            conn.execute("DROP TABLE IF EXISTS state_changes")


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
