"""The three municipal processes as council-approved Vyper contracts, end to end."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.city import CityChain, account, city_genesis, create_eur, key
from tests.helpers.contracts import CONTRACTS, call, deploy, view
from tests.helpers.identity import view as trust_view
from urbis.chain.genesis import GenesisDepartment
from urbis.chain.ids import AccountId
from urbis.modules.identity.keeper import status_of
from urbis.modules.payments.keeper import check_supply, read_balance
from urbis.sdk.builder import action
from urbis.sdk.sdjwt import (
    CredentialRejected,
    HolderKey,
    StatusReference,
    issue,
    present,
    verify_presentation,
)

RESIDENTS = ("alice", "bob", "registrar", "reader", "officer")
NEW_DEPARTMENTS = ("utility", "licensing")


def source(name: str) -> str:
    return (CONTRACTS / f"{name}.vy").read_text()


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def grant(chain: CityChain, department: str, role: str, who: AccountId) -> None:
    receipt = chain.run(
        department,
        action("governance", "grant_role", department=department, role=role, account=who),
    )
    assert receipt.ok, receipt.message


def balance(chain: CityChain, who: AccountId) -> int:
    return read_balance(chain.app.store, "EUR", who)


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    genesis = city_genesis(extra_accounts=(*RESIDENTS, *NEW_DEPARTMENTS))
    genesis = dataclasses.replace(
        genesis,
        departments=(
            *genesis.departments,
            *(GenesisDepartment(d, d.title(), account(d)) for d in NEW_DEPARTMENTS),
        ),
    )
    chain = CityChain(tmp_path, genesis=genesis)
    create_eur(chain)
    for resident in ("alice", "bob"):
        mint = action(
            "payments", "mint", asset="EUR", recipient=account(resident), amount_minor=100_000
        )
        assert chain.run("finance", mint).ok
    yield chain
    assert check_supply(chain.app.store) == []  # no process contract creates or loses money
    chain.close()


# -- land registry ---------------------------------------------------------------------------


@pytest.fixture
def land(city: CityChain) -> AccountId:
    grant(city, "land", "registrar", account("registrar"))
    registry = deploy(
        city,
        "land-registry",
        source("land_registry"),
        [("string", "EUR"), ("uint256", 200), ("address", account("finance"))],
    )
    parcel = h("parcel-7")
    assert call(city, "registrar", registry, "register", parcel, account("alice"), h("deed")).ok
    return registry


def test_a_parcel_is_sold_with_escrow_and_transfer_tax(city: CityChain, land: AccountId) -> None:
    parcel, escrow = h("parcel-7"), h("escrow-1")
    assert call(city, "alice", land, "list_for_sale", parcel, account("bob"), 50_000).ok
    opened = action(
        "payments",
        "open_escrow",
        id=escrow,
        beneficiary=land,
        asset="EUR",
        amount_minor=50_000,
        approvers=[land],
        timeout_blocks=100,
    )
    assert city.run("bob", opened).ok
    assert call(city, "bob", land, "fund", parcel, escrow).ok
    treasury_before = balance(city, account("finance"))

    receipt = call(city, "registrar", land, "approve_sale", parcel)

    assert receipt.ok, receipt.message
    assert view(city, land, "parcels", parcel)[0] == account("bob").text
    assert balance(city, account("alice")) == 100_000 + 49_000
    assert balance(city, account("bob")) == 100_000 - 50_000
    assert balance(city, account("finance")) - treasury_before == 1_000
    assert balance(city, land) == 0  # the registry keeps nothing
    history = [view(city, land, "owner_history", parcel, i) for i in range(2)]
    assert history == [account("alice").text, account("bob").text]
    sold = [e for e in receipt.events if e.attrs.get("event") == "Sold"]
    assert sold[0].attrs["args"]["tax"] == 1_000
    moved = [e for e in receipt.events if e.type == "payments.transferred"]
    assert len(moved) == 3  # escrow release, seller, tax: in the same transaction


def test_a_lien_blocks_the_sale_until_released(city: CityChain, land: AccountId) -> None:
    parcel, lien = h("parcel-7"), h("mortgage")
    assert call(city, "registrar", land, "add_lien", parcel, lien, account("bob")).ok
    blocked = call(city, "alice", land, "list_for_sale", parcel, account("bob"), 1)
    assert blocked.code == "contracts.reverted"
    assert "lien blocks the sale" in blocked.message
    assert call(city, "bob", land, "release_lien", parcel, lien).ok
    assert call(city, "alice", land, "list_for_sale", parcel, account("bob"), 1).ok


def test_only_a_registrar_approves_a_sale(city: CityChain, land: AccountId) -> None:
    parcel = h("parcel-7")
    assert call(city, "alice", land, "list_for_sale", parcel, account("bob"), 10).ok
    root = city.app.info().app_hash
    refused = call(city, "bob", land, "approve_sale", parcel)
    assert refused.code == "contracts.reverted"
    assert "only a land registrar" in refused.message
    assert view(city, land, "parcels", parcel)[0] == account("alice").text
    assert root is not None


# -- utility billing -------------------------------------------------------------------------


@pytest.fixture
def utility(city: CityChain) -> AccountId:
    tiers = [(100, 20), (300, 30), (1_000_000, 50)]
    billing = deploy(
        city,
        "utility-billing",
        source("utility_billing"),
        [("string", "utility"), ("string", "EUR"), ("(uint256,uint256)[]", tiers)],
    )
    grant(city, "utility", "meter_reader", account("reader"))
    grant(city, "utility", "billing", billing)
    return billing


def test_a_meter_reading_becomes_a_bill_paid_by_mandate(
    city: CityChain, utility: AccountId
) -> None:
    mandate = action(
        "payments",
        "set_mandate",
        department="utility",
        asset="EUR",
        per_invoice_max_minor=10_000,
        per_month_max_minor=50_000,
    )
    assert city.run("alice", mandate).ok
    meter = h("meter-alice")
    assert call(city, "reader", utility, "register_meter", meter, account("alice"), 1_000).ok
    revenue_before = balance(city, account("utility"))

    receipt = call(city, "reader", utility, "submit_reading", meter, 1, 1_250)

    assert receipt.ok, receipt.message
    (billed,) = [e.attrs["args"] for e in receipt.events if e.attrs.get("event") == "Billed"]
    assert billed["usage"] == 250
    assert billed["amount"] == 100 * 20 + 150 * 30
    assert billed["collected"] is True
    assert balance(city, account("alice")) == 100_000 - 6_500
    assert balance(city, account("utility")) - revenue_before == 6_500
    invoice = city.query("payments", "invoice", id=billed["invoice"].hex())
    assert invoice["status"] == "paid"


def test_without_a_mandate_the_bill_stays_open(city: CityChain, utility: AccountId) -> None:
    meter = h("meter-bob")
    assert call(city, "reader", utility, "register_meter", meter, account("bob"), 0).ok
    receipt = call(city, "reader", utility, "submit_reading", meter, 1, 50)
    assert receipt.ok, receipt.message
    (billed,) = [e.attrs["args"] for e in receipt.events if e.attrs.get("event") == "Billed"]
    assert billed["collected"] is False
    assert city.query("payments", "invoice", id=billed["invoice"].hex())["status"] == "open"
    assert balance(city, account("bob")) == 100_000


def test_readings_out_of_sequence_or_from_non_readers_are_refused(
    city: CityChain, utility: AccountId
) -> None:
    meter = h("meter-bob")
    assert call(city, "reader", utility, "register_meter", meter, account("bob"), 0).ok
    assert call(city, "bob", utility, "submit_reading", meter, 1, 10).code == "contracts.reverted"
    assert call(city, "reader", utility, "submit_reading", meter, 2, 10).code == (
        "contracts.reverted"
    )
    assert call(city, "reader", utility, "submit_reading", meter, 1, 10).ok
    backwards = call(city, "reader", utility, "submit_reading", meter, 2, 5)
    assert "never runs backwards" in backwards.message


# -- licensing -------------------------------------------------------------------------------


@pytest.fixture
def licensing(city: CityChain) -> AccountId:
    office = deploy(
        city,
        "licensing",
        source("licensing"),
        [("string", "licensing"), ("string", "EUR"), ("uint256", 5_000), ("uint64", 365)],
    )
    grant(city, "licensing", "billing", office)
    grant(city, "licensing", "officer", account("officer"))
    grant(city, "registry", "trust_admin", account("registry"))
    define = action(
        "identity",
        "define_type",
        vct="BusinessLicence",
        schema_hash=h("licence-schema"),
        claims=["licence", "kind", "holder"],
        disclosable=["kind", "holder"],
        validity_days=365,
    )
    assert city.run("registry", define).ok
    trust = action("identity", "trust_issuer", vct="BusinessLicence", issuer=account("licensing"))
    assert city.run("registry", trust).ok
    return office


def test_a_licence_is_applied_for_approved_issued_and_revoked(
    city: CityChain, licensing: AccountId
) -> None:
    licence = h("food-truck-42")
    applied = call(city, "alice", licensing, "apply", licence, "food-truck")
    assert applied.ok, applied.message
    (info,) = [e.attrs["args"] for e in applied.events if e.attrs.get("event") == "Applied"]
    unpaid = call(city, "officer", licensing, "decide", licence, True, "")
    assert "fee is not paid" in unpaid.message
    pay = action("payments", "pay_invoice", invoice_id=info["fee_invoice"], amount_minor=5_000)
    assert city.run("alice", pay).ok
    approved = call(city, "officer", licensing, "decide", licence, True, "")
    assert approved.ok, approved.message
    (ok,) = [e.attrs["args"] for e in approved.events if e.attrs.get("event") == "Approved"]
    assert view(city, licensing, "is_valid", licence) is True

    # The licensing department issues the credential; its status entry is the contract's.
    holder = HolderKey()
    now = city.clock // 1000
    credential = issue(
        key("licensing"),
        account("licensing").did,
        "BusinessLicence",
        {"licence": licence.hex(), "kind": "food-truck", "holder": "Alice"},
        ["kind", "holder"],
        holder.jwk,
        now,
        now + 365 * 86_400,
        StatusReference(licensing.text, 1, ok["status_index"]),
    )
    shown = present(credential, ["kind"], holder, "market", "n-1", now)
    claims = verify_presentation(shown, trust_view(city), "market", "n-1", now).claims
    assert claims["kind"] == "food-truck"
    assert "holder" not in claims  # not disclosed

    assert call(city, "officer", licensing, "revoke", licence, "hygiene violation").ok
    assert status_of(city.app.store, licensing, 1, ok["status_index"]) == 1
    assert view(city, licensing, "is_valid", licence) is False
    again = present(credential, ["kind"], holder, "market", "n-2", now)
    with pytest.raises(CredentialRejected) as rejected:
        verify_presentation(again, trust_view(city), "market", "n-2", now)
    assert rejected.value.reason == "revoked"


def test_rejection_needs_an_officer_and_a_reason(city: CityChain, licensing: AccountId) -> None:
    licence = h("kiosk-1")
    assert call(city, "bob", licensing, "apply", licence, "kiosk").ok
    assert (
        "only a licensing officer"
        in call(city, "bob", licensing, "decide", licence, False, "no").message
    )
    assert (
        "needs a reason" in call(city, "officer", licensing, "decide", licence, False, "").message
    )
    assert call(city, "officer", licensing, "decide", licence, False, "zoning").ok
    assert view(city, licensing, "licences", licence)[3] == 3  # REJECTED


def test_a_licence_renews_before_expiry(city: CityChain, licensing: AccountId) -> None:
    licence = h("taxi-9")
    applied = call(city, "bob", licensing, "apply", licence, "taxi")
    (info,) = [e.attrs["args"] for e in applied.events if e.attrs.get("event") == "Applied"]
    pay = action("payments", "pay_invoice", invoice_id=info["fee_invoice"], amount_minor=5_000)
    assert city.run("bob", pay).ok
    assert call(city, "officer", licensing, "decide", licence, True, "").ok
    until = view(city, licensing, "licences", licence)[5]
    assert "request a renewal first" in call(city, "bob", licensing, "renew", licence).message
    requested = call(city, "bob", licensing, "request_renewal", licence)
    assert requested.ok, requested.message
    assert "renewal fee is not paid" in call(city, "bob", licensing, "renew", licence).message
    invoice = view(city, licensing, "licences", licence)[2]
    pay = action("payments", "pay_invoice", invoice_id=invoice, amount_minor=5_000)
    assert city.run("bob", pay).ok
    assert call(city, "bob", licensing, "renew", licence).ok
    assert view(city, licensing, "licences", licence)[5] == until + 365 * 86_400_000
