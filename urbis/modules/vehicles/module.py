"""Vehicles: a vehicle's whole life on the ledger (Singapore's Smart Nation trial).

The transport department registers a vehicle by VIN to an owner's account (no
personal data: accounts only). Each fact about it afterwards is recorded by the
party who knows it: a sale by seller and buyer (delivery versus payment through a
payments escrow), a lien by its bank, an inspection and its odometer reading by an
accredited inspection centre, a service or recall fix by a workshop, a recall by
its manufacturer, an accident or claim by an insurer (by reference). Each fact is
an event hash-linked to the one before; the vehicle's `head` vouches for all of
them, so the history can be proven to a buyer, and carried to another city's chain.

V1  a vehicle's events are numbered 0..events-1, each links to the one before, and
    `head` is the last one's hash                                  (check_histories)
V2  `rollbacks` counts the flagged odometer events; it never decreases (check_histories)
V3  an open sale is its owner's; a paid one's payments escrow holds the price (check_sales)
V4  a scrapped or exported vehicle has no lien and no open sale         (check_retired)
V5  a failed action changes nothing (the property test compares the module's keys)
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import StateReader
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.module import COUNCIL_ROLE, ActionSpec, Module
from urbis.modules.vehicles import handlers, keys
from urbis.modules.vehicles.invariants import (
    check_histories,
    check_invariants,
    check_retired,
    check_sales,
)
from urbis.modules.vehicles.keeper import VehiclesView, recall_applies
from urbis.modules.vehicles.records import (
    INSURER_ROLE,
    LENDER_ROLE,
    REGISTRAR_ROLE,
    WORKSHOP_ROLE,
    AccreditInspector,
    Deliver,
    Deregister,
    FixRecall,
    ImportVehicle,
    Inspect,
    IssueRecall,
    OfferSale,
    PaySale,
    Recall,
    RecogniseChain,
    RecordIncident,
    Register,
    RegisterLien,
    RegisterManufacturer,
    ReleaseLien,
    Service,
    SetTransferTax,
    Vehicle,
    WithdrawSale,
)

RECALLS_MAX = 10_000
"""Recalls of one make read for an owner's list (more than any make has issued)."""


def _record(value: Any) -> dict[str, Any]:
    return {name: jsonable(getattr(value, name)) for name in value.__slots__}


def _vin(params: dict[str, str]) -> str:
    vin = params.get("vin", "")
    if not vin or len(vin) > 17:
        raise BadQuery("vin must be 1 to 17 characters")
    return vin


def _known(state: StateReader, vin: str) -> Vehicle:
    vehicle = VehiclesView(state).vehicle(vin)
    if vehicle is None:
        raise NotFound(f"no vehicle {vin}")
    return vehicle


def query_vehicle(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    return _record(_known(state, _vin(params)))


def query_history(state: StateReader, params: dict[str, str]) -> list[dict[str, Any]]:
    vin = _vin(params)
    vehicle = _known(state, vin)
    view = VehiclesView(state)
    return [_record(view.event(vin, seq)) for seq in range(vehicle.events)]


def query_sale(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    sale = VehiclesView(state).sale(_vin(params))
    if sale is None:
        raise NotFound(f"no sale of {params.get('vin')}")
    return _record(sale)


def open_recalls(state: Any, vehicle: Vehicle) -> list[Recall]:
    """The recalls that cover the vehicle and no workshop has fixed on it yet."""
    view = VehiclesView(state)
    prefix = keys.make_recall_prefix(vehicle.make)
    found = []
    for key, _ in state.scan_prefix(prefix, limit=RECALLS_MAX):
        recall = view.recall(key[len(prefix) :])
        covered = recall is not None and recall_applies(recall, vehicle)
        if covered and recall is not None and not view.fixed(vehicle.vin, recall.id):
            found.append(recall)
    return found


def query_recalls(state: StateReader, params: dict[str, str]) -> list[dict[str, Any]]:
    return [_record(r) for r in open_recalls(state, _known(state, _vin(params)))]


def query_chain(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    chain = VehiclesView(state).recognised_chain(params.get("chain_id", ""))
    if chain is None:
        raise NotFound(f"chain {params.get('chain_id')!r} is not recognised")
    return _record(chain)


module = Module(
    name="vehicles",
    actions={
        "register": ActionSpec(
            Register, handlers.register, REGISTRAR_ROLE, "Register a vehicle to its first owner"
        ),
        "offer_sale": ActionSpec(
            OfferSale, handlers.offer_sale, None, "Owner: offer the vehicle to a buyer"
        ),
        "pay_sale": ActionSpec(PaySale, handlers.pay_sale, None, "Buyer: pay into escrow"),
        "deliver": ActionSpec(
            Deliver, handlers.deliver, None, "Seller: title to the buyer, escrow paid out"
        ),
        "withdraw_sale": ActionSpec(
            WithdrawSale, handlers.withdraw_sale, None, "Seller: withdraw an unpaid offer"
        ),
        "register_lien": ActionSpec(
            RegisterLien, handlers.register_lien, LENDER_ROLE, "Bank: register a lien"
        ),
        "release_lien": ActionSpec(
            ReleaseLien, handlers.release_lien, None, "Lien holder: release a lien"
        ),
        "accredit_inspector": ActionSpec(
            AccreditInspector,
            handlers.accredit_inspector,
            REGISTRAR_ROLE,
            "Accredit an inspection centre against its inspector credential",
        ),
        "inspect": ActionSpec(
            Inspect, handlers.inspect, None, "Accredited inspector: record an inspection"
        ),
        "service": ActionSpec(
            Service, handlers.service, WORKSHOP_ROLE, "Workshop: record a service and reading"
        ),
        "register_manufacturer": ActionSpec(
            RegisterManufacturer,
            handlers.register_manufacturer,
            REGISTRAR_ROLE,
            "Register a manufacturer's account for its make",
        ),
        "issue_recall": ActionSpec(
            IssueRecall, handlers.issue_recall, None, "Manufacturer: recall models or VINs"
        ),
        "fix_recall": ActionSpec(
            FixRecall, handlers.fix_recall, WORKSHOP_ROLE, "Workshop: record a recall fixed"
        ),
        "record_incident": ActionSpec(
            RecordIncident,
            handlers.record_incident,
            INSURER_ROLE,
            "Insurer: an accident or claim, by reference",
        ),
        "deregister": ActionSpec(
            Deregister, handlers.deregister, None, "Owner: scrap or export the vehicle"
        ),
        "set_transfer_tax": ActionSpec(
            SetTransferTax, handlers.set_transfer_tax, COUNCIL_ROLE, "Set the transfer tax"
        ),
        "recognise_chain": ActionSpec(
            RecogniseChain,
            handlers.recognise_chain,
            COUNCIL_ROLE,
            "Recognise another city's chain for imports",
        ),
        "import_vehicle": ActionSpec(
            ImportVehicle,
            handlers.import_vehicle,
            REGISTRAR_ROLE,
            "Register a vehicle exported from a recognised chain",
        ),
    },
    queries={
        "vehicle": query_vehicle,
        "history": query_history,
        "sale": query_sale,
        "recalls": query_recalls,
        "chain": query_chain,
    },
    view=VehiclesView,
    prefix=keys.PREFIX,
)

__all__ = [
    "check_histories",
    "check_invariants",
    "check_retired",
    "check_sales",
    "module",
    "open_recalls",
]
