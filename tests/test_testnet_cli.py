"""`urbis testnet` trusts no process on its ports (issue 11, item 11).

`testnet up` checks every port a node will bind (API, p2p, RPC, ABCI) before
starting anything and fails naming the port and the node; `testnet status`
shows a node only from a process that proves to be it (chain id, validator
key, CometBFT node id) and calls anything else a foreign process.

Most tests write the network's `testnet.json` by hand, so they need no
cometbft binary; one runs a real single-validator network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.network import free_port_range, require_cometbft
from urbis.crypto.keys import PrivateKey
from urbis.node import testnet as net

CHAIN_ID = "urbis-testnet"
NODE_ID = "ab" * 20
VALIDATOR_KEY = "cd" * 32


def urbis(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "urbis.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def hand_made(folder: Path, validators: int = 2) -> net.Testnet:
    """A network's description without its homes: enough for port checks and status."""
    base = free_port_range(10 * validators + validators)
    nodes = [
        net.TestnetNode(
            name=name,
            home=str(folder / name),
            host="127.0.0.1",
            p2p=base + 10 * index,
            rpc=base + 10 * index + 1,
            abci=base + 10 * index + 2,
            api=base + 10 * validators + index,
            node_id=NODE_ID if index == 0 else "ef" * 20,
            validator_key=VALIDATOR_KEY if index == 0 else "12" * 32,
        )
        for index, name in enumerate(("land", "finance", "registry")[:validators])
    ]
    for node in nodes:
        Path(node.home).mkdir(parents=True)
    testnet = net.Testnet(folder, CHAIN_ID, nodes)
    testnet.save()
    return testnet


@pytest.fixture
def testnet(tmp_path: Path) -> net.Testnet:
    return hand_made(tmp_path / "net")


def occupy(port: int) -> socket.socket:
    """A plain process-like listener on the port, as another program would hold it."""
    holder = socket.socket()
    holder.setsockopt(
        socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
    )  # as servers do: TIME_WAIT is no owner
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


class StatusServer:
    """A tiny HTTP server answering /v1/status with whatever status it is given."""

    def __init__(self, port: int, status: dict[str, Any] | None) -> None:
        body = b"<html>not a node</html>" if status is None else json.dumps(status).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def status_server() -> Iterator[list[StatusServer]]:
    servers: list[StatusServer] = []
    yield servers
    for server in servers:
        server.close()


def node_status(
    chain_id: str = CHAIN_ID, validator: str = VALIDATOR_KEY, node_id: str = NODE_ID
) -> dict[str, Any]:
    """What a node's /v1/status says (only the fields `testnet status` reads)."""
    return {
        "chain_id": chain_id,
        "height": 4242,
        "app_hash": "99" * 32,
        "validator": validator,
        "consensus_status": {"node_id": node_id, "peers": [], "catching_up": False},
        "halted": None,
    }


@pytest.mark.parametrize("purpose", ["api", "p2p", "rpc", "abci"])
def test_up_with_a_taken_port_is_testnet_port_in_use(
    tmp_path: Path, testnet: net.Testnet, purpose: str
) -> None:
    if purpose == "abci":  # a home too deep for a unix socket: ABCI goes over its TCP port
        testnet = hand_made(tmp_path / ("deep-" * 20) / "net")
    node = testnet.nodes[1]
    port = dict(node.ports())[purpose]
    holder = occupy(port)
    try:
        result = urbis("testnet", "up", "--dir", str(testnet.folder))
    finally:
        holder.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("testnet.port_in_use: "), result.stderr
    assert f"{purpose} port {port} of node {node.name}" in result.stderr
    assert "Traceback" not in result.stderr
    for each in testnet.nodes:  # nothing was started: the check comes first
        assert net.pid_of(each) is None
        assert not (Path(each.home) / "node.log").exists()


def test_check_ports_passes_when_every_port_is_free(testnet: net.Testnet) -> None:
    net.check_ports(testnet.nodes)  # raises on any taken port


def test_the_abci_port_is_not_needed_when_abci_uses_the_unix_socket(testnet: net.Testnet) -> None:
    node = testnet.nodes[0]
    assert net.abci_address(node).startswith("unix://")
    holder = occupy(node.abci)  # e.g. an outgoing connection that drew this port
    try:
        net.check_ports(testnet.nodes)
    finally:
        holder.close()


def test_check_ports_names_the_port_in_its_details(testnet: net.Testnet) -> None:
    port = testnet.nodes[0].api
    holder = occupy(port)
    try:
        with pytest.raises(net.PortInUse) as refused:
            net.check_ports(testnet.nodes)
    finally:
        holder.close()
    assert refused.value.code == "testnet.port_in_use"
    assert refused.value.details == {"port": port, "node": "land", "purpose": "api"}


def test_two_nodes_wanting_one_port_is_testnet_port_in_use(tmp_path: Path) -> None:
    testnet = hand_made(tmp_path / "net")
    testnet.nodes[1].api = testnet.nodes[0].p2p
    with pytest.raises(net.PortInUse) as refused:
        net.check_ports(testnet.nodes)
    assert refused.value.code == "testnet.port_in_use"
    assert str(testnet.nodes[0].p2p) in refused.value.message


def test_status_names_a_foreign_chain_on_the_api_port(
    testnet: net.Testnet, status_server: list[StatusServer]
) -> None:
    node = testnet.nodes[0]
    status_server.append(StatusServer(node.api, node_status(chain_id="other-city")))
    result = urbis("testnet", "status", "--dir", str(testnet.folder))
    assert result.returncode == 0, result.stderr
    (line,) = [row for row in result.stdout.splitlines() if row.startswith("land")]
    assert f"foreign process on port {node.api}" in line
    assert "other-city" in line
    assert "4242" not in result.stdout  # the foreign height is never shown as the node's


