"""The election on the ledger: the whole flow once, then every bad input the ledger
refuses, each with its own code and nothing changed (TOY group, so it stays fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.city import CityChain
from tests.helpers.voting import ElectionRun, ok, voting_chain
from urbis.modules.voting.module import check_counts


@pytest.fixture
def chain(tmp_path: Path) -> CityChain:
    made = voting_chain(tmp_path)
    yield made
    made.close()


def test_an_election_from_creation_to_result(chain: CityChain) -> None:
    run = ElectionRun(chain)
    ok(run.create())
    run.ceremony()
    keys = [run.register(bytes([i]) * 32) for i in range(4)]
    run.wait_until_open()
    choices = [1, 2, 1, 1]
    for key, choice in zip(keys, choices, strict=True):
        ok(run.cast(key, run.encrypt(choice)[0]))
    # the last voter changes their mind: only the new ballot counts
    ok(run.cast(keys[3], run.encrypt(2)[0]))
    ok(run.challenge(keys[0], 2))
    election = run.election()
    assert (election.counted, election.replaced, election.challenged) == (4, 1, 1)
    ok(run.close())
    nonces = run.decrypt([1, 3, 5])
    for index in (1, 3, 5):
        ok(run.post_decryption(index, "response", run.respond(index, nonces[index])))
    ok(run.guardian_step(1, "tally"))
    result = run.chain.query("voting", "election", id="ref-2027")
    assert result["phase"] == "tallied"
    from urbis.modules.voting.keeper import VotingView

    recorded = VotingView(chain.app.store).result(run.election_id)
    assert recorded is not None
    assert recorded.counts == [[2, 2]]
    assert check_counts(chain.app.store) == []
