"""JSON views of chain objects, shared by the API and the SDK.

Bytes become lower-case hex, account ids their `urbis1…` text. One place, so
the API, the CLI's `--json` and the SDK's decoders agree on every field.
"""

from __future__ import annotations

from typing import Any

from urbis.chain.block import Receipt, SignedHeader
from urbis.chain.errors import jsonable
from urbis.chain.ids import AccountId
from urbis.chain.tx import Transaction
from urbis.crypto.encoding import DecodeError, decode


def receipt_view(receipt: Receipt) -> dict[str, Any]:
    return {
        "tx_id": receipt.tx_id.hex(),
        "height": receipt.height,
        "index": receipt.index,
        "ok": receipt.ok,
        "code": receipt.code,
        "message": receipt.message,
        "sender": AccountId(receipt.sender).text if len(receipt.sender) == 20 else None,
        "events": [{"type": e.type, "attrs": jsonable(e.attrs)} for e in receipt.events],
    }


def header_view(signed: SignedHeader) -> dict[str, Any]:
    header = signed.header
    return {
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "prev_hash": header.prev_hash.hex(),
        "txs_root": header.txs_root.hex(),
        "results_root": header.results_root.hex(),
        "app_hash": header.app_hash.hex(),
        "proposer": header.proposer.hex(),
        "hash": header.hash.hex(),
        "signature": signed.signature.hex(),
    }


def tx_view(tx: Transaction) -> dict[str, Any]:
    body = tx.body
    return {
        "id": tx.id.hex(),
        "chain_id": body.chain_id,
        "sender": body.sender.text,
        "nonce": body.nonce,
        "expires_at": body.expires_at,
        "memo": body.memo,
        "actions": [
            {"module": a.module, "name": a.name, "args": jsonable(a.args)} for a in body.actions
        ],
        "signatures": [{"key": s.key.hex(), "sig": s.sig.hex()} for s in tx.signatures],
    }


def value_view(raw: bytes | None) -> Any:
    """A state value decoded from CBOR for reading, or None when it is not CBOR."""
    if raw is None:
        return None
    try:
        return jsonable(decode(raw))
    except DecodeError:
        return None
