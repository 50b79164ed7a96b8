"""Transaction throughput: raw Ed25519 verify rate, the app, and the HTTP API, in one run.

    python bench/throughput.py [--txs 20000] [--block 5000] [--api-txs 20000]

Figures are ratios against the raw 2-core verify rate measured in the same
run, because this machine is shared and its absolute speed drifts.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_city, commit_block, libsodium_rate, signed_anchors, timed
from urbis.crypto.keys import verify_many
from urbis.modules import build_application
from urbis.state.database import Database


def raw_verify_rates(txs: list) -> tuple[float, float, float]:
    """The chain's checks on one and two cores, and libsodium's on one for reference."""
    triples = [(t.signatures[0].key, t.signed_message(), t.signatures[0].sig) for t in txs]
    one = len(triples) / timed(lambda: verify_many(triples, threads=1))
    two = len(triples) / timed(lambda: verify_many(triples, threads=2))
    return one, two, libsodium_rate(triples)


def app_rate(city, txs: list, block: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        app = build_application(Database(Path(folder) / "urbis.db"))
        app.init_chain(city.genesis)
        raws = [t.raw for t in txs]

        def run() -> None:
            prev = b"\0" * 32
            for height, start in enumerate(range(0, len(raws), block), start=1):
                prev = commit_block(app, city, height, raws[start : start + block], prev)

        return len(raws) / timed(run)


def api_rate(city, txs: list, block: int) -> float:
    from urbis.node.home import Home, NodeConfig

    with tempfile.TemporaryDirectory() as folder:
        home = Home(folder)
        home.ensure_dirs()
        city.genesis.save(home.genesis_path)
        home.write_validator_key(city.validator)
        port = _free_port()
        home.save_config(NodeConfig(api_port=port, block_interval_ms=250, max_block_txs=block))
        node = subprocess.Popen(
            [sys.executable, "-m", "urbis.cli.main", "node", "--home", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url)
            bodies = [
                {"txs": [base64.b64encode(t.raw).decode() for t in txs[i : i + 1000]]}
                for i in range(0, len(txs), 1000)
            ]
            rejected = []

            def post(part: list) -> None:
                with httpx.Client(base_url=url, timeout=120) as http:
                    for body in part:
                        answer = http.post("/v1/txs/batch", json=body).json()
                        rejected.append(answer["rejected"])

            started = time.perf_counter()
            threads = [threading.Thread(target=post, args=(bodies[i::2],)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            with httpx.Client(base_url=url) as http:
                while True:
                    metrics = http.get("/metrics").text
                    committed = int(
                        next(
                            line.split()[1]
                            for line in metrics.splitlines()
                            if line.startswith("urbis_txs_total")
                        )
                    )
                    if committed >= len(txs) - sum(rejected):
                        break
                    time.sleep(0.02)
            elapsed = time.perf_counter() - started
            if sum(rejected):
                print(f"  (api: {sum(rejected)} rejected)")
            return (len(txs) - sum(rejected)) / elapsed
        finally:
            node.kill()
            node.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url + "/v1/status", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("node did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--block", type=int, default=5_000)
    parser.add_argument("--api-txs", type=int, default=20_000)
    parser.add_argument("--notaries", type=int, default=100)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; signing {args.txs} anchors from {args.notaries} notaries…")
    city = bench_city(args.notaries)
    txs = signed_anchors(city, max(args.txs, args.api_txs))
    one, two, sodium = raw_verify_rates(txs[: args.txs])
    print(f"raw Ed25519 verify     1 core: {one:8.0f}/s   2 cores: {two:8.0f}/s   (the chain's)")
    print(f"  libsodium (PyNaCl)   1 core: {sodium:8.0f}/s")
    app = app_rate(city, txs[: args.txs], args.block)
    print(
        f"app (finalize+commit)         : {app:8.0f} tx/s  = {app / two:5.1%} of 2-core verify"
        f"  (target >= 5000 tx/s, >= 35%)"
    )
    api = api_rate(city, txs[: args.api_txs], args.block)
    print(
        f"api (/v1/txs/batch → commit)  : {api:8.0f} tx/s  = {api / two:5.1%} of 2-core verify"
        f"  (target >= 2500 tx/s)"
    )


if __name__ == "__main__":
    main()
