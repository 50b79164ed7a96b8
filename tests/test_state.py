"""The authenticated state: roots, inclusion and absence proofs, history, persistence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.state import Database, ProofError, StateStore, UnknownHeight, verify_state_proof

keys = st.binary(min_size=1, max_size=6)
values = st.binary(min_size=1, max_size=8)
changes = st.dictionaries(keys, st.none() | values, max_size=12)


def fresh(tmp_path: Path, name: str, keep: int = 1000) -> StateStore:
    return StateStore(Database(tmp_path / f"{name}.db"), keep)


def applied(model: dict[bytes, bytes], block: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
    """`model` after `block`'s writes (None deletes), as the store applies them."""
    for key, value in block.items():
        if value is None:
            model.pop(key, None)
        else:
            model[key] = value
    return model


@given(st.lists(changes, min_size=1, max_size=6))
def test_root_depends_on_content_not_history(
    tmp_path_factory: pytest.TempPathFactory, blocks: list[dict[bytes, bytes | None]]
) -> None:
    folder = tmp_path_factory.mktemp("state")
    incremental = fresh(folder, "incremental")
    model: dict[bytes, bytes] = {}
    for version, block in enumerate(blocks):
        incremental.commit(block, version)
        applied(model, block)
    at_once = fresh(folder, "at_once")
    at_once.commit(dict(sorted(model.items(), reverse=True)), 0)
    assert incremental.root == at_once.root


@given(st.lists(changes, min_size=1, max_size=5), st.lists(keys, max_size=8))
def test_every_key_at_every_height_has_a_valid_proof(
    tmp_path_factory: pytest.TempPathFactory,
    blocks: list[dict[bytes, bytes | None]],
    probes: list[bytes],
) -> None:
    store = fresh(tmp_path_factory.mktemp("state"), "s")
    models: list[dict[bytes, bytes]] = []
    model: dict[bytes, bytes] = {}
    for version, block in enumerate(blocks):
        store.commit(block, version)
        applied(model, block)
        models.append(dict(model))
    for version, snapshot in enumerate(models):
        for key in [*probes, *snapshot]:
            proof = store.prove(key, version)
            assert proof.value == snapshot.get(key)
            verify_state_proof(proof, store.root_at(version))


def test_tampered_proofs_fail(tmp_path: Path) -> None:
    store = fresh(tmp_path, "s")
    store.commit({bytes([i]): bytes([i, i]) for i in range(50)}, 0)
    proof = store.prove(bytes([7]))
    verify_state_proof(proof)
    with pytest.raises(ProofError):
        verify_state_proof(dataclasses.replace(proof, value=b"forged"))
    with pytest.raises(ProofError):
        verify_state_proof(dataclasses.replace(proof, value=None, leaf=None))
    flipped = bytes([proof.siblings[0][0] ^ 1]) + proof.siblings[0][1:]
    with pytest.raises(ProofError):
        verify_state_proof(dataclasses.replace(proof, siblings=(flipped, *proof.siblings[1:])))
    absent = store.prove(b"missing")
    assert absent.value is None
    verify_state_proof(absent)
    with pytest.raises(ProofError):
        verify_state_proof(dataclasses.replace(absent, value=b"invented"))
    with pytest.raises(ProofError):
        verify_state_proof(proof, root=b"\x01" * 32)


def test_reopen_resumes_same_root_and_history(tmp_path: Path) -> None:
    store = fresh(tmp_path, "s")
    for version in range(5):
        store.commit({b"k%d" % version: b"v", b"counter": b"%d" % version}, version)
    root, past_root = store.root, store.root_at(2)
    store.checkpoint()
    store.commit({b"after": b"checkpoint"}, 5)
    reopened = fresh(tmp_path, "s")
    assert reopened.version == 5
    assert reopened.root_at(4) == root and reopened.root_at(2) == past_root
    proof = reopened.prove(b"counter", 2)
    assert proof.value == b"2"
    verify_state_proof(proof, past_root)


def test_a_proof_checks_the_value_it_reads_against_its_leaf(tmp_path: Path) -> None:
    """A proof reads its value from SQLite unless the value cache has it, and does not
    fill that cache; at the latest height and at a kept older one, a stored value that
    no longer hashes to the leaf is StoreCorrupt, never a proof that carries it."""
    from urbis.state.errors import StoreCorrupt

    store = fresh(tmp_path, "s")
    store.commit({b"k": b"one", b"other": b"x"}, 0)
    store.commit({b"k": b"two"}, 1)
    store.db.close()
    reopened = fresh(tmp_path, "s")
    with reopened.db.transaction() as conn:
        conn.execute("UPDATE state_values SET value = ? WHERE key = ?", (b"tow", b"k"))
        conn.execute("UPDATE state_undo SET value = ? WHERE key = ?", (b"eno", b"k"))
    with pytest.raises(StoreCorrupt, match="does not match its leaf at 1"):
        reopened.prove(b"k")
    with pytest.raises(StoreCorrupt, match="does not match its leaf at 0"):
        reopened.prove(b"k", 0)
    assert reopened.prove(b"other").value == b"x"
    assert b"other" not in reopened._cache  # a reader's key does not push out a block's


def test_old_heights_are_pruned_after_the_kept_window(tmp_path: Path) -> None:
    store = fresh(tmp_path, "s", keep=3)
    for version in range(10):
        store.commit({b"k": b"%d" % version}, version)
    verify_state_proof(store.prove(b"k", 7))
    with pytest.raises(UnknownHeight, match="last 3 heights"):
        store.prove(b"k", 6)
    with pytest.raises(UnknownHeight):
        store.prove(b"k", 10)


def test_a_node_made_again_after_going_stale_survives_pruning(tmp_path: Path) -> None:
    store = fresh(tmp_path, "s", keep=2)
    store.commit({b"a": b"1", b"b": b"1"}, 0)
    store.commit({b"b": b"2"}, 1)  # leaf b=1 goes stale at 1
    store.commit({b"b": b"1"}, 2)  # and is made again at 2
    for version in range(3, 8):
        store.commit({b"c": b"%d" % version}, version)
    verify_state_proof(store.prove(b"b"))
    reopened = fresh(tmp_path, "s", keep=2)
    verify_state_proof(reopened.prove(b"b"))


