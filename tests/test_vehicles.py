"""Vehicles: registration, delivery versus payment, liens, inspections, odometer, recalls,
incidents, deregistration; every refusal by its code, with nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account
from tests.helpers.vehicles import (
    accredit,
    council_runs,
    deliver,
    digest,
    inspect,
    lien,
    offer,
    pay,
    recall,
    register,
    sell,
    service,
    vehicles_city,
    vin,
)
from urbis.modules.payments.keeper import read_balance
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.handlers import ESCROW_ACCOUNT
from urbis.modules.vehicles.module import check_invariants
from urbis.modules.vehicles.vin import check_digit, vin_problem
from urbis.sdk.builder import action

PRICE = 1_800_000
"""18,000.00 EUR."""


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    chain = vehicles_city(tmp_path)
    assert chain.run("transport", register(1)).ok
    yield chain
    chain.close()


def module_state(chain: CityChain) -> list[tuple[bytes, bytes]]:
    rows: list[tuple[bytes, bytes]] = chain.app.store.scan_prefix(keys.PREFIX, limit=1_000_000)
    return rows


def refused(chain: CityChain, sender: str, step: object, code: str) -> None:
    """The action fails with `code` and the module's state (and balances) stay as they were."""
    before = module_state(chain)
    balances = {p: eur(chain, p) for p in ("alice", "bob", "carol", "bank")}
    receipt = chain.run(sender, step)  # type: ignore[arg-type]
    assert receipt.code == code, (receipt.code, receipt.message)
    assert module_state(chain) == before
    assert {p: eur(chain, p) for p in balances} == balances
    assert check_invariants(chain.app.store) == []


def eur(chain: CityChain, name: str) -> int:
    return read_balance(chain.app.store, "EUR", account(name))


def owner(chain: CityChain, serial: int) -> str:
    record = chain.query("vehicles", "vehicle", vin=vin(serial))
    return str(record["owner"])


# -- VINs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "known",
    [
        "1M8GDM9AXKP042788",
        "11111111111111111",
        "1HGCM82633A004352",
        "5GZCZ43D13S812715",
        "JH4KA7561PC008269",
        "1GNEK13ZX3R298984",
    ],
)
def test_published_vins_pass_their_check_digit(known: str) -> None:
    assert vin_problem(known) is None


def test_check_digit_ten_is_written_x() -> None:
    assert check_digit("1M8GDM9A_KP042788".replace("_", "0")) == "X"


def test_wrong_check_digit_is_vehicles_invalid_vin(city: CityChain) -> None:
    good = vin(2)
    wrong = good[:8] + ("0" if good[8] != "0" else "1") + good[9:]
    for bad in (wrong, "JT2BG22K10000000", "JT2BG22KI00000001", "jt2bg22k100000001"):
        step = action(
            "vehicles",
            "register",
            vin=bad,
            make="Toyota",
            model="Yaris",
            year=2021,
            type_approval="TA-1",
            owner=account("alice"),
        )
        refused(city, "transport", step, "vehicles.invalid_vin")


def test_duplicate_vin_is_vehicles_duplicate_vin(city: CityChain) -> None:
    refused(city, "transport", register(1, owner="bob"), "vehicles.duplicate_vin")


def test_registration_needs_the_registrar_role(city: CityChain) -> None:
    refused(city, "alice", register(3), "auth.missing_role")


# -- sales: delivery versus payment ------------------------------------------------------


def test_sale_moves_title_and_money_in_the_delivery(city: CityChain) -> None:
    alice, bob = eur(city, "alice"), eur(city, "bob")
    assert city.run("alice", offer(1, "bob", PRICE, 12_000)).ok
    assert city.run("bob", pay(1, PRICE)).ok
    assert eur(city, "bob") == bob - PRICE and eur(city, "alice") == alice  # held in escrow
    assert owner(city, 1) == account("alice").text
    receipt = city.run("alice", deliver(1))
    assert receipt.ok, receipt.message
    assert owner(city, 1) == account("bob").text
    assert eur(city, "alice") == alice + PRICE
    assert read_balance(city.app.store, "EUR", ESCROW_ACCOUNT) == 0
    kinds = [e["kind"] for e in city.query("vehicles", "history", vin=vin(1))]
    assert kinds == ["registered", "sold"]
    assert check_invariants(city.app.store) == []


