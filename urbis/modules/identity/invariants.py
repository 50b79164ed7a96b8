"""Checkers of the invariants in the identity module's docstring; an empty list means fine.

I1 (no personal data) is checked by shape: every key is one of the layouts in keys.py and
every value decodes as the record that layout holds (a status page is bits, of a fixed
size), so no free-form value can hide among them. `check_transition` compares the module's
state before and after some blocks (snapshots from `snapshot`) for I2, I3 and I4.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.identity import keys
from urbis.modules.identity.records import (
    PAGE_BYTES,
    CredentialType,
    StatusList,
    TrustRecord,
    VerifierRegistration,
)

SCAN_MAX = 1_000_000
"""Checkers run in tests and audits over whole test cities: read every key."""

ID_BYTES = 20
NUMBER_BYTES = 4


def snapshot(state: Any) -> dict[bytes, bytes]:
    """The module's keys and values in `state` (a store with `scan_prefix`)."""
    return dict(state.scan_prefix(keys.PREFIX, SCAN_MAX))


def check_invariants(state: Any) -> list[str]:
    """I1 by shape, I2 (only a trust record's last period may be open) and I3 (a list's
    pages are whole and within its size) over every record in `state`."""
    rows = snapshot(state)
    lists = _lists(rows)
    problems: list[str] = []
    for key, raw in rows.items():
        kind = _kind(key)
        if kind is None:
            problems.append(f"I1: unexpected key {key!r}")
        elif kind == "page":
            problems += _check_page(key, raw, lists)
        elif kind == "allocation":
            problems += _check_allocation(key, raw, lists)
        elif kind == "trust":
            problems += _check_periods(key, from_wire(TrustRecord, decode_trusted(raw)))
        else:
            record_type = {
                "type": CredentialType,
                "list": StatusList,
                "verifier": VerifierRegistration,
            }[kind]
            from_wire(record_type, decode_trusted(raw))  # raises if it is anything else
    return problems


def _kind(key: bytes) -> str | None:
    """Which layout of keys.py `key` has (None: none of them)."""
    if key.startswith(keys.TYPE_PREFIX):
        return "type"
    if key.startswith(keys.TRUST_PREFIX):
        return "trust"
    if key.startswith(keys.VERIFIER_PREFIX):
        return "verifier" if len(key) == len(keys.VERIFIER_PREFIX) + ID_BYTES else None
    if key.startswith(keys.ALLOCATION_PREFIX):
        size = len(keys.allocation_page(AccountId(bytes(ID_BYTES)), 0, 0))
        return "allocation" if len(key) == size else None
    list_key = keys.status_list(AccountId(bytes(ID_BYTES)), 0)
    if key.startswith(keys.STATUS_PREFIX):
        if len(key) == len(list_key):
            return "list"
        if len(key) == len(keys.status_page(AccountId(bytes(ID_BYTES)), 0, 0)):
            return "page"
    return None


def _lists(rows: Mapping[bytes, bytes]) -> dict[bytes, StatusList]:
    return {
        key: from_wire(StatusList, decode_trusted(raw))
        for key, raw in rows.items()
        if _kind(key) == "list"
    }


def _check_page(key: bytes, raw: bytes, lists: Mapping[bytes, StatusList]) -> list[str]:
    owner = lists.get(key[: -1 - NUMBER_BYTES])
    if owner is None:
        return [f"I3: status page {key!r} has no list"]
    page = int.from_bytes(key[-NUMBER_BYTES:], "big")
    pages = -(-owner.size * owner.bits // (PAGE_BYTES * 8))
    if len(raw) != PAGE_BYTES or page >= pages:
        return [f"I3: page {page} of {owner.issuer}'s list {owner.list_id} outside its size"]
    return []


def _check_allocation(key: bytes, raw: bytes, lists: Mapping[bytes, StatusList]) -> list[str]:
    start = len(keys.ALLOCATION_PREFIX)
    issuer = AccountId(key[start : start + ID_BYTES])
    list_id = int.from_bytes(key[start + ID_BYTES + 1 : start + ID_BYTES + 1 + NUMBER_BYTES], "big")
    owner = lists.get(keys.status_list(issuer, list_id))
    if owner is None:
        return [f"I4: allocation page {key!r} has no list"]
    page = int.from_bytes(key[-NUMBER_BYTES:], "big")
    if len(raw) != PAGE_BYTES or page >= -(-owner.size // (PAGE_BYTES * 8)):
        return [f"I4: allocation page {page} of {issuer}'s list {list_id} outside its size"]
    return []


def _check_periods(key: bytes, record: TrustRecord) -> list[str]:
    for index, period in enumerate(record.periods):
        is_last = index == len(record.periods) - 1
        if period.until_at_height == 0 and not is_last:
            return [f"I2: trust {key!r} has an open period before its last"]
        if period.until_at_height and period.until_ms < period.since_ms:
            return [f"I2: trust {key!r} ends before it starts"]
    return []


def check_transition(before: Mapping[bytes, bytes], after: Mapping[bytes, bytes]) -> list[str]:
    """I2: trust periods are only appended or ended, never rewritten or removed; I3: a
    status list stays, with the same size and bits; I4: a handed-out index stays handed out."""
    problems: list[str] = []
    for key, raw in before.items():
        kind = _kind(key)
        new = after.get(key)
        if kind == "trust":
            old_periods = from_wire(TrustRecord, decode_trusted(raw)).periods
            new_periods = [] if new is None else from_wire(TrustRecord, decode_trusted(new)).periods
            kept = new_periods[: len(old_periods)]
            ended = [dataclasses.replace(p, until_at_height=0, until_ms=0) for p in kept]
            opened = [dataclasses.replace(p, until_at_height=0, until_ms=0) for p in old_periods]
            closed_changed = any(
                o.until_at_height and o != n for o, n in zip(old_periods, kept, strict=False)
            )
            if len(kept) < len(old_periods) or ended != opened or closed_changed:
                problems.append(f"I2: trust {key!r} was rewritten")
        elif kind == "allocation":
            still = bytes(a & b for a, b in zip(raw, new or bytes(len(raw)), strict=False))
            if still != raw:
                problems.append(f"I4: allocation page {key!r} lost a handed-out index")
        elif kind == "list":
            old_list = from_wire(StatusList, decode_trusted(raw))
            new_list = None if new is None else from_wire(StatusList, decode_trusted(new))
            if new_list is None or (new_list.size, new_list.bits) != (old_list.size, old_list.bits):
                problems.append(f"I3: {old_list.issuer}'s list {old_list.list_id} changed shape")
    return problems