def test_scan_prefix_and_count_follow_writes_and_deletes(tmp_path: Path) -> None:
    store = fresh(tmp_path, "s")
    store.commit({b"dept/a": b"1", b"dept/b": b"2", b"dept/c": b"3", b"other": b"x"}, 0)
    store.commit({b"dept/b": None, b"dept/a": b"10"}, 1)
    assert store.scan_prefix(b"dept/") == [(b"dept/a", b"10"), (b"dept/c", b"3")]
    assert len(store) == 3
    reopened = fresh(tmp_path, "s")
    assert len(reopened) == 3 and reopened.get(b"dept/b") is None
    assert reopened.get(b"dept/a") == b"10" and reopened.get_at(b"dept/b", 0) == b"2"


batches = st.lists(
    st.dictionaries(
        st.binary(min_size=1, max_size=3), st.one_of(st.none(), st.binary(max_size=4)), max_size=40
    ),
    min_size=1,
    max_size=8,
)


@given(batches)
def test_native_tree_update_matches_the_python_reference(blocks: list[dict]) -> None:
    """The Rust batch update and walk give the same roots, nodes and paths as tree.py."""
    from urbis._native import NodeIndex
    from urbis.crypto.hashing import EMPTY_HASH
    from urbis.state.proof import key_hash, value_hash
    from urbis.state.tree import NodeChanges, SparseMerkleTree

    native_nodes = NodeIndex()
    native_nodes[b"\xff" * 32] = bytes(65)  # non-empty: take the native path
    reference_nodes: dict[bytes, bytes] = {}
    native = SparseMerkleTree(native_nodes.__getitem__, native_nodes)
    reference = SparseMerkleTree(reference_nodes.__getitem__, reference_nodes)
    root_n = root_r = EMPTY_HASH
    for block in blocks:
        items = sorted(
            (key_hash(k), None if v is None else value_hash(v)) for k, v in block.items()
        )
        changes_n, changes_r = NodeChanges(), NodeChanges()
        root_n = native.update(root_n, items, changes_n)
        root_r = reference.update_reference(root_r, items, changes_r)
        assert root_n == root_r
        assert changes_n.created == changes_r.created
        assert changes_n.dropped == changes_r.dropped
        for digest, node in changes_n.created.items():
            native_nodes[digest] = node
        reference_nodes.update(changes_r.created)
        for key in [*block, b"absent"]:
            assert native.walk(root_n, key) == reference.walk(root_r, key)


@given(st.dictionaries(st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=40))))
def test_native_state_items_hash_and_sort_like_the_proof_module(changes: dict) -> None:
    from urbis._native import state_items
    from urbis.state.proof import key_hash, value_hash

    expected = sorted(
        (key_hash(k), None if v is None else value_hash(v)) for k, v in changes.items()
    )
    assert state_items(list(changes.items())) == expected


def test_checkpoints_run_off_the_commit_path_and_keep_every_block(tmp_path: Path) -> None:
    """Commits leave the WAL to the background checkpointer; nothing is lost either way."""
    import os

    from urbis.state.database import Database

    store = fresh(tmp_path, "c")
    for version in range(20):
        store.commit(
            {b"k%d" % i: os.urandom(200) for i in range(200)} | {b"v": b"%d" % version}, version
        )
    wal = Path(store.db.path + "-wal")
    assert wal.stat().st_size > 1_000_000  # nothing copied during the commits themselves
    assert store.db.checkpoint() == 0  # a checkpoint copies every committed frame
    root = store.root
    store.db.close()
    reopened = StateStore(Database(tmp_path / "c.db"))
    assert reopened.root == root and reopened.get(b"v") == b"19"


def _reachable(store: StateStore, roots: list[bytes]) -> set[bytes]:
    """Every node digest under `roots`, read from the store's node index.

    Under the store's lock, as the store's own readers: the background maintenance
    (compaction, checkpoints) may be inside the native index meanwhile.
    """
    from urbis.crypto.hashing import EMPTY_HASH
    from urbis.state.proof import INTERNAL

    seen: set[bytes] = set()
    todo = [r for r in roots if r != EMPTY_HASH]
    while todo:
        digest = todo.pop()
        if digest in seen:
            continue
        seen.add(digest)
        with store.db.lock:
            node = store._nodes[digest]
        if node[0] == INTERNAL:
            todo.extend(c for c in (node[1:33], node[33:65]) if c != EMPTY_HASH)
    return seen


@given(
    st.lists(st.tuples(changes, st.booleans()), min_size=1, max_size=10),
    st.integers(min_value=1, max_value=3),
    st.sampled_from([2, 100_000]),
)
def test_node_index_holds_exactly_the_nodes_of_the_kept_heights(
    blocks: list[tuple[dict, bool]], keep: int, part_records: int
) -> None:
    """After every commit, checkpoint and reopen, the index holds the nodes reachable
    from the kept heights' roots, no more (pruned) and no fewer (proofs still served),
    and exactly the stale marks the live store has: checkpoints write only the marks set
    or lifted since the last one, and (with tiny parts) often rewrite them all afresh."""
    import tempfile
    from unittest import mock

    import urbis.state.store as store_module

    with (
        tempfile.TemporaryDirectory() as folder,
        mock.patch.object(store_module, "CHECKPOINT_PART_RECORDS", part_records),
    ):
        store = StateStore(Database(Path(folder) / "s.db"), keep)
        roots = []
        for version, (block, checkpoint) in enumerate(blocks):
            roots.append(store.commit(block, version))
            if checkpoint:
                store.checkpoint()
            expected = _reachable(store, roots[-keep:])
            assert store.node_count == len(expected)
            reopened = StateStore(Database(Path(folder) / "s.db"), keep)
            assert reopened.node_count == len(expected)
            with store.db.lock, reopened.db.lock:
                assert reopened._nodes.stale_count == store._nodes.stale_count
                marks = b"".join(store._nodes.stale_chunks(1 << 30))
                assert b"".join(reopened._nodes.stale_chunks(1 << 30)) == marks
            assert _reachable(reopened, roots[-keep:]) == expected
            reopened.db.close()
        store.db.close()