def test_sale_signed_by_a_non_owner_is_vehicles_not_owner(city: CityChain) -> None:
    refused(city, "carol", offer(1, "bob", PRICE, 12_000), "vehicles.not_owner")
    assert city.run("alice", offer(1, "bob", PRICE, 12_000)).ok
    assert city.run("bob", pay(1, PRICE)).ok
    refused(city, "carol", deliver(1), "vehicles.not_owner")
    refused(city, "carol", pay(1, PRICE), "vehicles.not_buyer")


def test_lower_odometer_at_sale_is_vehicles_odometer_rollback(city: CityChain) -> None:
    assert city.run("workshop", service(1, 20_000)).ok
    refused(city, "alice", offer(1, "bob", PRICE, 19_999), "vehicles.odometer_rollback")


def test_reading_above_the_offer_since_blocks_delivery(city: CityChain) -> None:
    """The offer said 12,000 km; a service since read 15,000: the offer understated it."""
    assert city.run("alice", offer(1, "bob", PRICE, 12_000)).ok
    assert city.run("workshop", service(1, 15_000)).ok
    assert city.run("bob", pay(1, PRICE)).ok
    refused(city, "alice", deliver(1), "vehicles.odometer_rollback")


def test_rollback_confirmed_after_the_offer_blocks_delivery(city: CityChain) -> None:
    assert city.run("inspector", inspect(1, 24_000)).ok
    assert city.run("alice", offer(1, "bob", PRICE, 24_000)).ok
    assert city.run("inspector", inspect(1, 21_000, confirm=True)).ok
    assert city.run("bob", pay(1, PRICE)).ok
    refused(city, "alice", deliver(1), "vehicles.odometer_rollback")


def test_sale_with_an_unpaid_lien_is_vehicles_unpaid_lien(city: CityChain) -> None:
    assert city.run("bank", lien(1, b"loan-0001", 2_000_000)).ok
    refused(city, "alice", offer(1, "bob", PRICE, 12_000), "vehicles.unpaid_lien")


def test_lien_added_after_payment_blocks_delivery(city: CityChain) -> None:
    assert city.run("alice", offer(1, "bob", PRICE, 12_000)).ok
    assert city.run("bob", pay(1, PRICE)).ok
    assert city.run("bank", lien(1, b"loan-0001", PRICE + 1)).ok
    refused(city, "alice", deliver(1), "vehicles.unpaid_lien")


def test_sale_pays_the_lien_holder_first_and_the_tax_to_finance(city: CityChain) -> None:
    council_runs(city, action("vehicles", "set_transfer_tax", rate_bps=300))
    assert city.run("bank", lien(1, b"loan-0001", 500_000)).ok
    alice, bank, finance = eur(city, "alice"), eur(city, "bank"), eur(city, "finance")
    receipt = sell(city, 1, "alice", "bob", PRICE, 12_000)
    assert receipt.ok, receipt.message
    tax = PRICE * 300 // 10_000
    assert eur(city, "bank") == bank + 500_000
    assert eur(city, "finance") == finance + tax
    assert eur(city, "alice") == alice + PRICE - 500_000 - tax
    record = city.query("vehicles", "vehicle", vin=vin(1))
    assert record["liens"] == [] and record["owner"] == account("bob").text
    kinds = [e["kind"] for e in city.query("vehicles", "history", vin=vin(1))]
    assert kinds == ["registered", "lien_registered", "lien_released", "sold"]


