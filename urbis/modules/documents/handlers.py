"""Documents handlers: each checks everything first, then writes."""

from __future__ import annotations

import dataclasses

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.modules.documents import keys
from urbis.modules.documents.errors import (
    AlreadyAnchored,
    AlreadyRevoked,
    NotCurrent,
    NotFound,
    WrongDepartment,
)
from urbis.modules.documents.keeper import read_document
from urbis.modules.documents.records import (
    Anchor,
    AnchorBatch,
    DocumentRecord,
    Revoke,
    Supersede,
)


def anchor(ctx: Context, sender: AccountId, args: Anchor) -> None:
    _require_new(ctx, args.hash)
    ctx.state.put_record(
        keys.document(args.hash),
        _record(ctx, sender, args.department, args.hash, args.doc_type, args.reference),
    )
    ctx.emit(
        "documents.anchored",
        hash=args.hash,
        department=args.department,
        doc_type=args.doc_type,
        by=sender,
    )


def anchor_batch(ctx: Context, sender: AccountId, args: AnchorBatch) -> None:
    _require_new(ctx, args.root)
    record = _record(ctx, sender, args.department, args.root, args.doc_type, args.reference)
    ctx.state.put_record(
        keys.document(args.root), dataclasses.replace(record, batch_count=args.count)
    )
    ctx.emit(
        "documents.batch_anchored",
        root=args.root,
        count=args.count,
        department=args.department,
        doc_type=args.doc_type,
        by=sender,
    )


def revoke(ctx: Context, sender: AccountId, args: Revoke) -> None:
    record = _owned(ctx, args.department, args.hash)
    if record.status == "revoked":
        raise AlreadyRevoked(
            f"document {args.hash.hex()} was revoked at {record.revoked_at_height}"
        )
    revoked = dataclasses.replace(
        record, status="revoked", revoked_at_height=ctx.block.height, revoked_reason=args.reason
    )
    ctx.state.put_record(keys.document(args.hash), revoked)
    ctx.emit(
        "documents.revoked",
        hash=args.hash,
        department=args.department,
        by=sender,
        reason=args.reason,
    )


def supersede(ctx: Context, sender: AccountId, args: Supersede) -> None:
    old = _owned(ctx, args.department, args.old_hash)
    if old.status != "valid":
        raise NotCurrent(f"document {args.old_hash.hex()} is {old.status}")
    _require_new(ctx, args.new_hash)
    new = dataclasses.replace(
        _record(ctx, sender, args.department, args.new_hash, args.doc_type, args.reference),
        supersedes=args.old_hash,
    )
    ctx.state.put_record(keys.document(args.new_hash), new)
    ctx.state.put_record(
        keys.document(args.old_hash),
        dataclasses.replace(old, status="superseded", superseded_by=args.new_hash),
    )
    ctx.emit(
        "documents.superseded",
        old_hash=args.old_hash,
        new_hash=args.new_hash,
        department=args.department,
        by=sender,
    )


def _require_new(ctx: Context, digest: bytes) -> None:
    if ctx.state.get(keys.document(digest)) is not None:
        raise AlreadyAnchored(f"document {digest.hex()} is already anchored")


def _owned(ctx: Context, department: str, digest: bytes) -> DocumentRecord:
    record = read_document(ctx.state, digest)
    if record is None:
        raise NotFound(f"no document {digest.hex()}")
    if record.department != department:
        raise WrongDepartment(
            f"document {digest.hex()} belongs to {record.department}, not {department}"
        )
    return record


def _record(
    ctx: Context,
    sender: AccountId,
    department: str,
    digest: bytes,
    doc_type: str,
    reference: str,
) -> DocumentRecord:
    return DocumentRecord(
        hash=digest,
        department=department,
        doc_type=doc_type,
        reference=reference,
        anchored_by=sender,
        anchored_at_height=ctx.block.height,
        time_ms=ctx.block.time_ms,
        tx_id=ctx.tx_id,
        status="valid",
    )
