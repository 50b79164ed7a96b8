"""Replication between departments' nodes on a real 4-validator CometBFT network: the
grantee's replicator fetches with signed requests from the producer's node, its own node
checks every batch against the anchors on the shared chain, and the stream stays readable
there with the producer's node killed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.helpers.network import Network, require_cometbft
from urbis.modules.data.sdk import (
    DataSession,
    Producer,
    Reader,
    new_data_key,
    public_bytes,
    replicate,
)
from urbis.sdk.client import ApiError

SCHEMA = json.dumps({"type": "object", "required": ["speed_kmh"]})


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    require_cometbft()
    running = Network.create(tmp_path_factory.mktemp("data-net") / "city")
    yield running
    running.stop()


def session(network: Network, department: str, via: str) -> DataSession:
    return DataSession(
        network.node(via).api_url, network.key(department), network.account(department)
    )


def wait_for(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.cometbft
def test_a_grantee_node_keeps_a_checked_copy_readable_with_the_producer_down(
    network: Network,
) -> None:
    transport = session(network, "transport", "transport")
    finance_here = session(network, "finance", "transport")
    finance_home = session(network, "finance", "finance")
    keys = {"transport": new_data_key(), "finance": new_data_key()}
    for department, own in (("transport", transport), ("finance", finance_here)):
        own.act(
            "grant_role",
            module="governance",
            department=department,
            role="data",
            account=network.account(department),
        )
        own.act("register_key", department=department, public_key=public_bytes(keys[department]))
    transport.act(
        "register_stream",
        id="traffic.live",
        department="transport",
        schema=SCHEMA,
        classification="internal",
        retention_blocks=100_000,
        purpose="congestion",
    )
    producer = Producer(transport, "traffic.live", keys["transport"])
    height = int(transport.get("/v1/status")["height"])
    producer.grant("finance", "congestion charging", height + 100_000)
    producer.publish([{"speed_kmh": n} for n in range(20)])
    wait_for(lambda: transport.stream("traffic.live")["anchored_head"] == 20)

    # the finance node holds nothing yet; a forged batch is refused against the chain
    assert finance_home.stream("traffic.live")["anchored_head"] == 0
    source = Reader(finance_here, "traffic.live", keys["finance"])
    forged = {"batches": [{"first_seq": 0, "envelopes": ["AAAA"]}]}
    with pytest.raises(ApiError) as refused:
        finance_home.request(
            "PUT", "/v1/data/streams/traffic.live/replica", body=json.dumps(forged).encode()
        )
    assert refused.value.code == "data.root_mismatch"

    result = replicate(source, finance_home)
    assert result["stored"] == [[0, 19]] and result["anchored_head"] == 20

    network.kill(network.node("transport"))
    replica = Reader(finance_home, "traffic.live", keys["finance"])
    assert [r.record["speed_kmh"] for r in replica.read(0, 100)] == list(range(20))