@pytest.mark.parametrize(
    "answer",
    [
        node_status(validator="77" * 32),
        node_status(node_id="88" * 20),
        None,  # something that is not an Urbis node at all
    ],
    ids=["other validator", "other node id", "not a node"],
)
def test_status_json_marks_an_impostor_as_foreign(
    testnet: net.Testnet, status_server: list[StatusServer], answer: dict[str, Any] | None
) -> None:
    node = testnet.nodes[0]
    status_server.append(StatusServer(node.api, answer))
    result = urbis("testnet", "status", "--dir", str(testnet.folder), "--json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)[0]
    assert row["foreign"].startswith(f"foreign process on port {node.api}: ")
    assert row["height"] is None and row["app_hash"] is None


def test_status_shows_the_node_that_proves_to_be_itself(
    testnet: net.Testnet, status_server: list[StatusServer]
) -> None:
    node = testnet.nodes[0]
    status_server.append(StatusServer(node.api, node_status()))
    row = net.status(node)
    assert row["foreign"] is None
    assert (row["height"], row["app_hash"]) == (4242, "99" * 32)


def test_up_refuses_a_foreign_process_holding_a_port_before_starting(
    testnet: net.Testnet, status_server: list[StatusServer]
) -> None:
    """The issue's case: another city's node answers on the first node's API port."""
    node = testnet.nodes[0]
    status_server.append(StatusServer(node.api, node_status(chain_id="other-city")))
    result = urbis("testnet", "up", "--dir", str(testnet.folder), "--json")
    assert result.returncode == 1
    assert result.stderr.startswith("testnet.port_in_use: ")
    assert f"api port {node.api} of node land" in result.stderr
    assert result.stdout == ""  # never reported as running, no height, no app hash


def test_old_testnet_files_read_identity_from_the_cometbft_keys(tmp_path: Path) -> None:
    """A testnet.json without node ids: the identity comes from the node's key files."""
    testnet = hand_made(tmp_path / "net", validators=1)
    node = testnet.nodes[0]
    config = Path(node.home) / "cometbft" / "config"
    config.mkdir(parents=True)
    node_key = PrivateKey(hashlib.sha256(b"node").digest())
    validator = PrivateKey(hashlib.sha256(b"validator").digest())
    seed_and_public = hashlib.sha256(b"node").digest() + node_key.public_key.raw
    (config / "node_key.json").write_text(
        json.dumps({"priv_key": {"value": base64.b64encode(seed_and_public).decode()}})
    )
    (config / "priv_validator_key.json").write_text(
        json.dumps({"pub_key": {"value": base64.b64encode(validator.public_key.raw).decode()}})
    )
    data = json.loads((testnet.folder / "testnet.json").read_text())
    for entry in data["nodes"]:
        del entry["node_id"], entry["validator_key"]
    (testnet.folder / "testnet.json").write_text(json.dumps(data))
    loaded = net.Testnet.load(testnet.folder).nodes[0]
    expected_id = hashlib.sha256(node_key.public_key.raw).digest()[:20].hex()
    assert loaded.identity() == (expected_id, validator.public_key.raw.hex())


@pytest.mark.cometbft
@pytest.mark.slow
def test_real_node_proves_itself_and_a_stolen_port_stops_up(tmp_path: Path) -> None:
    """A real one-validator network: its own status is accepted (the identity we expect is
    the one CometBFT reports); stopped, with its RPC port taken, `up` refuses to start it."""
    require_cometbft()
    folder = tmp_path / "net"
    base = free_port_range(20)
    created = urbis(
        "testnet",
        "create",
        "--validators",
        "1",
        "--dir",
        str(folder),
        "--base-port",
        str(base),
        "--api-port",
        str(base + 15),
    )
    assert created.returncode == 0, created.stderr
    testnet = net.Testnet.load(folder)
    node = testnet.nodes[0]
    try:
        started = urbis("testnet", "up", "--dir", str(folder), "--json", timeout=150)
        assert started.returncode == 0, started.stderr
        (row,) = json.loads(started.stdout)
        assert row["foreign"] is None and row["height"] >= 1
        status = urbis("testnet", "status", "--dir", str(folder), "--json")
        (row,) = json.loads(status.stdout)
        assert row["foreign"] is None and row["height"] >= 1
    finally:
        net.signal_node(node, signal.SIGTERM)
    holder = occupy(node.rpc)
    try:
        refused = urbis("testnet", "up", "--dir", str(folder), timeout=60)
    finally:
        holder.close()
    assert refused.returncode == 1
    assert refused.stderr.startswith("testnet.port_in_use: ")
    assert f"rpc port {node.rpc} of node {node.name}" in refused.stderr
    assert net.pid_of(node) is None


def test_created_nodes_skip_what_cometbft_would_store_twice(tmp_path: Path) -> None:
    """Urbis keeps its own transaction index and receipts: CometBFT's indexer is off and
    only its latest FinalizeBlock response is kept; the shared settings are still set."""
    import tomllib

    require_cometbft()
    testnet = net.create(tmp_path / "net", 2, base_port=free_port_range(40))
    for node in testnet.nodes:
        config = tomllib.loads(
            (Path(node.home) / "cometbft" / "config" / "config.toml").read_text()
        )
        assert config["tx_index"]["indexer"] == "null"
        assert config["storage"]["discard_abci_responses"] is True
        assert config["mempool"]["recheck"] is False
        assert config["proxy_app"].startswith("unix://")
