"""Documents: public documents anchored by departments (the Dubai case).

A department's notary anchors a document's SHA-256 (or a batch's Merkle
root), revokes it, or supersedes it with a new version. Anyone holding the
file can prove, against a signed block header, whether and when it was
anchored, by whom, and whether it is still current.

I1  a hash is anchored at most once; its record is never deleted
I2  only the anchoring department changes a record's status
I3  a superseded record names its successor and the successor names it
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import StateReader
from urbis.chain.errors import BadQuery
from urbis.chain.errors import NotFound as QueryNotFound
from urbis.chain.module import ActionSpec, Module
from urbis.modules.documents import handlers, keys
from urbis.modules.documents.keeper import DocumentsKeeper, DocumentsView, read_document
from urbis.modules.documents.records import (
    Anchor,
    AnchorBatch,
    DocumentRecord,
    Revoke,
    Supersede,
)

NOTARY = "{department}.notary"


def query_document(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        digest = bytes.fromhex(params.get("hash", ""))
    except ValueError:
        raise BadQuery("hash must be hex") from None
    if len(digest) != 32:
        raise BadQuery("hash must be a 32-byte SHA-256 digest (64 hex digits)")
    record = read_document(state, digest)
    if record is None:
        raise QueryNotFound(f"no document {digest.hex()}")
    return record_json(record)


def record_json(record: DocumentRecord) -> dict[str, Any]:
    return {
        "hash": record.hash.hex(),
        "department": record.department,
        "doc_type": record.doc_type,
        "reference": record.reference,
        "anchored_by": record.anchored_by.text,
        "anchored_at_height": record.anchored_at_height,
        "time_ms": record.time_ms,
        "tx_id": record.tx_id.hex(),
        "status": record.status,
        "batch_count": record.batch_count,
        "supersedes": record.supersedes.hex(),
        "superseded_by": record.superseded_by.hex(),
        "revoked_at_height": record.revoked_at_height,
        "revoked_reason": record.revoked_reason,
    }


module = Module(
    name="documents",
    actions={
        "anchor": ActionSpec(Anchor, handlers.anchor, NOTARY, "Anchor a document's hash"),
        "anchor_batch": ActionSpec(
            AnchorBatch, handlers.anchor_batch, NOTARY, "Anchor a Merkle root over many documents"
        ),
        "revoke": ActionSpec(Revoke, handlers.revoke, NOTARY, "Revoke an anchored document"),
        "supersede": ActionSpec(
            Supersede, handlers.supersede, NOTARY, "Anchor a new version of a document"
        ),
    },
    queries={"document": query_document},
    keeper=DocumentsKeeper,
    view=DocumentsView,
    prefix=keys.PREFIX,
)
