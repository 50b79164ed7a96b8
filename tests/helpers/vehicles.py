"""A test city with a transport department, its roles, EUR, and an accredited inspector."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.helpers.city import (
    CHAIN_ID,
    COUNCIL,
    DEPARTMENTS,
    CityChain,
    account,
    create_eur,
    key,
)
from tests.helpers.identity import define_type
from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.tx import Action
from urbis.modules.vehicles.records import INSPECTOR_VCT
from urbis.modules.vehicles.vin import with_check_digit
from urbis.sdk.builder import action

PEOPLE = ("alice", "bob", "carol", "dave")
PARTIES = ("transport", "bank", "inspector", "workshop", "insurer", "maker", "rogue")
STARTING_EUR_MINOR = 10_000_000
"""Each resident's opening balance: 100,000.00 EUR."""


def vin(serial: int, wmi: str = "JT2") -> str:
    """A valid VIN for a serial number (Toyota's WMI by default), its check digit computed."""
    return with_check_digit(f"{wmi}BG22K0{serial:08d}")


def vehicles_genesis(chain_id: str = CHAIN_ID) -> Genesis:
    names = [*DEPARTMENTS, *COUNCIL, *PEOPLE, *PARTIES]
    return Genesis(
        chain_id=chain_id,
        name="Test Singapore",
        time_ms=1_700_000_000_000,
        accounts=tuple(GenesisAccount(n, (GenesisKey(key(n).public_key.raw),)) for n in names),
        departments=(
            *(GenesisDepartment(d, d.title(), account(d)) for d in DEPARTMENTS),
            GenesisDepartment("transport", "Land Transport Authority", account("transport")),
        ),
        council_members=tuple(account(c) for c in COUNCIL),
        council_threshold=2,
        validators=(GenesisValidator("validator", key("validator").public_key.raw, 10),),
        roles=(
            ("registry.trust_admin", account("registry")),
            ("transport.registrar", account("transport")),
            ("transport.lender", account("bank")),
            ("transport.workshop", account("workshop")),
            ("transport.insurer", account("insurer")),
        ),
    )


def vehicles_city(path: Path, chain_id: str = CHAIN_ID) -> CityChain:
    """EUR minted to the residents, a VehicleInspector credential for the inspection
    centre (list 1, index 0) and its accreditation, Toyota's manufacturer account."""
    path.mkdir(parents=True, exist_ok=True)
    chain = CityChain(path, vehicles_genesis(chain_id))
    create_eur(chain)
    mints = [
        action(
            "payments", "mint", asset="EUR", recipient=account(p), amount_minor=STARTING_EUR_MINOR
        )
        for p in PEOPLE
    ]
    chain.submit(chain.sign("finance", mints))
    chain.submit(
        chain.sign(
            "registry",
            [
                define_type(INSPECTOR_VCT, ["centre"]),
                action("identity", "trust_issuer", vct=INSPECTOR_VCT, issuer=account("registry")),
                action("identity", "create_status_list", list_id=1, size=4096, bits=1),
            ],
        )
    )
    _, result = chain.block()
    assert all(r.ok for r in result.receipts), [r.message for r in result.receipts]
    receipt = chain.run(
        "transport",
        action("vehicles", "register_manufacturer", account=account("maker"), make="Toyota"),
        accredit("inspector", 0),
    )
    assert receipt.ok, receipt.message
    return chain


def accredit(centre: str, index: int, list_id: int = 1) -> Action:
    return action(
        "vehicles",
        "accredit_inspector",
        account=account(centre),
        issuer=account("registry"),
        list_id=list_id,
        index=index,
    )


def register(serial: int, owner: str = "alice", model: str = "Corolla", year: int = 2020) -> Action:
    return action(
        "vehicles",
        "register",
        vin=vin(serial),
        make="Toyota",
        model=model,
        year=year,
        type_approval="LTA-TA-2019-0042",
        owner=account(owner),
    )


def offer(serial: int, buyer: str, price_minor: int, odometer_km: int, timeout: int = 50) -> Action:
    return action(
        "vehicles",
        "offer_sale",
        vin=vin(serial),
        buyer=account(buyer),
        asset="EUR",
        price_minor=price_minor,
        odometer_km=odometer_km,
        timeout_blocks=timeout,
    )


def pay(serial: int, price_minor: int) -> Action:
    return action("vehicles", "pay_sale", vin=vin(serial), price_minor=price_minor)


def deliver(serial: int) -> Action:
    return action("vehicles", "deliver", vin=vin(serial))


def lien(serial: int, lien_id: bytes, amount_minor: int) -> Action:
    return action(
        "vehicles",
        "register_lien",
        vin=vin(serial),
        id=lien_id,
        asset="EUR",
        amount_minor=amount_minor,
    )


def inspect(serial: int, odometer_km: int, confirm: bool = False, passed: bool = True) -> Action:
    return action(
        "vehicles",
        "inspect",
        vin=vin(serial),
        passed=passed,
        defects=[] if passed else ["brake pads worn"],
        odometer_km=odometer_km,
        next_due_ms=1_800_000_000_000,
        confirm_rollback=confirm,
    )


def service(serial: int, odometer_km: int) -> Action:
    return action(
        "vehicles", "service", vin=vin(serial), odometer_km=odometer_km, reference=digest("svc")
    )


def recall(
    recall_id: bytes, model: str = "Corolla", vin_from: str = "", vin_to: str = ""
) -> Action:
    return action(
        "vehicles",
        "issue_recall",
        id=recall_id,
        make="Toyota",
        model=model,
        year_from=2015,
        year_to=2025,
        vin_from=vin_from,
        vin_to=vin_to,
        description_hash=digest("airbag inflator"),
    )


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def sell(chain: CityChain, serial: int, seller: str, buyer: str, price: int, km: int) -> Any:
    """Offer, pay, deliver; return the delivery's receipt."""
    assert chain.run(seller, offer(serial, buyer, price, km)).ok
    paid = chain.run(buyer, pay(serial, price))
    assert paid.ok, paid.message
    return chain.run(seller, deliver(serial))


def council_runs(chain: CityChain, proposed: Action) -> None:
    """Mayor proposes, a councillor approves: the action runs as the council."""
    submitted = chain.run(
        "mayor",
        action(
            "governance",
            "submit_proposal",
            title=f"{proposed.module}.{proposed.name}",
            action={"module": proposed.module, "name": proposed.name, "args": proposed.args},
        ),
    )
    assert submitted.ok, submitted.message
    (event,) = [e for e in submitted.events if e.type == "governance.proposal_submitted"]
    approved = chain.run(
        "councillor_a", action("governance", "approve_proposal", id=event.attrs["id"])
    )
    assert approved.ok, approved.message
    failed = [e for e in approved.events if e.type == "governance.proposal_failed"]
    assert not failed, failed
