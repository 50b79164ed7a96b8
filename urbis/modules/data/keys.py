"""Every state key the data module writes (all under `data/`)."""

from __future__ import annotations

from urbis.chain.keyparts import fixed_width

PREFIX = b"data/"
SEQ_BYTES = 8
"""Sequence numbers are u64 in keys, so anchors of one stream sort by their first record."""


def data_key(department: str) -> bytes:
    """A department's registered X25519 data key (grants wrap epoch keys for it)."""
    return PREFIX + b"key/" + department.encode()


def stream(stream_id: str) -> bytes:
    return PREFIX + b"stream/" + stream_id.encode()


def schema(stream_id: str, version: int) -> bytes:
    return PREFIX + b"schema/" + stream_id.encode() + b"/" + fixed_width(version, 4, "version")


def anchor_prefix(stream_id: str) -> bytes:
    return PREFIX + b"anchor/" + stream_id.encode() + b"/"


def anchor(stream_id: str, first_seq: int) -> bytes:
    return anchor_prefix(stream_id) + fixed_width(first_seq, SEQ_BYTES, "first_seq")


def epoch(stream_id: str, number: int) -> bytes:
    return PREFIX + b"epoch/" + stream_id.encode() + b"/" + fixed_width(number, 4, "epoch")


def grant_prefix(stream_id: str) -> bytes:
    return PREFIX + b"grant/" + stream_id.encode() + b"/"


def grant(stream_id: str, grantee: str) -> bytes:
    return grant_prefix(stream_id) + grantee.encode()


def subject_shred(stream_id: str, pseudonym: bytes) -> bytes:
    return PREFIX + b"shredded-subject/" + stream_id.encode() + b"/" + pseudonym


def access_prefix(stream_id: str) -> bytes:
    return PREFIX + b"access/" + stream_id.encode() + b"/"


def access(stream_id: str, index: int) -> bytes:
    return access_prefix(stream_id) + fixed_width(index, 8, "access index")


def dataset_prefix(dataset_id: str) -> bytes:
    return PREFIX + b"dataset/" + dataset_id.encode() + b"/"


def dataset(dataset_id: str, version: int) -> bytes:
    return dataset_prefix(dataset_id) + fixed_width(version, 4, "dataset version")


def attestation_prefix(dataset_id: str, version: int) -> bytes:
    return (
        PREFIX
        + b"attestation/"
        + dataset_id.encode()
        + b"/"
        + fixed_width(version, 4, "dataset version")
        + b"/"
    )


def attestation(dataset_id: str, version: int, kind: str) -> bytes:
    return attestation_prefix(dataset_id, version) + kind.encode()
