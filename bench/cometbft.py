"""Four-validator networks side by side: CometBFT's built-in kvstore vs the Urbis app.

    python bench/cometbft.py [--seconds 20] [--clients 4]

Same machine, same transaction size, same load: clients push transactions
through CometBFT's RPC (broadcast_tx_async, batched, as load tools for CometBFT
do: the sync call waits on the ABCI socket client's 20 ms flush timer and
measures that timer, not the network) to all four nodes, while
a sampler times broadcast_tx_commit calls for commit latency. Throughput is
counted from the blocks committed during the load window.

With URBIS_PPROF=1 the first Urbis validator serves Go's pprof on
localhost:6060, e.g. `go tool pprof -top http://localhost:6060/debug/pprof/profile?seconds=10`
during the load. That profile shows the socket client's flush ThrottleTimer
(`flushThrottleMS = 20` is passed as a Duration: 20 ns) spinning in Go's timer
code: about a third of each CometBFT process under load.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from urbis.chain.genesis import GenesisAccount, GenesisKey, GenesisValidator
from urbis.consensus.cometbft import network
from urbis.crypto.keys import PrivateKey
from urbis.node import testnet as net
from urbis.node.home import DEV_DEPARTMENTS, dev_city_genesis
from urbis.sdk.wallet import Wallet

VALIDATORS = 4
BATCH = 100
BACKLOG_MAX = 3000
"""Transactions a client lets wait in its node's mempool: load the network can sustain."""