def test_sale_refusals_by_code(city: CityChain) -> None:
    refused(city, "bob", pay(1, PRICE), "vehicles.no_sale")
    refused(city, "alice", offer(1, "alice", PRICE, 0), "vehicles.same_account")
    assert city.run("alice", offer(1, "bob", PRICE, 12_000)).ok
    refused(city, "alice", deliver(1), "vehicles.not_paid")
    refused(city, "bob", pay(1, PRICE - 1), "vehicles.price_mismatch")
    assert city.run("bob", pay(1, PRICE)).ok
    refused(city, "bob", pay(1, PRICE), "vehicles.already_paid")
    refused(city, "alice", offer(1, "carol", PRICE, 12_000), "vehicles.sale_pending")
    refused(city, "alice", action("vehicles", "withdraw_sale", vin=vin(1)), "vehicles.sale_pending")
    refused(city, "carol", offer(2, "bob", PRICE, 0), "vehicles.unknown_vin")


def test_unpaid_offer_expires_and_escrow_returns_after_its_deadline(city: CityChain) -> None:
    bob = eur(city, "bob")
    assert city.run("alice", offer(1, "bob", PRICE, 12_000, timeout=2)).ok
    assert city.run("bob", pay(1, PRICE)).ok
    for _ in range(3):
        city.block()
    assert eur(city, "bob") == bob  # payments returned the escrow at its deadline
    refused(city, "alice", deliver(1), "vehicles.sale_expired")
    assert city.run("alice", offer(1, "carol", PRICE, 12_000)).ok  # a new offer replaces it
    assert check_invariants(city.app.store) == []


def test_buyer_without_funds_pays_nothing(city: CityChain) -> None:
    assert city.run("alice", offer(1, "bank", PRICE, 12_000)).ok
    refused(city, "bank", pay(1, PRICE), "payments.insufficient_funds")


# -- liens -------------------------------------------------------------------------------


def test_liens_by_banks_only_and_released_by_their_holder(city: CityChain) -> None:
    refused(city, "alice", lien(1, b"loan-0001", 100), "auth.missing_role")
    assert city.run("bank", lien(1, b"loan-0001", 100)).ok
    refused(city, "bank", lien(1, b"loan-0001", 100), "vehicles.lien_exists")
    release = action("vehicles", "release_lien", vin=vin(1), id=b"loan-0001")
    refused(city, "alice", release, "vehicles.not_lien_holder")
    assert city.run("bank", release).ok
    refused(city, "bank", release, "vehicles.lien_not_found")
    for n in range(8):
        assert city.run("bank", lien(1, f"loan-{n:04d}".encode(), 100)).ok
    refused(city, "bank", lien(1, b"loan-9999", 100), "vehicles.too_many_liens")


# -- inspections and the odometer ----------------------------------------------------------


def test_inspection_without_the_accreditation_is_vehicles_not_inspector(city: CityChain) -> None:
    refused(city, "workshop", inspect(1, 10_000), "vehicles.not_inspector")


def test_revoked_inspector_credential_ends_the_accreditation(city: CityChain) -> None:
    assert city.run("inspector", inspect(1, 10_000)).ok
    revoke = action("identity", "set_status", list_id=1, index=0, status=1)
    assert city.run("registry", revoke).ok
    refused(city, "inspector", inspect(1, 11_000), "vehicles.not_inspector")
    refused(city, "transport", accredit("workshop", 0), "vehicles.credential_invalid")


def test_accreditation_needs_a_trusted_issuer(city: CityChain) -> None:
    step = action(
        "vehicles",
        "accredit_inspector",
        account=account("workshop"),
        issuer=account("land"),
        list_id=1,
        index=0,
    )
    refused(city, "transport", step, "vehicles.credential_invalid")


def test_rollback_is_refused_unless_an_inspector_confirms_and_then_flagged_forever(
    city: CityChain,
) -> None:
    assert city.run("inspector", inspect(1, 50_000)).ok
    refused(city, "workshop", service(1, 30_000), "vehicles.odometer_rollback")
    refused(city, "inspector", inspect(1, 30_000), "vehicles.odometer_rollback")
    assert city.run("inspector", inspect(1, 30_000, confirm=True)).ok
    assert city.run("workshop", service(1, 31_000)).ok
    record = city.query("vehicles", "vehicle", vin=vin(1))
    assert record["rollbacks"] == 1 and record["odometer_km"] == 31_000
    receipt = sell(city, 1, "alice", "bob", PRICE, 31_500)
    assert receipt.ok
    history = city.query("vehicles", "history", vin=vin(1))
    flagged = [e for e in history if e["flagged"]]
    assert [(e["kind"], e["odometer_km"]) for e in flagged] == [("inspected", 30_000)]
    assert city.query("vehicles", "vehicle", vin=vin(1))["rollbacks"] == 1


