"""Binary Merkle roots and inclusion paths over ordered lists.

Used for a block's transactions and results and for batches of anchored
documents. Leaves and nodes are hashed with different tags, so a node can
never pose as a leaf (the second-preimage trap of plain Merkle trees). An odd
node at the end of a level is promoted unchanged.
"""

from collections.abc import Sequence

from urbis._native import merkle_root as _native_merkle_root
from urbis.crypto.hashing import EMPTY_HASH, tagged_hash


def leaf_hash(item: bytes) -> bytes:
    return tagged_hash("merkle/leaf", item)


def node_hash(left: bytes, right: bytes) -> bytes:
    return tagged_hash("merkle/node", left + right)


def merkle_root(items: Sequence[bytes]) -> bytes:
    """Natively (two roots over every block's transactions); `merkle_root_reference`
    is the same rule in Python, kept to test it against."""
    return _native_merkle_root(list(items))


def merkle_root_reference(items: Sequence[bytes]) -> bytes:
    if not items:
        return EMPTY_HASH
    level = [leaf_hash(item) for item in items]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _next_level(level: list[bytes]) -> list[bytes]:
    paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def merkle_path(items: Sequence[bytes], index: int) -> list[tuple[bool, bytes]]:
    """Siblings from leaf to root as (sibling_is_left, hash)."""
    if not 0 <= index < len(items):
        raise IndexError(f"index {index} outside 0..{len(items) - 1}")
    level = [leaf_hash(item) for item in items]
    path: list[tuple[bool, bytes]] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            path.append((sibling < index, level[sibling]))
        level = _next_level(level)
        index //= 2
    return path


def verify_merkle_path(item: bytes, path: Sequence[tuple[bool, bytes]], root: bytes) -> bool:
    current = leaf_hash(item)
    for sibling_is_left, sibling in path:
        current = node_hash(sibling, current) if sibling_is_left else node_hash(current, sibling)
    return current == root
