"""Data invariants D1-D3 hold after every block of random actions, rejected ones included;
and the handlers refuse replayed and skipped sequence numbers by code."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.city import CityChain, role_grant, scratch_chain
from urbis.modules.data.module import check_anchors, check_epochs
from urbis.sdk.builder import action

SCHEMA = json.dumps({"type": "object"})


def founded(chain: CityChain) -> None:
    for department in ("land", "finance"):
        assert chain.run_as_next(department, role_grant(department, "data")).ok
        receipt = chain.run_as_next(
            department,
            action("data", "register_key", department=department, public_key=bytes([1]) * 32),
        )
        assert receipt.ok, receipt.message
    receipt = chain.run_as_next(
        "land",
        action(
            "data",
            "register_stream",
            id="traffic.live",
            department="land",
            schema=SCHEMA,
            classification="internal",
            retention_blocks=1000,
            purpose="traffic",
        ),
    )
    assert receipt.ok, receipt.message


def anchor(first_seq: int, count: int, epoch: int) -> object:
    return action(
        "data",
        "anchor",
        stream="traffic.live",
        department="land",
        first_seq=first_seq,
        count=count,
        root=bytes(32),
        epoch=epoch,
    )


def test_replayed_and_skipped_sequences_are_refused_on_chain(tmp_path: Path) -> None:
    chain = CityChain(tmp_path)
    founded(chain)
    assert chain.run_as_next("land", anchor(0, 3, 1)).ok
    assert chain.run_as_next("land", anchor(0, 1, 1)).code == "data.sequence_replayed"
    assert chain.run_as_next("land", anchor(4, 1, 1)).code == "data.sequence_skipped"
    assert chain.run_as_next("land", anchor(3, 1, 2)).code == "data.wrong_epoch"
    assert (
        chain.run_as_next(
            "finance",
            action(
                "data",
                "anchor",
                stream="traffic.live",
                department="finance",
                first_seq=3,
                count=1,
                root=bytes(32),
                epoch=1,
            ),
        ).code
        == "data.not_owner"
    )
    assert chain.run_as_next("registry", anchor(3, 1, 1)).code == "auth.missing_role"
    bad_schema = action(
        "data",
        "register_stream",
        id="x.bad",
        department="land",
        schema='{"type": 5}',
        classification="public",
        retention_blocks=1,
        purpose="p",
    )
    assert chain.run_as_next("land", bad_schema).code == "data.bad_schema"
    chain.close()


steps = st.lists(
    st.one_of(
        st.tuples(st.just("anchor"), st.integers(-1, 1), st.integers(1, 5)),
        st.tuples(st.just("grant"), st.integers(1, 30), st.just(0)),
        st.tuples(st.just("revoke"), st.just(0), st.just(0)),
        st.tuples(st.just("rotate"), st.just(0), st.just(0)),
        st.tuples(st.just("shred"), st.integers(1, 4), st.just(0)),
    ),
    max_size=14,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_invariants_hold_after_every_block(steps: list[tuple[str, int, int]]) -> None:
    with scratch_chain() as chain:
        founded(chain)
        for kind, a, b in steps:
            stream = chain.query("data", "stream", id="traffic.live")
            if kind == "anchor":
                step = anchor(max(stream["next_seq"] + a, 0), b, stream["epoch"])
            elif kind == "grant":
                step = action(
                    "data",
                    "grant",
                    stream="traffic.live",
                    department="land",
                    grantee="finance",
                    role="data",
                    purpose="p",
                    expires_at_height=chain.height + a,
                    projection=[],
                )
            elif kind == "revoke":
                step = action(
                    "data", "revoke", stream="traffic.live", department="land", grantee="finance"
                )
            elif kind == "rotate":
                step = action("data", "rotate", stream="traffic.live", department="land")
            else:
                step = action(
                    "data", "shred_epoch", stream="traffic.live", department="land", epoch=a
                )
            chain.run_as_next("land", step)  # rejections are fine; breakage is not
            assert check_anchors(chain.app.store) == []
            assert check_epochs(chain.app.store) == []