@given(batches)
def test_native_change_batches_match_the_python_reference(blocks: list[dict]) -> None:
    """smt_apply_changes (hash, sort, update, keep nodes native) gives the reference's
    root and nodes, its node-log records are `digest || node` in creation order, and
    NodeIndex.value_hash finds each key's value hash (None when absent), whether the
    index was given whole batches or bare records."""
    from urbis._native import NodeIndex, smt_apply_changes
    from urbis.crypto.hashing import EMPTY_HASH
    from urbis.state.proof import key_hash, value_hash
    from urbis.state.tree import NodeChanges, SparseMerkleTree

    index = NodeIndex()
    walked = NodeIndex(cache_bytes=0)  # no cache: every node is read from its record
    reference_nodes: dict[bytes, bytes] = {}
    reference = SparseMerkleTree(reference_nodes.__getitem__, reference_nodes)
    root_n = root_r = EMPTY_HASH
    model: dict[bytes, bytes | None] = {}
    for version, block in enumerate(blocks):
        root_n, batch = smt_apply_changes(index, root_n, list(block.items()))
        items = sorted(
            (key_hash(k), None if v is None else value_hash(v)) for k, v in block.items()
        )
        changes_r = NodeChanges()
        root_r = reference.update_reference(root_r, items, changes_r)
        assert root_n == root_r
        assert batch.created_dict() == changes_r.created
        assert list(batch.created_dict()) == list(changes_r.created)
        assert batch.dropped_list() == sorted(changes_r.dropped)
        assert batch.records() == b"".join(d + n for d, n in changes_r.created.items())
        assert batch.dropped_bytes() == b"".join(sorted(changes_r.dropped))
        index.apply(batch, version)
        walked.add_records(batch.records())
        reference_nodes.update(changes_r.created)
        model.update(block)
        for key in [*model, b"absent"]:
            value = model.get(key)
            expected = None if value is None else value_hash(value)
            assert index.value_hash(root_n, key) == expected
            assert walked.value_hash(root_n, key) == expected


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1024, max_value=3000))
def test_large_batches_update_both_halves_at_once_with_the_same_bytes(seed: int, size: int) -> None:
    """From 1,024 items the native update works on the root's two halves in two
    threads; the nodes, their order and the dropped set equal one sequential pass
    (a plain dict as the committed nodes takes the sequential path)."""
    import random

    from urbis._native import NodeIndex, smt_apply_changes
    from urbis.crypto.hashing import EMPTY_HASH

    rng = random.Random(seed)
    index, plain = NodeIndex(), {}
    root_i = root_p = EMPTY_HASH
    keys = [rng.randbytes(8) for _ in range(size)]
    for version in range(3):
        changes = [
            (k, None if rng.random() < 0.2 else rng.randbytes(4))
            for k in rng.sample(keys, size * 2 // 3)
        ]
        root_i, threaded = smt_apply_changes(index, root_i, changes)
        root_p, sequential = smt_apply_changes(plain, root_p, changes)
        assert root_i == root_p
        assert threaded.records() == sequential.records()
        assert threaded.dropped_bytes() == sequential.dropped_bytes()
        index.apply(threaded, version)
        plain.update(sequential.created_dict())


def test_a_failed_write_leaves_the_index_as_on_disk(tmp_path: Path) -> None:
    """Nodes are written and indexed before SQLite commits; if the write fails, the
    index is rebuilt from disk, so a version that never committed leaves no stale marks
    (and no records past the recorded tail) behind."""
    store = fresh(tmp_path, "f", keep=2)
    store.commit({b"k%d" % i: b"v" for i in range(50)}, 0)
    with store.db.lock:
        stale, tail = store._nodes.stale_count, store._nodes.tail
    nodes, present = store.node_count, len(store)
    store.stage({b"k%d" % i: b"w" for i in range(25)}, 1)
    with (
        pytest.raises(RuntimeError, match="disk full"),
        store.indexing_staged(),
        store.db.transaction() as conn,
    ):
        store.write_staged(conn)
        raise RuntimeError("disk full")
    with store.db.lock:
        assert (len(store._nodes), store._nodes.stale_count) == (nodes, stale)
    assert len(store) == present and store.version == 0
    with store.db.lock:
        assert store._nodes.tail == tail
    store.discard_staged()
    for version in range(1, 6):  # other blocks at those heights, pruning as they go
        store.commit({b"k%d" % version: b"%d" % version}, version)
    for i in range(50):
        verify_state_proof(store.prove(b"k%d" % i))
    reopened = fresh(tmp_path, "f", keep=2)
    assert reopened.node_count == store.node_count
    assert reopened.root == store.root


@given(batches, st.lists(st.binary(min_size=1, max_size=3), max_size=10))
def test_has_agrees_with_get_before_and_after_reopening(blocks: list[dict], probes: list) -> None:
    """`has` answers from the tree (no value read); it must say what `get` would."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = fresh(Path(folder), "s")
        seen: set[bytes] = set(probes)
        for version, block in enumerate(blocks):
            store.commit(block, version)
            seen |= set(block)
        cold = fresh(Path(folder), "s")
        # Asked before any get, so answered by the tree, not the value cache.
        answers = {key: cold.has(key) for key in seen}
        reopened = fresh(Path(folder), "s")
        for candidate in (store, reopened):
            for key in seen:
                assert candidate.has(key) == (candidate.get(key) is not None) == answers[key]
        for opened in (store, cold, reopened):
            opened.db.close()


def test_readers_during_commits_never_see_rows_ahead_of_the_tree(tmp_path: Path) -> None:
    """A read between a version's SQL commit and its promotion once saw new rows checked
    against the old tree and called it damage."""
    import threading

    from urbis.state.errors import StoreCorrupt

    store = fresh(tmp_path, "s")
    store.commit({b"p/%d" % i: b"0" for i in range(50)}, 0)
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                store.scan_prefix(b"p/")
                store._cache.clear()  # force reads from SQLite, as after eviction
                store.get(b"p/7")
            except StoreCorrupt as error:
                failures.append(error)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 400):
            store.commit({b"p/%d" % (version % 50): b"%d" % version}, version)
    finally:
        done.set()
        reader.join()
    assert failures == []


def test_a_node_made_again_after_a_checkpoint_is_not_stale_after_reopening(
    tmp_path: Path,
) -> None:
    """A leaf goes stale (its key changes), a checkpoint writes the mark down, then the
    key takes its old value back and the same leaf is live again. The next checkpoint
    writes only what changed since the first; reopened, the store must not mark the
    leaf stale, or pruning it with its old version would tear the current tree."""
    keep = 3
    store = fresh(tmp_path, "remade", keep)
    store.commit({b"k": b"one", b"other": b"0"}, 0)
    store.commit({b"k": b"two"}, 1)  # the "one" leaf goes stale since 1
    store.checkpoint()
    store.commit({b"k": b"one"}, 2)  # ... and is made again
    store.commit({b"other": b"1"}, 3)
    store.checkpoint()
    with store.db.lock:
        marks = b"".join(store._nodes.stale_chunks(1 << 30))
        rows = store.db.fetchall("SELECT stale FROM state_checkpoint ORDER BY part")
    # the earlier checkpoint's rows stay; the second added only its changes
    assert len(rows) == 2
    store.db.close()

    reopened = fresh(tmp_path, "remade", keep)
    with reopened.db.lock:
        assert b"".join(reopened._nodes.stale_chunks(1 << 30)) == marks
    for version in range(4, 4 + keep + 2):  # height 1 leaves the window: its marks expire
        reopened.commit({b"other": str(version).encode()}, version)
    assert reopened.get(b"k") == b"one"
    proof = reopened.prove(b"k")
    assert proof.value == b"one"
    reopened.db.close()
    again = fresh(tmp_path, "remade", keep)
    assert again.get(b"k") == b"one" and again.prove(b"k").value == b"one"
    again.db.close()


def test_a_mark_changed_several_times_between_checkpoints_reopens_as_it_is_now(
    tmp_path: Path,
) -> None:
    """Between two checkpoints one leaf goes stale, is made again, goes stale again and
    is made again, and another goes stale twice: the changed marks carry each digest's
    mark as it is at the checkpoint, not as it was at some change. Reopened, the marks
    are the ones in memory, and pruning keeps the live leaf."""
    keep = 3
    store = fresh(tmp_path, "churn", keep)
    store.commit({b"k": b"one", b"j": b"x", b"other": b"0"}, 0)
    store.checkpoint()
    store.commit({b"k": b"two", b"j": b"y"}, 1)  # "one" and "x" go stale since 1
    store.commit({b"k": b"one", b"j": b"x"}, 2)  # both made again
    store.commit({b"k": b"three", b"j": b"y"}, 3)  # both stale again, since 3
    store.commit({b"k": b"one"}, 4)  # "one" live again; "x" stays stale since 3
    with store.db.lock:
        changed = store._nodes.stale_changed
        records = b"".join(store._nodes.stale_changes(1 << 30))
        marks = b"".join(store._nodes.stale_chunks(1 << 30))
    assert changed == len(records) // 40 > store._nodes.stale_count
    by_digest: dict[bytes, set[bytes]] = {}
    for at in range(0, len(records), 40):
        by_digest.setdefault(records[at : at + 32], set()).add(records[at + 32 : at + 40])
    assert all(len(sinces) == 1 for sinces in by_digest.values())  # copies agree
    store.checkpoint()
    store.db.close()

    reopened = fresh(tmp_path, "churn", keep)
    with reopened.db.lock:
        assert b"".join(reopened._nodes.stale_chunks(1 << 30)) == marks
    for version in range(5, 5 + keep + 2):  # heights 1-3 leave the window
        reopened.commit({b"other": str(version).encode()}, version)
    assert reopened.prove(b"k").value == b"one" and reopened.prove(b"j").value == b"y"
    verify_state_proof(reopened.prove(b"k"))
    reopened.db.close()


def test_a_wider_window_after_a_checkpoint_refuses_heights_it_no_longer_holds(
    tmp_path: Path,
) -> None:
    """Unknown height, never "corrupt": the nodes went with a checkpoint's smaller window."""
    store = fresh(tmp_path, "s", keep=2)
    for version in range(6):
        store.commit({b"k": b"%d" % version}, version)
    store.checkpoint()
    wider = fresh(tmp_path, "s", keep=1000)
    with pytest.raises(UnknownHeight):
        wider.get_at(b"k", 2)
    with pytest.raises(UnknownHeight):
        wider.prove(b"k", 1)
    assert wider.get_at(b"k", 4) == b"4"
    verify_state_proof(wider.prove(b"k", 5))


def assert_reopens_whole(
    tmp_path: Path, name: str, root: bytes, segment: Path, data: bytes
) -> None:
    """The store reopens at `root`, proves its 300 keys, and the segment holds `data`."""
    reopened = fresh(tmp_path, name)
    assert reopened.root == root
    for i in range(300):
        verify_state_proof(reopened.prove(b"k%d" % i), root)
    assert segment.read_bytes() == data
    reopened.db.close()


def test_bytes_past_the_committed_tail_are_cut_on_open(tmp_path: Path) -> None:
    """Each block's node records are synced before its SQL commit: a crash or power cut
    can only leave bytes of a block that never committed (or a torn append), past the
    tail the last committed block recorded. Opening cuts them off."""
    store = fresh(tmp_path, "p")
    store.commit({b"k%d" % i: b"v%d" % i for i in range(300)}, 0)
    store.checkpoint()
    for version in range(1, 4):
        store.commit({b"k%d" % i: b"w%d" % version for i in range(version, 300, 7)}, version)
    root = store.root
    store.db.close()
    (segment,) = (tmp_path / "p.db.nodes").glob("nodes-*.seg")
    data = segment.read_bytes()
    segment.write_bytes(data + bytes(97 * 3 + 40))  # an append whose block never committed
    assert_reopens_whole(tmp_path, "p", root, segment, data)


def test_a_log_row_that_carries_its_records_writes_them_back(tmp_path: Path) -> None:
    """Stores written before per-block syncing logged each version's records in SQLite
    and synced the segments only at snapshots; such a row still puts lost bytes back."""
    store = fresh(tmp_path, "o")
    store.commit({b"k%d" % i: b"v%d" % i for i in range(300)}, 0)
    store.checkpoint()
    (segment,) = (tmp_path / "o.db.nodes").glob("nodes-*.seg")
    synced = segment.stat().st_size
    store.commit({b"k%d" % i: b"w" for i in range(0, 300, 7)}, 1)
    root = store.root
    data = segment.read_bytes()
    first, count = store.db.fetchone("SELECT first, count FROM state_node_log WHERE version = 1")
    records = data[first * 97 : (first + count) * 97]
    with store.db.transaction() as conn:
        conn.execute(
            "UPDATE state_node_log SET moved = 0, created = ? WHERE version = 1", (records,)
        )
    store.db.close()
    segment.write_bytes(data[:synced] + bytes((len(data) - synced) // 2))
    assert_reopens_whole(tmp_path, "o", root, segment, data)


def test_a_flipped_node_record_is_store_corrupt_on_read(tmp_path: Path) -> None:
    """Every record read from a segment must hash to the digest asked for."""
    from urbis.state.errors import StoreCorrupt

    store = fresh(tmp_path, "b")
    store.commit({b"k%d" % i: b"v" for i in range(200)}, 0)
    store.checkpoint()  # the log's copies go: only the segment holds the records
    store.db.close()
    (segment,) = (tmp_path / "b.db.nodes").glob("nodes-*.seg")
    data = bytearray(segment.read_bytes())
    data[97 * 5 + 40] ^= 0x10  # inside the sixth record's node
    segment.write_bytes(bytes(data))
    reopened = StateStore(Database(tmp_path / "b.db"), node_cache_bytes=0)
    with pytest.raises(StoreCorrupt, match="does not match its stored record"):
        for i in range(200):
            reopened.prove(b"k%d" % i)


def test_the_upper_levels_stay_cached_through_churn_and_are_warmed_after_a_start(
    tmp_path: Path,
) -> None:
    """The cache keeps the tree's upper levels by place (native `pin_depth`): however
    many deep nodes blocks write and read, a walk reads from disk only the levels below
    them, also where deletions made leaves rise, and after a restart the warm-up has
    read the upper levels before the first walk."""
    import random

    rng = random.Random(4)
    cache = 4 << 20  # keeps 14 levels by place, and (beside the key filter) some 4,600 other nodes
    store = StateStore(Database(tmp_path / "p.db"), node_cache_bytes=cache)
    pinned = store._nodes.pin_depth
    assert pinned == 14
    for version in range(12):  # 60,000 keys, about 17 levels: the cache holds a fraction
        store.commit({rng.randbytes(12): b"v" for _ in range(5_000)}, version)
    keys = [k for k, _ in store.scan_prefix(b"", limit=100_000)]
    # Deleting most keys leaves many leaves alone in their subtrees: each rises to an
    # upper place where no node was made.
    gone = set(rng.sample(keys, 50_000))
    store.commit(dict.fromkeys(gone), 12)
    keys = [k for k in keys if k not in gone]

    def disk_reads_per_walk(reader: StateStore) -> list[tuple[int, int]]:
        out = []
        for key in rng.sample(keys, 300):
            before = reader.node_reads
            depth = len(reader.prove(key).siblings)
            out.append((reader.node_reads - before, depth))
        return out

    for reads, depth in disk_reads_per_walk(store):
        assert reads <= max(depth + 1 - pinned, 0)
    store.db.close()

    reopened = StateStore(Database(tmp_path / "p.db"), node_cache_bytes=cache)
    reopened.wait_for_warm_up()
    for reads, depth in disk_reads_per_walk(reopened):
        assert reads <= max(depth + 1 - pinned, 0)
    reopened.db.close()


def test_the_node_cache_size_is_a_node_setting(tmp_path: Path) -> None:
    from tests.helpers.city import city_genesis, key
    from urbis.node.home import Home, HomeError, NodeConfig
    from urbis.node.runner import Node

    with pytest.raises(HomeError, match="state_node_cache_mib"):
        NodeConfig.from_mapping({"state_node_cache_mib": 1})
    home = Home(tmp_path / "home")
    home.ensure_dirs()
    city_genesis().save(home.genesis_path)
    home.write_validator_key(key("validator"))
    home.save_config(NodeConfig.from_mapping({"state_node_cache_mib": 64}))
    node = Node(home)
    try:
        assert node.app.store.node_cache_bytes == 64 << 20
    finally:
        node.db.close()


@given(batches, st.booleans())
def test_every_key_of_a_kept_tree_passes_the_key_filter(blocks: list[dict], snapshot: bool) -> None:
    """Absent keys are answered by a filter of every leaf ever made: it may say "maybe"
    for an absent key, never "no" for a key some kept height holds, also after a
    snapshot and a reopening (where it is loaded and then extended by the log)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = fresh(Path(folder), "f")
        model: dict[bytes, bytes] = {}
        states = []
        for version, block in enumerate(blocks):
            store.commit(block, version)
            applied(model, block)
            states.append(dict(model))
            if snapshot and version == len(blocks) // 2:
                store.checkpoint()
        reopened = fresh(Path(folder), "f")
        held = {key for state in states for key in state}
        for opened in (store, reopened):
            assert all(opened._nodes.may_hold_key(k) for k in held)
            for version, state in enumerate(states):
                for key in held:
                    assert opened.get_at(key, version) == state.get(key)
        for opened in (store, reopened):
            opened.db.close()


def test_the_key_filter_answers_most_absent_keys_in_little_memory(tmp_path: Path) -> None:
    store = fresh(tmp_path, "m")
    store.commit({b"present%d" % i: b"v" for i in range(50_000)}, 0)
    with store.db.lock:  # the maintenance thread may be inside the index
        passed = sum(store._nodes.may_hold_key(b"absent%d" % i) for i in range(50_000))
        assert store._nodes.key_filter_bytes <= 2 * 1024 * 1024  # the first layer: 1M keys
    assert passed < 1_000  # about 1% with 12 bits a key; a walk answers each of them
    assert store.get(b"absent7") is None and store.get(b"present7") == b"v"


def test_the_cache_budget_counts_the_key_filter_and_the_fences(tmp_path: Path) -> None:
    """The configured cache bounds the pinned levels, the deeper nodes, the key filter
    and the location run's fences together: as the filter and fences grow with the
    state, the deeper nodes' share shrinks by as much."""
    import os

    from urbis._native import NodeIndex

    budget = 16 << 20
    index = NodeIndex(cache_bytes=budget)
    total, fixed, deeper = index.cache_budget
    assert total == budget and fixed + deeper <= budget
    assert fixed > index.key_filter_bytes > 0
    # Past the first layer's million keys the filter adds a layer twice its size.
    first_filter = index.key_filter_bytes
    for _ in range(11):
        index.add_records(
            b"".join(os.urandom(32) + b"\x00" + os.urandom(64) for _ in range(100_000)), True
        )
    assert index.key_filter_bytes >= 3 * first_filter
    _, grown, shrunk = index.cache_budget
    assert grown - fixed == index.key_filter_bytes - first_filter
    rounding = 2 * 64 * 224  # a node's cost in each of 64 shards' two generations
    assert grown + shrunk <= budget and abs((deeper - shrunk) - (grown - fixed)) <= rounding

    store = StateStore(Database(tmp_path / "s.db"), node_cache_bytes=budget)
    store.commit({b"k%d" % i: b"v" for i in range(100_000)}, 0)
    with store.db.lock:
        _, before, _ = store._nodes.cache_budget
    store.checkpoint()  # the first run: its fences, a key every 256 entries, join the fixed part
    with store.db.lock:
        _, after, room = store._nodes.cache_budget
        nodes = len(store._nodes)
    assert after - before >= 8 * (nodes // 256) > 0 and after + room <= budget
    store.db.close()
    reopened = StateStore(Database(tmp_path / "s.db"), node_cache_bytes=budget)
    with reopened.db.lock:  # loading the snapshot counts its run and filter as well
        _, loaded, loaded_room = reopened._nodes.cache_budget
    assert loaded - before >= 8 * (nodes // 256) and loaded + loaded_room <= budget
    reopened.db.close()


def _table_snapshot(sorted_snapshot: bytes, with_filter: bool) -> bytes:
    """A location snapshot of the sorted layout (`URBISNI4`: a 4 KiB header, then the
    entries by key) rewritten in an earlier one: a 40-byte header, the same entries
    (any order loads), the collided digests, then (`URBISNI3`) the filter and its hash,
    or (`URBISNI2`) nothing."""
    assert sorted_snapshot[:8] == b"URBISNI4"
    plain, collided, segment, records, filter_len = (
        int.from_bytes(sorted_snapshot[at : at + 8], "little") for at in range(8, 48, 8)
    )
    body = sorted_snapshot[4096 : 4096 + plain * 16 + collided * 40]
    shuffled = b"".join(reversed([body[i : i + 16] for i in range(0, plain * 16, 16)]))
    words = b"".join(n.to_bytes(8, "little") for n in (plain, collided, segment, records))
    legacy = (b"URBISNI3" if with_filter else b"URBISNI2") + words + shuffled
    legacy += body[plain * 16 :]
    if with_filter:
        legacy += sorted_snapshot[4096 + len(body) :]
        assert len(sorted_snapshot) == 4096 + len(body) + filter_len + 32
    return legacy


def test_a_snapshot_without_a_key_filter_is_rebuilt_from_the_segments(tmp_path: Path) -> None:
    """A location snapshot of the previous format (no filter after the locations): the
    filter is rebuilt from every leaf record in the segment files."""
    store = fresh(tmp_path, "n")
    store.commit({b"k%d" % i: b"v%d" % i for i in range(500)}, 0)
    store.checkpoint()
    store.commit({b"k%d" % i: None for i in range(0, 500, 5)}, 1)
    store.db.close()
    (snap,) = (tmp_path / "n.db.nodes").glob("index-*.snap")
    data = snap.read_bytes()
    snap.write_bytes(_table_snapshot(data, with_filter=False))
    reopened = fresh(tmp_path, "n")
    for i in range(500):
        assert reopened._nodes.may_hold_key(b"k%d" % i)
        assert reopened.get(b"k%d" % i) == (None if i % 5 == 0 else b"v%d" % i)
    snap.write_bytes(data[:-3])  # a damaged filter is damage, not a rebuild
    reopened.db.close()
    from urbis.state.errors import StoreCorrupt

    with pytest.raises(StoreCorrupt):
        fresh(tmp_path, "n")


@given(st.data())
def test_a_flip_in_the_saved_key_filter_or_a_replayed_leaf_is_store_corrupt(
    data: st.DataObject,
) -> None:
    """The filter is never checked by a read (a cleared bit would make a key look absent),
    so its saved copy carries a hash, and leaves replayed into it must hash to their
    digests."""
    import tempfile


    with tempfile.TemporaryDirectory() as folder:
        store = fresh(Path(folder), "x")
        store.commit({b"k%d" % i: b"v%d" % i for i in range(200)}, 0)
        store.checkpoint()
        store.commit({b"j%d" % i: b"w%d" % i for i in range(50)}, 1)  # replayed on open
        first, count = store.db.fetchone("SELECT first, count FROM state_node_log")
        store.db.close()
        nodes = Path(folder) / "x.db.nodes"
        (snap,) = nodes.glob("index-*.snap")
        (segment,) = nodes.glob("nodes-*.seg")
        snapshot, records = snap.read_bytes(), segment.read_bytes()
        plain, collided = (int.from_bytes(snapshot[at : at + 8], "little") for at in (8, 16))
        filter_at = 4096 + plain * 16 + collided * 40  # the sorted layout's header
        if data.draw(st.booleans(), label="in the filter"):
            at = data.draw(st.integers(filter_at, len(snapshot) - 1), label="byte")
            damaged, path = bytearray(snapshot), snap
        else:
            leaves = [
                first + i
                for i in range(count)
                if records[(first + i) * 97 + 32] == 0  # a leaf
            ]
            record = data.draw(st.sampled_from(leaves), label="leaf")
            at = record * 97 + 33 + data.draw(st.integers(0, 31), label="key path byte")
            damaged, path = bytearray(records), segment
        damaged[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        path.write_bytes(bytes(damaged))
        _refused_at_open(Path(folder) / "x.db")


def test_background_compaction_keeps_proofs_and_gives_disk_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compaction runs on its own thread in short steps between blocks and reads: while
    a reader proves keys and a writer commits, every proof verifies; once it is done,
    the segments hold about the live nodes and a reopening has the same nodes."""
    import threading

    from urbis.state import store as store_module

    monkeypatch.setattr(store_module, "NODE_SEGMENT_BYTES", 97 * 2_000)
    monkeypatch.setattr(store_module, "COMPACT_STEP_RECORDS", 300)
    store = StateStore(Database(tmp_path / "g.db"), keep_versions=2)
    keys = [b"key%d" % i for i in range(2_000)]
    store.commit({k: b"0" for k in keys}, 0)
    model = {k: b"0" for k in keys}
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        rng = __import__("random").Random(1)
        while not done.is_set():
            try:
                verify_state_proof(store.prove(rng.choice(keys)))
            except UnknownHeight:
                pass  # the height it asked for left the window meanwhile
            except BaseException as error:
                failures.append(error)
                return

    reader = threading.Thread(target=read)
    reader.start()
    for version in range(1, 30):
        # New keys too: a leaf made after the last snapshot whose segment is compacted
        # away before the next one must still be found (key filter, stale marks).
        block = {k: b"%d" % version for k in keys[version % 7 :: 3]}
        block |= {b"new%d-%d" % (version, i): b"n" for i in range(20)}
        block |= {b"new%d-%d" % (version - 1, i): None for i in range(0, 20, 4)}
        store.commit(block, version)
        applied(model, block)
    done.set()
    reader.join()
    store.wait_for_maintenance()
    assert not failures, failures[0]
    assert store.db.fetchone("SELECT COUNT(*) FROM state_node_retired")[0] > 0
    assert store._nodes.disk_bytes < 3 * store.node_count * 97 + store_module.NODE_SEGMENT_BYTES
    roots = [store.root_at(v) for v in (28, 29)]
    expected = _reachable(store, roots)
    store.db.close()
    for _ in range(2):  # reopened, then reopened after more blocks and their pruning
        reopened = StateStore(Database(tmp_path / "g.db"), keep_versions=2)
        assert _reachable(reopened, roots) == expected
        assert reopened.node_count == len(expected)
        assert all(reopened.get(k) == v for k, v in model.items())
        for version in range(reopened.version + 1, reopened.version + 4):
            reopened.commit({k: b"again" for k in keys[:50]}, version)
        roots = [reopened.root_at(v) for v in (reopened.version - 1, reopened.version)]
        expected = _reachable(reopened, roots)
        applied(model, {k: b"again" for k in keys[:50]})
        reopened.wait_for_maintenance()
        reopened.db.close()


@given(st.lists(changes, min_size=1, max_size=12), st.integers(min_value=1, max_value=3))
def test_undo_rows_older_than_the_window_are_pruned_and_kept_heights_still_read(
    blocks: list[dict], keep: int
) -> None:
    """The values table holds exactly the live keys; the undo rows are exactly the
    writes of the kept heights after the oldest to keys that were set (each holding the
    value it replaced; a key created has none), and every kept height reads what it
    committed, absent keys included."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(Database(Path(folder) / "h.db"), keep, background_compaction=False)
        model: dict[bytes, bytes] = {}
        states = []
        written = []  # the keys each version changed (writing a key's value again is no write)
        for version, block in enumerate(blocks):
            store.commit(block, version)
            written.append({k for k, v in block.items() if model.get(k) != v})
            applied(model, block)
            states.append(dict(model))
        window = range(max(len(blocks) - keep, 0), len(blocks))
        values = store.db.fetchall("SELECT key, value FROM state_values")
        assert dict(values) == model
        undo = store.db.fetchall("SELECT version, key, value FROM state_undo")
        expected = {
            (v, k, (states[v - 1] if v else {}).get(k))
            for v in window
            if v > len(blocks) - keep  # a version's undo rows go when it is the oldest kept
            for k in written[v]
            if k in (states[v - 1] if v else {})
        }
        assert set(undo) == expected
        for version in window:
            for key in {k for state in states for k in state}:
                assert store.get_at(key, version) == states[version].get(key)
        store.db.close()


def test_the_wal_stays_bounded_under_a_steady_stream_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With blocks back to back the background checkpointer never reaches the last frame,
    and the WAL can only start over then: the writer finishes the job past a bound."""
    from urbis.state import database

    monkeypatch.setattr(database, "WAL_BOUND", 2 * 1024 * 1024)
    monkeypatch.setattr(database, "CHECKPOINT_EVERY_S", 3600.0)  # no background help
    store = fresh(tmp_path, "w")
    wal = Path(store.db.path + "-wal")
    largest = 0
    for version in range(40):
        store.commit({b"k%d" % i: b"%d" % version * 20 for i in range(2_000)}, version)
        largest = max(largest, wal.stat().st_size)
    assert largest < 2 * 1024 * 1024 + 3 * 1024 * 1024  # the bound plus about one block
    store.db.close()
    # Restarted, the file keeps its pages for the next pass, not cut back below them.
    assert database.WAL_SIZE_LIMIT > 256 * 1024 * 1024 + 3 * 1024 * 1024


def test_a_store_of_the_earlier_history_layout_is_rewritten_and_reads_the_same(
    tmp_path: Path,
) -> None:
    """A store written when every write was a `state_history` row (key, version) opens
    with current values and undo rows: every kept height reads what it committed,
    including keys deleted and set again, and the old tables are gone."""
    import sqlite3

    blocks: list[dict[bytes, bytes | None]] = [
        {b"a": b"1", b"b": b"1", b"c": b"1"},
        {b"a": b"2", b"b": None},
        {b"b": b"3", b"d": b"1"},
        {b"c": None, b"a": b"4"},
        {b"d": b"2"},
    ]
    store = fresh(tmp_path, "old")
    model: dict[bytes, bytes] = {}
    states = []
    for version, block in enumerate(blocks):
        store.commit(block, version)
        applied(model, block)
        states.append(dict(model))
    store.db.close()
    # The earlier layout, as its writer left it: every write of every version.
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.executescript(
        "DROP TABLE state_values; DROP TABLE state_undo; CREATE TABLE state_history ("
        "key BLOB NOT NULL, version INTEGER NOT NULL, value BLOB, PRIMARY KEY (key, version)"
        ") WITHOUT ROWID; CREATE TABLE state_changes (version INTEGER PRIMARY KEY, "
        "keys BLOB NOT NULL);"
    )
    conn.executemany(
        "INSERT INTO state_history VALUES (?, ?, ?)",
        [(k, v, value) for v, block in enumerate(blocks) for k, value in block.items()],
    )
    conn.commit()
    conn.close()
    reopened = StateStore(Database(tmp_path / "old.db"))
    tables = {row[0] for row in reopened.db.fetchall("SELECT name FROM sqlite_master")}
    assert "state_history" not in tables and "state_changes" not in tables
    for version, state in enumerate(states):
        for key in (b"a", b"b", b"c", b"d", b"e"):
            assert reopened.get_at(key, version) == state.get(key)
    assert reopened.scan_prefix(b"") == sorted(model.items())
    reopened.commit({b"e": b"1", b"a": None}, len(blocks))
    assert reopened.get_at(b"a", len(blocks) - 1) == b"4"
    assert reopened.get(b"a") is None
    reopened.db.close()


@pytest.mark.parametrize("key_bits", [64, 8])
def test_the_location_run_on_disk_merges_changes_tombstones_and_collisions(
    tmp_path: Path, key_bits: int
) -> None:
    """Node locations live in a sorted run on disk, written by each snapshot, with the
    changes since held in memory. Narrowed to 8 bits, the location keys collide all the
    time, so nodes go to the collided digests, run entries are displaced by colliding
    changes and hidden by tombstones: through two snapshots, prunes and a reopening the
    index holds exactly the nodes it should, counted exactly."""
    import hashlib
    import random

    from urbis._native import NodeIndex

    rng = random.Random(key_bits)
    nodes: dict[bytes, bytes] = {}
    tags: set[bytes] = set()
    while len(nodes) < 600:  # distinct 16-bit tags: the index's 80-bit identity holds
        node = b"\x00" + rng.randbytes(64)
        digest = hashlib.sha256(node).digest()
        if digest[30:] not in tags:
            tags.add(digest[30:])
            nodes[digest] = node
    digests = list(nodes)
    seed = bytes(range(16))

    def opened() -> NodeIndex:
        return NodeIndex(tmp_path / "nodes", 1 << 20, seed, 1 << 16, key_bits)

    def check(index: NodeIndex, live: list[bytes]) -> None:
        assert len(index) == len(live)
        for digest in digests:
            assert (digest in index) == (digest in live)
        for digest in live:
            assert index[digest] == nodes[digest]

    index = opened()
    index.add_records(b"".join(d + nodes[d] for d in digests[:300]))
    index.save_snapshot(tmp_path / "nodes" / "index-1.snap")
    assert index.changed_locations <= (300 if key_bits == 8 else 0)  # collided ones stay
    check(index, digests[:300])
    # Changes against the run: new nodes (colliding with its keys), forgotten ones.
    index.add_records(b"".join(d + nodes[d] for d in digests[300:]))
    index.mark_stale(b"".join(digests[:100]), 1)
    index.prune(1)
    live = digests[100:]
    check(index, live)
    # A node forgotten and then made again is found at its new place.
    index.add_records(digests[0] + nodes[digests[0]])
    live = [digests[0], *live]
    check(index, live)
    index.save_snapshot(tmp_path / "nodes" / "index-2.snap")
    check(index, live)
    index.mark_stale(b"".join(digests[300:400]), 2)
    index.prune(2)
    live = [d for d in live if d not in digests[300:400]]
    check(index, live)
    index.save_snapshot(tmp_path / "nodes" / "index-3.snap")
    check(index, live)
    reopened = opened()
    reopened.load_snapshot(tmp_path / "nodes" / "index-3.snap")
    check(reopened, live)
    assert (tmp_path / "nodes" / "index-3.snap").read_bytes()[:8] == b"URBISNI4"


def test_a_snapshot_of_the_table_layout_is_read_and_written_sorted(tmp_path: Path) -> None:
    """A store whose last snapshot is of the earlier layout (the hash table's entries,
    unsorted, loaded whole) opens with every value, and its next snapshot is a sorted
    run from which the store reopens the same."""
    store = fresh(tmp_path, "t")
    store.commit({b"k%d" % i: b"v%d" % i for i in range(400)}, 0)
    store.checkpoint()
    store.commit({b"k%d" % i: b"w%d" % i for i in range(0, 400, 3)}, 1)
    root = store.root
    store.db.close()
    (snap,) = (tmp_path / "t.db.nodes").glob("index-*.snap")
    snap.write_bytes(_table_snapshot(snap.read_bytes(), with_filter=True))
    reopened = fresh(tmp_path, "t")
    expected = {b"k%d" % i: (b"w%d" if i % 3 == 0 else b"v%d") % i for i in range(400)}
    assert reopened.root == root
    assert all(reopened.get(k) == v for k, v in expected.items())
    assert reopened._nodes.changed_locations > 0  # the table's entries, in memory
    reopened.checkpoint()
    assert reopened._nodes.changed_locations == 0
    count = reopened.node_count
    reopened.db.close()
    (snap,) = (tmp_path / "t.db.nodes").glob("index-*.snap")
    assert snap.read_bytes()[:8] == b"URBISNI4"
    again = fresh(tmp_path, "t")
    assert again.root == root and again.node_count == count
    assert all(again.get(k) == v for k, v in expected.items())
    again.db.close()


@given(st.data())
@settings(max_examples=30, deadline=None)
def test_a_flip_in_the_location_run_or_its_header_is_store_corrupt(data: st.DataObject) -> None:
    """The run of locations is read for as long as the store is open and carried into
    every merge; a flipped key bit that kept the keys in order would hide a live node
    (which compaction would then drop as garbage). Its entries and header carry
    checksums, so any flip in them is refused at open."""
    import tempfile


    with tempfile.TemporaryDirectory() as folder:
        store = fresh(Path(folder), "r")
        store.commit({b"k%d" % i: b"v%d" % i for i in range(300)}, 0)
        store.checkpoint()
        store.db.close()
        (snap,) = (Path(folder) / "r.db.nodes").glob("index-*.snap")
        snapshot = bytearray(snap.read_bytes())
        plain, collided = (int.from_bytes(snapshot[at : at + 8], "little") for at in (8, 16))
        used_header, entries_end = 112, 4096 + plain * 16 + collided * 40
        at = data.draw(
            st.one_of(st.integers(0, used_header - 1), st.integers(4096, entries_end - 1)),
            label="byte",
        )
        snapshot[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        snap.write_bytes(bytes(snapshot))
        _refused_at_open(Path(folder) / "r.db")


def _refused_at_open(path: Path) -> None:
    """Opening the store at `path` raises StoreCorrupt. The database is closed either
    way: its checkpoint thread must not touch a folder being removed."""
    from urbis.state.errors import StoreCorrupt

    db = Database(path)
    try:
        with pytest.raises(StoreCorrupt):
            StateStore(db)
    finally:
        db.close()


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.one_of(st.none(), st.binary(max_size=6))), max_size=300
    )
)
def test_rows_inserted_many_a_statement_end_as_executemany_leaves_them(rows: list) -> None:
    """insert_rows cuts a batch into statements of 128, 16 and 1 rows; in order, so under
    OR REPLACE a later row of a key wins, exactly as one statement a row."""
    import sqlite3

    from urbis.state.database import insert_rows

    tables = []
    for fill in ("many", "one"):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        if fill == "many":
            insert_rows(conn, "INSERT OR REPLACE INTO t", rows)
        else:
            conn.executemany("INSERT OR REPLACE INTO t VALUES (?, ?)", rows)
        tables.append(conn.execute("SELECT k, v FROM t ORDER BY k").fetchall())
    assert tables[0] == tables[1]
