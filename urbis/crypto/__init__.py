"""Keys, signatures, hashing and the one deterministic encoding everything signed uses.

This layer knows nothing else in Urbis, so the SDK and a standalone proof verifier
can import it alone.
"""

from urbis.crypto.encoding import DecodeError, decode, encode
from urbis.crypto.hashing import EMPTY_HASH, sha256, tagged_hash
from urbis.crypto.keys import PrivateKey, PublicKey, verify, verify_many

__all__ = [
    "EMPTY_HASH",
    "DecodeError",
    "PrivateKey",
    "PublicKey",
    "decode",
    "encode",
    "sha256",
    "tagged_hash",
    "verify",
    "verify_many",
]
