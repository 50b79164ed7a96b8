"""Payments invariants I1-I7 after every step of random action sequences.

Each sequence mixes immediate and pending transfers (post, void, expiry), invoices
(issue, pay in part or in full, refund, cancel, late fees), escrows (open, approve,
return at the deadline), HTLCs (lock by height or by block time, claim with a right or
wrong preimage, refund after the deadline), mandates (set, collect, revoke), overdrafts,
mints, burns and empty blocks that let time and deadlines pass. One transaction per block,
so each receipt is one action's; after every block every checker of
`urbis.modules.payments.invariants` must come back empty, and a rejected action must
leave the module's state exactly as it was (I5).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, city_genesis
from tests.test_payments import RESIDENTS, setup_city
from urbis.chain.block import Event
from urbis.chain.errors import UrbisError
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted, encode
from urbis.modules.payments import invariants, keys
from urbis.modules.payments.keeper import PaymentsView
from urbis.modules.payments.records import DAY_MS, Escrow, Htlc, Invoice, TransferRecord
from urbis.sdk.builder import action

ACTORS = (*RESIDENTS, "land")
"""Residents, and a department that may approve escrows but holds no money."""
SECRETS = (b"secret-zero", b"secret-one")
"""HTLCs lock under one of these; claims offer one of them (sometimes the wrong one)."""


def _id(kind: str, number: int) -> bytes:
    return f"{kind}-{number:04d}".encode()


ids = st.integers(0, 1)
amounts = st.one_of(st.integers(1, 3_000), st.integers(1, 3_000), st.integers(9_000, 16_000))
residents = st.sampled_from(RESIDENTS)
actors = st.sampled_from(ACTORS)
parties = st.sampled_from(("party",) * 6 + ACTORS)
"""Who acts on an existing record: mostly the one entitled to ("party": the transfer's
sender, the invoice's payer, an approver yet to approve, the HTLC's recipient or sender),
sometimes anyone, so that both success and refusal are common."""

steps = st.one_of(
    st.tuples(
        st.just("transfer"),
        residents,
        actors,
        amounts,
        ids,
        st.sampled_from((0, 0, 1, 2, 4)),
    ),
    st.tuples(st.sampled_from(("post", "void")), parties, ids),
    st.tuples(st.just("advance"), st.integers(1, 4), st.integers(0, 3)),
    st.tuples(st.just("mint"), residents, st.integers(1, 5_000)),
    st.tuples(st.just("burn"), st.integers(1, 5_000)),
    st.tuples(st.just("overdraft"), residents, st.sampled_from((0, 2_000, 20_000))),
    st.tuples(
        st.just("invoice"),
        residents,
        ids,
        st.integers(1, 8_000),
        st.sampled_from((-2 * DAY_MS, 5_000, 3 * DAY_MS)),
        st.sampled_from(("none", "flat", "per_day")),
    ),
    st.tuples(st.just("pay"), parties, ids, st.integers(1, 9_000)),
    st.tuples(st.just("refund"), ids, st.integers(1, 9_000)),
    st.tuples(st.just("cancel"), ids),
    st.tuples(
        st.just("open_escrow"),
        residents,
        actors,
        ids,
        amounts,
        st.sets(actors, min_size=1, max_size=3),
        st.integers(1, 8),
    ),
    st.tuples(st.just("approve"), parties, ids),
    st.tuples(
        st.sampled_from(("lock", "lock_by_time")),
        residents,
        actors,
        ids,
        amounts,
        st.integers(0, 1),
        st.integers(1, 8),
    ),
    st.tuples(st.just("claim"), parties, ids, st.sampled_from((True, True, False))),
    st.tuples(st.just("refund_htlc"), parties, ids),
    st.tuples(st.just("set_mandate"), residents, st.integers(1, 9_000), st.integers(1, 12_000)),
    st.tuples(st.just("revoke_mandate"), residents),
    st.tuples(st.just("collect"), ids),
)


def to_action(step: tuple[Any, ...], now_ms: int) -> tuple[str, Any]:
    """The sender and the action of one step (`now_ms`: the chain's clock, for due dates)."""
    kind = step[0]
    if kind == "transfer":
        _, sender, recipient, amount, number, pending = step
        return sender, action(
            "payments",
            "transfer",
            id=_id("transfer", number),
            recipient=account(recipient),
            asset="EUR",
            amount_minor=amount,
            pending_timeout_blocks=pending,
        )
    if kind in ("post", "void"):
        name = "post_pending" if kind == "post" else "void_pending"
        return step[1], action("payments", name, id=_id("transfer", step[2]))
    if kind == "mint":
        return "finance", action(
            "payments", "mint", asset="EUR", recipient=account(step[1]), amount_minor=step[2]
        )
    if kind == "burn":
        return "finance", action("payments", "burn", asset="EUR", amount_minor=step[1])
    if kind == "overdraft":
        return "finance", action(
            "payments", "set_overdraft", asset="EUR", account=account(step[1]), limit_minor=step[2]
        )
    if kind == "invoice":
        _, payer, number, amount, due_in_ms, fee_kind = step
        invoice_id = _id("invoice", number)
        return "finance", action(
            "payments",
            "issue_invoice",
            id=invoice_id,
            department="finance",
            payer=account(payer),
            kind="fee",
            asset="EUR",
            amount_minor=amount,
            due_at_ms=now_ms + due_in_ms,
            details_hash=hashlib.sha256(invoice_id).digest(),
            late_fee_kind=fee_kind,
            late_fee_minor=0 if fee_kind == "none" else 150,
        )
    if kind == "pay":
        return step[1], action(
            "payments", "pay_invoice", invoice_id=_id("invoice", step[2]), amount_minor=step[3]
        )
    if kind == "refund":
        return "finance", action(
            "payments",
            "refund",
            department="finance",
            invoice_id=_id("invoice", step[1]),
            amount_minor=step[2],
        )
    if kind == "cancel":
        return "finance", action(
            "payments", "cancel_invoice", department="finance", invoice_id=_id("invoice", step[1])
        )
    if kind == "open_escrow":
        _, payer, beneficiary, number, amount, approvers, timeout_blocks = step
        return payer, action(
            "payments",
            "open_escrow",
            id=_id("escrow", number),
            beneficiary=account(beneficiary),
            asset="EUR",
            amount_minor=amount,
            approvers=[account(a) for a in sorted(approvers)],
            timeout_blocks=timeout_blocks,
        )
    if kind == "approve":
        return step[1], action("payments", "approve_escrow", id=_id("escrow", step[2]))
    if kind in ("lock", "lock_by_time"):
        _, sender, recipient, number, amount, secret, timeout = step
        # By time: `timeout` seconds of block time (a block here is 1 s; "advance" skips days).
        by_time = kind == "lock_by_time"
        return sender, action(
            "payments",
            "lock_htlc",
            id=_id("htlc", number),
            recipient=account(recipient),
            asset="EUR",
            amount_minor=amount,
            hashlock=hashlib.sha256(SECRETS[secret]).digest(),
            timeout_blocks=0 if by_time else timeout,
            timeout_ms=timeout * 1_000 if by_time else 0,
        )
    if kind == "claim":
        return step[1], action(
            "payments", "claim_htlc", id=_id("htlc", step[2]), preimage=SECRETS[step[3]]
        )
    if kind == "refund_htlc":
        return step[1], action("payments", "refund_htlc", id=_id("htlc", step[2]))
    if kind == "set_mandate":
        return step[1], action(
            "payments",
            "set_mandate",
            department="finance",
            asset="EUR",
            per_invoice_max_minor=step[2],
            per_month_max_minor=step[3],
        )
    if kind == "revoke_mandate":
        return step[1], action("payments", "revoke_mandate", department="finance")
    assert kind == "collect", kind
    return "finance", action(
        "payments", "collect_invoice", department="finance", invoice_id=_id("invoice", step[1])
    )


class Run:
    """A test city, the history of its events, and the checks after every block."""

    def __init__(self, path: Path) -> None:
        self.chain = CityChain(path, genesis=city_genesis(extra_accounts=RESIDENTS))
        setup_city(self.chain)
        self.history: list[Event] = []
        self.codes: list[str] = []

    def block(self) -> Any:
        _, result = self.chain.block()
        for receipt in result.receipts:
            self.history.extend(receipt.events)
        self.history.extend(result.block_events)
        self.check()
        return result

    def check(self) -> None:
        last = self.chain.app.blocks.header(self.chain.height)
        time_ms = None if last is None else last.header.time_ms
        problems = invariants.check_invariants(self.chain.app.store, self.chain.height, time_ms)
        problems += invariants.check_settled_once(self.history)
        assert problems == [], problems

    def party(self, kind: str, number: int) -> str:
        """The account entitled to act on record `number` of this kind (alice if none)."""
        view = PaymentsView(self.chain.app.store)
        names = {account(name): name for name in ACTORS}
        entitled: AccountId | None = None
        if kind in ("post", "void"):
            owners = [r for r in RESIDENTS if view.transfer(account(r), _id("transfer", number))]
            return owners[-1] if owners else "alice"
        if kind == "pay":
            invoice = view.invoice(_id("invoice", number))
            entitled = None if invoice is None else invoice.payer
        elif kind == "approve":
            escrow = view.escrow(_id("escrow", number))
            waiting = (
                [] if escrow is None else sorted(set(escrow.approvers) - set(escrow.approvals))
            )
            entitled = waiting[0] if waiting else None
        else:
            htlc = view.htlc(_id("htlc", number))
            if htlc is not None:
                entitled = htlc.recipient if kind == "claim" else htlc.sender
        return "alice" if entitled is None else names[entitled]

    def deadline_next(self) -> bool:
        """Would the next block's end void a transfer or return an escrow?"""
        height = self.chain.height + 1
        store = self.chain.app.store
        return (
            store.get(keys.expiring(height)) is not None
            or store.get(keys.escrow_deadline(height)) is not None
        )

    def step(self, step: tuple[Any, ...]) -> None:
        if step[0] == "advance":
            _, blocks, days = step
            self.chain.clock += days * DAY_MS
            for _ in range(blocks):
                self.block()
            return
        while self.deadline_next():  # so that only the action can change the state
            self.block()
        if step[1] == "party":
            step = (step[0], self.party(step[0], step[2]), *step[2:])
        if step[0] == "claim":  # the right preimage, or the wrong one
            htlc = PaymentsView(self.chain.app.store).htlc(_id("htlc", step[2]))
            right = 0 if htlc is None else int(hashlib.sha256(SECRETS[1]).digest() == htlc.hashlock)
            step = (*step[:3], right if step[3] else 1 - right)
        sender, act = to_action(step, self.chain.clock)
        before = invariants.snapshot(self.chain.app.store)
        try:
            self.chain.submit(self.chain.sign(sender, [act]))
        except UrbisError as error:  # refused at admission: no block, nothing to compare
            self.chain.nonces.clear()
            self.codes.append(f"{step[0]}: {error.code} (admission)")
            return
        result = self.block()
        (receipt,) = result.receipts
        self.codes.append(f"{step[0]}: {receipt.code or 'ok'}")
        if not receipt.ok:
            after = invariants.snapshot(self.chain.app.store)
            assert invariants.check_unchanged(before, after) == [], receipt.code
            assert receipt.events == [] or all(
                not e.type.startswith("payments.") for e in receipt.events
            ), receipt.events


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    city = Run(tmp_path)
    yield city
    city.chain.close()


EVERY_KIND_ONCE = [
    ("transfer", "alice", "bob", 1_000, 0, 0),
    ("transfer", "alice", "bob", 1_000, 0, 0),  # a retry: moves nothing
    ("transfer", "bob", "carol", 500, 1, 2),
    ("post", "bob", 1),
    ("transfer", "carol", "alice", 300, 2, 1),
    ("advance", 2, 0),  # voids carol's pending transfer at its timeout
    ("void", "carol", 2),  # already voided: refused, changes nothing
    ("invoice", "alice", 0, 2_000, -2 * DAY_MS, "per_day"),
    ("pay", "alice", 0, 1_000),
    ("pay", "alice", 0, 9_000),  # overpayment: refused
    ("mint", "finance", 5_000),  # so that only the refund rule can refuse the refund below
    ("refund", 0, 400),
    ("refund", 0, 700),  # 1,100 of 1,000 paid: refused
    ("invoice", "bob", 1, 700, 3 * DAY_MS, "flat"),
    ("cancel", 1),
    ("open_escrow", "alice", "carol", 0, 800, {"bob", "land"}, 3),
    ("approve", "bob", 0),
    ("approve", "land", 0),  # the last approval releases it
    ("open_escrow", "bob", "alice", 1, 600, {"carol"}, 1),
    ("advance", 2, 0),  # returned at its deadline
    ("lock", "alice", "bob", 0, 500, 0, 3),
    ("claim", "bob", 0, False),  # wrong preimage: refused
    ("claim", "bob", 0, True),
    ("claim", "bob", 0, True),  # claimed already: refused
    ("lock", "bob", "carol", 1, 400, 1, 1),
    ("refund_htlc", "bob", 1),  # not yet
    ("advance", 2, 0),
    ("refund_htlc", "bob", 1),
    ("refund_htlc", "bob", 1),  # refunded already: refused
    ("approve", "land", 0),  # released already: refused
    ("set_mandate", "carol", 5_000, 6_000),
    ("invoice", "carol", 2, 3_000, 5_000, "none"),
    ("collect", 2),
    ("invoice", "carol", 3, 4_000, 5_000, "none"),
    ("collect", 3),  # past the monthly limit: refused
    ("revoke_mandate", "carol"),
    ("overdraft", "alice", 2_000),
    ("transfer", "alice", "carol", 12_000, 3, 0),
    ("burn", 100),
    ("mint", "bob", 50),
]


@given(sequence=st.lists(steps, min_size=8, max_size=40))
@example(sequence=EVERY_KIND_ONCE)
def test_every_invariant_holds_after_every_step(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[tuple[Any, ...]]
) -> None:
    run = Run(tmp_path_factory.mktemp("payments-invariants"))
    try:
        for step in sequence:
            run.step(step)
        for code in run.codes:
            event(code)
    finally:
        run.chain.close()


def test_the_example_sequence_reaches_every_kind_of_settlement(run: Run) -> None:
    """The explicit example above really exercises what it says (not only rejections)."""
    for step in EVERY_KIND_ONCE:
        run.step(step)
    types = {e.type for e in run.history}
    assert {
        "payments.transfer_repeated",
        "payments.pending",
        "payments.voided",
        "payments.invoice_paid",
        "payments.refunded",
        "payments.invoice_cancelled",
        "payments.escrow_returned",
        "payments.htlc_claimed",
        "payments.htlc_refunded",
        "payments.mandate_set",
        "payments.mandate_revoked",
        "payments.overdraft_set",
    } <= types, sorted(types)
    reasons = {e.attrs["reason"] for e in run.history if e.type == "payments.transferred"}
    assert {"transfer", "posted", "invoice", "refund", "escrow", "mandate"} <= reasons
    assert "void: payments.transfer_not_pending" in run.codes
    assert "pay: payments.overpayment" in run.codes
    assert "claim: payments.wrong_preimage" in run.codes
    assert "refund_htlc: payments.htlc_not_expired" in run.codes
    assert "collect: payments.mandate_limit" in run.codes
    assert "refund: payments.refund_exceeds_paid" in run.codes
    assert "claim: payments.htlc_closed" in run.codes
    assert "refund_htlc: payments.htlc_closed" in run.codes
    assert "approve: payments.escrow_closed" in run.codes


# -- each checker notices what it is there for ------------------------------------------------


class Rows:
    """A store over a dict: the checkers' input, corrupted on purpose."""

    def __init__(self, rows: dict[bytes, bytes]) -> None:
        self.rows = rows

    def scan_prefix(self, prefix: bytes, limit: int = 1000) -> list[tuple[bytes, bytes]]:
        return sorted((k, v) for k, v in self.rows.items() if k.startswith(prefix))[:limit]


def _record(rows: dict[bytes, bytes], key: bytes, cls: type[Any]) -> Any:
    from urbis.chain.codec import from_wire

    return from_wire(cls, decode_trusted(rows[key]))


def _put(rows: dict[bytes, bytes], key: bytes, record: Any) -> None:
    from urbis.chain.codec import to_wire

    rows[key] = encode(to_wire(record))


def _settled_city(run: Run) -> dict[bytes, bytes]:
    for step in [
        ("transfer", "bob", "carol", 500, 1, 20),
        ("invoice", "alice", 0, 2_000, 3 * DAY_MS, "flat"),
        ("pay", "alice", 0, 1_000),
        ("open_escrow", "alice", "carol", 0, 800, {"bob", "land"}, 20),
        ("approve", "bob", 0),
        ("lock", "alice", "bob", 0, 500, 0, 20),
        ("set_mandate", "carol", 5_000, 6_000),
    ]:
        run.step(step)
    return invariants.snapshot(run.chain.app.store)


def test_checkers_find_each_kind_of_broken_state(run: Run) -> None:
    rows = _settled_city(run)
    height = run.chain.height
    assert invariants.check_invariants(Rows(rows), height) == []

    def broken(change: Any, invariant: str) -> None:
        bad = dict(rows)
        change(bad)
        problems = invariants.check_invariants(Rows(bad), height)
        assert any(p.startswith(invariant) for p in problems), problems

    alice = keys.balance("EUR", account("alice"))
    broken(lambda r: r.__setitem__(alice, encode(-1)), "I1")  # below the floor (and books)
    bob = keys.balance("EUR", account("bob"))
    broken(lambda r: r.__setitem__(bob, encode(int(decode_trusted(r[bob])) + 1)), "I2")

    invoice_key = keys.invoice(_id("invoice", 0))
    invoice = _record(rows, invoice_key, Invoice)
    broken(lambda r: _put(r, invoice_key, dataclasses.replace(invoice, refunded_minor=2_000)), "I3")
    broken(lambda r: _put(r, invoice_key, dataclasses.replace(invoice, status="open")), "I3")

    transfer_key = keys.transfer(account("bob"), _id("transfer", 1))
    record = _record(rows, transfer_key, TransferRecord)
    broken(lambda r: r.pop(keys.expiring(record.expires_at_height)), "I4")
    late = invariants.check_invariants(Rows(rows), record.expires_at_height)
    assert any(p.startswith("I4") and "after its timeout" in p for p in late), late

    escrow_key = keys.escrow(_id("escrow", 0))
    escrow = _record(rows, escrow_key, Escrow)
    broken(lambda r: _put(r, escrow_key, dataclasses.replace(escrow, status="returned")), "I")
    broken(
        lambda r: _put(r, escrow_key, dataclasses.replace(escrow, approvals=escrow.approvers)),
        "I6",
    )
    htlc_key = keys.htlc(_id("htlc", 0))
    htlc = _record(rows, htlc_key, Htlc)
    claimed = dataclasses.replace(htlc, status="claimed", preimage=SECRETS[1])
    broken(lambda r: _put(r, htlc_key, claimed), "I")

    mandate_key = keys.mandate(account("carol"), "finance")
    from urbis.modules.payments.records import Mandate

    mandate = _record(rows, mandate_key, Mandate)
    over = dataclasses.replace(mandate, month="2023-11", collected_this_month_minor=6_001)
    broken(lambda r: _put(r, mandate_key, over), "I7")


def test_settled_once_finds_a_second_settlement() -> None:
    sender = account("bob").text
    pending = Event("payments.pending", {"id": b"t-1", "sender": sender})
    posted = Event(
        "payments.transferred", {"reason": "posted", "sender": sender, "reference": b"t-1"}
    )
    voided = Event("payments.voided", {"id": b"t-1", "sender": sender})
    assert invariants.check_settled_once([pending, posted]) == []
    assert invariants.check_settled_once([pending, posted, voided])[0].startswith("I4")
    assert invariants.check_settled_once([posted])[0].startswith("I4")
    locked = Event("payments.htlc_locked", {"id": b"h-1"})
    claimed = Event("payments.htlc_claimed", {"id": b"h-1"})
    refunded = Event("payments.htlc_refunded", {"id": b"h-1"})
    assert invariants.check_settled_once([locked, claimed]) == []
    assert invariants.check_settled_once([locked, claimed, refunded])[0].startswith("I6")
    opened = Event("payments.escrow_opened", {"id": b"e-1"})
    released = Event(
        "payments.transferred", {"reason": "escrow", "sender": sender, "reference": b"e-1"}
    )
    returned = Event("payments.escrow_returned", {"id": b"e-1"})
    assert invariants.check_settled_once([opened, released, returned])[0].startswith("I6")


def test_check_unchanged_names_a_changed_key() -> None:
    assert invariants.check_unchanged({b"a": b"1"}, {b"a": b"1"}) == []
    assert invariants.check_unchanged({b"a": b"1"}, {b"a": b"2"})[0].startswith("I5")
    assert invariants.check_unchanged({b"a": b"1"}, {})[0].startswith("I5")
