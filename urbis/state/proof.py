"""State proofs and their verifier; depends on crypto only, so clients can check them.

The tree is a binary sparse Merkle tree over `key_hash = H("state/key", key)`,
with each leaf lifted to the shallowest depth at which its subtree holds only
that leaf. A proof lists the sibling hashes from the root down to where the
key's path ends: at its own leaf (inclusion), at an empty subtree, or at a
different leaf whose hash shares the path so far (both absence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from urbis.crypto.hashing import EMPTY_HASH, sha256, tagged_hash

LEAF = 0
INTERNAL = 1
KEY_BITS = 256


class ProofError(ValueError):
    """A proof does not show what it claims against the given root."""


def key_hash(key: bytes) -> bytes:
    return tagged_hash("state/key", key)


def value_hash(value: bytes) -> bytes:
    return tagged_hash("state/value", value)


def leaf_node(key_digest: bytes, value_digest: bytes) -> bytes:
    return bytes([LEAF]) + key_digest + value_digest


def internal_node(left: bytes, right: bytes) -> bytes:
    return bytes([INTERNAL]) + left + right


def node_digest(node: bytes) -> bytes:
    return sha256(node)


def bit_at(digest: bytes, depth: int) -> int:
    return (digest[depth >> 3] >> (7 - (depth & 7))) & 1


@dataclass(frozen=True, slots=True)
class StateProof:
    """What `key` held in the state whose root is `root` (after block `height`)."""

    key: bytes
    value: bytes | None
    siblings: tuple[bytes, ...]
    leaf: tuple[bytes, bytes] | None
    root: bytes
    height: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key.hex(),
            "value": None if self.value is None else self.value.hex(),
            "siblings": [s.hex() for s in self.siblings],
            "leaf": None if self.leaf is None else [self.leaf[0].hex(), self.leaf[1].hex()],
            "root": self.root.hex(),
            "height": self.height,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StateProof:
        try:
            leaf = data.get("leaf")
            value = data.get("value")
            return cls(
                key=bytes.fromhex(data["key"]),
                value=None if value is None else bytes.fromhex(value),
                siblings=tuple(bytes.fromhex(s) for s in data["siblings"]),
                leaf=None if leaf is None else (bytes.fromhex(leaf[0]), bytes.fromhex(leaf[1])),
                root=bytes.fromhex(data["root"]),
                height=int(data["height"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ProofError(f"malformed proof: {error}") from None


def verify_state_proof(proof: StateProof, root: bytes | None = None) -> None:
    """Raise ProofError unless `proof` shows `proof.value` (None: absent) under `root`.

    `root` defaults to the proof's own; pass the app hash from a signed header
    to make the check mean something.
    """
    expected_root = proof.root if root is None else root
    if len(proof.siblings) > KEY_BITS:
        raise ProofError("proof is deeper than the key space")
    if any(len(s) != 32 for s in proof.siblings):
        raise ProofError("sibling hashes must be 32 bytes")
    digest = key_hash(proof.key)
    depth = len(proof.siblings)
    if proof.value is not None:
        if proof.leaf != (digest, value_hash(proof.value)):
            raise ProofError("leaf does not hold this key and value")
    elif proof.leaf is not None:
        other = proof.leaf[0]
        if other == digest:
            raise ProofError("claims absence but the leaf is this key")
        if any(bit_at(other, d) != bit_at(digest, d) for d in range(depth)):
            raise ProofError("leaf is not on this key's path")
    current = EMPTY_HASH if proof.leaf is None else node_digest(leaf_node(*proof.leaf))
    for level in range(depth - 1, -1, -1):
        sibling = proof.siblings[level]
        if bit_at(digest, level):
            current = node_digest(internal_node(sibling, current))
        else:
            current = node_digest(internal_node(current, sibling))
    if current != expected_root:
        raise ProofError("proof does not lead to the expected root")
