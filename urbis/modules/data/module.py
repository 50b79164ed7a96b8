"""Data: real-time streams shared between departments, and open data with provenance.

A department registers a stream (schema, classification, retention, purpose); its
producer publishes records to its own node's datastore and anchors each batch on chain
by sequence range and Merkle root. Encrypted streams rotate epoch keys when a grant is
revoked; reads of personal streams are logged on chain; datasets name their inputs by
root and carry stewards' quality attestations. Payloads never touch the chain.

D1  a stream's anchors tile 0 .. next_seq-1 with no gap or overlap, and `anchors` counts
    them                                                          (check_anchors)
D2  an encrypted stream's epochs are 1 .. epoch, each starting where the previous ended,
    and its owner is in every epoch's grantees                    (check_epochs)
D3  a stream's `accesses` equals its number of access entries    (check_anchors)
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import StateReader
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.module import ActionSpec, Module
from urbis.modules.data import handlers, keys
from urbis.modules.data.keeper import DataView, scan
from urbis.modules.data.records import (
    AccessEntry,
    AddSchema,
    Anchor,
    AnchorBatch,
    Attest,
    Attestation,
    Epoch,
    Grant,
    GrantAccess,
    PublishDataset,
    RecordAccess,
    RegisterKey,
    RegisterStream,
    RevokeAccess,
    RotateEpoch,
    ShredEpoch,
    ShredSubject,
    Stream,
    check_id,
)

LIST_MAX = 1_000
"""Rows one query returns; clients page with `from`."""


def as_json(record: Any) -> dict[str, Any]:
    """A record for the API: bytes as hex, accounts as text, nested records as maps."""
    return {name: _json_value(getattr(record, name)) for name in record.__slots__}


def _json_value(value: Any) -> Any:
    if hasattr(value, "__slots__") and not isinstance(value, bytes | str | int):
        if hasattr(value, "text"):
            return value.text
        return as_json(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return jsonable(value)


def _id(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    try:
        check_id(value, name)
    except ValueError as error:
        raise BadQuery(str(error)) from None
    return value


def _int(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 19:
        raise BadQuery(f"{name} must be a non-negative integer")
    return int(text)


def query_stream(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    stream_id = _id(params, "id")
    view = DataView(state)
    stream = view.stream(stream_id)
    if stream is None:
        raise NotFound(f"no stream {stream_id}")
    out = as_json(stream)
    schema = view.schema(stream_id, stream.schema_versions)
    out["schema"] = None if schema is None else schema.text
    return out


def query_streams(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    return [as_json(s) for s in scan(state, keys.PREFIX + b"stream/", Stream, LIST_MAX)]


def query_schema(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    stream_id = _id(params, "id")
    version = _int(params, "version", 1)
    schema = DataView(state).schema(stream_id, version) if version < 1 << 32 else None
    if schema is None:
        raise NotFound(f"stream {stream_id} has no schema version {version}")
    return as_json(schema)


def query_anchors(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    """Anchors from the one covering `from` on (at most `limit`)."""
    stream_id = _id(params, "id")
    start = _int(params, "from", 0)
    limit = min(_int(params, "limit", 100), LIST_MAX)
    return [as_json(a) for a in anchors_from(state, stream_id, start, limit)]


def anchors_from(state: Any, stream_id: str, start: int, limit: int) -> list[Anchor]:
    """The anchor holding sequence `start` and those after it, in order."""
    prefix = keys.anchor_prefix(stream_id)
    rows = state.scan_prefix(prefix, 1_000_000) if start else state.scan_prefix(prefix, limit)
    anchors = [
        DataView(state).anchor(stream_id, int.from_bytes(k[len(prefix) :], "big")) for k, _ in rows
    ]
    found = [a for a in anchors if a is not None and a.first_seq + a.count > start]
    return found[:limit]


def query_epochs(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    stream_id = _id(params, "id")
    return [
        as_json(e)
        for e in scan(state, keys.PREFIX + b"epoch/" + stream_id.encode() + b"/", Epoch, LIST_MAX)
    ]


def query_grants(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    stream_id = _id(params, "id")
    return [as_json(g) for g in scan(state, keys.grant_prefix(stream_id), Grant, LIST_MAX)]


def query_access_log(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    stream_id = _id(params, "id")
    return [as_json(a) for a in scan(state, keys.access_prefix(stream_id), AccessEntry, LIST_MAX)]


def query_data_key(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    department = params.get("department", "")
    key = DataView(state).data_key(department)
    if key is None:
        raise NotFound(f"{department!r} has no data key")
    return as_json(key)


def query_dataset(state: Any, params: dict[str, str]) -> dict[str, Any]:
    dataset_id = _id(params, "id")
    version = _int(params, "version", 0)
    if version == 0:  # the latest
        rows = state.scan_prefix(keys.dataset_prefix(dataset_id), 1_000_000)
        if not rows:
            raise NotFound(f"no dataset {dataset_id}")
        version = int.from_bytes(rows[-1][0][-4:], "big")
    dataset = DataView(state).dataset(dataset_id, version) if version < 1 << 32 else None
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id} version {version}")
    out = as_json(dataset)
    out["attestations"] = [
        as_json(a)
        for a in scan(state, keys.attestation_prefix(dataset_id, version), Attestation, 100)
    ]
    return out


def check_anchors(store: Any) -> list[str]:
    """D1 and D3: describe each stream whose anchors or access count do not add up."""
    problems = []
    for stream in scan(store, keys.PREFIX + b"stream/", Stream, 1_000_000):
        expected = 0
        anchors = scan(store, keys.anchor_prefix(stream.id), Anchor, 10_000_000)
        for anchor in anchors:
            if anchor.first_seq != expected:
                problems.append(f"{stream.id}: anchor at {anchor.first_seq}, expected {expected}")
            expected = anchor.first_seq + anchor.count
        if expected != stream.next_seq or len(anchors) != stream.anchors:
            problems.append(
                f"{stream.id}: anchors end at {expected}/{len(anchors)}, stream "
                f"says {stream.next_seq}/{stream.anchors}"
            )
        accesses = scan(store, keys.access_prefix(stream.id), AccessEntry, 10_000_000)
        if len(accesses) != stream.accesses:
            problems.append(
                f"{stream.id}: {len(accesses)} access entries, stream says {stream.accesses}"
            )
    return problems


def check_epochs(store: Any) -> list[str]:
    """D2: describe each encrypted stream whose epochs are not 1..epoch in order."""
    problems = []
    for stream in scan(store, keys.PREFIX + b"stream/", Stream, 1_000_000):
        if stream.classification == "public":
            continue
        epochs = scan(store, keys.PREFIX + b"epoch/" + stream.id.encode() + b"/", Epoch, 100_000)
        if [e.number for e in epochs] != list(range(1, stream.epoch + 1)):
            problems.append(f"{stream.id}: epochs {[e.number for e in epochs]}")
        starts = [e.starts_at_seq for e in epochs]
        if starts != sorted(starts) or any(stream.department not in e.grantees for e in epochs):
            problems.append(f"{stream.id}: epochs out of order or without their owner")
    return problems


def _spec(args: type, handler: Any, role: str | None, doc: str) -> ActionSpec:
    return ActionSpec(args, handler, role, doc)


OWNER = "{department}.data"
"""The role a department's producers and data officers hold for its streams."""

