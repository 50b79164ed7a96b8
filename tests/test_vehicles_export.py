"""A vehicle's history proven to a buyer, and carried to another city's chain as a bundle
of state proofs against the origin's signed header; every forgery refused by its code."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, key
from tests.helpers.vehicles import (
    council_runs,
    inspect,
    register,
    sell,
    service,
    vehicles_city,
    vin,
)
from urbis.api.views import header_view
from urbis.chain.block import sign_header
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.module import check_invariants
from urbis.modules.vehicles.routes import history_answer
from urbis.modules.vehicles.verify import import_args, verify_history, verify_origin
from urbis.sdk.builder import action
from urbis.sdk.verify import header_from_view
from urbis.state.proof import ProofError

VALIDATORS = [key("validator").public_key.raw]


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[CityChain]:
    chain = vehicles_city(tmp_path / "a", chain_id="city-a")
    assert chain.run("transport", register(7)).ok
    assert chain.run("inspector", inspect(7, 40_000)).ok
    assert chain.run("inspector", inspect(7, 35_000, confirm=True)).ok
    assert sell(chain, 7, "alice", "bob", 900_000, 36_000).ok
    yield chain
    chain.close()


@pytest.fixture
def destination(tmp_path: Path) -> Iterator[CityChain]:
    chain = vehicles_city(tmp_path / "b", chain_id="city-b")
    yield chain
    chain.close()


def history(chain: CityChain, serial: int) -> dict[str, Any]:
    at = chain.height
    return history_answer(chain.app.store, chain.app.blocks.header(at), at, vin(serial))


def export(chain: CityChain, serial: int, to: str = "city-b", owner: str = "carol") -> Any:
    step = action(
        "vehicles",
        "deregister",
        vin=vin(serial),
        reason="exported",
        destination_chain=to,
        destination_owner=account(owner),
    )
    receipt = chain.run("bob", step)
    assert receipt.ok, receipt.message
    return history(chain, serial)


def recognise(chain: CityChain, chain_id: str = "city-a") -> None:
    council_runs(
        chain, action("vehicles", "recognise_chain", chain_id=chain_id, validators=VALIDATORS)
    )


def import_step(bundle: dict[str, Any]) -> Any:
    return action("vehicles", "import_vehicle", **import_args(bundle))


def module_state(chain: CityChain) -> list[tuple[bytes, bytes]]:
    rows: list[tuple[bytes, bytes]] = chain.app.store.scan_prefix(keys.PREFIX, limit=1_000_000)
    return rows


def refused(chain: CityChain, bundle: dict[str, Any], code: str) -> None:
    before = module_state(chain)
    receipt = chain.run("transport", import_step(bundle))
    assert receipt.code == code, (receipt.code, receipt.message)
    assert module_state(chain) == before


# -- the history a buyer checks -------------------------------------------------------------


def test_history_verifies_against_the_signed_header(origin: CityChain) -> None:
    verified = verify_history(history(origin, 7), VALIDATORS, "city-a")
    kinds = [event.kind for event in verified.events]
    assert kinds == ["registered", "inspected", "inspected", "sold"]
    assert [event.flagged for event in verified.events] == [False, False, True, False]
    assert verified.vehicle.owner == account("bob") and verified.vehicle.rollbacks == 1


def test_history_with_an_event_left_out_or_changed_is_refused(origin: CityChain) -> None:
    answer = history(origin, 7)
    dropped = copy.deepcopy(answer)
    del dropped["events"][2]  # the flagged rollback
    with pytest.raises(ProofError):
        verify_history(dropped, VALIDATORS)
    changed = copy.deepcopy(answer)
    value = bytearray.fromhex(changed["events"][1]["proof"]["value"])
    value[-1] ^= 1
    changed["events"][1]["proof"]["value"] = value.hex()
    with pytest.raises(ProofError):
        verify_history(changed, VALIDATORS)
    with pytest.raises(ProofError):
        verify_history(answer, [key("rogue").public_key.raw])
    with pytest.raises(ProofError):
        verify_history(answer, VALIDATORS, chain_id="city-b")


# -- export and import -------------------------------------------------------------------------


def test_exported_vehicle_is_imported_with_its_history_linked(
    origin: CityChain, destination: CityChain
) -> None:
    bundle = export(origin, 7)
    verified = verify_history(bundle, VALIDATORS, "city-a")
    recognise(destination)
    receipt = destination.run("transport", import_step(bundle))
    assert receipt.ok, receipt.message
    record = destination.query("vehicles", "vehicle", vin=vin(7))
    assert record["owner"] == account("carol").text and record["status"] == "registered"
    assert record["origin_chain"] == "city-a"
    assert record["origin_head"] == verified.vehicle.head.hex()
    assert record["origin_events"] == len(verified.events) and record["rollbacks"] == 1
    assert record["odometer_km"] == 36_000
    (imported,) = destination.query("vehicles", "history", vin=vin(7))
    assert imported["kind"] == "imported" and imported["reference"] == verified.vehicle.head.hex()
    refused(destination, bundle, "vehicles.duplicate_vin")  # the same bundle again
    refused_service = destination.run("workshop", service(7, 35_999))
    assert refused_service.code == "vehicles.odometer_rollback"
    assert destination.run("workshop", service(7, 37_000)).ok
    assert check_invariants(destination.app.store) == []
    origin_record = origin.query("vehicles", "vehicle", vin=vin(7))
    assert origin_record["status"] == "exported"


def test_the_origin_history_verifies_from_the_destination_keys_alone(
    origin: CityChain, destination: CityChain
) -> None:
    bundle = export(origin, 7)
    recognise(destination)
    assert destination.run("transport", import_step(bundle)).ok
    here = verify_history(history(destination, 7), VALIDATORS, "city-b")
    at = destination.height
    chain_answer = {
        "proof": destination.app.store.prove(keys.chain("city-a"), at).to_json(),
        "header": header_view(destination.app.blocks.header(at)),  # type: ignore[arg-type]
    }
    earlier = verify_origin(bundle, here.vehicle, "city-b", chain_answer, VALIDATORS)
    assert [e.kind for e in earlier.events][-1] == "deregistered"
    other = origin.run("transport", register(8))
    assert other.ok
    wrong = history(origin, 8)
    with pytest.raises(ProofError):
        verify_origin(wrong, here.vehicle, "city-b", chain_answer, VALIDATORS)
    with pytest.raises(ProofError):  # keys the destination never recognised
        verify_origin(bundle, here.vehicle, "city-b", chain_answer, [key("rogue").public_key.raw])
    incident = action(
        "vehicles", "record_incident", vin=vin(7), kind="claim", report_hash=bytes(32)
    )
    assert origin.run("insurer", incident).code == "vehicles.not_registered"


def test_import_from_an_unrecognised_chain_is_refused(
    origin: CityChain, destination: CityChain
) -> None:
    refused(destination, export(origin, 7), "vehicles.unrecognised_chain")


def test_import_with_a_forged_header_is_refused(origin: CityChain, destination: CityChain) -> None:
    bundle = export(origin, 7)
    recognise(destination)
    signed = header_from_view(bundle["header"])
    by_rogue = sign_header(
        type(signed.header)(**{**signed.header.to_wire(), "proposer": key("rogue").public_key.raw}),
        key("rogue").signer(),
    )
    forged = copy.deepcopy(bundle)
    forged["header"]["proposer"] = by_rogue.header.proposer.hex()
    forged["header"]["signature"] = by_rogue.signature.hex()
    refused(destination, forged, "vehicles.forged_header")
    tampered = copy.deepcopy(bundle)
    tampered["header"]["app_hash"] = "00" * 32
    refused(destination, tampered, "vehicles.forged_header")


def test_import_with_a_proof_that_does_not_match_is_refused(
    origin: CityChain, destination: CityChain
) -> None:
    bundle = export(origin, 7)
    recognise(destination)
    other_value = copy.deepcopy(bundle)
    value = bytearray.fromhex(other_value["vehicle"]["proof"]["value"])
    value[-1] ^= 1
    other_value["vehicle"]["proof"]["value"] = value.hex()
    refused(destination, other_value, "vehicles.proof_mismatch")
    earlier = history(origin, 7)  # a later height: its proof is not under this header
    mixed = copy.deepcopy(bundle)
    origin.block()
    mixed["vehicle"] = history(origin, 7)["vehicle"]
    refused(destination, mixed, "vehicles.proof_mismatch")
    event_proof = copy.deepcopy(bundle)
    event_proof["vehicle"] = earlier["events"][0]
    refused(destination, event_proof, "vehicles.proof_mismatch")


def test_import_of_a_vehicle_exported_elsewhere_is_refused(
    origin: CityChain, destination: CityChain
) -> None:
    bundle = export(origin, 7, to="city-c")
    recognise(destination)
    refused(destination, bundle, "vehicles.not_exported_here")


def test_import_needs_the_registrar_and_recognition_needs_the_council(
    origin: CityChain, destination: CityChain
) -> None:
    bundle = export(origin, 7)
    assert destination.run("alice", import_step(bundle)).code == "auth.missing_role"
    recognition = action("vehicles", "recognise_chain", chain_id="city-a", validators=VALIDATORS)
    assert destination.run("transport", recognition).code == "auth.missing_role"


def test_an_older_bundle_cannot_bring_back_a_vehicle_that_left_again(
    origin: CityChain, destination: CityChain
) -> None:
    """A→B, B→A, A→C: B must refuse A's first bundle (it says "exported to B" for good)."""
    first = export(origin, 7)
    recognise(destination)
    assert destination.run("transport", import_step(first)).ok
    back = action(
        "vehicles",
        "deregister",
        vin=vin(7),
        reason="exported",
        destination_chain="city-a",
        destination_owner=account("bob"),
    )
    assert destination.run("carol", back).ok
    recognise(origin, "city-b")
    assert origin.run("transport", import_step(history(destination, 7))).ok
    assert origin.query("vehicles", "vehicle", vin=vin(7))["owner"] == account("bob").text
    refused(destination, first, "vehicles.stale_bundle")
    assert (
        check_invariants(origin.app.store) == [] and check_invariants(destination.app.store) == []
    )


