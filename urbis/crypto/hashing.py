"""SHA-256 and domain separation.

Every hash Urbis computes over structured data is tagged, so a transaction body
can never be confused with a block header or a Merkle node of the same bytes.
"""

import hashlib

EMPTY_HASH = b"\x00" * 32
"""The hash of nothing: an empty subtree, an empty list, a missing parent."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tagged_hash(tag: str, data: bytes) -> bytes:
    """SHA-256 over `urbis/<tag>\\x00` || data."""
    return hashlib.sha256(b"urbis/" + tag.encode() + b"\x00" + data).digest()
