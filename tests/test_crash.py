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


# -- the store alone: kill -9 during large commits, compactions and snapshots ----------

STORE_WRITER = """
import sys
from pathlib import Path

import urbis.state.store as store_module
from tests.test_crash import store_block
from urbis.state import Database, StateStore

store_module.NODE_SEGMENT_BYTES = 300_000  # compact often
store_module.COMPACT_STEP_RECORDS = 1_000  # in several steps, on the compaction thread
store_module.CHECKPOINT_LOG_RECORDS_MIN = 30_000  # snapshot often
store = StateStore(Database(Path(sys.argv[1]) / "s.db"), keep_versions=3)
for version in range(store.version + 1, int(sys.argv[2])):
    store.commit(store_block(version), version)
    print(version, store.root.hex(), flush=True)
"""

STORE_KEYS = 20_000
STORE_VERSIONS = 40


def store_block(version: int) -> dict[bytes, bytes | None]:
    """Version `version`'s changes: 3,000 of 20,000 keys set or (one in ten) deleted."""
    rng = random.Random(version)
    return {
        b"key/%d" % i: None if rng.random() < 0.1 else rng.randbytes(rng.randrange(1, 40))
        for i in rng.sample(range(STORE_KEYS), 3_000)
    }


def test_kill_during_commits_compaction_and_snapshots_reopens_at_the_same_root(
    tmp_path: Path,
) -> None:
    """The store's own crash test: a writer committing 3,000-key versions, compacting
    segments and snapshotting locations as it goes, is killed at random moments. Each
    reopening holds every version it reported, at the root it reported, and the run
    ends at the root of a run never killed, with every proof valid."""
    import os
    import subprocess
    import sys

    from urbis.state import Database, StateStore, verify_state_proof
    from urbis.state import store as store_module

    folder = tmp_path / "crashed"
    folder.mkdir()
    reported: dict[int, str] = {}
    rng = random.Random(19)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    kills = 0
    while True:
        writer = subprocess.Popen(
            [sys.executable, "-c", STORE_WRITER, str(folder), str(STORE_VERSIONS)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines: list[str] = []
        try:
            assert writer.stdout is not None
            if kills < 6:  # then one run to the end
                # Killed a moment after a few more versions: inside a commit, a
                # compaction or a snapshot, whatever the machine's speed.
                for _ in range(rng.randrange(1, 5)):
                    line = writer.stdout.readline()
                    if not line:
                        break
                    lines.append(line)
                time.sleep(rng.uniform(0.0, 0.3))
                writer.send_signal(signal.SIGKILL)
            out, _ = writer.communicate(timeout=300)
        finally:
            writer.kill()
        for line in [*lines, *out.splitlines()]:
            version, root = line.split()
            reported[int(version)] = root
        finished = writer.returncode == 0
        kills += not finished
        db = Database(folder / "s.db")
        reopened = StateStore(db, keep_versions=3)
        try:
            assert reopened.version >= max(reported, default=-1)
            for version in range(max(reopened.version - 2, 0), reopened.version + 1):
                if version in reported:
                    assert reopened.root_at(version).hex() == reported[version]
        finally:
            db.close()
        if finished or reopened.version == STORE_VERSIONS - 1:
            break
    assert kills >= 3
    model: dict[bytes, bytes] = {}
    clean_folder = tmp_path / "clean"
    clean_folder.mkdir()
    clean = StateStore(Database(clean_folder / "s.db"), keep_versions=3)
    for version in range(STORE_VERSIONS):
        block = store_block(version)
        clean.commit(block, version)
        for k, v in block.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
    db = Database(folder / "s.db")
    final = StateStore(db, keep_versions=3)
    try:
        assert final.root == clean.root
        assert final.db.fetchone("SELECT COUNT(*) FROM state_node_retired")[0] > 0  # type: ignore[index]
        assert final._snapshot > 1
        for key in [*random.Random(3).sample(sorted(model), 300), b"key/absent"]:
            proof = final.prove(key)
            assert proof.value == model.get(key)
            verify_state_proof(proof, final.root)
        # Disk holds about the kept window's nodes, not the history's.
        assert final._nodes.disk_bytes < 4 * final.node_count * 97 + store_module.NODE_SEGMENT_BYTES
    finally:
        db.close()
        clean.db.close()