module = Module(
    name="data",
    actions={
        "register_key": _spec(
            RegisterKey, handlers.register_key, OWNER, "Register the department's X25519 data key"
        ),
        "register_stream": _spec(
            RegisterStream, handlers.register_stream, OWNER, "Register a stream"
        ),
        "add_schema": _spec(AddSchema, handlers.add_schema, OWNER, "Add a schema version"),
        "anchor": _spec(
            AnchorBatch,
            handlers.anchor_batch,
            OWNER,
            "Anchor a batch of records by range and Merkle root",
        ),
        "grant": _spec(GrantAccess, handlers.grant_access, OWNER, "Grant read access"),
        "revoke": _spec(
            RevokeAccess, handlers.revoke_access, OWNER, "Revoke a grant and rotate the epoch"
        ),
        "rotate": _spec(RotateEpoch, handlers.rotate_epoch, OWNER, "Start a new epoch"),
        "shred_epoch": _spec(ShredEpoch, handlers.shred_epoch, OWNER, "Destroy an epoch key"),
        "shred_subject": _spec(
            ShredSubject, handlers.shred_subject, OWNER, "Destroy a data subject's key"
        ),
        "access": _spec(
            RecordAccess, handlers.record_access, None, "Log a read of a personal stream"
        ),
        "publish_dataset": _spec(
            PublishDataset, handlers.publish_dataset, OWNER, "Publish an open dataset version"
        ),
        "attest": _spec(
            Attest, handlers.attest, "{department}.steward", "Attest a dataset version's quality"
        ),
    },
    queries={
        "stream": query_stream,
        "streams": query_streams,
        "schema": query_schema,
        "anchors": query_anchors,
        "epochs": query_epochs,
        "grants": query_grants,
        "access_log": query_access_log,
        "data_key": query_data_key,
        "dataset": query_dataset,
    },
    view=DataView,
    prefix=keys.PREFIX,
)

__all__ = ["check_anchors", "check_epochs", "module"]
