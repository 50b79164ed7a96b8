"""Escrow, mandates and cross-chain atomic swaps (hash-time-locked transfers)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.city import CityChain, account, city_genesis, create_eur
from tests.test_payments import RESIDENTS, balance, invoice, setup_city
from urbis.modules.payments.keeper import check_supply
from urbis.sdk.builder import action


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    chain = CityChain(tmp_path, genesis=city_genesis(extra_accounts=RESIDENTS))
    setup_city(chain)
    yield chain
    chain.close()


def open_escrow(
    escrow_id: bytes, beneficiary: str, amount: int, approvers: list[str], timeout_blocks: int = 100
) -> object:
    return action(
        "payments",
        "open_escrow",
        id=escrow_id,
        beneficiary=account(beneficiary),
        asset="EUR",
        amount_minor=amount,
        approvers=[account(a) for a in approvers],
        timeout_blocks=timeout_blocks,
    )


def approve(escrow_id: bytes) -> object:
    return action("payments", "approve_escrow", id=escrow_id)


def test_escrow_releases_only_when_every_approver_agrees(city: CityChain) -> None:
    assert city.run("alice", open_escrow(b"escrow-1", "bob", 4_000, ["alice", "bob", "land"])).ok
    assert balance(city, "alice") == 6_000 and check_supply(city.app.store) == []
    assert city.run("carol", approve(b"escrow-1")).code == "payments.not_approver"
    assert city.run("alice", approve(b"escrow-1")).ok
    assert city.run("alice", approve(b"escrow-1")).code == "payments.already_approved"
    assert city.run("bob", approve(b"escrow-1")).ok
    assert balance(city, "bob") == 10_000  # two of three: still held
    released = city.run("land", approve(b"escrow-1"))
    assert released.ok and balance(city, "bob") == 14_000
    assert "payments.transferred" in [e.type for e in released.events]
    assert city.run("land", approve(b"escrow-1")).code == "payments.escrow_closed"
    assert check_supply(city.app.store) == []


def test_escrow_returns_to_payer_at_its_deadline(city: CityChain) -> None:
    assert city.run("alice", open_escrow(b"escrow-2", "bob", 1_000, ["land"], timeout_blocks=2)).ok
    city.block()
    _, result = city.block()
    assert "payments.escrow_returned" in [e.type for e in result.block_events]
    assert balance(city, "alice") == 10_000
    assert city.run("land", approve(b"escrow-2")).code == "payments.escrow_closed"


def mandate(per_invoice: int, per_month: int) -> object:
    return action(
        "payments",
        "set_mandate",
        department="finance",
        asset="EUR",
        per_invoice_max_minor=per_invoice,
        per_month_max_minor=per_month,
    )


def collect(invoice_id: bytes) -> object:
    return action("payments", "collect_invoice", department="finance", invoice_id=invoice_id)


def test_mandate_collects_within_its_limits(city: CityChain) -> None:
    assert city.run("finance", invoice(b"invoice-m1", "alice", 1_500)).ok
    assert city.run("finance", collect(b"invoice-m1")).code == "payments.no_mandate"
    assert city.run("alice", mandate(per_invoice=2_000, per_month=2_500)).ok
    collected = city.run("finance", collect(b"invoice-m1"))
    assert collected.ok and balance(city, "alice") == 8_500
    assert city.query("payments", "invoice", id=b"invoice-m1".hex())["status"] == "paid"
    assert city.run("finance", invoice(b"invoice-m2", "alice", 1_200)).ok
    assert city.run("finance", collect(b"invoice-m2")).code == "payments.mandate_limit"  # month
    assert city.run("finance", invoice(b"invoice-m3", "alice", 2_100)).ok
    assert city.run("finance", collect(b"invoice-m3")).code == "payments.mandate_limit"
    assert city.run("alice", action("payments", "revoke_mandate", department="finance")).ok
    assert city.run("finance", collect(b"invoice-m2")).code == "payments.no_mandate"
    assert city.run("land", collect(b"invoice-m2")).code == "auth.missing_role"


def htlc_lock(
    htlc_id: bytes, recipient: str, asset: str, amount: int, hashlock: bytes, timeout_blocks: int
) -> object:
    return action(
        "payments",
        "lock_htlc",
        id=htlc_id,
        recipient=account(recipient),
        asset=asset,
        amount_minor=amount,
        hashlock=hashlock,
        timeout_blocks=timeout_blocks,
    )


def two_cities(tmp_path: Path) -> tuple[CityChain, CityChain]:
    """City A (EUR) and city B (SGD): different chains, different assets."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = CityChain(tmp_path / "a", genesis=city_genesis("city-a", extra_accounts=RESIDENTS))
    setup_city(a)
    b = CityChain(tmp_path / "b", genesis=city_genesis("city-b", extra_accounts=RESIDENTS))
    create_eur(b, code="SGD")
    for resident in RESIDENTS:
        assert b.run(
            "finance",
            action(
                "payments", "mint", asset="SGD", recipient=account(resident), amount_minor=10_000
            ),
        ).ok
    return a, b


def test_atomic_swap_between_two_chains(tmp_path: Path) -> None:
    a, b = two_cities(tmp_path)
    secret = b"alice's swap secret"
    lock = hashlib.sha256(secret).digest()
    # Alice pays 1,000 EUR on A to Bob; Bob pays 1,500 SGD on B to Alice, shorter deadline.
    assert a.run("alice", htlc_lock(b"swap-eur", "bob", "EUR", 1_000, lock, 20)).ok
    assert b.run("bob", htlc_lock(b"swap-sgd", "alice", "SGD", 1_500, lock, 10)).ok
    wrong = action("payments", "claim_htlc", id=b"swap-sgd", preimage=b"guess")
    assert b.run("alice", wrong).code == "payments.wrong_preimage"
    claimed = b.run("alice", action("payments", "claim_htlc", id=b"swap-sgd", preimage=secret))
    assert claimed.ok
    revealed = next(e for e in claimed.events if e.type == "payments.htlc_claimed")
    preimage = revealed.attrs["preimage"]  # Bob reads it from chain B's events
    assert a.run("bob", action("payments", "claim_htlc", id=b"swap-eur", preimage=preimage)).ok
    assert (
        a.query("payments", "balance", account=account("bob").text, asset="EUR")["balance_minor"]
        == 11_000
    )
    assert (
        b.query("payments", "balance", account=account("alice").text, asset="SGD")["balance_minor"]
        == 11_500
    )
    assert check_supply(a.app.store) == [] and check_supply(b.app.store) == []


def test_swap_refunds_when_the_counterparty_never_claims(tmp_path: Path) -> None:
    a, _ = two_cities(tmp_path)
    lock = hashlib.sha256(b"never revealed").digest()
    assert a.run("alice", htlc_lock(b"swap-two", "bob", "EUR", 1_000, lock, 3)).ok
    refund = action("payments", "refund_htlc", id=b"swap-two")
    assert a.run("alice", refund).code == "payments.htlc_not_expired"
    a.block()
    a.block()
    a.block()
    late = action("payments", "claim_htlc", id=b"swap-two", preimage=b"never revealed")
    assert a.run("bob", late).code == "payments.htlc_expired"
    assert a.run("bob", refund).code == "payments.not_htlc_party"
    assert a.run("alice", refund).ok
    assert (
        a.query("payments", "balance", account=account("alice").text, asset="EUR")["balance_minor"]
        == 10_000
    )
    assert check_supply(a.app.store) == []
