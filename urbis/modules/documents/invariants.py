"""Checkers of the invariants in the documents module's docstring; an empty list means fine.

`check_invariants` reads one state; `check_transition` compares the module's state before
and after some blocks (snapshots from `snapshot`), for the invariants about change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from urbis.chain.codec import from_wire
from urbis.crypto.encoding import decode_trusted
from urbis.modules.documents import keys
from urbis.modules.documents.records import DocumentRecord

SCAN_MAX = 1_000_000
"""Checkers run in tests and audits over whole test cities: read every key."""

STATUSES = ("valid", "revoked", "superseded")


def snapshot(state: Any) -> dict[bytes, bytes]:
    """The module's keys and values in `state` (a store with `scan_prefix`)."""
    return dict(state.scan_prefix(keys.PREFIX, SCAN_MAX))


def check_invariants(state: Any) -> list[str]:
    """I1 (each record sits at its own hash's key) and I3 over every record in `state`."""
    records = _records(snapshot(state))
    problems: list[str] = []
    for digest, record in records.items():
        if record.hash != digest or record.status not in STATUSES:
            problems.append(f"I1: record at {digest.hex()} is for {record.hash.hex()}")
        if record.status == "superseded":
            successor = records.get(record.superseded_by)
            if successor is None or successor.supersedes != digest:
                problems.append(f"I3: {digest.hex()} and its successor do not name each other")
        if record.supersedes:
            predecessor = records.get(record.supersedes)
            if predecessor is None or predecessor.superseded_by != digest:
                problems.append(f"I3: {digest.hex()} and its predecessor do not name each other")
    return problems


def check_transition(
    before: Mapping[bytes, bytes],
    after: Mapping[bytes, bytes],
    acting_departments: Collection[str] | None = None,
) -> list[str]:
    """I1 (no record deleted or re-anchored) and I2 (the department, the anchoring and what
    was anchored never change: only the status fields move). With `acting_departments`
    (the departments whose notaries' actions succeeded in between), I2 also checks that
    every record whose status changed belongs to one of them."""
    old, new = _records(before), _records(after)
    problems: list[str] = []
    for digest, record in old.items():
        changed = new.get(digest)
        if changed is None:
            problems.append(f"I1: record {digest.hex()} was deleted")
        elif _anchoring(changed) != _anchoring(record):
            problems.append(f"I2: record {digest.hex()} changed more than its status")
        elif (
            acting_departments is not None
            and changed != record
            and record.department not in acting_departments
        ):
            problems.append(f"I2: {record.department}'s {digest.hex()} changed by another")
    return problems


def _anchoring(record: DocumentRecord) -> DocumentRecord:
    """The record without what revoke and supersede may change."""
    return dataclasses.replace(
        record, status="", superseded_by=b"", revoked_at_height=0, revoked_reason=""
    )


def _records(rows: Mapping[bytes, bytes]) -> dict[bytes, DocumentRecord]:
    prefix = keys.document(b"")
    return {
        key[len(prefix) :]: from_wire(DocumentRecord, decode_trusted(raw))
        for key, raw in rows.items()
        if key.startswith(prefix)
    }
