"""What other modules and queries may read of vehicles (only vehicles writes them)."""

from __future__ import annotations

from urbis.chain.codec import from_wire, to_wire
from urbis.chain.context import StateReader
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted, encode_trusted
from urbis.crypto.hashing import tagged_hash
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.records import (
    Inspector,
    Manufacturer,
    Recall,
    RecognisedChain,
    Sale,
    TransferTax,
    Vehicle,
    VehicleEvent,
)

GENESIS_HEAD = bytes(32)
"""The `prev` of a vehicle's first event on its first chain."""


def event_hash(event: VehicleEvent) -> bytes:
    """What the next event's `prev` and the vehicle's `head` hold: the event's stored bytes."""
    return event_hash_of(encode_trusted(to_wire(event)))


def event_hash_of(stored: bytes) -> bytes:
    return tagged_hash("vehicles/event", stored)


def recall_applies(recall: Recall, vehicle: Vehicle) -> bool:
    """Whether a recall covers the vehicle: its make, model ("" all), years and VIN range."""
    return (
        recall.make == vehicle.make
        and (not recall.model or recall.model == vehicle.model)
        and recall.year_from <= vehicle.year <= recall.year_to
        and (not recall.vin_from or recall.vin_from <= vehicle.vin <= recall.vin_to)
    )


class VehiclesView:
    """Read-only: vehicles, their events, sales, accreditations, recalls."""

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def vehicle(self, vin: str) -> Vehicle | None:
        raw = self._state.get(keys.vehicle(vin))
        return None if raw is None else from_wire(Vehicle, decode_trusted(raw))

    def event(self, vin: str, seq: int) -> VehicleEvent | None:
        raw = self._state.get(keys.event(vin, seq))
        return None if raw is None else from_wire(VehicleEvent, decode_trusted(raw))

    def sale(self, vin: str) -> Sale | None:
        raw = self._state.get(keys.sale(vin))
        return None if raw is None else from_wire(Sale, decode_trusted(raw))

    def inspector(self, account: AccountId) -> Inspector | None:
        raw = self._state.get(keys.inspector(account))
        return None if raw is None else from_wire(Inspector, decode_trusted(raw))

    def manufacturer(self, account: AccountId) -> Manufacturer | None:
        raw = self._state.get(keys.manufacturer(account))
        return None if raw is None else from_wire(Manufacturer, decode_trusted(raw))

    def recall(self, recall_id: bytes) -> Recall | None:
        raw = self._state.get(keys.recall(recall_id))
        return None if raw is None else from_wire(Recall, decode_trusted(raw))

    def fixed(self, vin: str, recall_id: bytes) -> bool:
        return self._state.has(keys.fix(vin, recall_id))

    def recognised_chain(self, chain_id: str) -> RecognisedChain | None:
        raw = self._state.get(keys.chain(chain_id))
        return None if raw is None else from_wire(RecognisedChain, decode_trusted(raw))

    def imported_events(self, vin: str, chain_id: str) -> int:
        """Origin events carried by the last import of `vin` from `chain_id` (0: none)."""
        raw = self._state.get(keys.imported(vin, chain_id))
        return 0 if raw is None else int(decode_trusted(raw))

    def transfer_tax_bps(self) -> int:
        raw = self._state.get(keys.TRANSFER_TAX)
        return 0 if raw is None else from_wire(TransferTax, decode_trusted(raw)).rate_bps
