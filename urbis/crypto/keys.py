"""Ed25519 keys and signatures.

Keys and signing are libsodium's, through PyNaCl. Checks run natively
(`urbis._native.ed25519_verify_many`: libsodium's rules, which are also
ed25519-dalek's `verify_strict`, on curve25519-dalek) with the GIL released for a
whole chunk, so `verify_many` and `verify_stream` use every core while the calling
thread goes on executing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import nacl.bindings

from urbis._native import ed25519_verify, ed25519_verify_many

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32


@dataclass(frozen=True, slots=True)
class PublicKey:
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise ValueError(
                f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, got {len(self.raw)}"
            )

    def verify(self, message: bytes, signature: bytes) -> bool:
        return verify(self.raw, message, signature)

    def hex(self) -> str:
        return self.raw.hex()


@dataclass(frozen=True, slots=True, repr=False)
class PrivateKey:
    """An Ed25519 signing key; `repr` never shows the seed."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise ValueError(f"an Ed25519 seed is {SEED_SIZE} bytes, got {len(self.seed)}")

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(os.urandom(SEED_SIZE))

    @property
    def public_key(self) -> PublicKey:
        public, _ = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        return PublicKey(public)

    def sign(self, message: bytes) -> bytes:
        _, secret = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        return nacl.bindings.crypto_sign(message, secret)[:SIGNATURE_SIZE]

    def signer(self) -> Signer:
        """A signer that derives the expanded key once, for signing many messages."""
        return Signer(self.seed)

    def __repr__(self) -> str:
        return f"PrivateKey(public={self.public_key.hex()[:16]}…)"


class Signer:
    """Signs with a key expanded once (signing in loops otherwise re-derives it)."""

    __slots__ = ("_secret", "public_key")

    def __init__(self, seed: bytes) -> None:
        public, self._secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        self.public_key = PublicKey(public)

    def sign(self, message: bytes) -> bytes:
        return nacl.bindings.crypto_sign(message, self._secret)[:SIGNATURE_SIZE]


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` by `public_key`."""
    return ed25519_verify(public_key, message, signature)


def _verify_chunk(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    return ed25519_verify_many(list(items))


_CPUS = os.cpu_count() or 1
"""Read once: os.cpu_count() reads /proc on every call, and every CheckTx burst asked."""

_POOL: ThreadPoolExecutor | None = None
PARALLEL_MIN = 64
"""Below this many signatures a thread hand-off costs more than it saves."""


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="urbis-verify")
    return _POOL


def verify_many(
    items: Sequence[tuple[bytes, bytes, bytes]], threads: int | None = None
) -> list[bool]:
    """Verify (public_key, message, signature) triples on all cores; results in input order."""
    workers = threads or _CPUS
    if workers <= 1 or len(items) < PARALLEL_MIN:
        return _verify_chunk(items)
    size = -(-len(items) // workers)
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    results: list[bool] = []
    for part in _pool(workers).map(_verify_chunk, chunks):
        results.extend(part)
    return results


STREAM_CHUNK = 256
"""Small enough that execution starts soon, large enough that hand-offs stay cheap."""


def verify_stream(items: Sequence[tuple[bytes, bytes, bytes]]) -> Iterator[bool]:
    """Like verify_many, but yields results in order while later chunks still verify,
    so a block's execution overlaps its signature checks."""
    workers = _CPUS
    if workers <= 1 or len(items) < PARALLEL_MIN:
        yield from _verify_chunk(items)
        return
    pool = _pool(workers)
    futures = [
        pool.submit(_verify_chunk, items[start : start + STREAM_CHUNK])
        for start in range(0, len(items), STREAM_CHUNK)
    ]
    for future in futures:
        yield from future.result()