def start_kvstore(folder: Path, base: int) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    homes = [folder / f"kv{i}" for i in range(VALIDATORS)]
    identities = [network.init_home(h) for h in homes]
    genesis = dev_city_genesis(
        Wallet(folder / "keys"),
        "kvstore-bench",
        [GenesisValidator(f"kv{i}", ident.validator_key, 10) for i, ident in enumerate(identities)],
    )
    processes, rpcs = [], []
    for i, (home, ident) in enumerate(zip(homes, identities, strict=True)):
        network.write_genesis(home, genesis)
        ports = network.Ports(base + 10 * i, base + 10 * i + 1, base + 10 * i + 2, 0)
        peers = [
            f"{o.node_id}@127.0.0.1:{base + 10 * j}"
            for j, o in enumerate(identities)
            if o is not ident
        ]
        network.configure(home, f"kv{i}", ports, peers)
        config = home / "config" / "config.toml"
        config.write_text(network.set_toml(config.read_text(), "", "proxy_app", '"kvstore"'))
        processes.append(
            subprocess.Popen(
                [network.cometbft_binary(), "start", "--home", str(home)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        rpcs.append(f"http://127.0.0.1:{ports.rpc}")
    return processes, rpcs


def wait_blocks(rpcs: list[str], height: int = 2, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            heights = [
                int(
                    httpx.get(f"{r}/status", timeout=2).json()["result"]["sync_info"][
                        "latest_block_height"
                    ]
                )
                for r in rpcs
            ]
            if min(heights) >= height:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError("network did not start")


def latest_height(rpc: str) -> int:
    return int(
        httpx.get(f"{rpc}/status", timeout=5).json()["result"]["sync_info"]["latest_block_height"]
    )


def block_txs(rpc: str, height: int) -> tuple[int, float]:
    block = httpx.get(f"{rpc}/block", params={"height": height}, timeout=10).json()["result"]
    header = block["block"]["header"]
    from urbis.sdk.cometbft_verify import Timestamp

    stamp = Timestamp.parse(header["time"])
    return len(block["block"]["data"]["txs"] or []), stamp.seconds + stamp.nanos / 1e9


def run_load(
    rpcs: list[str], txs_by_node: list[list[bytes]], samples: list[bytes], seconds: float
) -> tuple[float, list[float], int]:
    """Push transactions for `seconds`; return (tx/s committed, latencies, rejected)."""
    stop = threading.Event()
    rejected = [0]
    latencies: list[float] = []

    def pusher(rpc: str, txs: list[bytes]) -> None:
        with httpx.Client(base_url=rpc, timeout=60) as http:
            for start in range(0, len(txs), BATCH):
                if stop.is_set():
                    return
                body = [
                    {
                        "jsonrpc": "2.0",
                        "id": i,
                        "method": "broadcast_tx_sync",
                        "params": {"tx": base64.b64encode(tx).decode()},
                    }
                    for i, tx in enumerate(txs[start : start + BATCH])
                ]
                try:
                    answers = http.post("/", json=body).json()
                except httpx.HTTPError:
                    continue
                if isinstance(answers, dict):  # the whole batch refused
                    print("batch refused:", str(answers)[:300], file=sys.stderr)
                    rejected[0] += len(body)
                    continue
                rejected[0] += sum(
                    1 for a in answers if "error" in a or a.get("result", {}).get("code", 0) != 0
                )
                while not stop.is_set() and pending(http) > BACKLOG_MAX:
                    time.sleep(0.02)

    def sampler() -> None:
        with httpx.Client(base_url=rpcs[0], timeout=60) as http:
            for tx in samples:
                if stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    answer = http.post(
                        "/",
                        json={
                            "jsonrpc": "2.0",
                            "id": 0,
                            "method": "broadcast_tx_commit",
                            "params": {"tx": base64.b64encode(tx).decode()},
                        },
                    )
                    result = answer.json().get("result", {})
                except (httpx.HTTPError, ValueError):
                    continue
                if int(result.get("tx_result", {}).get("code", 0)) == 0 and result.get(
                    "height"
                ) not in (None, "0"):
                    latencies.append(time.perf_counter() - started)
                time.sleep(0.2)

    first = latest_height(rpcs[0]) + 1
    threads = [
        threading.Thread(target=pusher, args=(r, t)) for r, t in zip(rpcs, txs_by_node, strict=True)
    ]
    threads.append(threading.Thread(target=sampler))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    last = latest_height(rpcs[0])
    counts = [block_txs(rpcs[0], h) for h in range(first, last + 1)]
    total = sum(c for c, _ in counts)
    span = counts[-1][1] - block_txs(rpcs[0], first - 1)[1] if len(counts) > 1 else seconds
    return total / span, latencies, rejected[0]


def pending(http: httpx.Client) -> int:
    try:
        answer = http.post(
            "/", json={"jsonrpc": "2.0", "id": 0, "method": "num_unconfirmed_txs", "params": {}}
        ).json()
        return int(answer["result"]["n_txs"])
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def describe(name: str, rate: float, latencies: list[float], rejected: int) -> str:
    if latencies:
        ordered = sorted(latencies)
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        latency = f"commit latency p50 {p50:5.2f} s  p99 {p99:5.2f} s  (n={len(ordered)})"
    else:
        latency = "no latency samples"
    return f"{name:<8} {rate:8.0f} tx/s   {latency}   rejected {rejected}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--rate-cap",
        type=int,
        default=80_000,
        help="transactions prepared per network (an upper bound on load)",
    )
    parser.add_argument(
        "--senders",
        type=int,
        default=200,
        help="notary accounts sending (a city's load comes from many accounts)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # Urbis: signed anchors; each department's key always goes through its own node,
        # so its nonces arrive in order. Utilities (not a validator) signs the samples.
        notaries = notary_accounts(args.senders)
        testnet = net.create(
            root / "urbis",
            VALIDATORS,
            base_port=41000,
            api_port=41900,
            extra_accounts=tuple((a, role) for a, role, _ in notaries),
        )
        per_sender = args.rate_cap // len(notaries)
        txs_by_node: list[list[bytes]] = [[] for _ in range(VALIDATORS)]
        for index, (_, role, key) in enumerate(notaries):
            # a sender's transactions all go through one node, so its nonces arrive in order
            department = role.split(".")[0]
            txs_by_node[index % VALIDATORS] += anchors_for(
                key, department, per_sender, testnet.chain_id
            )
        wallet = Wallet(root / "urbis" / "keys")
        samples = anchors_for(wallet.load("utilities", ""), "utilities", 200, testnet.chain_id)
        size = statistics.mean(len(t) for t in txs_by_node[0][:100])
        if os.environ.get("URBIS_PPROF"):
            cfg = Path(testnet.nodes[0].home) / "cometbft" / "config" / "config.toml"
            pprof = network.set_toml(cfg.read_text(), "rpc", "pprof_laddr", '"localhost:6060"')
            cfg.write_text(pprof)
        for node in testnet.nodes:
            net.start(node)
        urbis_rpcs = [f"http://127.0.0.1:{n.rpc}" for n in testnet.nodes]
        try:
            wait_blocks(urbis_rpcs)
            urbis_result = run_load(urbis_rpcs, txs_by_node, samples, args.seconds)
        finally:
            for node in testnet.nodes:
                net.signal_node(node, signal.SIGTERM)

        processes, kv_rpcs = start_kvstore(root / "kv", 42000)
        try:
            wait_blocks(kv_rpcs)
            kv_txs = [
                [kv_tx(i, j, int(size)) for j in range(args.rate_cap // VALIDATORS)]
                for i in range(VALIDATORS)
            ]
            kv_samples = [kv_tx(9, j, int(size)) for j in range(200)]
            kv_result = run_load(kv_rpcs, kv_txs, kv_samples, args.seconds)
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
    print(
        f"4 validators on {os.cpu_count()} cores, tx size ~{size:.0f} bytes, "
        f"{args.seconds:.0f} s of load"
    )
    print(describe("kvstore", *kv_result))
    print(describe("urbis", *urbis_result))
    print(
        f"urbis / kvstore throughput: {urbis_result[0] / kv_result[0]:.0%}"
        "  (targets: urbis >= 1000 tx/s, p50 < 1.5 s, >= 50% of kvstore)"
    )


def notary_accounts(count: int) -> list[tuple[GenesisAccount, str, PrivateKey]]:
    """`count` extra accounts, each a notary of one of the validators' departments."""
    departments = [d for d, _ in DEV_DEPARTMENTS[:VALIDATORS]]
    out = []
    for index in range(count):
        key = PrivateKey.generate()
        account = GenesisAccount(f"notary-{index}", (GenesisKey(key.public_key.raw),))
        out.append((account, f"{departments[index % len(departments)]}.notary", key))
    return out


def anchors_for(key: object, department: str, count: int, chain_id: str) -> list[bytes]:
    """Signed anchors by one department's key for its own department, nonces 0..count-1."""
    from urbis.chain.ids import AccountId
    from urbis.chain.tx import TxBody, sign_tx
    from urbis.sdk.builder import action

    signer = key.signer()  # type: ignore[attr-defined]
    sender = AccountId.from_key(signer.public_key.raw)
    return [
        sign_tx(
            TxBody(
                chain_id,
                sender,
                nonce,
                (
                    action(
                        "documents",
                        "anchor",
                        department=department,
                        hash=os.urandom(32),
                        doc_type="permit",
                        reference=f"P-{nonce}",
                    ),
                ),
                90_000,
                "",
            ),
            [signer],
        ).raw
        for nonce in range(count)
    ]


def kv_tx(node: int, index: int, size: int) -> bytes:
    head = f"n{node}-{index}-{os.urandom(4).hex()}=".encode()
    return head + b"v" * max(size - len(head), 1)


if __name__ == "__main__":
    main()
