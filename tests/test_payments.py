"""Payments: money is never lost, created or counted twice."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, billing_grant, city_genesis, create_eur
from urbis.modules.payments.keeper import check_supply
from urbis.sdk.builder import action

RESIDENTS = ("alice", "bob", "carol")
DAY_MS = 86_400_000


def setup_city(chain: CityChain) -> None:
    """EUR issued by finance (through the council), finance bills, residents funded."""
    create_eur(chain)
    assert chain.run("finance", billing_grant()).ok
    for resident in RESIDENTS:
        assert chain.run("finance", mint(resident, 10_000)).ok


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    chain = CityChain(tmp_path, genesis=city_genesis(extra_accounts=RESIDENTS))
    setup_city(chain)
    yield chain
    chain.close()


def mint(recipient: str, amount: int) -> object:
    return action(
        "payments", "mint", asset="EUR", recipient=account(recipient), amount_minor=amount
    )


def transfer(transfer_id: bytes, recipient: str, amount: int, pending: int = 0) -> object:
    return action(
        "payments",
        "transfer",
        id=transfer_id,
        recipient=account(recipient),
        asset="EUR",
        amount_minor=amount,
        pending_timeout_blocks=pending,
    )


def invoice(
    invoice_id: bytes,
    payer: str,
    amount: int,
    due_at_ms: int = 2_000_000_000_000,
    late_fee_kind: str = "none",
    late_fee_minor: int = 0,
) -> object:
    return action(
        "payments",
        "issue_invoice",
        id=invoice_id,
        department="finance",
        payer=account(payer),
        kind="tax",
        asset="EUR",
        amount_minor=amount,
        due_at_ms=due_at_ms,
        details_hash=hashlib.sha256(invoice_id).digest(),
        late_fee_kind=late_fee_kind,
        late_fee_minor=late_fee_minor,
    )


def balance(chain: CityChain, name: str) -> int:
    return int(
        chain.query("payments", "balance", account=account(name).text, asset="EUR")["balance_minor"]
    )


def test_transfer_moves_money_and_books_balance(city: CityChain) -> None:
    receipt = city.run("alice", transfer(b"transfer-1", "bob", 2_500))
    assert receipt.ok
    assert [e.type for e in receipt.events] == ["payments.transferred"]
    assert (balance(city, "alice"), balance(city, "bob")) == (7_500, 12_500)
    assert check_supply(city.app.store) == []


def test_retry_with_same_id_moves_money_once(city: CityChain) -> None:
    assert city.run("alice", transfer(b"transfer-1", "bob", 100)).ok
    retry = city.run("alice", transfer(b"transfer-1", "bob", 100))
    assert retry.ok and [e.type for e in retry.events] == ["payments.transfer_repeated"]
    assert balance(city, "alice") == 9_900


def test_reused_id_with_other_content_is_payments_transfer_id_conflict(city: CityChain) -> None:
    assert city.run("alice", transfer(b"transfer-1", "bob", 100)).ok
    assert city.run("alice", transfer(b"transfer-1", "bob", 101)).code == (
        "payments.transfer_id_conflict"
    )


def test_bad_amounts_are_refused(city: CityChain) -> None:
    for amount in (0, -5, 2**128):
        assert city.run("alice", transfer(b"bad-amount", "bob", amount)).code == "tx.invalid_args"
    assert city.run("alice", transfer(b"too-much-1", "bob", 10_001)).code == (
        "payments.insufficient_funds"
    )
    assert city.run("alice", transfer(b"to-myself", "alice", 1)).code == "payments.same_account"
    unknown = action(
        "payments",
        "transfer",
        id=b"unknown-1",
        recipient=account("bob"),
        asset="XYZ",
        amount_minor=1,
    )
    assert city.run("alice", unknown).code == "payments.unknown_asset"
    assert check_supply(city.app.store) == []


def test_only_the_issuer_mints_and_burns(city: CityChain) -> None:
    assert city.run("alice", mint("alice", 1)).code == "payments.not_issuer"
    burn = action("payments", "burn", asset="EUR", amount_minor=1)
    assert city.run("alice", burn).code == "payments.not_issuer"
    assert city.run("finance", burn).code == "payments.insufficient_funds"
    assert city.run("finance", mint("finance", 50)).ok and city.run("finance", burn).ok
    asset = city.query("payments", "asset", code="EUR")
    assert asset["minted_minor"] - asset["burned_minor"] == 30_049


def test_pending_transfer_posts_or_voids_once(city: CityChain) -> None:
    assert city.run("alice", transfer(b"pending-1", "bob", 1_000, pending=50)).ok
    assert balance(city, "alice") == 9_000 and balance(city, "bob") == 10_000
    assert check_supply(city.app.store) == []
    post = action("payments", "post_pending", id=b"pending-1")
    assert city.run("bob", post).code == "payments.transfer_not_found"  # ids are the sender's
    assert city.run("alice", post).ok
    assert balance(city, "bob") == 11_000
    assert city.run("alice", post).code == "payments.transfer_not_pending"
    assert city.run("alice", transfer(b"pending-2", "bob", 500, pending=50)).ok
    assert city.run("alice", action("payments", "void_pending", id=b"pending-2")).ok
    assert balance(city, "alice") == 9_000


def test_transfer_to_an_unknown_account_is_payments_unknown_account(city: CityChain) -> None:
    from urbis.chain.ids import AccountId

    nobody = AccountId(hashlib.sha256(b"nobody").digest()[:20])  # well-formed, not created
    move = action(
        "payments",
        "transfer",
        id=b"void-transfer-001",
        recipient=nobody,
        asset="EUR",
        amount_minor=500,
    )
    assert city.run("alice", move).code == "payments.unknown_account"
    mint_void = action("payments", "mint", asset="EUR", recipient=nobody, amount_minor=5)
    assert city.run("finance", mint_void).code == "payments.unknown_account"
    pending = action(
        "payments",
        "transfer",
        id=b"void-transfer-002",
        recipient=nobody,
        asset="EUR",
        amount_minor=5,
        pending_timeout_blocks=5,
    )
    assert city.run("alice", pending).code == "payments.unknown_account"
    escrow = action(
        "payments",
        "open_escrow",
        id=b"escrow-void-0001",
        beneficiary=nobody,
        asset="EUR",
        amount_minor=5,
        approvers=[account("bob")],
        timeout_blocks=5,
    )
    assert city.run("alice", escrow).code == "payments.unknown_account"
    htlc = action(
        "payments",
        "lock_htlc",
        id=b"htlc-void-000001",
        recipient=nobody,
        asset="EUR",
        amount_minor=5,
        hashlock=hashlib.sha256(b"x").digest(),
        timeout_blocks=5,
    )
    assert city.run("alice", htlc).code == "payments.unknown_account"
    assert balance(city, "alice") == 10_000 and check_supply(city.app.store) == []


def test_transfer_ids_are_scoped_by_sender_so_nobody_can_squat_a_retry(city: CityChain) -> None:
    squat = transfer(b"shared-id", "carol", 1)
    assert city.run("bob", squat).ok  # bob takes the id first ...
    mine = transfer(b"shared-id", "bob", 2_500)
    assert city.run("alice", mine).ok  # ... alice's transfer with that id still goes through
    retry = city.run("alice", mine)
    assert retry.ok and [e.type for e in retry.events] == ["payments.transfer_repeated"]
    assert balance(city, "alice") == 7_500 and balance(city, "bob") == 10_000 + 2_500 - 1
    other = city.run("alice", transfer(b"shared-id", "carol", 9))
    assert other.code == "payments.transfer_id_conflict"  # only alice's own earlier use counts
    alices = city.query("payments", "transfer", sender=account("alice").text, id=b"shared-id".hex())
    bobs = city.query("payments", "transfer", sender=account("bob").text, id=b"shared-id".hex())
    assert alices["amount_minor"] == 2_500 and bobs["amount_minor"] == 1


def test_pending_transfer_voids_itself_at_its_timeout(city: CityChain) -> None:
    receipt = city.run("alice", transfer(b"pending-3", "bob", 700, pending=2))
    assert receipt.ok and balance(city, "alice") == 9_300
    city.block()
    _, result = city.block()
    assert "payments.voided" in [e.type for e in result.block_events]
    assert balance(city, "alice") == 10_000
    assert check_supply(city.app.store) == []


def test_invoice_partial_then_full_payment_and_refund(city: CityChain) -> None:
    assert city.run("finance", invoice(b"invoice-1", "alice", 3_000)).ok
    assert (
        city.run(
            "bob", action("payments", "pay_invoice", invoice_id=b"invoice-1", amount_minor=1)
        ).code
        == "payments.not_payer"
    )
    pay = action("payments", "pay_invoice", invoice_id=b"invoice-1", amount_minor=1_000)
    first = city.run("alice", pay)
    assert first.ok and "payments.invoice_paid" in [e.type for e in first.events]
    assert city.query("payments", "invoice", id=b"invoice-1".hex())["status"] == "partially_paid"
    too_much = action("payments", "pay_invoice", invoice_id=b"invoice-1", amount_minor=2_001)
    assert city.run("alice", too_much).code == "payments.overpayment"
    rest = action("payments", "pay_invoice", invoice_id=b"invoice-1", amount_minor=2_000)
    assert city.run("alice", rest).ok
    assert city.query("payments", "invoice", id=b"invoice-1".hex())["status"] == "paid"
    assert city.run("alice", rest).code == "payments.invoice_closed"
    assert balance(city, "finance") == 3_000
    refund = action(
        "payments", "refund", department="finance", invoice_id=b"invoice-1", amount_minor=2_000
    )
    assert city.run("finance", refund).ok
    assert city.run("finance", refund).code == "payments.refund_exceeds_paid"
    assert balance(city, "alice") == 9_000
    assert check_supply(city.app.store) == []


def test_cancelled_invoice_cannot_be_paid(city: CityChain) -> None:
    assert city.run("finance", invoice(b"invoice-2", "bob", 500)).ok
    cancel = action("payments", "cancel_invoice", department="finance", invoice_id=b"invoice-2")
    assert city.run("land", cancel).code == "auth.missing_role"
    assert city.run("finance", cancel).ok
    pay = action("payments", "pay_invoice", invoice_id=b"invoice-2", amount_minor=500)
    assert city.run("bob", pay).code == "payments.invoice_closed"


def test_late_fee_per_day_from_block_time(city: CityChain) -> None:
    due = city.clock - DAY_MS  # the chain's clock is past the due date by a day and a bit
    assert city.run(
        "finance",
        invoice(
            b"invoice-3", "carol", 1_000, due_at_ms=due, late_fee_kind="per_day", late_fee_minor=10
        ),
    ).ok
    pay = action("payments", "pay_invoice", invoice_id=b"invoice-3", amount_minor=1_020)
    receipt = city.run("carol", pay)
    assert receipt.ok, receipt.message
    paid = next(e for e in receipt.events if e.type == "payments.invoice_paid")
    assert paid.attrs["due_minor"] == 1_020 and paid.attrs["status"] == "paid"


# -- invariants over random operation sequences -------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("transfer"),
            st.sampled_from(RESIDENTS),
            st.sampled_from(RESIDENTS),
            st.integers(-1, 12_000),
            st.integers(0, 6),
            st.integers(0, 3),
        ),
        st.tuples(st.just("mint"), st.sampled_from(RESIDENTS), st.integers(0, 5_000)),
        st.tuples(st.just("burn"), st.integers(0, 5_000)),
        st.tuples(st.just("post"), st.sampled_from(RESIDENTS), st.integers(0, 6)),
        st.tuples(st.just("void"), st.sampled_from(RESIDENTS), st.integers(0, 6)),
        st.tuples(
            st.just("invoice"), st.sampled_from(RESIDENTS), st.integers(0, 4), st.integers(1, 8_000)
        ),
        st.tuples(
            st.just("pay"), st.sampled_from(RESIDENTS), st.integers(0, 4), st.integers(1, 9_000)
        ),
        st.tuples(st.just("refund"), st.integers(0, 4), st.integers(1, 9_000)),
        st.tuples(st.just("cancel"), st.integers(0, 4)),
    ),
    min_size=1,
    max_size=30,
)


def operation(op: tuple) -> tuple[str, object]:
    kind = op[0]
    if kind == "transfer":
        _, sender, recipient, amount, tid, pending = op
        return sender, transfer(b"random-transfer-%d" % tid, recipient, amount, pending * 2)
    if kind == "mint":
        return "finance", mint(op[1], op[2])
    if kind == "burn":
        return "finance", action("payments", "burn", asset="EUR", amount_minor=op[1])
    if kind in ("post", "void"):
        name = "post_pending" if kind == "post" else "void_pending"
        return op[1], action("payments", name, id=b"random-transfer-%d" % op[2])
    if kind == "invoice":
        return "finance", invoice(b"random-invoice-%d" % op[2], op[1], op[3])
    if kind == "pay":
        return op[1], action(
            "payments", "pay_invoice", invoice_id=b"random-invoice-%d" % op[2], amount_minor=op[3]
        )
    if kind == "refund":
        return "finance", action(
            "payments",
            "refund",
            department="finance",
            invoice_id=b"random-invoice-%d" % op[1],
            amount_minor=op[2],
        )
    return "finance", action(
        "payments", "cancel_invoice", department="finance", invoice_id=b"random-invoice-%d" % op[1]
    )


BLOCK_INDEXES = (b"payments/expiring/", b"payments/escrow_deadline/")
"""Deadline indexes the end of every block clears, whatever its transactions did."""


def payments_state(chain: CityChain) -> list[tuple[bytes, bytes]]:
    rows = chain.app.store.scan_prefix(b"payments/", limit=100_000)
    return [(k, v) for k, v in rows if not k.startswith(BLOCK_INDEXES)]


@given(ops=operations)
@example(
    ops=[
        ("invoice", "alice", 0, 5_000),
        ("pay", "alice", 0, 500),
        ("refund", 0, 200),
        ("transfer", "alice", "bob", 100, 0, 1),
        ("post", "alice", 0),
        ("transfer", "bob", "carol", 50, 1, 1),
        ("void", "bob", 1),
        ("invoice", "bob", 1, 1_000),
        ("cancel", 1),
        ("burn", 10),
        ("mint", "carol", 5),
    ]
)
def test_random_operations_keep_the_books(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]
) -> None:
    chain = CityChain(
        tmp_path_factory.mktemp("pay"), genesis=city_genesis(extra_accounts=RESIDENTS)
    )
    setup_city(chain)
    for op in ops:
        before = payments_state(chain)
        sender, act = operation(op)
        tx = chain.sign(sender, [act])  # type: ignore[list-item]
        chain.submit(tx)
        _, result = chain.block()  # one operation per block
        (receipt,) = result.receipts
        event(f"{op[0]}: {receipt.code}")
        voided = any(e.type == "payments.voided" for e in result.block_events)
        if not receipt.ok and not voided:
            assert payments_state(chain) == before, f"{receipt.code} changed state"
        assert check_supply(chain.app.store) == []
    for key, _ in payments_state(chain):
        if key.startswith(b"payments/invoice/"):
            record = chain.query("payments", "invoice", id=key[len(b"payments/invoice/") :].hex())
            assert record["refunded_minor"] <= record["paid_minor"]
    chain.close()


def test_overdraft_lets_a_flagged_account_go_to_its_floor_and_no_further(city: CityChain) -> None:
    grant = action(
        "payments", "set_overdraft", asset="EUR", account=account("carol"), limit_minor=5_000
    )
    assert city.run("alice", grant).code == "payments.not_issuer"
    assert city.run("finance", grant).ok
    assert city.run("carol", transfer(b"overdraft-1", "bob", 15_000)).ok
    assert balance(city, "carol") == -5_000
    assert check_supply(city.app.store) == []
    assert city.run("carol", transfer(b"overdraft-2", "bob", 1)).code == (
        "payments.insufficient_funds"
    )
    remove = action(
        "payments", "set_overdraft", asset="EUR", account=account("carol"), limit_minor=0
    )
    assert city.run("finance", remove).code == "payments.insufficient_funds"  # still below 0
    assert city.run("alice", transfer(b"overdraft-3", "carol", 5_000)).ok
    assert city.run("finance", remove).ok
    assert city.run("carol", transfer(b"overdraft-4", "bob", 1)).code == (
        "payments.insufficient_funds"
    )