_ANSWER: dict[str, Any] = {}


def proven_answer() -> dict[str, Any]:
    """One history (built once per process): the property test below tampers with copies."""
    if not _ANSWER:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            chain = vehicles_city(Path(folder), chain_id="city-a")
            try:
                assert chain.run("transport", register(7)).ok
                assert chain.run("inspector", inspect(7, 40_000)).ok
                assert chain.run("inspector", inspect(7, 35_000, confirm=True)).ok
                assert sell(chain, 7, "alice", "bob", 900_000, 36_000).ok
                _ANSWER.update(history(chain, 7))
            finally:
                chain.close()
    return copy.deepcopy(_ANSWER)


@given(data=st.data())
def test_any_flipped_bit_in_a_proof_or_the_header_is_refused(data: st.DataObject) -> None:
    answer = proven_answer()
    verify_history(answer, VALIDATORS, "city-a")
    rows = [answer["vehicle"]] + answer["events"]
    target = data.draw(st.sampled_from(["header", "value", "sibling", "leaf"]))
    if target == "header":
        field = data.draw(st.sampled_from(["app_hash", "signature", "prev_hash", "txs_root"]))
        holder, name = answer["header"], field
    else:
        row = data.draw(st.sampled_from(rows))["proof"]
        if target == "value":
            holder, name = row, "value"
        elif target == "sibling":
            holder, name = row["siblings"], data.draw(st.integers(0, len(row["siblings"]) - 1))
        else:
            holder, name = row["leaf"], data.draw(st.integers(0, 1))
    raw = bytearray.fromhex(holder[name])
    position = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[position // 8] ^= 1 << (position % 8)
    holder[name] = raw.hex()
    with pytest.raises(ProofError):
        verify_history(answer, VALIDATORS, "city-a")
