"""Check a vehicle's history against a signed header, trusting only the validator keys.

A buyer asks any node (the seller's, say) for `GET /v1/vehicles/{vin}/history` and
checks, without trusting that node:
  1. the header is signed by the city's validators (or a CometBFT commit vouches);
  2. the vehicle record's proof leads to the header's app hash;
  3. every event's proof leads to the same app hash, under the vehicle's keys in order;
  4. the events link one to the next and the last one's hash is the record's `head`,
     so no event can be left out.
The same answer, saved, is the bundle that carries a vehicle to another city's chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from urbis.chain.codec import CodecError, from_wire
from urbis.crypto.encoding import decode
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.keeper import GENESIS_HEAD, event_hash_of
from urbis.modules.vehicles.records import RecognisedChain, Vehicle, VehicleEvent
from urbis.sdk.verify import verify_state_proof
from urbis.state.proof import ProofError, StateProof
from urbis.state.proof import verify_state_proof as verify_merkle_path


@dataclass(frozen=True, slots=True)
class VerifiedHistory:
    vehicle: Vehicle
    events: list[VehicleEvent]
    height: int
    chain_id: str


def verify_history(
    answer: dict[str, Any],
    validators: Iterable[bytes] | Mapping[bytes, int],
    chain_id: str | None = None,
) -> VerifiedHistory:
    """Raise ProofError unless the answer proves the vehicle and all of its events."""
    vin = str(answer.get("vin", ""))
    vehicle_answer = {
        "proof": (answer.get("vehicle") or {}).get("proof"),
        "header": answer.get("header"),
        "cometbft": answer.get("cometbft"),
    }
    verified = verify_state_proof(vehicle_answer, validators, keys.vehicle(vin), chain_id)
    if verified.value is None:
        raise ProofError(f"the proof shows no vehicle {vin}")
    vehicle = _decoded(Vehicle, verified.value, "vehicle record")
    root = _proof(vehicle_answer["proof"]).root
    rows = answer.get("events")
    if not isinstance(rows, list) or len(rows) != vehicle.events:
        raise ProofError(f"the record has {vehicle.events} events; the answer proves another count")
    events = []
    head = GENESIS_HEAD
    for seq, row in enumerate(rows):
        proof = _proof(row.get("proof") if isinstance(row, dict) else None)
        if proof.key != keys.event(vin, seq) or proof.value is None:
            raise ProofError(f"event {seq}: the proof is for another key or shows no event")
        if proof.height != verified.height or proof.root != root:
            raise ProofError(f"event {seq}: proven at another height than the record")
        verify_merkle_path(proof, root)
        event = _decoded(VehicleEvent, proof.value, f"event {seq}")
        if event.prev != head:
            raise ProofError(f"event {seq} does not link to the event before it")
        head = event_hash_of(proof.value)
        events.append(event)
    if head != vehicle.head:
        raise ProofError("the last event is not the one the vehicle record vouches for")
    header = answer.get("header") or {}
    return VerifiedHistory(vehicle, events, verified.height, str(header.get("chain_id", "")))


def verify_origin(
    bundle: dict[str, Any],
    imported: Vehicle,
    here: str,
    chain_answer: dict[str, Any],
    validators: Iterable[bytes] | Mapping[bytes, int],
) -> VerifiedHistory:
    """The history before an import, checked end to end from this city's keys alone:
    1. `chain_answer` (`GET /v1/vehicles/chains/{origin}`) proves, under this city's
       validators, which keys this city recognised for the origin chain;
    2. the bundle's history verifies against those keys;
    3. its record is the one the import linked: the same head and event count, exported
       to this chain (`here`)."""
    recognised = verify_state_proof(
        chain_answer, validators, keys.chain(imported.origin_chain), here
    )
    if recognised.value is None:
        raise ProofError(f"{here} does not recognise {imported.origin_chain}")
    chain = _decoded(RecognisedChain, recognised.value, "recognised chain")
    origin = verify_history(bundle, chain.validators, imported.origin_chain)
    if origin.vehicle.head != imported.origin_head or origin.vehicle.events != (
        imported.origin_events
    ):
        raise ProofError("the bundle is not the history the import linked (head or count differ)")
    if origin.vehicle.export_chain != here:
        raise ProofError(f"the bundle's vehicle was exported to {origin.vehicle.export_chain}")
    return origin


def _proof(data: Any) -> StateProof:
    if not isinstance(data, dict):
        raise ProofError("a proof is missing")
    return StateProof.from_json(data)


def _decoded(kind: type[Any], value: bytes, what: str) -> Any:
    try:
        return from_wire(kind, decode(value))
    except (CodecError, ValueError) as error:
        raise ProofError(f"{what} does not decode: {error}") from None


def import_args(bundle: dict[str, Any]) -> dict[str, Any]:
    """The `import_vehicle` arguments a history bundle gives: its header and record proof."""
    header = bundle.get("header")
    proof = (bundle.get("vehicle") or {}).get("proof")
    if not isinstance(header, dict) or not isinstance(proof, dict):
        raise ProofError("the bundle has no Urbis-signed header and vehicle proof")
    parsed = _proof(proof)
    try:
        header_args = {
            "chain_id": str(header["chain_id"]),
            "height": int(header["height"]),
            "time_ms": int(header["time_ms"]),
            "prev_hash": bytes.fromhex(header["prev_hash"]),
            "txs_root": bytes.fromhex(header["txs_root"]),
            "results_root": bytes.fromhex(header["results_root"]),
            "app_hash": bytes.fromhex(header["app_hash"]),
            "proposer": bytes.fromhex(header["proposer"]),
            "signature": bytes.fromhex(header["signature"]),
        }
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"malformed header: {error}") from None
    return {
        "header": header_args,
        "proof": {
            "key": parsed.key,
            "value": parsed.value,
            "siblings": list(parsed.siblings),
            "leaf": [] if parsed.leaf is None else list(parsed.leaf),
            "root": parsed.root,
            "height": parsed.height,
        },
    }
