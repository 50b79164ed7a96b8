"""A node that halts says so on every path and promises nothing it cannot keep.

The disk fills up (a real SQLITE_FULL: the database may not grow by another
page) while a block commits. From then on every way in refuses new
transactions with `node.halted`, naming the cause: one transaction, a batch,
a new event subscription; open subscriptions are closed with 4010; status and
metrics show it; the CLI prints it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.helpers.city import CHAIN_ID, account, anchor, city_home, key
from tests.helpers.process import serving
from urbis.api.events import CLOSE_HALTED
from urbis.chain.tx import TxBody, sign_tx
from urbis.node.runner import Node


def signed(label: str, nonce: int) -> str:
    body = TxBody(CHAIN_ID, account("land"), nonce, (anchor("land", label),), 1000, "")
    return base64.b64encode(sign_tx(body, [key("land").signer()]).raw).decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Node]]:
    node = Node(city_home(tmp_path / "home", block_interval_ms=20))
    node.start()
    try:
        with serving(node) as url:
            yield url, node
    finally:
        node.stop()


def wait_halted(api: str, within_s: float = 10) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        halted = httpx.get(f"{api}/v1/status").json()["halted"]
        if halted:
            return str(halted)
        time.sleep(0.05)
    raise AssertionError("the node never reported halting")


def test_full_disk_halts_and_every_path_says_node_halted(served: tuple[str, Node]) -> None:
    api, node = served
    first = httpx.post(f"{api}/v1/txs?wait=commit", json={"tx": signed("before", 0)}).json()
    assert first["status"] == "committed"
    ws_url = api.replace("http", "ws") + "/v1/events?blocks=true"
    with connect(ws_url) as subscriber:
        # The disk is full from here on: the database may not grow by one more page.
        with node.db.lock:
            pages = node.db.fetchone("PRAGMA page_count")
            assert pages is not None
            node.db.execute(f"PRAGMA max_page_count = {int(pages[0])}")
        batch = {"txs": [signed(f"during-{n}", 1 + n) for n in range(300)]}
        httpx.post(f"{api}/v1/txs/batch", json=batch, timeout=30)
        reason = wait_halted(api)
        assert "full" in reason, reason
        # An open subscription is closed with 4010, naming the cause.
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                subscriber.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_HALTED
        assert closed.value.rcvd.reason.startswith("node.halted:")

    single = httpx.post(f"{api}/v1/txs", json={"tx": signed("after", 400)})
    assert single.status_code == 503 and single.json()["code"] == "node.halted"
    assert "full" in single.json()["detail"]
    again = httpx.post(f"{api}/v1/txs/batch", json={"txs": [signed("after-batch", 401)]})
    assert again.status_code == 503 and again.json()["code"] == "node.halted"
    with connect(ws_url) as late, pytest.raises(ConnectionClosed) as refused:
        late.recv(timeout=10)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == CLOSE_HALTED
    assert "urbis_halted 1" in httpx.get(f"{api}/metrics").text
    # Nothing committed after the halt: the height stays where the disk filled up.
    height = httpx.get(f"{api}/v1/status").json()["height"]
    time.sleep(0.3)
    assert httpx.get(f"{api}/v1/status").json()["height"] == height

    shown = subprocess.run(
        [sys.executable, "-m", "urbis.cli.main", "status"],
        env={**os.environ, "URBIS_API": api},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "full" in shown.stdout, shown.stdout + shown.stderr
