"""kill -9 while committing under load: nothing acknowledged is lost, the chain resumes,
and replaying its blocks reproduces every app hash."""

from __future__ import annotations

import base64
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.city import (
    CHAIN_ID,
    DEPARTMENTS,
    CityChain,
    account,
    anchor,
    city_home,
    key,
    replay,
)
from tests.helpers.process import free_port, start_node
from urbis.chain.tx import TxBody, sign_tx

pytestmark = pytest.mark.slow


class Load:
    """One thread per department sends anchors with wait=commit; acknowledged ids are kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: dict[str, int] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counter = 0

    def run(self, department: str) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            try:
                nonce = http.get(f"/v1/accounts/{account(department).text}").json()["nonce"]
            except (httpx.HTTPError, KeyError, ValueError):
                return
            while not self.stop.is_set():
                with self.lock:
                    self.counter += 1
                    label = f"{department}-{self.counter}-{random.random()}"
                txs = [self._tx(department, nonce + i, f"{label}-{i}") for i in range(20)]
                try:
                    http.post("/v1/txs/batch", json={"txs": txs[:-1]})
                    answer = http.post("/v1/txs?wait=commit", json={"tx": txs[-1]}).json()
                except httpx.HTTPError:
                    return  # the node died under us: nothing from here on was acknowledged
                receipt = answer.get("receipt")
                if receipt is None:
                    return
                with self.lock:
                    self.acknowledged[answer["tx_id"]] = receipt["height"]
                nonce += 20

    @staticmethod
    def _tx(department: str, nonce: int, label: str) -> str:
        body = TxBody(
            CHAIN_ID, account(department), nonce, (anchor(department, label),), 50_000, ""
        )
        return base64.b64encode(sign_tx(body, [key(department).signer()]).raw).decode()


def test_kill_during_load_loses_no_committed_tx(tmp_path: Path) -> None:
    home = city_home(tmp_path / "home", block_interval_ms=20)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "node.log"
    acknowledged: dict[str, int] = {}
    last_height = 0
    for cycle in range(3):
        node = start_node(home.path, port, log)
        status = httpx.get(f"{url}/v1/status").json()
        assert status["height"] >= last_height, "height went backwards after restart"
        load = Load(url)
        threads = [threading.Thread(target=load.run, args=(d,)) for d in DEPARTMENTS]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(1.0, 2.5))
        node.send_signal(signal.SIGKILL)
        node.wait()
        load.stop.set()
        for thread in threads:
            thread.join(15)
        acknowledged.update(load.acknowledged)
        assert load.acknowledged, f"cycle {cycle}: nothing was committed before the kill"
        last_height = max(acknowledged.values())

    node = start_node(home.path, port, log)
    try:
        status = httpx.get(f"{url}/v1/status").json()
        assert status["height"] >= last_height
        for tx_id, height in acknowledged.items():
            answer = httpx.get(f"{url}/v1/txs/{tx_id}")
            assert answer.status_code == 200, f"acknowledged tx {tx_id} lost"
            assert answer.json()["receipt"]["height"] == height
        # the chain keeps going after the last restart
        nonce = httpx.get(f"{url}/v1/accounts/{account('land').text}").json()["nonce"]
        tx = Load._tx("land", nonce, "after-restart")
        receipt = httpx.post(f"{url}/v1/txs?wait=commit", json={"tx": tx}, timeout=30).json()
        assert receipt["receipt"]["ok"] and receipt["receipt"]["height"] > status["height"]
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(30)

    recorded = CityChain(home.path / "data", genesis=home.load_genesis())
    (tmp_path / "replay").mkdir()
    fresh = CityChain(tmp_path / "replay", genesis=home.load_genesis())
    replay(recorded, fresh)
    assert fresh.app.info().app_hash == recorded.app.info().app_hash
    assert len(acknowledged) >= 3
