"""The transaction envelope: what is signed, what is hashed, how it is encoded.

    Transaction = {body: {chain_id, sender, nonce, actions[], expires_at, memo},
                   signatures: [{key, sig}]}

Signatures cover `signing_bytes(body)`: a domain tag plus the deterministic
CBOR of the body. The transaction id is the hash of the body, so it is known
before signing and a set of signatures cannot change it. `expires_at` is the
last block height at which the transaction may be included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from urbis.chain.errors import MalformedTx, TxTooLarge
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import DecodeError, decode, encode
from urbis.crypto.hashing import tagged_hash
from urbis.crypto.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Signer

TX_SIZE_MAX = 64 * 1024
"""A document anchor is ~200 bytes; 64 KiB leaves room for batches and contract calls."""

ACTIONS_PER_TX_MAX = 32
SIGNATURES_PER_TX_MAX = 16
MEMO_SIZE_MAX = 256
SIGNING_DOMAIN = b"urbis/tx/v1\x00"


@dataclass(frozen=True, slots=True)
class Action:
    module: str
    name: str
    args: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"module": self.module, "name": self.name, "args": self.args}


@dataclass(frozen=True, slots=True)
class TxBody:
    chain_id: str
    sender: AccountId
    nonce: int
    actions: tuple[Action, ...]
    expires_at: int
    memo: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender.raw,
            "nonce": self.nonce,
            "actions": [a.to_wire() for a in self.actions],
            "expires_at": self.expires_at,
            "memo": self.memo,
        }


@dataclass(frozen=True, slots=True)
class Signature:
    key: bytes
    sig: bytes


@dataclass(frozen=True, slots=True)
class Transaction:
    body: TxBody
    signatures: tuple[Signature, ...]
    raw: bytes = field(default=b"", compare=False)
    body_bytes: bytes = field(default=b"", compare=False)

    @property
    def id(self) -> bytes:
        return tx_id(self.body_bytes)

    def signed_message(self) -> bytes:
        return SIGNING_DOMAIN + self.body_bytes


def tx_id(body_bytes: bytes) -> bytes:
    return tagged_hash("tx", body_bytes)


def encode_body(body: TxBody) -> bytes:
    return encode(body.to_wire())


def sign_tx(body: TxBody, signers: Sequence[Signer]) -> Transaction:
    body_bytes = encode_body(body)
    message = SIGNING_DOMAIN + body_bytes
    signatures = tuple(Signature(s.public_key.raw, s.sign(message)) for s in signers)
    raw = encode(
        {
            "body": body.to_wire(),
            "signatures": [{"key": s.key, "sig": s.sig} for s in signatures],
        }
    )
    return Transaction(body, signatures, raw, body_bytes)


def decode_tx(raw: bytes) -> Transaction:
    """Parse and structurally check a transaction; raise MalformedTx or TxTooLarge."""
    if len(raw) > TX_SIZE_MAX:
        raise TxTooLarge(f"transaction is {len(raw)} bytes; the limit is {TX_SIZE_MAX}")
    try:
        data = decode(raw)
    except DecodeError as error:
        raise MalformedTx(f"transaction is not deterministic CBOR: {error}") from None
    # dict.keys() compares with a set without building one: every node decodes every
    # transaction, so these checks run some 4,000 times a second per node.
    if type(data) is not dict or data.keys() != _TX_FIELDS:
        raise MalformedTx("a transaction is a map with exactly 'body' and 'signatures'")
    body = _body(data["body"])
    signatures = _signatures(data["signatures"])
    raw = bytes(raw)
    return Transaction(body, signatures, raw, _body_bytes(raw, data, len(signatures)))


_TX_FIELDS = frozenset({"body", "signatures"})
_SIGNATURES_KEY = encode("signatures")
_RAW_PREFIX = b"\xa2\x64body"
"""A canonical transaction is the 2-map {"body", "signatures"}; "body" sorts first."""

_SIGNATURE_ENTRY_SIZE = len(encode({"key": bytes(PUBLIC_KEY_SIZE), "sig": bytes(SIGNATURE_SIZE)}))
"""Every signature entry encodes to the same size: its two byte strings have fixed lengths."""


def _body_bytes(raw: bytes, data: dict[str, Any], signature_count: int) -> bytes:
    """The body's own encoding, cut from the raw bytes (already proven canonical).

    The signatures are the tail: the key "signatures", an array header (one byte below
    24 entries) and entries of one fixed size, so the body ends where they begin."""
    tail = len(_SIGNATURES_KEY) + 1 + signature_count * _SIGNATURE_ENTRY_SIZE
    end = len(raw) - tail
    if (
        signature_count < 24
        and raw.startswith(_RAW_PREFIX)
        and raw.startswith(_SIGNATURES_KEY, end)
    ):
        return raw[len(_RAW_PREFIX) : end]
    return encode(data["body"])


_BODY_FIELDS = frozenset({"chain_id", "sender", "nonce", "actions", "expires_at", "memo"})
_ACTION_FIELDS = frozenset({"module", "name", "args"})
_SIGNATURE_FIELDS = frozenset({"key", "sig"})


def _body(data: Any) -> TxBody:
    if type(data) is not dict or data.keys() != _BODY_FIELDS:
        raise MalformedTx(f"body must have exactly the fields {sorted(_BODY_FIELDS)}")
    chain_id, sender, nonce = data["chain_id"], data["sender"], data["nonce"]
    expires_at, memo, actions = data["expires_at"], data["memo"], data["actions"]
    if not isinstance(chain_id, str) or not chain_id:
        raise MalformedTx("chain_id must be non-empty text")
    if not isinstance(sender, bytes) or len(sender) != 20:
        raise MalformedTx("sender must be a 20-byte account id")
    if not _uint(nonce):
        raise MalformedTx("nonce must be an unsigned 64-bit integer")
    if not _uint(expires_at):
        raise MalformedTx("expires_at must be an unsigned 64-bit block height")
    if not isinstance(memo, str) or len(memo.encode()) > MEMO_SIZE_MAX:
        raise MalformedTx(f"memo must be text of at most {MEMO_SIZE_MAX} bytes")
    if not isinstance(actions, list) or not 1 <= len(actions) <= ACTIONS_PER_TX_MAX:
        raise MalformedTx(f"a transaction carries 1 to {ACTIONS_PER_TX_MAX} actions")
    parsed = []
    for index, action in enumerate(actions):
        if type(action) is not dict or action.keys() != _ACTION_FIELDS:
            raise MalformedTx(f"action {index} must have exactly module, name and args")
        if not isinstance(action["module"], str) or not isinstance(action["name"], str):
            raise MalformedTx(f"action {index}: module and name must be text")
        if not isinstance(action["args"], dict):
            raise MalformedTx(f"action {index}: args must be a map")
        parsed.append(Action(action["module"], action["name"], action["args"]))
    return TxBody(chain_id, AccountId(sender), nonce, tuple(parsed), expires_at, memo)


def _signatures(data: Any) -> tuple[Signature, ...]:
    if not isinstance(data, list) or not 1 <= len(data) <= SIGNATURES_PER_TX_MAX:
        raise MalformedTx(f"a transaction carries 1 to {SIGNATURES_PER_TX_MAX} signatures")
    out = []
    for index, item in enumerate(data):
        if type(item) is not dict or item.keys() != _SIGNATURE_FIELDS:
            raise MalformedTx(f"signature {index} must have exactly key and sig")
        key, sig = item["key"], item["sig"]
        if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_SIZE:
            raise MalformedTx(f"signature {index}: key must be {PUBLIC_KEY_SIZE} bytes")
        if not isinstance(sig, bytes) or len(sig) != SIGNATURE_SIZE:
            raise MalformedTx(f"signature {index}: sig must be {SIGNATURE_SIZE} bytes")
        out.append(Signature(key, sig))
    if len(out) > 1 and len({s.key for s in out}) != len(out):
        raise MalformedTx("the same key signed twice")
    return tuple(out)


def _uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64
