"""Checkers of the invariants in the payments module's docstring; an empty list means fine.

Each checker names the invariant it checks (`I3: ...`) and says what it found.
- `check_invariants(state, ...)` reads one state: I1, I2, I3, I4 and I6 as far as a
  state can show them, and I7.
- `check_settled_once(events)` reads a history of events: I4 and I6 as they happened
  (a state shows only the last status of a transfer, an escrow or an HTLC).
- `check_unchanged(before, after)` compares two snapshots: I5 (a failed action changes
  nothing), for a block that ran no end-of-block work.

They run in tests and audits over whole test cities (not in consensus), so they read
every key of the module at once from a store with `scan_prefix`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from urbis.chain.codec import from_wire
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.crypto.hashing import sha256
from urbis.modules.payments import keys
from urbis.modules.payments.records import (
    DAY_MS,
    Asset,
    Escrow,
    Htlc,
    Invoice,
    Mandate,
    TransferRecord,
)

SCAN_MAX = 10_000_000
"""Checkers read every key of the module, however large the test city."""

Snapshot = Mapping[bytes, bytes]


class ScannableState(Protocol):
    def scan_prefix(self, prefix: bytes, limit: int = 1000) -> list[tuple[bytes, bytes]]: ...


class EventLike(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def attrs(self) -> dict[str, Any]: ...


def snapshot(state: ScannableState) -> dict[bytes, bytes]:
    """The module's keys and values in `state`."""
    return dict(state.scan_prefix(keys.PREFIX, SCAN_MAX))


def check_invariants(
    state: ScannableState, height: int | None = None, time_ms: int | None = None
) -> list[str]:
    """Every invariant one state can show. `height` and `time_ms` are those of the last
    committed block; without them the checks that need a clock are skipped."""
    rows = snapshot(state)
    return [
        *check_floors(rows),
        *check_books(rows),
        *check_invoices(rows, time_ms),
        *check_transfers(rows, height),
        *check_holds(rows, height),
        *check_mandates(rows),
    ]


def check_supply(state: ScannableState) -> list[str]:
    """I1 and I2 only (the books): what other modules' tests assert after moving money."""
    rows = snapshot(state)
    return [*check_floors(rows), *check_books(rows)]


# -- I1, I2: balances and the books ------------------------------------------------------------


def _records(rows: Snapshot, prefix: bytes, cls: type[Any]) -> list[tuple[bytes, Any]]:
    return [
        (key, from_wire(cls, decode_trusted(raw)))
        for key, raw in rows.items()
        if key.startswith(prefix)
    ]


def _split_account_key(key: bytes, prefix: bytes) -> tuple[str, AccountId]:
    """`<prefix><code>/<account:20>` -> (code, account)."""
    rest = key[len(prefix) :]
    return rest[:-21].decode(), AccountId(rest[-20:])


def _balances(rows: Snapshot) -> dict[tuple[str, AccountId], int]:
    return {
        _split_account_key(key, keys.BALANCE_PREFIX): int(decode_trusted(raw))
        for key, raw in rows.items()
        if key.startswith(keys.BALANCE_PREFIX)
    }


def check_floors(rows: Snapshot) -> list[str]:
    """I1: no balance is below its floor: 0, or minus the overdraft the issuer granted."""
    problems = []
    for (code, account), amount in _balances(rows).items():
        raw = rows.get(keys.overdraft(code, account))
        floor = 0 if raw is None else -int(decode_trusted(raw))
        if amount < floor:
            problems.append(f"I1: {account} holds {amount} {code}, below its floor {floor}")
    for key, raw in rows.items():
        if key.startswith(keys.OVERDRAFT_PREFIX) and int(decode_trusted(raw)) <= 0:
            code, account = _split_account_key(key, keys.OVERDRAFT_PREFIX)
            problems.append(f"I1: {account}'s overdraft in {code} is stored as {raw!r}")
    return problems


def check_books(rows: Snapshot) -> list[str]:
    """I2: per asset, minted - burned = Σ balances + pending; and the pending total is
    exactly what the unsettled holds (pending transfers, open escrows, locked HTLCs) hold."""
    totals: Counter[str] = Counter()
    for (code, _), amount in _balances(rows).items():
        totals[code] += amount
    held: Counter[str] = Counter()
    for _, record in _records(rows, keys.TRANSFER_PREFIX, TransferRecord):
        if record.status == "pending":
            held[record.asset] += record.amount_minor
    for _, escrow in _records(rows, keys.ESCROW_PREFIX, Escrow):
        if escrow.status == "open":
            held[escrow.asset] += escrow.amount_minor
    for _, htlc in _records(rows, keys.HTLC_PREFIX, Htlc):
        if htlc.status == "locked":
            held[htlc.asset] += htlc.amount_minor
    problems = []
    assets = {asset.code: asset for _, asset in _records(rows, keys.ASSET_PREFIX, Asset)}
    for code, asset in assets.items():
        total = totals[code] + asset.pending_minor
        if asset.minted_minor - asset.burned_minor != total:
            problems.append(
                f"I2: {code}: minted {asset.minted_minor} - burned {asset.burned_minor} "
                f"≠ balances + pending {total}"
            )
        if asset.pending_minor != held[code]:
            problems.append(
                f"I2: {code}: pending total {asset.pending_minor} ≠ {held[code]} held by "
                "pending transfers, open escrows and locked HTLCs"
            )
    for code in sorted((set(totals) | set(held)) - set(assets)):
        problems.append(f"I2: balances or holds in {code}, which is no asset")
    return problems


