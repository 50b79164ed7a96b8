"""SHA-256 and domain separation.

Every hash Urbis computes over structured data is tagged, so a transaction body
can never be confused with a block header or a Merkle node of the same bytes.
"""

import hashlib

EMPTY_HASH = b"\x00" * 32
"""The hash of nothing: an empty subtree, an empty list, a missing parent."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_prefixes: dict[str, bytes] = {}
"""Each tag's `urbis/<tag>\\x00`, built once: a block hashes with a few dozen tags,
millions of times."""


def tagged_hash(tag: str, data: bytes) -> bytes:
    """SHA-256 over `urbis/<tag>\\x00` || data."""
    prefix = _prefixes.get(tag)
    if prefix is None:
        prefix = b"urbis/" + tag.encode() + b"\x00"
        if len(_prefixes) < 256:  # tags are the code's own; bounded all the same
            _prefixes[tag] = prefix
    return hashlib.sha256(prefix + data).digest()
