"""Petitions: the worked example of docs/adding-a-module.md, tested like any module."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.helpers.city import (
    CHAIN_ID,
    CityChain,
    account,
    city_genesis,
    city_home,
    key,
    scratch_chain,
)
from urbis.modules.petitions.module import check_counts
from urbis.sdk.builder import TxBuilder, action

RESIDENTS = ("alice", "bob", "carol")
TEXT_HASH = hashlib.sha256(b"Protected bike lanes on Main Street").digest()


OPEN_ARGS: dict[str, object] = {
    "id": b"bike-lanes",
    "department": "land",
    "title": "Protected bike lanes",
    "text_hash": TEXT_HASH,
    "open_blocks": 100,
}


def open_action(petition_id: bytes, open_blocks: int = 5, department: str = "land") -> object:
    return action(
        "petitions",
        "open",
        id=petition_id,
        department=department,
        title="Protected bike lanes",
        text_hash=TEXT_HASH,
        open_blocks=open_blocks,
    )


def sign_action(petition_id: bytes) -> object:
    return action("petitions", "sign", id=petition_id)


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    chain = CityChain(tmp_path, genesis=city_genesis(extra_accounts=RESIDENTS))
    yield chain
    chain.close()


def test_residents_sign_once_and_the_count_is_provable(city: CityChain) -> None:
    from urbis.modules.petitions import keys
    from urbis.state.proof import verify_state_proof

    assert city.run("alice", open_action(b"bike-lanes")).ok
    assert city.run("bob", sign_action(b"bike-lanes")).ok
    assert city.run("carol", sign_action(b"bike-lanes")).ok
    record = city.query("petitions", "petition", id=b"bike-lanes".hex())
    assert record["signatures"] == 2 and record["opened_by"] == account("alice").text
    proof = city.app.store.prove(keys.petition(b"bike-lanes"))
    verify_state_proof(proof, city.app.info().app_hash)
    assert check_counts(city.app.store) == []


def test_second_signature_is_petitions_already_signed(city: CityChain) -> None:
    assert city.run("alice", open_action(b"bike-lanes")).ok
    assert city.run("bob", sign_action(b"bike-lanes")).ok
    assert city.run("bob", sign_action(b"bike-lanes")).code == "petitions.already_signed"


def test_signing_after_the_close_is_petitions_closed(city: CityChain) -> None:
    assert city.run("alice", open_action(b"short-one", open_blocks=1)).ok
    assert city.run("bob", sign_action(b"short-one")).code == "petitions.closed"


def test_failures_by_code(city: CityChain) -> None:
    assert city.run("bob", sign_action(b"no-such-id")).code == "petitions.not_found"
    unknown = open_action(b"elsewhere", department="parks")
    assert city.run("alice", unknown).code == "petitions.unknown_department"
    assert city.run("alice", open_action(b"bike-lanes")).ok
    assert city.run("bob", open_action(b"bike-lanes")).code == "petitions.exists"
    short_id = open_action(b"short")
    assert city.run("alice", short_id).code == "tx.invalid_args"


steps = st.lists(
    st.tuples(
        st.sampled_from(["open", "sign", "wait"]),
        st.sampled_from(RESIDENTS),
        st.sampled_from([b"petition-a", b"petition-b"]),
    ),
    max_size=25,
)


@given(steps)
def test_counts_match_signatures_after_every_step(plan: list[tuple[str, str, bytes]]) -> None:
    """P1 and P2 hold whatever residents do, including what is refused."""
    signed: set[tuple[bytes, str]] = set()
    with scratch_chain(
        lambda path: CityChain(path, city_genesis(extra_accounts=RESIDENTS))
    ) as chain:
        for step, resident, petition_id in plan:
            if step == "wait":
                chain.block()
            elif step == "open":
                chain.run(resident, open_action(petition_id, open_blocks=3))
            elif chain.run(resident, sign_action(petition_id)).ok:
                assert (petition_id, resident) not in signed  # P2
                signed.add((petition_id, resident))
            assert check_counts(chain.app.store) == []  # P1


def test_route_and_command_read_the_petition(tmp_path: Path) -> None:
    from urbis.api.server import create_api
    from urbis.cli.main import app as cli
    from urbis.node.runner import Node

    node = Node(city_home(tmp_path / "home"))
    node.start()
    try:
        with TestClient(create_api(node)) as api:
            tx = (
                TxBuilder(CHAIN_ID)
                .add("petitions", "open", **OPEN_ARGS)
                .sign([key("land")], 0, 1000)
            )
            answer = api.post(
                "/v1/txs?wait=commit", json={"tx": base64.b64encode(tx.raw).decode()}
            ).json()
            assert answer["receipt"]["ok"], answer
            shown = api.get(f"/v1/petitions/{b'bike-lanes'.hex()}", params={"prove": "true"})
            assert shown.status_code == 200 and shown.json()["record"]["signatures"] == 0
            assert shown.json()["proof"]["value"] is not None
            missing = api.get("/v1/petitions/" + "00" * 8)
            assert missing.status_code == 404 and missing.json()["code"] == "query.not_found"
        refused = CliRunner().invoke(cli, ["petition", "show", "abc"])
        assert refused.exit_code == 2 and "cli.bad_id" in refused.output
    finally:
        node.stop()
