"""Random sequences of registrations, casts, re-votes, challenges and refused ballots on an
open election (TOY group); every voting invariant holds after every block."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account
from tests.helpers.voting import ElectionRun, ok, voting_chain
from urbis.modules.voting.invariants import check_all
from urbis.modules.voting.parties import BallotKey

KEYS = 4


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[BallotKey]]]:
    """An election after its ceremony, with KEYS registered ballot keys; each example
    starts from a copy of its folder."""
    folder = tmp_path_factory.mktemp("invariants")
    chain = voting_chain(folder)
    run = ElectionRun(chain, window_blocks=10_000)
    ok(run.create())
    run.ceremony()
    keys = [run.register(bytes([7, i]) * 16) for i in range(KEYS)]
    run.wait_until_open()
    chain.close()
    yield folder, keys


steps = st.lists(
    st.tuples(
        st.sampled_from(["cast", "cast", "challenge", "register", "unsigned", "bad_proof"]),
        st.integers(0, KEYS - 1),
        st.integers(1, 2),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=6, deadline=None)
@given(sequence=steps)
def test_invariants_hold_after_every_step(opened: Any, sequence: list[Any]) -> None:
    source, keys = opened
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory) / "chain"
        shutil.copytree(source, copy)
        chain = voting_chain(copy)
        try:
            run = ElectionRun(chain)
            assert check_all(chain.app.store) == []
            for number, (kind, who, choice) in enumerate(sequence):
                _step(run, keys, kind, who, choice, number)
                assert check_all(chain.app.store) == [], (kind, who, choice)
        finally:
            chain.close()


def _step(
    run: ElectionRun, keys: list[BallotKey], kind: str, who: int, choice: int, n: int
) -> None:
    chain: CityChain = run.chain
    if kind == "cast":
        ok(run.cast(keys[who], run.encrypt(choice)[0]))
    elif kind == "challenge":
        ok(run.challenge(keys[who], choice))
    elif kind == "register":
        run.register(bytes([9, n, who, choice]) * 8)
    elif kind == "unsigned":
        stranger = BallotKey.fresh(run.election_id)
        tx = chain.sign(
            "relay",
            [run.cast_action(stranger, run.encrypt(choice)[0])],
            nonce=chain.app.next_nonce(account("relay").raw),
        )
        (receipt,) = chain.execute_raw([tx.raw]).receipts
        assert receipt.code == "voting.bad_registrar_signature"
    else:
        raw = bytearray(run.encrypt(choice)[0])
        position = raw.index(b'"v":["') + 6
        raw[position] = ord("0") if raw[position] != ord("0") else ord("1")
        relay = account("relay").raw
        tx = chain.sign(
            "relay", [run.cast_action(keys[who], bytes(raw))], nonce=chain.app.next_nonce(relay)
        )
        (receipt,) = chain.execute_raw([tx.raw]).receipts
        assert not receipt.ok
