"""Three four-validator networks side by side, same machine, same load.

    python bench/cometbft.py [--seconds 20] [--accounts 10000]

1. `kvstore`: the stock `cometbft` binary with its in-process kvstore (the reference:
   CometBFT's own cost, no socket, no signatures).
2. `stock+urbis`: the stock `cometbft` binary driving the Urbis app over ABCI (the old
   path: CometBFT's socket client with its 20 ns flush timer).
3. `urbis-cometbft`: Urbis's node binary (cmd/urbis-cometbft, CometBFT as a library
   with Urbis's ABCI client) driving the Urbis app. This is what `urbis testnet` runs.

Both Urbis networks get the same configuration and the same signed transactions:
document anchors by 200 notaries, then payment transfers among `--accounts` funded
accounts (each sender's transactions through one node, so its nonces arrive in
order). Clients push through CometBFT's RPC (broadcast_tx_sync, batched, keeping at
most BACKLOG_MAX waiting per node) while a sampler times broadcast_tx_commit calls
for commit latency. Throughput is counted from the blocks committed in the window.
CPU per transaction is read from /proc for the CometBFT processes (`node`) and the
Urbis processes (`app`) over the same window.

With URBIS_PPROF=1 the first validator of each Urbis network serves Go's pprof on
localhost:6060 (`go tool pprof -top http://localhost:6060/debug/pprof/profile?seconds=10`).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from urbis.chain.genesis import GenesisAccount, GenesisKey, GenesisValidator
from urbis.chain.ids import AccountId
from urbis.chain.tx import TxBody, sign_tx
from urbis.consensus.cometbft import network
from urbis.crypto.keys import PrivateKey
from urbis.node import testnet as net
from urbis.node.home import DEV_DEPARTMENTS, dev_city_genesis
from urbis.sdk.builder import action
from urbis.sdk.cometbft_verify import Timestamp
from urbis.sdk.keystore import KeyStore

VALIDATORS = 4
BATCH = 100
BACKLOG_MAX = 3000
"""Transactions a client lets wait in its node's mempool (`--backlog`): load the network
can sustain. Commit latency grows with it: a sample waits behind the backlog."""
EXPIRES_AT_HEIGHT = 90_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGET_RATE = 1000
TARGET_P50_S = 1.0
TARGET_P99_S = 2.0
TARGET_SHARE = 0.40


@dataclass
class Result:
    name: str
    rate: float
    committed: int
    latencies: list[float]
    rejected: int
    node_cpu_s: float
    app_cpu_s: float

    def line(self) -> str:
        if self.latencies:
            ordered = sorted(self.latencies)
            p50 = statistics.median(ordered)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            latency = f"p50 {p50:5.2f} s  p99 {p99:5.2f} s (n={len(ordered):3d})"
        else:
            latency = "no latency samples              "
        per_tx = 1000 / max(self.committed, 1)
        return (
            f"{self.name:<28} {self.rate:7.0f} tx/s   {latency}   "
            f"cpu/tx node {self.node_cpu_s * per_tx:5.2f} ms  app {self.app_cpu_s * per_tx:5.2f} ms"
            f"   rejected {self.rejected}"
        )

    def p(self, quantile: float) -> float:
        ordered = sorted(self.latencies) or [float("inf")]
        return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))]


# -- processes and their CPU ---------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@dataclass
class Processes:
    """The pids whose CPU counts as `node` (CometBFT) and as `app` (Urbis)."""

    node: list[int]
    app: list[int]

    def sample(self) -> tuple[float, float]:
        return sum(map(cpu_seconds, self.node)), sum(map(cpu_seconds, self.app))


def urbis_processes(testnet: net.Testnet) -> Processes:
    apps = [pid for node in testnet.nodes if (pid := net.pid_of(node)) is not None]
    return Processes(node=[c for pid in apps for c in children(pid)], app=apps)


# -- RPC ----------------------------------------------------------------------------


def wait_blocks(rpcs: list[str], height: int = 2, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if min(latest_height(r) for r in rpcs) >= height:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError("network did not start")


def latest_height(rpc: str) -> int:
    answer = httpx.get(f"{rpc}/status", timeout=5).json()
    return int(answer["result"]["sync_info"]["latest_block_height"])


def block_txs(rpc: str, height: int) -> tuple[int, float]:
    block = httpx.get(f"{rpc}/block", params={"height": height}, timeout=30).json()["result"]
    stamp = Timestamp.parse(block["block"]["header"]["time"])
    return len(block["block"]["data"]["txs"] or []), stamp.seconds + stamp.nanos / 1e9


def rpc_call(http: httpx.Client, method: str, **params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
    return http.post("/", json=body).json()


def pending(http: httpx.Client) -> int:
    try:
        return int(rpc_call(http, "num_unconfirmed_txs")["result"]["n_txs"])
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def commit_tx(rpc: str, raw: bytes) -> dict[str, Any]:
    with httpx.Client(base_url=rpc, timeout=60) as http:
        answer = rpc_call(http, "broadcast_tx_commit", tx=base64.b64encode(raw).decode())
    result: dict[str, Any] = answer.get("result") or {}
    if int(result.get("check_tx", {}).get("code", 0)) or int(
        result.get("tx_result", {}).get("code", 0)
    ):
        raise RuntimeError(f"setup transaction failed: {answer}")
    return result


def run_load(
    name: str,
    rpcs: list[str],
    txs_by_node: list[list[bytes]],
    samples: Iterator[bytes],
    seconds: float,
    processes: Processes,
    backlog: int = BACKLOG_MAX,
) -> Result:
    """Push transactions for `seconds`; measure what the network committed meanwhile."""
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
                while not stop.is_set() and pending(http) > backlog:
                    time.sleep(0.02)

    def sampler() -> None:
        with httpx.Client(base_url=rpcs[0], timeout=60) as http:
            # check before taking the next sample: one taken and not sent would leave a
            # nonce gap that fails every later sample
            while not stop.is_set():
                tx = next(samples, None)
                if tx is None:
                    return
                started = time.perf_counter()
                try:
                    answer = rpc_call(http, "broadcast_tx_commit", tx=base64.b64encode(tx).decode())
                    result = answer.get("result", {})
                except (httpx.HTTPError, ValueError):
                    continue
                if int(result.get("tx_result", {}).get("code", 0)) == 0 and result.get(
                    "height"
                ) not in (None, "0"):
                    latencies.append(time.perf_counter() - started)
                time.sleep(0.2)

    first = latest_height(rpcs[0]) + 1
    cpu_before = processes.sample()
    threads = [
        threading.Thread(target=pusher, args=(r, t)) for r, t in zip(rpcs, txs_by_node, strict=True)
    ]
    threads.append(threading.Thread(target=sampler))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    last = latest_height(rpcs[0])
    cpu_after = processes.sample()
    for thread in threads:
        thread.join(120)
    counts = [block_txs(rpcs[0], h) for h in range(first, last + 1)]
    total = sum(c for c, _ in counts)
    span = counts[-1][1] - block_txs(rpcs[0], first - 1)[1] if counts else seconds
    time.sleep(2)  # let the backlog drain a little before the next phase
    return Result(
        name,
        total / max(span, 1e-9),
        total,
        latencies,
        rejected[0],
        cpu_after[0] - cpu_before[0],
        cpu_after[1] - cpu_before[1],
    )


# -- the networks -------------------------------------------------------------------


def start_kvstore(folder: Path, base: int) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    """Stock cometbft with its kvstore, configured like the Urbis nodes."""
    homes = [folder / f"kv{i}" for i in range(VALIDATORS)]
    stock = network.cometbft_binary()
    identities = []
    for home in homes:
        subprocess.run([stock, "init", "--home", str(home)], check=True, capture_output=True)
        identities.append(network.identity(home))
    genesis = dev_city_genesis(
        KeyStore(folder / "keys"),
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
        network.configure(home, f"kv{i}", ports, peers, abci_address="kvstore")
        processes.append(
            subprocess.Popen(
                [stock, "start", "--home", str(home)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        rpcs.append(f"http://127.0.0.1:{ports.rpc}")
    return processes, rpcs


@dataclass
class Load:
    """The same signed transactions for both Urbis networks (same keys, same chain id)."""

    anchors_by_node: list[list[bytes]]
    setup: list[bytes]
    transfers_by_node: list[list[bytes]]
    samples: list[bytes]
    size: float


def prepare(
    keys: Path,
    notaries: list[tuple[str, PrivateKey]],
    payers: list[PrivateKey],
    rate_cap: int,
    chain_id: str,
) -> Load:
    wallet = KeyStore(keys)
    anchors_by_node: list[list[bytes]] = [[] for _ in range(VALIDATORS)]
    per_notary = rate_cap // len(notaries)
    for index, (department, key) in enumerate(notaries):
        anchors_by_node[index % VALIDATORS] += [
            signed(chain_id, key.signer(), nonce, anchor(department, nonce))
            for nonce in range(per_notary)
        ]
    finance = wallet.load("finance", "").signer()
    mayor = wallet.load("mayor", "").signer()
    councillor = wallet.load("councillor-a", "").signer()
    finance_id = AccountId.from_key(finance.public_key.raw)
    eur = {"code": "EUR", "decimals": 2, "issuer": finance_id.raw}
    proposal = action(
        "governance",
        "submit_proposal",
        title="EUR",
        action={"module": "payments", "name": "create_asset", "args": eur},
    )
    setup = [
        signed(chain_id, mayor, 0, proposal),
        signed(chain_id, councillor, 0, action("governance", "approve_proposal", id=1)),
    ]
    payer_ids = [AccountId.from_key(k.public_key.raw) for k in payers]
    for nonce, start in enumerate(range(0, len(payer_ids), 32)):
        mints = [
            action("payments", "mint", asset="EUR", recipient=r, amount_minor=1_000_000)
            for r in payer_ids[start : start + 32]
        ]
        setup.append(signed(chain_id, finance, nonce, *mints))
    rng = random.Random(7)
    per_payer = max(1, rate_cap // len(payers))
    transfers_by_node: list[list[bytes]] = [[] for _ in range(VALIDATORS)]
    signers = [k.signer() for k in payers]
    for nonce in range(per_payer):  # round by round, so every payer sends early
        for index, signer in enumerate(signers):
            recipient = (index + 1 + rng.randrange(len(payers) - 1)) % len(payers)
            transfer = action(
                "payments",
                "transfer",
                id=(nonce * len(payers) + index).to_bytes(16, "big"),
                recipient=payer_ids[recipient],
                asset="EUR",
                amount_minor=rng.randrange(1, 100),
            )
            transfers_by_node[index % VALIDATORS].append(signed(chain_id, signer, nonce, transfer))
    utilities = wallet.load("utilities", "").signer()
    samples = [signed(chain_id, utilities, n, anchor("utilities", n)) for n in range(400)]
    size = statistics.mean(len(t) for t in anchors_by_node[0][:100])
    return Load(anchors_by_node, setup, transfers_by_node, samples, size)


def anchor(department: str, nonce: int) -> Any:
    return action(
        "documents",
        "anchor",
        department=department,
        hash=os.urandom(32),
        doc_type="permit",
        reference=f"P-{nonce}",
    )


def signed(chain_id: str, signer: Any, nonce: int, *actions: Any) -> bytes:
    sender = AccountId.from_key(signer.public_key.raw)
    body = TxBody(chain_id, sender, nonce, tuple(actions), EXPIRES_AT_HEIGHT, "")
    return sign_tx(body, [signer]).raw


def run_urbis(
    name: str,
    testnet: net.Testnet,
    load: Load,
    seconds: float,
    binary: str | None,
    backlog: int,
) -> list[Result]:
    if binary is not None:
        os.environ[network.NODE_BINARY_VARIABLE] = binary
    else:
        os.environ.pop(network.NODE_BINARY_VARIABLE, None)
    if os.environ.get("URBIS_PPROF"):
        cfg = Path(testnet.nodes[0].home) / "cometbft" / "config" / "config.toml"
        cfg.write_text(network.set_toml(cfg.read_text(), "rpc", "pprof_laddr", '"localhost:6060"'))
    rpcs = [f"http://127.0.0.1:{n.rpc}" for n in testnet.nodes]
    try:
        for node in testnet.nodes:
            net.start(node)
        wait_blocks(rpcs)
        processes = urbis_processes(testnet)
        samples = iter(load.samples)
        anchors = run_load(
            f"{name} anchors", rpcs, load.anchors_by_node, samples, seconds, processes, backlog
        )
        for raw in load.setup[:2]:
            commit_tx(rpcs[0], raw)
        with httpx.Client(base_url=rpcs[0], timeout=60) as http:
            for raw in load.setup[2:]:
                try:
                    rpc_call(http, "broadcast_tx_sync", tx=base64.b64encode(raw).decode())
                except httpx.TransportError:  # a kept-alive connection the server closed
                    rpc_call(http, "broadcast_tx_sync", tx=base64.b64encode(raw).decode())
        wait_empty(rpcs)
        transfers = run_load(
            f"{name} transfers",
            rpcs,
            load.transfers_by_node,
            samples,
            seconds,
            processes,
            backlog,
        )
        return [anchors, transfers]
    finally:
        for node in testnet.nodes:
            net.signal_node(node, signal.SIGTERM)
        os.environ.pop(network.NODE_BINARY_VARIABLE, None)


def wait_empty(rpcs: list[str], timeout_s: float = 120) -> None:
    """Wait until no mempool holds a transaction, then one more block."""
    deadline = time.monotonic() + timeout_s
    clients = [httpx.Client(base_url=r, timeout=10) for r in rpcs]
    try:
        while time.monotonic() < deadline and any(pending(c) for c in clients):
            time.sleep(0.3)
    finally:
        for client in clients:
            client.close()
    wait_blocks(rpcs, latest_height(rpcs[0]) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="load per phase")
    parser.add_argument("--accounts", type=int, default=10_000, help="payment accounts")
    parser.add_argument("--senders", type=int, default=200, help="notary accounts anchoring")
    parser.add_argument(
        "--rate-cap", type=int, default=60_000, help="transactions prepared per phase"
    )
    parser.add_argument("--dir", help="keep the networks' homes and logs here (default: removed)")
    parser.add_argument("--backlog", type=int, default=BACKLOG_MAX, help="per node")
    parser.add_argument("--timeout-commit", default=None, help="override consensus.timeout_commit")
    parser.add_argument("--recheck", choices=["default", "true", "false"], default="default")
    parser.add_argument(
        "--only", choices=["kvstore", "stock", "urbis"], action="append", help="run only these"
    )
    args = parser.parse_args()
    only = set(args.only or ["kvstore", "stock", "urbis"])
    departments = [d for d, _ in DEV_DEPARTMENTS[:VALIDATORS]]
    notaries = [(departments[i % VALIDATORS], PrivateKey.generate()) for i in range(args.senders)]
    payers = [PrivateKey.generate() for _ in range(args.accounts)]
    extra = tuple(
        (GenesisAccount(f"notary-{i}", (GenesisKey(k.public_key.raw),)), f"{d}.notary")
        for i, (d, k) in enumerate(notaries)
    ) + tuple(
        (GenesisAccount(f"payer-{i}", (GenesisKey(k.public_key.raw),)), "utilities.notary")
        for i, k in enumerate(payers)
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(args.dir or temporary)
        nets: dict[str, net.Testnet] = {}
        for index, which in enumerate(["stock", "urbis"]):
            if which not in only:
                continue
            place = root / which
            if nets:  # the same dev keys, so the same signed transactions are valid on both
                shutil.copytree(next(iter(nets.values())).folder / "keys", place / "keys")
            created = net.create(
                place,
                VALIDATORS,
                base_port=41000 + 100 * index,
                api_port=41900 + 10 * index,
                extra_accounts=extra,
                **({"timeout_commit": args.timeout_commit} if args.timeout_commit else {}),
            )
            if args.recheck != "default":
                for node in created.nodes:
                    cfg = Path(node.home) / "cometbft" / "config" / "config.toml"
                    cfg.write_text(
                        network.set_toml(cfg.read_text(), "mempool", "recheck", args.recheck)
                    )
            nets[which] = created
        print(f"preparing transactions for {args.accounts:,} accounts…", flush=True)
        first = next(iter(nets.values())) if nets else None
        load = (
            prepare(first.folder / "keys", notaries, payers, args.rate_cap, first.chain_id)
            if first
            else None
        )
        size = load.size if load else 250.0
        if "stock" in nets and load:
            print("running stock cometbft + urbis…", flush=True)
            results += run_urbis(
                "stock cometbft + urbis",
                nets["stock"],
                load,
                args.seconds,
                network.cometbft_binary(),
                args.backlog,
            )
        if "urbis" in nets and load:
            print("running urbis-cometbft + urbis…", flush=True)
            results += run_urbis(
                "urbis-cometbft + urbis", nets["urbis"], load, args.seconds, None, args.backlog
            )
        kv: Result | None = None
        if "kvstore" in only:
            print("running stock cometbft + kvstore…", flush=True)
            processes, kv_rpcs = start_kvstore(root / "kv", 42000)
            try:
                wait_blocks(kv_rpcs)
                kv_txs = [
                    [kv_tx(i, j, int(size)) for j in range(args.rate_cap // VALIDATORS)]
                    for i in range(VALIDATORS)
                ]
                kv_samples = iter([kv_tx(9, j, int(size)) for j in range(400)])
                kv = run_load(
                    "stock cometbft + kvstore",
                    kv_rpcs,
                    kv_txs,
                    kv_samples,
                    args.seconds,
                    Processes(node=[p.pid for p in processes], app=[]),
                    args.backlog,
                )
                results.insert(0, kv)
            finally:
                for process in processes:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(20)
    print(
        f"\n4 validators on {os.cpu_count()} cores, {args.seconds:.0f} s of load per phase, "
        f"anchors ~{size:.0f} bytes, transfers among {args.accounts:,} accounts"
    )
    for result in results:
        print(result.line())
    print(
        f"targets for urbis-cometbft: >= {TARGET_RATE} tx/s, p50 < {TARGET_P50_S} s, "
        f"p99 < {TARGET_P99_S} s, >= {TARGET_SHARE:.0%} of kvstore"
    )
    for result in results:
        if not result.name.startswith("urbis-cometbft"):
            continue
        checks = [
            f"{result.rate:.0f} tx/s {'ok' if result.rate >= TARGET_RATE else 'MISSED'}",
            f"p50 {result.p(0.5):.2f} s {'ok' if result.p(0.5) < TARGET_P50_S else 'MISSED'}",
            f"p99 {result.p(0.99):.2f} s {'ok' if result.p(0.99) < TARGET_P99_S else 'MISSED'}",
        ]
        if kv is not None:
            share = result.rate / kv.rate
            checks.append(f"{share:.0%} of kvstore {'ok' if share >= TARGET_SHARE else 'MISSED'}")
        print(f"  {result.name}: " + ", ".join(checks))


def kv_tx(node: int, index: int, size: int) -> bytes:
    head = f"n{node}-{index}-{os.urandom(4).hex()}=".encode()
    return head + b"v" * max(size - len(head), 1)


if __name__ == "__main__":
    main()
