"""The sparse Merkle tree: batch updates and proofs over content-addressed nodes.

A whole block's changes are applied in one pass (sorted by key hash), so the
upper levels are rehashed once per block rather than once per key, and the
work grows with the number of changed keys, not with the size of the state.
"""

from __future__ import annotations

from collections.abc import Callable

from urbis._native import NodeIndex, smt_update
from urbis.crypto.hashing import EMPTY_HASH
from urbis.state.proof import (
    INTERNAL,
    LEAF,
    internal_node,
    key_hash,
    leaf_node,
    node_digest,
)

Item = tuple[bytes, bytes | None]
"""(key_hash, value_hash) for a write, (key_hash, None) for a delete."""

_Path = tuple[int, bytes, bytes | None]
"""An item with its key hash also as an integer, to read bits without a call per bit."""

EMPTY = -1
"""The kind of an empty subtree (nodes are LEAF or INTERNAL by their first byte)."""


class NodeChanges:
    """Nodes a pending version adds and removes, net of churn within the version."""

    __slots__ = ("created", "dropped")

    def __init__(self) -> None:
        self.created: dict[bytes, bytes] = {}
        self.dropped: set[bytes] = set()

    def create(self, node: bytes) -> bytes:
        digest = node_digest(node)
        if digest in self.dropped:
            self.dropped.discard(digest)
        else:
            self.created[digest] = node
        return digest

    def drop(self, digest: bytes) -> None:
        if self.created.pop(digest, None) is None:
            self.dropped.add(digest)


class SparseMerkleTree:
    """Pure tree logic; `load(digest)` fetches a committed node's bytes."""

    def __init__(
        self, load: Callable[[bytes], bytes], nodes: dict[bytes, bytes] | NodeIndex | None = None
    ) -> None:
        self._load = load
        self._nodes: dict[bytes, bytes] | NodeIndex = {} if nodes is None else nodes

    def node(self, digest: bytes, pending: NodeChanges | None = None) -> bytes:
        if pending is not None:
            node = pending.created.get(digest)
            if node is not None:
                return node
        return self._load(digest)

    def update(self, root: bytes, items: list[Item], pending: NodeChanges) -> bytes:
        """Apply writes and deletes (sorted by key hash, unique) and return the new root.

        Runs natively (`urbis._native.smt_update`, the same algorithm in Rust) when the
        committed nodes are all in the index and the batch starts empty;
        `update_reference` is the Python original it is tested against.
        """
        if not items:
            return root
        if pending.created or pending.dropped or not self._nodes:
            return self.update_reference(root, items, pending)
        new_root, created, dropped = smt_update(self._nodes, root, items)
        pending.created.update(created)
        pending.dropped.update(dropped)
        return new_root

    def update_reference(self, root: bytes, items: list[Item], pending: NodeChanges) -> bytes:
        if not items:
            return root
        paths = [(int.from_bytes(k, "big"), k, v) for k, v in items]
        return self._update(root, 0, paths, pending)[0]

    # Subtrees are returned with their kind (EMPTY, LEAF, INTERNAL; None: not known yet),
    # so joining two of them rarely needs to load a node to learn whether it is a leaf.

    def _update(
        self, digest: bytes, depth: int, items: list[_Path], pending: NodeChanges
    ) -> tuple[bytes, int | None]:
        if digest == EMPTY_HASH:
            return self._build(depth, [i for i in items if i[2] is not None], pending)
        node = self.node(digest, pending)
        if node[0] == LEAF:
            existing = node[1:33]
            if all(k != existing for _, k, _ in items):
                items = sorted([*items, (int.from_bytes(existing, "big"), existing, node[33:65])])
            pending.drop(digest)
            return self._build(depth, [i for i in items if i[2] is not None], pending)
        left, right = node[1:33], node[33:65]
        split = _split(items, depth)
        new_left: tuple[bytes, int | None] = (left, None)
        new_right: tuple[bytes, int | None] = (right, None)
        if split:
            new_left = self._update(left, depth + 1, items[:split], pending)
        if split < len(items):
            new_right = self._update(right, depth + 1, items[split:], pending)
        if new_left[0] == left and new_right[0] == right:
            return digest, INTERNAL
        pending.drop(digest)
        return self._join(new_left, new_right, pending)

    def _build(
        self, depth: int, items: list[_Path], pending: NodeChanges
    ) -> tuple[bytes, int | None]:
        if not items:
            return EMPTY_HASH, EMPTY
        if len(items) == 1:
            _, key_digest, value_digest = items[0]
            assert value_digest is not None
            return pending.create(leaf_node(key_digest, value_digest)), LEAF
        split = _split(items, depth)
        left = self._build(depth + 1, items[:split], pending)
        right = self._build(depth + 1, items[split:], pending)
        return self._join(left, right, pending)

    def _join(
        self,
        left: tuple[bytes, int | None],
        right: tuple[bytes, int | None],
        pending: NodeChanges,
    ) -> tuple[bytes, int | None]:
        # A lone leaf rises to its parent's place: the tree stays canonical, one
        # shape for one key set whatever order the keys came in.
        left_kind = self._kind(left, pending)
        right_kind = self._kind(right, pending)
        if right_kind == EMPTY and left_kind in (EMPTY, LEAF):
            return left[0], left_kind
        if left_kind == EMPTY and right_kind == LEAF:
            return right[0], LEAF
        return pending.create(internal_node(left[0], right[0])), INTERNAL

    def _kind(self, subtree: tuple[bytes, int | None], pending: NodeChanges) -> int:
        digest, kind = subtree
        if kind is not None:
            return kind
        if digest == EMPTY_HASH:
            return EMPTY
        return self.node(digest, pending)[0]

    def walk(self, root: bytes, key: bytes) -> tuple[list[bytes], tuple[bytes, bytes] | None]:
        """Siblings from the root down the key's path, and the leaf where it ends."""
        if isinstance(self._nodes, NodeIndex):
            return self._nodes.walk(root, key_hash(key))
        path = int.from_bytes(key_hash(key), "big")
        nodes, load = self._nodes, self._load
        siblings: list[bytes] = []
        current = root
        shift = 255
        # Proof serving lives in this loop: bits come from one integer and nodes
        # straight from the index, with no call per level.
        while current != EMPTY_HASH:
            node = nodes.get(current) or load(current)
            if node[0] == LEAF:
                return siblings, (node[1:33], node[33:65])
            if (path >> shift) & 1:
                siblings.append(node[1:33])
                current = node[33:65]
            else:
                siblings.append(node[33:65])
                current = node[1:33]
            shift -= 1
        return siblings, None


def _split(items: list[_Path], depth: int) -> int:
    """Index of the first item whose key hash has bit `depth` set (items are sorted)."""
    shift = 255 - depth
    low, high = 0, len(items)
    while low < high:
        middle = (low + high) // 2
        if (items[middle][0] >> shift) & 1:
            high = middle
        else:
            low = middle + 1
    return low
