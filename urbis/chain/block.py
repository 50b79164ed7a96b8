"""Block headers, receipts and events.

A header commits to its transactions (`txs_root`), to their receipts
(`results_root`) and to the state after the block (`app_hash`), and is signed
by the validator that proposed it. With a header and a state proof, anyone
can check what the state held without trusting the node that served it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from urbis.crypto.encoding import encode, encode_trusted
from urbis.crypto.hashing import tagged_hash
from urbis.crypto.keys import Signer, verify
from urbis.crypto.merkle import merkle_root

HEADER_DOMAIN = b"urbis/header/v1\x00"


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    attrs: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "attrs": self.attrs}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one transaction did: `code` is "ok" or the error's stable code."""

    tx_id: bytes
    height: int
    index: int
    code: str
    message: str
    events: tuple[Event, ...] = ()
    sender: bytes = b""

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    def to_wire(self) -> dict[str, Any]:
        return {
            "tx_id": self.tx_id,
            "height": self.height,
            "index": self.index,
            "code": self.code,
            "message": self.message,
            "events": [e.to_wire() for e in self.events],
            "sender": self.sender,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Receipt:
        events = tuple(Event(e["type"], e["attrs"]) for e in data["events"])
        return cls(
            data["tx_id"],
            data["height"],
            data["index"],
            data["code"],
            data["message"],
            events,
            data.get("sender", b""),
        )


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: int
    time_ms: int
    prev_hash: bytes
    txs_root: bytes
    results_root: bytes
    app_hash: bytes
    proposer: bytes

    def to_wire(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "time_ms": self.time_ms,
            "prev_hash": self.prev_hash,
            "txs_root": self.txs_root,
            "results_root": self.results_root,
            "app_hash": self.app_hash,
            "proposer": self.proposer,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> BlockHeader:
        return cls(**data)

    def encode(self) -> bytes:
        return encode(self.to_wire())

    @property
    def hash(self) -> bytes:
        return tagged_hash("block", self.encode())


@dataclass(frozen=True, slots=True)
class SignedHeader:
    header: BlockHeader
    signature: bytes

    def verify(self, validator_keys: set[bytes] | frozenset[bytes]) -> bool:
        """True when a known validator proposed and signed this header."""
        return self.header.proposer in validator_keys and verify(
            self.header.proposer, HEADER_DOMAIN + self.header.encode(), self.signature
        )


def sign_header(header: BlockHeader, signer: Signer) -> SignedHeader:
    return SignedHeader(header, signer.sign(HEADER_DOMAIN + header.encode()))


@dataclass
class BlockResult:
    """What finalize_block hands back: receipts, the new app hash, validator changes."""

    height: int
    time_ms: int
    receipts: list[Receipt]
    app_hash: bytes
    txs_root: bytes
    results_root: bytes
    receipt_bytes: list[bytes] = field(default_factory=list)
    validator_updates: list[tuple[bytes, int]] = field(default_factory=list)
    """(ed25519 public key, power) changes for consensus; power 0 removes."""
    block_events: list[Event] = field(default_factory=list)


def encode_receipts(receipts: list[Receipt]) -> list[bytes]:
    """Each receipt's encoding: hashed into the results root and stored as is.

    Receipts are built by our code from typed values (event attributes go
    through the codec), so the input walk of `encode` is skipped here.
    """
    return [encode_trusted(r.to_wire()) for r in receipts]


def receipts_root(receipt_bytes: list[bytes]) -> bytes:
    return merkle_root(receipt_bytes)


def transactions_root(tx_ids: list[bytes]) -> bytes:
    return merkle_root(tx_ids)


def undecodable_tx_id(raw: bytes) -> bytes:
    """The id a block gives bytes that do not decode as a transaction (its receipt's id)."""
    return tagged_hash("tx/raw", raw)
