"""The referendum on four CometBFT validators: ballots relayed through one node are
verified by every validator, the result is the same everywhere, and so is the app hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.network import Network, require_cometbft
from urbis.modules.voting.demo import run_demo
from urbis.sdk.client import Client

pytestmark = [pytest.mark.cometbft, pytest.mark.slow]

RESIDENTS = 6


def test_referendum_on_four_validators(tmp_path: Path) -> None:
    require_cometbft()
    network = Network.create(tmp_path / "net")
    try:
        via = network.nodes[1]  # the demo gives every node the relay key; it uses the second
        run = run_demo(network.testnet.folder, Client(via.api_url), RESIDENTS, "toy-256")
        assert sum(run.counts) == RESIDENTS
        election = run.election_id.decode()
        results = {
            str(network.get(node, f"/v1/voting/elections/{election}/result")["counts"])
            for node in network.nodes
        }
        assert len(results) == 1
        height = min(network.height(node) for node in network.nodes)
        assert len({network.app_hash(node, height) for node in network.nodes}) == 1
    finally:
        network.stop()