# -- recalls ----------------------------------------------------------------------------


def test_recall_by_a_non_manufacturer_is_vehicles_not_manufacturer(city: CityChain) -> None:
    refused(city, "rogue", recall(b"recall-0001"), "vehicles.not_manufacturer")
    other_make = action(
        "vehicles",
        "issue_recall",
        id=b"recall-0002",
        make="Honda",
        model="",
        year_from=2015,
        year_to=2025,
        vin_from="",
        vin_to="",
        description_hash=digest("x"),
    )
    refused(city, "maker", other_make, "vehicles.not_manufacturer")


def test_owner_sees_open_recalls_until_a_workshop_fixes_them(city: CityChain) -> None:
    assert city.run("transport", register(2, owner="bob", model="Yaris")).ok
    assert city.run("maker", recall(b"recall-0001")).ok
    refused(city, "maker", recall(b"recall-0001"), "vehicles.recall_exists")
    by_range = recall(b"recall-0002", model="", vin_from=vin(2), vin_to=vin(2))
    assert city.run("maker", by_range).ok
    assert [r["id"] for r in city.query("vehicles", "recalls", vin=vin(1))] == [
        b"recall-0001".hex()
    ]
    assert [r["id"] for r in city.query("vehicles", "recalls", vin=vin(2))] == [
        b"recall-0002".hex()
    ]
    fix = action(
        "vehicles", "fix_recall", vin=vin(1), recall_id=b"recall-0001", reference=digest("job")
    )
    refused(city, "alice", fix, "auth.missing_role")
    assert city.run("workshop", fix).ok
    refused(city, "workshop", fix, "vehicles.recall_already_fixed")
    wrong = action(
        "vehicles", "fix_recall", vin=vin(1), recall_id=b"recall-0002", reference=digest("job")
    )
    refused(city, "workshop", wrong, "vehicles.recall_not_applicable")
    assert city.query("vehicles", "recalls", vin=vin(1)) == []


# -- incidents, deregistration ---------------------------------------------------------------


def test_accidents_and_claims_are_references_by_insurers(city: CityChain) -> None:
    step = action(
        "vehicles", "record_incident", vin=vin(1), kind="accident", report_hash=digest("police")
    )
    refused(city, "alice", step, "auth.missing_role")
    assert city.run("insurer", step).ok
    (event,) = [e for e in city.query("vehicles", "history", vin=vin(1)) if e["kind"] == "accident"]
    assert (
        event["reference"] == digest("police").hex() and event["party"] == account("insurer").text
    )


def test_deregistration_refusals_and_scrapping(city: CityChain) -> None:
    scrap = action("vehicles", "deregister", vin=vin(1), reason="scrapped")
    refused(city, "bob", scrap, "vehicles.not_owner")
    assert city.run("bank", lien(1, b"loan-0001", 100)).ok
    refused(city, "alice", scrap, "vehicles.lien_outstanding")
    assert city.run("bank", action("vehicles", "release_lien", vin=vin(1), id=b"loan-0001")).ok
    assert city.run("alice", scrap).ok
    refused(city, "alice", offer(1, "bob", PRICE, 12_000), "vehicles.not_registered")
    refused(city, "inspector", inspect(1, 90_000), "vehicles.not_registered")
    assert check_invariants(city.app.store) == []


# -- the check digit against another implementation ------------------------------------------

VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@given(st.text(alphabet=VIN_CHARS, min_size=17, max_size=17))
def test_check_digit_agrees_with_the_vin_package(text: str) -> None:
    """Differential against the `vin` package, another implementation (test extra)."""
    from vin import VIN

    assert check_digit(text) == VIN.calculate_check_digit(text)
    assert (vin_problem(text) is None) == (text[8] == VIN.calculate_check_digit(text))