# -- I3: invoices ---------------------------------------------------------------------------------


def late_fee_max(invoice: Invoice, time_ms: int | None) -> int | None:
    """The most the late fee can have grown to by `time_ms` (None: no bound without a clock).

    The fee only grows with time, so what was due when any payment was made is at most
    what is due now.
    """
    if invoice.late_fee_kind == "none":
        return 0
    if invoice.late_fee_kind == "flat":
        return invoice.late_fee_minor
    if time_ms is None:
        return None
    if time_ms <= invoice.due_at_ms:
        return 0
    days_late = -(-(time_ms - invoice.due_at_ms) // DAY_MS)
    return invoice.late_fee_minor * days_late


def check_invoices(rows: Snapshot, time_ms: int | None = None) -> list[str]:
    """I3: per invoice, refunded ≤ paid ≤ amount + the late fee accrued when paid; and the
    status says what was paid (open: nothing; cancelled: nothing; paid: at least the amount)."""
    problems = []
    for _, invoice in _records(rows, keys.INVOICE_PREFIX, Invoice):
        name = f"I3: invoice {invoice.id.hex()}"
        if not 0 <= invoice.refunded_minor <= invoice.paid_minor:
            problems.append(f"{name}: refunded {invoice.refunded_minor} of {invoice.paid_minor}")
        fee = late_fee_max(invoice, time_ms)
        if fee is not None and invoice.paid_minor > invoice.amount_minor + fee:
            problems.append(
                f"{name}: paid {invoice.paid_minor} > amount {invoice.amount_minor} + fee {fee}"
            )
        status, paid = invoice.status, invoice.paid_minor
        consistent = {
            "open": paid == 0,
            "cancelled": paid == 0,
            "partially_paid": paid > 0,
            "paid": paid >= invoice.amount_minor,
        }.get(status, False)
        if not consistent:
            problems.append(f"{name}: status {status} with {paid} paid")
    return problems


# -- I4, I6: transfers, escrows, HTLCs ----------------------------------------------------------


def _deadline_index(rows: Snapshot, prefix: bytes) -> dict[int, list[Any]]:
    return {
        int.from_bytes(key[len(prefix) :], "big"): decode_trusted(raw)
        for key, raw in rows.items()
        if key.startswith(prefix)
    }


def check_transfers(rows: Snapshot, height: int | None = None) -> list[str]:
    """I4 as a state shows it: a transfer record is posted, pending or voided; an immediate
    one was posted at once; a pending one waits in the expiry index at its timeout, which
    has not passed (the end of that block voids it)."""
    expiring = _deadline_index(rows, keys.EXPIRING_PREFIX)
    problems = []
    for _, record in _records(rows, keys.TRANSFER_PREFIX, TransferRecord):
        name = f"I4: transfer {record.sender}/{record.id.hex()}"
        if record.status not in ("posted", "pending", "voided"):
            problems.append(f"{name}: status {record.status}")
        if record.pending_timeout_blocks == 0:
            if record.status != "posted" or record.expires_at_height != 0:
                problems.append(f"{name}: immediate, yet {record.status}")
            continue
        expected = record.created_at_height + record.pending_timeout_blocks
        if record.expires_at_height != expected:
            problems.append(f"{name}: expires at {record.expires_at_height}, not {expected}")
        if record.status != "pending":
            continue
        if [record.sender.raw, record.id] not in expiring.get(record.expires_at_height, []):
            problems.append(f"{name}: pending but not indexed to void at its timeout")
        if height is not None and record.expires_at_height <= height:
            problems.append(f"{name}: still pending after its timeout {record.expires_at_height}")
    return problems


def check_holds(rows: Snapshot, height: int | None = None) -> list[str]:
    """I6 as a state shows it: an escrow is open (waiting in the deadline index, not every
    approval in), released (every approver approved) or returned (not all had); an HTLC,
    with one deadline (by height or by block time), is locked, claimed (with the preimage
    of its lock) or refunded."""
    deadlines = _deadline_index(rows, keys.ESCROW_DEADLINE_PREFIX)
    problems = []
    for _, escrow in _records(rows, keys.ESCROW_PREFIX, Escrow):
        name = f"I6: escrow {escrow.id.hex()}"
        approvals, approvers = escrow.approvals, escrow.approvers
        if len(set(approvals)) != len(approvals) or not set(approvals) <= set(approvers):
            problems.append(f"{name}: approvals {approvals} are not distinct approvers")
        complete = set(approvals) == set(approvers)
        if escrow.status == "open":
            if complete:
                problems.append(f"{name}: every approver approved, yet still open")
            if escrow.id not in deadlines.get(escrow.deadline_at_height, []):
                problems.append(f"{name}: open but not indexed to return at its deadline")
            if height is not None and escrow.deadline_at_height <= height:
                problems.append(f"{name}: still open after its deadline")
        elif escrow.status == "released":
            if not complete:
                problems.append(f"{name}: released with {len(approvals)} of {len(approvers)}")
        elif escrow.status == "returned":
            if complete:
                problems.append(f"{name}: returned although every approver approved")
        else:
            problems.append(f"{name}: status {escrow.status}")
    for _, htlc in _records(rows, keys.HTLC_PREFIX, Htlc):
        name = f"I6: HTLC {htlc.id.hex()}"
        if (htlc.deadline_at_height == 0) == (htlc.deadline_at_ms == 0):
            problems.append(
                f"{name}: deadline at height {htlc.deadline_at_height} and at time "
                f"{htlc.deadline_at_ms} ms; a lock has exactly one"
            )
        if htlc.status == "claimed":
            if sha256(htlc.preimage) != htlc.hashlock:
                problems.append(f"{name}: claimed without the preimage of its lock")
        elif htlc.status in ("locked", "refunded"):
            if htlc.preimage:
                problems.append(f"{name}: {htlc.status} yet holds a preimage")
        else:
            problems.append(f"{name}: status {htlc.status}")
    return problems


def check_settled_once(events: Iterable[EventLike]) -> list[str]:
    """I4 and I6 over a history of events (every receipt's and every end of block's, in
    order): a transfer id moves money at most once, a pending transfer is posted or voided
    once and only after it was reserved, an escrow or an HTLC settles once."""
    opened: Counter[tuple[str, Any, Any]] = Counter()
    settled: Counter[tuple[str, Any, Any]] = Counter()
    problems = []
    for event in events:
        found = _settlement(event.type, event.attrs)
        if found is None:
            continue
        invariant, key, opening = found
        counts = opened if opening else settled
        counts[key] += 1
        if counts[key] > 1:
            problems.append(f"{invariant}: {key} {'opened' if opening else 'settled'} twice")
        immediate = event.type == "payments.transferred" and event.attrs["reason"] == "transfer"
        if not opening and not immediate and not opened[key]:
            problems.append(f"{invariant}: {key} settled by {event.type} but never opened")
    return problems


def _settlement(
    event_type: str, attrs: Mapping[str, Any]
) -> tuple[str, tuple[str, Any, Any], bool] | None:
    """(invariant, (record kind, owner, id), whether it opens a hold) of an event that opens
    or settles a transfer, an escrow or an HTLC; None for any other event."""
    if event_type == "payments.transferred":
        reason = attrs.get("reason")
        if reason in ("transfer", "posted"):
            return "I4", ("transfer", attrs["sender"], attrs["reference"]), False
        if reason == "escrow":
            return "I6", ("escrow", "", attrs["reference"]), False
        return None
    opens_or_settles = {
        "payments.pending": ("I4", "transfer", True),
        "payments.voided": ("I4", "transfer", False),
        "payments.escrow_opened": ("I6", "escrow", True),
        "payments.escrow_returned": ("I6", "escrow", False),
        "payments.htlc_locked": ("I6", "htlc", True),
        "payments.htlc_claimed": ("I6", "htlc", False),
        "payments.htlc_refunded": ("I6", "htlc", False),
    }.get(event_type)
    if opens_or_settles is None:
        return None
    invariant, kind, opening = opens_or_settles
    owner = attrs["sender"] if kind == "transfer" else ""
    return invariant, (kind, owner, attrs["id"]), opening


# -- I5: a failed action changes nothing --------------------------------------------------------


def check_unchanged(before: Snapshot, after: Snapshot) -> list[str]:
    """I5: the module's state after a block whose only transaction failed (and that ran no
    end-of-block work) is the state before it, key for key."""
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return [f"I5: a failed action changed {key!r}" for key in changed[:10]]


# -- I7: mandates -------------------------------------------------------------------------------


def check_mandates(rows: Snapshot) -> list[str]:
    """I7: a mandate never collects more in a month than its monthly limit."""
    problems = []
    for _, mandate in _records(rows, keys.MANDATE_PREFIX, Mandate):
        if mandate.collected_this_month_minor > mandate.per_month_max_minor:
            problems.append(
                f"I7: {mandate.payer} -> {mandate.department}: collected "
                f"{mandate.collected_this_month_minor} in {mandate.month}, above the limit "
                f"{mandate.per_month_max_minor}"
            )
    return problems
