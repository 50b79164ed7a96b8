"""Checkers of the vehicles invariants (module.py's docstring lists them).

Each takes the committed store and returns descriptions of what is wrong; empty
means the invariant holds.
"""

from __future__ import annotations

from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.context import view_of
from urbis.crypto.encoding import decode_trusted
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.keeper import GENESIS_HEAD, event_hash_of
from urbis.modules.vehicles.needs import PaymentsView
from urbis.modules.vehicles.records import EVENT_KINDS, Sale, Vehicle, VehicleEvent

SCAN_MAX = 10_000_000


def _vehicles(store: Any) -> list[Vehicle]:
    rows = store.scan_prefix(keys.VEHICLE_PREFIX, limit=SCAN_MAX)
    return [from_wire(Vehicle, decode_trusted(raw)) for _, raw in rows]


def check_histories(store: Any) -> list[str]:
    """V1: events are numbered 0..events-1, each links to the one before, `head` is the
    last one's hash. V2: `rollbacks` counts the flagged events (plus the origin's)."""
    problems = []
    for vehicle in _vehicles(store):
        rows = store.scan_prefix(keys.event_prefix(vehicle.vin), limit=SCAN_MAX)
        if len(rows) != vehicle.events:
            problems.append(
                f"V1 {vehicle.vin}: {len(rows)} events stored, record says {vehicle.events}"
            )
            continue
        head = GENESIS_HEAD
        flagged = 0
        for seq, (key, raw) in enumerate(rows):
            event = from_wire(VehicleEvent, decode_trusted(raw))
            if key != keys.event(vehicle.vin, seq) or event.seq != seq or event.vin != vehicle.vin:
                problems.append(f"V1 {vehicle.vin}: event {seq} is misplaced")
            if event.kind not in EVENT_KINDS:
                problems.append(f"V1 {vehicle.vin}: event {seq} is of no known kind")
            if event.prev != head:
                problems.append(f"V1 {vehicle.vin}: event {seq} does not link to {seq - 1}")
            head = event_hash_of(raw)
            flagged += event.flagged
        if head != vehicle.head:
            problems.append(f"V1 {vehicle.vin}: head is not the last event's hash")
        exact = vehicle.origin_chain == ""
        if vehicle.rollbacks < flagged or (exact and vehicle.rollbacks != flagged):
            problems.append(
                f"V2 {vehicle.vin}: rollbacks {vehicle.rollbacks}, flagged events {flagged}"
            )
    return problems


def check_sales(store: Any) -> list[str]:
    """V3: an open sale is of a registered vehicle by its owner; a paid one's escrow in
    payments holds (or held, until its deadline returned it) exactly the price."""
    problems = []
    payments = view_of("payments", PaymentsView, store)
    for _, raw in store.scan_prefix(keys.SALE_PREFIX, limit=SCAN_MAX):
        sale = from_wire(Sale, decode_trusted(raw))
        raw_vehicle = store.get(keys.vehicle(sale.vin))
        if raw_vehicle is None:
            problems.append(f"V3 {sale.vin}: a sale of no vehicle")
            continue
        vehicle = from_wire(Vehicle, decode_trusted(raw_vehicle))
        if vehicle.status != "registered" or vehicle.owner != sale.seller:
            problems.append(f"V3 {sale.vin}: offered by {sale.seller}, not its owner")
        if sale.escrow_id:
            escrow = payments.escrow(sale.escrow_id)
            if escrow is None or escrow.amount_minor != sale.price_minor:
                problems.append(
                    f"V3 {sale.vin}: escrow {sale.escrow_id.hex()} does not hold the price"
                )
            elif escrow.status == "released":
                problems.append(f"V3 {sale.vin}: escrow released but the sale is still open")
    return problems


def check_retired(store: Any) -> list[str]:
    """V4: a scrapped or exported vehicle has no lien; an exported one names its destination."""
    problems = []
    for vehicle in _vehicles(store):
        if vehicle.status == "registered":
            continue
        if vehicle.liens:
            problems.append(f"V4 {vehicle.vin}: {vehicle.status} with a lien")
        if (vehicle.status == "exported") != bool(vehicle.export_chain):
            problems.append(
                f"V4 {vehicle.vin}: {vehicle.status} with export chain {vehicle.export_chain!r}"
            )
        if store.get(keys.sale(vehicle.vin)) is not None:
            problems.append(f"V4 {vehicle.vin}: {vehicle.status} with an open sale")
    return problems


def check_invariants(store: Any) -> list[str]:
    return check_histories(store) + check_sales(store) + check_retired(store)
