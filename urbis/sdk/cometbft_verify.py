"""Verify reads against CometBFT-signed headers, as a light client does.

A state proof for the state after block H is checked against the header of
block H+1 (whose `app_hash` is that state), and the header against the
commit: precommit signatures by validators holding more than 2/3 of the
trusted validator set's voting power, over CometBFT's canonical vote bytes.

The few protobuf messages involved are encoded here by hand (field numbers
from CometBFT's .proto files), so a verifier needs neither Go nor generated
code; a test checks these bytes against the generated types and real headers.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from urbis.crypto.encoding import uvarint
from urbis.crypto.hashing import sha256
from urbis.crypto.keys import verify
from urbis.state.proof import ProofError

PRECOMMIT = 2
BLOCK_ID_FLAG_COMMIT = 2


# -- protobuf wire encoding: just what these messages need ---------------------------


def _key(field: int, wire_type: int) -> bytes:
    return uvarint(field << 3 | wire_type)


def _uint(field: int, value: int) -> bytes:
    return _key(field, 0) + uvarint(value) if value else b""


def _bytes(field: int, value: bytes) -> bytes:
    return _key(field, 2) + uvarint(len(value)) + value if value else b""


def _message(field: int, encoded: bytes) -> bytes:
    """An embedded message that gogoproto marks non-nullable: present even when empty."""
    return _key(field, 2) + uvarint(len(encoded)) + encoded


def _sfixed64(field: int, value: int) -> bytes:
    return _key(field, 1) + (value & ((1 << 64) - 1)).to_bytes(8, "little") if value else b""


@dataclass(frozen=True, slots=True)
class Timestamp:
    seconds: int
    nanos: int

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        """RFC 3339 with up to nanosecond precision, as CometBFT writes it."""
        main, _, rest = text.rstrip("Z").partition(".")
        fraction = "".join(c for c in rest if c.isdigit())
        seconds = int(datetime.fromisoformat(main).replace(tzinfo=UTC).timestamp())
        return cls(seconds, int((fraction + "000000000")[:9]) if fraction else 0)

    def encode(self) -> bytes:
        return _uint(1, self.seconds) + _uint(2, self.nanos)


def _block_id(hash_: bytes, total: int, parts_hash: bytes) -> bytes:
    part_set_header = _uint(1, total) + _bytes(2, parts_hash)
    return _bytes(1, hash_) + _message(2, part_set_header)


# -- headers ------------------------------------------------------------------------------


def merkle_hash(items: list[bytes]) -> bytes:
    """RFC 6962 tree hash, as CometBFT's crypto/merkle computes it."""
    if not items:
        return sha256(b"")
    if len(items) == 1:
        return sha256(b"\x00" + items[0])
    split = 1 << (len(items) - 1).bit_length() - 1
    return sha256(b"\x01" + merkle_hash(items[:split]) + merkle_hash(items[split:]))


def _hex(value: str | None) -> bytes:
    return bytes.fromhex(value or "")


def header_hash(header: Mapping[str, Any]) -> bytes:
    """The block hash CometBFT computes from a header (RPC JSON form)."""
    version = _uint(1, int(header["version"]["block"])) + _uint(
        2, int(header["version"].get("app", 0))
    )
    last = header["last_block_id"]
    last_block_id = _block_id(
        _hex(last["hash"]), int(last["parts"]["total"]), _hex(last["parts"]["hash"])
    )
    fields = [
        version,
        _bytes(1, header["chain_id"].encode()),
        _uint(1, int(header["height"])),
        Timestamp.parse(header["time"]).encode(),
        last_block_id,
        *(
            _bytes(1, _hex(header[name]))
            for name in (
                "last_commit_hash",
                "data_hash",
                "validators_hash",
                "next_validators_hash",
                "consensus_hash",
                "app_hash",
                "last_results_hash",
                "evidence_hash",
                "proposer_address",
            )
        ),
    ]
    return merkle_hash(fields)


def vote_sign_bytes(
    chain_id: str,
    height: int,
    round_: int,
    block_hash: bytes,
    parts_total: int,
    parts_hash: bytes,
    timestamp: Timestamp,
) -> bytes:
    """CometBFT's canonical precommit bytes for a commit signature, length-delimited."""
    body = (
        _uint(1, PRECOMMIT)
        + _sfixed64(2, height)
        + _sfixed64(3, round_)
        + _bytes(4, _block_id(block_hash, parts_total, parts_hash))
        + _message(5, timestamp.encode())
        + _bytes(6, chain_id.encode())
    )
    return uvarint(len(body)) + body


# -- commits ------------------------------------------------------------------------------


def verify_commit(
    signed_header: Mapping[str, Any], validators: Mapping[bytes, int], chain_id: str
) -> bytes:
    """Check a signed header against trusted validators {ed25519 key: power}; return app_hash.

    Raises ProofError unless the header is for `chain_id`, hashes to the block
    the commit is for, and carries valid precommits from more than 2/3 of the
    trusted voting power.
    """
    try:
        header, commit = signed_header["header"], signed_header["commit"]
        if header["chain_id"] != chain_id:
            raise ProofError(f"header is from chain {header['chain_id']!r}, not {chain_id!r}")
        block = commit["block_id"]
        block_hash = _hex(block["hash"])
        if header_hash(header) != block_hash:
            raise ProofError("the commit is not for this header (block hash differs)")
        if int(commit["height"]) != int(header["height"]):
            raise ProofError("commit and header are for different heights")
        by_address = {sha256(key)[:20]: (key, power) for key, power in validators.items()}
        total = sum(validators.values())
        signed_power = 0
        seen: set[bytes] = set()
        for signature in commit["signatures"]:
            if int(signature["block_id_flag"]) != BLOCK_ID_FLAG_COMMIT:
                continue
            address = _hex(signature["validator_address"])
            if address not in by_address or address in seen:
                continue
            key, power = by_address[address]
            message = vote_sign_bytes(
                chain_id,
                int(commit["height"]),
                int(commit["round"]),
                block_hash,
                int(block["parts"]["total"]),
                _hex(block["parts"]["hash"]),
                Timestamp.parse(signature["timestamp"]),
            )
            if verify(key, message, base64.b64decode(signature["signature"])):
                seen.add(address)
                signed_power += power
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"malformed signed header: {error}") from None
    if total == 0 or 3 * signed_power <= 2 * total:
        raise ProofError(
            f"commit signed by {signed_power} of {total} trusted voting power; more than 2/3 needed"
        )
    return _hex(header["app_hash"])
