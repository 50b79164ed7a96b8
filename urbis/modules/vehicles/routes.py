"""Vehicles under /v1/vehicles: records, open recalls, and the history with its proofs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from urbis.api.deps import NodeDep, state_answer
from urbis.api.views import header_view
from urbis.chain.block import SignedHeader
from urbis.chain.errors import BadQuery, NotFound
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.keeper import VehiclesView
from urbis.modules.vehicles.vin import VIN_LENGTH
from urbis.state.store import UnknownHeight

EVENTS_MAX = 10_000
"""Events one history answer proves (about 12 MB of proofs): far beyond a vehicle's life,
a busy taxi's decade of inspections, services and sales being a few hundred."""


def _vin(vin: str) -> str:
    if len(vin) != VIN_LENGTH or not vin.isalnum():
        raise BadQuery(f"a VIN is {VIN_LENGTH} letters and digits")
    return vin


def proven_history(node: Any, vin: str) -> dict[str, Any]:
    """The vehicle and every event, each with its state proof, all at one height whose
    signed header comes along: a buyer checks it with the city's validator keys only."""
    with node.driver.block_lock:
        at = node.provable_height()
        answer = history_answer(node.app.store, node.app.blocks.header(at), at, vin)
    if node.config.consensus == "cometbft":
        consensus = node.driver.signed_header(at + 1)
        if consensus is None:
            raise UnknownHeight(f"height {at + 1} is not committed yet: ask again in a moment")
        answer["cometbft"] = {"signed_header": consensus}
    return answer


def history_answer(store: Any, signed: SignedHeader | None, at: int, vin: str) -> dict[str, Any]:
    """The history answer (also the export bundle) from a store at height `at`."""
    vehicle_proof = store.prove(keys.vehicle(vin), at)
    if vehicle_proof.value is None:
        raise NotFound(f"no vehicle {vin}")
    vehicle = VehiclesView(_ValueOf(vehicle_proof.value, keys.vehicle(vin))).vehicle(vin)
    assert vehicle is not None
    if vehicle.events > EVENTS_MAX:
        raise BadQuery(f"{vin} has {vehicle.events} events; this answer proves {EVENTS_MAX}")
    events = [store.prove(keys.event(vin, seq), at) for seq in range(vehicle.events)]
    return {
        "vin": vin,
        "height": at,
        "header": None if signed is None else header_view(signed),
        "cometbft": None,
        "vehicle": {"proof": vehicle_proof.to_json()},
        "events": [{"proof": proof.to_json()} for proof in events],
    }


class _ValueOf:
    """One proven value as a state reader, to decode it with the module's own view."""

    def __init__(self, value: bytes, key: bytes) -> None:
        self._value = value
        self._key = key

    def get(self, key: bytes) -> bytes | None:
        return self._value if key == self._key else None

    def has(self, key: bytes) -> bool:
        return key == self._key


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/vehicles", tags=["vehicles"])

    @router.get(
        "/chains/{chain_id}",
        summary="A city chain recognised for imports: its validator keys, with a proof",
    )
    def chain(chain_id: str, node: NodeDep) -> dict[str, Any]:
        record: dict[str, Any] = node.app.query("vehicles", "chain", {"chain_id": chain_id})
        answer = state_answer(node, keys.chain(chain_id), None, True)
        return {"record": record, **answer.model_dump(include={"proof", "header", "cometbft"})}

    @router.get("/{vin}", summary="A vehicle's record (with a proof) and its open recalls")
    def vehicle(vin: str, node: NodeDep, prove: bool = False) -> dict[str, Any]:
        vin = _vin(vin)
        record: dict[str, Any] = node.app.query("vehicles", "vehicle", {"vin": vin})
        recalls = node.app.query("vehicles", "recalls", {"vin": vin})
        if not prove:
            return {"record": record, "open_recalls": recalls}
        answer = state_answer(node, keys.vehicle(vin), None, True)
        return {
            "record": record,
            "open_recalls": recalls,
            **answer.model_dump(include={"proof", "header", "cometbft"}),
        }

    @router.get(
        "/{vin}/history",
        summary="Every event of a vehicle with its state proof, against one signed header",
    )
    def history(vin: str, node: NodeDep) -> dict[str, Any]:
        vin = _vin(vin)
        answer = proven_history(node, vin)
        answer["open_recalls"] = node.app.query("vehicles", "recalls", {"vin": vin})
        return answer

    @router.get("/{vin}/sale", summary="The vehicle's open sale offer")
    def sale(vin: str, node: NodeDep) -> dict[str, Any]:
        record: dict[str, Any] = node.app.query("vehicles", "sale", {"vin": _vin(vin)})
        return record

    return router
