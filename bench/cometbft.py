"""Three four-validator networks side by side, same machine, same load.

    python bench/cometbft.py [--seconds 20] [--accounts 10000]
    python bench/cometbft.py --only kvstore --only urbis --no-anchors --transfer-rounds 3
        # transfers on a fresh network, three saturated phases back to back

1. `kvstore`: the stock `cometbft` binary with its in-process kvstore (the reference:
   CometBFT's own cost, no socket, no signatures). It runs before and after the Urbis
   networks and the shares are of the mean: this kind of virtual machine changes speed
   by up to twice within minutes, and the run prints that speed (`machine`: an Ed25519
   check and a Python reference step on one core) at its start and end.
2. `stock+urbis`: the stock `cometbft` binary driving the Urbis app over ABCI (the old
   path: CometBFT's socket client with its 20 ns flush timer).
3. `urbis-cometbft`: Urbis's node binary (cmd/urbis-cometbft, CometBFT as a library
   with Urbis's ABCI client) driving the Urbis app. This is what `urbis testnet` runs.

Both Urbis networks get the same configuration and the same signed transactions:
document anchors by 200 notaries, then payment transfers among `--accounts` funded
accounts (each sender's transactions through one node, so its nonces arrive in
order). Clients push through CometBFT's RPC in JSON-RPC batches (`--submit`: sync, the
default, or async, below). Each kind runs twice: at saturation (each client keeps
BACKLOG_MAX waiting in its node's mempool, in batches of 100: the most the network
commits) and paced (the clients together offer `--rate` tx/s, a batch every 100 ms,
open loop: the latency a city sees at a load the network sustains). A saturated
network's latency is mostly queueing behind the backlog, so the latency targets are
judged on the paced rows. Every committed transaction's latency is measured, from the
send of its broadcast to the moment its block shows on the first node's RPC.
Throughput is counted from the blocks committed in the window.

CPU per transaction is read from /proc for the CometBFT processes (`node`) and the
Urbis processes (`app`) over the same window; under each Urbis row, the apps' /metrics
split theirs by ABCI call (the app thread's CPU on each), and `other` is the rest
(request parsing and the collector between calls, the signature, storage and WAL
threads).

`--submit sync` (broadcast_tx_sync) makes each client wait, inside its batch, for one
transaction's CheckTx answer before the node starts the next: one round trip between
node and app a transaction, so the app answers CheckTx in bursts of 2.5-4.4 (counted
in the app's server, 2026-12-04). `--submit async` (broadcast_tx_async, as Urbis's own
driver hands the API's batches to CometBFT, though those the node has checked first)
queues a whole batch's checks at once: what a gateway batching for many residents, or
many residents at once, looks like to a node. Both networks get the same method. An
async answer carries no CheckTx result: a paced row counts what was sent and never
committed as rejected, a saturated row only the RPC's own refusals ("RPC only"). And
the backlog a saturated async client keeps is looser: `num_unconfirmed_txs` does not
count checks still queued between node and app.

With URBIS_PPROF=1 the first validator of each Urbis network serves Go's pprof on
localhost:6060 (`go tool pprof -top http://localhost:6060/debug/pprof/profile?seconds=10`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine_speed
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
SUBMIT_METHODS = {"sync": "broadcast_tx_sync", "async": "broadcast_tx_async"}
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
    ran_out: bool = False
    """A client had no prepared transaction left: less was offered than the phase says."""
    calls: dict[str, float] = field(default_factory=dict)
    """The apps' CPU seconds on each ABCI call over the window (their /metrics), summed."""
    rejections_unseen: bool = False
    """Saturated with async submission: `rejected` counts only the RPC's own refusals
    (mempool full, already cached); a CheckTx refusal shows only as a lower rate."""
    window_s: float = 0.0
    """The seconds over which the CPU was read."""

    def line(self) -> str:
        if self.latencies:
            ordered = sorted(self.latencies)
            p50 = statistics.median(ordered)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            latency = f"p50 {p50:5.2f} s  p99 {p99:5.2f} s (n={len(ordered):6d})"
        else:
            latency = "no latency samples                 "
        per_tx = 1000 / max(self.committed, 1)
        return (
            f"{self.name:<34} {self.rate:7.0f} tx/s   {latency}   "
            f"cpu/tx node {self.node_cpu_s * per_tx:5.2f} ms  app {self.app_cpu_s * per_tx:5.2f} ms"
            f"   rejected {self.rejected}"
            + (" (RPC only)" if self.rejections_unseen else "")
            + ("   RAN OUT of prepared transactions (raise --rate-cap)" if self.ran_out else "")
            + self.calls_line(per_tx)
        )

    def calls_line(self, per_tx: float) -> str:
        """Where the app's CPU went, in ms a transaction: the app thread's ABCI calls, and
        the rest (its parsing and collector between calls, signature and storage threads)."""
        shown = {k: s for k, s in self.calls.items() if s * per_tx >= 0.005}
        if not shown:
            return ""
        rest = self.app_cpu_s - sum(self.calls.values())
        parts = [f"{k} {s * per_tx:.2f}" for k, s in sorted(shown.items(), key=lambda i: -i[1])]
        return "\n    app ms/tx by call: " + ", ".join(parts) + f"; other {rest * per_tx:.2f}"

    def cores_line(self, rate: float) -> str:
        """How many cores the nodes and apps kept busy over the window, and how many `rate`
        transactions a second would keep busy at the same cost a transaction: more than
        the machine has, and the rate is out of reach at that cost whatever the
        scheduling."""
        busy = (self.node_cpu_s + self.app_cpu_s) / self.window_s if self.window_s else 0.0
        return (
            f"nodes and apps kept {busy:.1f} of {os.cpu_count()} cores busy, "
            f"{rate:,.0f} tx/s would take {busy * rate / max(self.rate, 1e-9):.1f}"
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
    apis: list[str] = field(default_factory=list)
    """The apps' API addresses, whose /metrics give their CPU by ABCI call."""

    def sample(self) -> tuple[float, float]:
        return sum(map(cpu_seconds, self.node)), sum(map(cpu_seconds, self.app))

    def calls(self) -> list[dict[str, float] | None]:
        """Each app's CPU seconds by ABCI call so far (None: it did not answer)."""
        found: list[dict[str, float] | None] = []
        for api in self.apis:
            try:
                text = httpx.get(f"{api}/metrics", timeout=10).text
            except httpx.HTTPError:
                found.append(None)
                continue
            found.append({m["call"]: float(m["seconds"]) for m in CPU_METRIC.finditer(text)})
        return found


def calls_spent(
    before: list[dict[str, float] | None], after: list[dict[str, float] | None]
) -> dict[str, float]:
    """CPU seconds by call over a window, summed over the apps that answered both times
    (one that missed either is left out: the line is then short, not wrong)."""
    spent: dict[str, float] = {}
    for old, new in zip(before, after, strict=True):
        if old is None or new is None:
            continue
        for call, seconds in new.items():
            spent[call] = spent.get(call, 0.0) + seconds - old.get(call, 0.0)
    return spent


CPU_METRIC = re.compile(
    r'^urbis_abci_cpu_seconds_total\{call="(?P<call>\w+)"\} (?P<seconds>\S+)$', re.M
)


def urbis_processes(testnet: net.Testnet) -> Processes:
    apps = [pid for node in testnet.nodes if (pid := net.pid_of(node)) is not None]
    return Processes(
        node=[c for pid in apps for c in children(pid)],
        app=apps,
        apis=[f"http://127.0.0.1:{node.api}" for node in testnet.nodes],
    )


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


def block_txs(rpc: str, height: int) -> tuple[list[bytes], float]:
    """The raw transactions of block `height` and its header time (seconds)."""
    block = httpx.get(f"{rpc}/block", params={"height": height}, timeout=30).json()["result"]
    stamp = Timestamp.parse(block["block"]["header"]["time"])
    raws = [base64.b64decode(t) for t in block["block"]["data"]["txs"] or []]
    return raws, stamp.seconds + stamp.nanos / 1e9


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


class HeightWatcher(threading.Thread):
    """Notes the moment each height first shows on a node's RPC: the commit time a
    client sees. Polled every 20 ms, so a latency is late by at most that."""

    def __init__(self, rpc: str) -> None:
        super().__init__(daemon=True)
        self.rpc = rpc
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        last = latest_height(self.rpc)
        with httpx.Client(base_url=self.rpc, timeout=10) as http:
            while not self.stop.is_set():
                try:
                    answer = http.get("/status").json()
                    height = int(answer["result"]["sync_info"]["latest_block_height"])
                except (httpx.HTTPError, KeyError, ValueError):
                    height = last
                now = time.perf_counter()
                for h in range(last + 1, height + 1):
                    self.seen[h] = now
                last = max(last, height)
                time.sleep(0.02)


def run_load(
    name: str,
    rpcs: list[str],
    cursor: Cursor,
    seconds: float,
    processes: Processes,
    backlog: int = BACKLOG_MAX,
    rate: float | None = None,
    submit: str = "sync",
) -> Result:
    """Push transactions for `seconds`; measure what the network committed meanwhile.

    Without `rate` each client keeps `backlog` transactions waiting in its node's mempool
    (saturation: the most the network commits). With `rate` the clients together offer
    that many transactions a second, paced every 100 ms (open loop: latency at a load the
    network sustains). Every committed transaction's latency is measured: from the
    moment its broadcast was sent to the moment its block showed on the RPC."""
    method = SUBMIT_METHODS[submit]
    stop = threading.Event()
    rejected = [0]
    sent: dict[bytes, float] = {}
    sent_lock = threading.Lock()

    def send(http: httpx.Client, txs: list[bytes]) -> None:
        body = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": method,
                "params": {"tx": base64.b64encode(tx).decode()},
            }
            for i, tx in enumerate(txs)
        ]
        started = time.perf_counter()
        with sent_lock:
            for tx in txs:
                sent[hashlib.sha256(tx).digest()] = started
        try:
            answers = http.post("/", json=body).json()
        except httpx.HTTPError:
            rejected[0] += len(body)
            return
        if isinstance(answers, dict):  # the whole batch refused
            print("batch refused:", str(answers)[:300], file=sys.stderr)
            rejected[0] += len(body)
            return
        rejected[0] += sum(
            1 for a in answers if "error" in a or a.get("result", {}).get("code", 0) != 0
        )

    def pusher(node: int) -> None:
        with httpx.Client(base_url=rpcs[node], timeout=60) as http:
            if rate is None:
                while not stop.is_set() and (txs := cursor.take(node, BATCH)):
                    send(http, txs)
                    while not stop.is_set() and pending(http) > backlog:
                        time.sleep(0.02)
                return
            per_tick = rate / len(rpcs) / 10
            owed = 0.0
            next_tick = time.perf_counter()
            while not stop.is_set():
                owed += per_tick
                count = int(owed)
                owed -= count
                if count and not (txs := cursor.take(node, count)):
                    return
                if count:
                    send(http, txs)
                next_tick += 0.1
                time.sleep(max(0.0, next_tick - time.perf_counter()))

    watcher = HeightWatcher(rpcs[0])
    watcher.start()
    first = latest_height(rpcs[0]) + 1
    cpu_before = processes.sample()
    calls_before = processes.calls()
    threads = [threading.Thread(target=pusher, args=(node,)) for node in range(len(rpcs))]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    last = latest_height(rpcs[0])
    cpu_after = processes.sample()
    calls = calls_spent(calls_before, processes.calls())
    for thread in threads:
        thread.join(120)
    if rate is not None:  # what was offered must commit too: follow it until it has
        wait_empty(rpcs, timeout_s=20)
        last = latest_height(rpcs[0])
    time.sleep(0.1)
    watcher.stop.set()
    watcher.join(5)
    blocks = [block_txs(rpcs[0], h) for h in range(first, last + 1)]
    total = sum(len(raws) for raws, _ in blocks)
    span = blocks[-1][1] - block_txs(rpcs[0], first - 1)[1] if blocks else seconds
    latencies = [
        watcher.seen[height] - sent[digest]
        for height, (raws, _) in zip(range(first, last + 1), blocks, strict=True)
        if height in watcher.seen
        for digest in map(lambda raw: hashlib.sha256(raw).digest(), raws)
        if digest in sent
    ]
    if rate is not None:
        # sustained: the transactions offered in the window that committed, per second of
        # the window (the offered rate exactly when all of them commit)
        total, span = len(latencies), seconds
        if submit == "async":
            # an async answer carries only the RPC's own refusals, never CheckTx's; after
            # the drain, what was sent and did not commit was refused (or lost)
            rejected[0] = len(sent) - len(latencies)
    return Result(
        name,
        total / max(span, 1e-9),
        total,
        latencies,
        rejected[0],
        cpu_after[0] - cpu_before[0],
        cpu_after[1] - cpu_before[1],
        cursor.ran_out,
        calls,
        rejections_unseen=submit == "async" and rate is None,
        window_s=seconds,
    )


class Cursor:
    """Each node's transactions, handed out in order across phases (a sender's nonces
    reach its node in order, whichever phase sends them)."""

    def __init__(self, by_node: list[list[bytes]]) -> None:
        self.by_node = by_node
        self.next = [0] * len(by_node)
        self.ran_out = False

    def take(self, node: int, count: int) -> list[bytes]:
        start = self.next[node]
        self.next[node] = start + count
        taken = self.by_node[node][start : start + count]
        self.ran_out |= len(taken) < count
        return taken


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


def run_kvstore(folder: Path, when: str, size: float, args: argparse.Namespace) -> Result:
    """The reference network at saturation, with transactions the size of the anchors."""
    processes, rpcs = start_kvstore(folder, 42000)
    try:
        wait_blocks(rpcs)
        txs = [
            [kv_tx(i, j, int(size)) for j in range(args.rate_cap // VALIDATORS)]
            for i in range(VALIDATORS)
        ]
        return run_load(
            f"stock cometbft + kvstore ({when})",
            rpcs,
            Cursor(txs),
            args.seconds,
            Processes(node=[p.pid for p in processes], app=[]),
            args.backlog,
            submit=args.submit,
        )
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)


@dataclass
class Load:
    """The same signed transactions for both Urbis networks (same keys, same chain id)."""

    anchors_by_node: list[list[bytes]]
    setup: list[bytes]
    transfers_by_node: list[list[bytes]]
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
    size = statistics.mean(len(t) for t in anchors_by_node[0][:100])
    return Load(anchors_by_node, setup, transfers_by_node, size)


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
    rate: float,
    rounds: int = 1,
    anchors: bool = True,
    submit: str = "sync",
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
        results: list[Result] = []
        if anchors:
            documents = Cursor(load.anchors_by_node)
            results.append(
                run_load(
                    f"{name} anchors", rpcs, documents, seconds, processes, backlog, submit=submit
                )
            )
            wait_empty(rpcs)
            paced = run_load(
                f"{name} anchors @{rate:.0f}",
                rpcs,
                documents,
                seconds,
                processes,
                rate=rate,
                submit=submit,
            )
            results.append(paced)
        for raw in load.setup[:2]:
            commit_tx(rpcs[0], raw)
        with httpx.Client(base_url=rpcs[0], timeout=60) as http:
            for raw in load.setup[2:]:
                try:
                    rpc_call(http, "broadcast_tx_sync", tx=base64.b64encode(raw).decode())
                except httpx.TransportError:  # a kept-alive connection the server closed
                    rpc_call(http, "broadcast_tx_sync", tx=base64.b64encode(raw).decode())
        wait_empty(rpcs)
        transfers = Cursor(load.transfers_by_node)
        for round_ in range(1, rounds):
            label = f"{name} transfers, round {round_} of {rounds}"
            results.append(
                run_load(label, rpcs, transfers, seconds, processes, backlog, submit=submit)
            )
            wait_empty(rpcs)
        label = f"{name} transfers"
        results.append(run_load(label, rpcs, transfers, seconds, processes, backlog, submit=submit))
        wait_empty(rpcs)
        label = f"{name} transfers @{rate:.0f}"
        results.append(
            run_load(label, rpcs, transfers, seconds, processes, rate=rate, submit=submit)
        )
        return results
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
        "--rate-cap",
        type=int,
        default=120_000,
        help="transactions prepared per kind (anchors, transfers), shared by its two phases; "
        "a saturated phase takes unevenly from the nodes' shares, so leave room",
    )
    parser.add_argument("--dir", help="keep the networks' homes and logs here (default: removed)")
    parser.add_argument("--backlog", type=int, default=BACKLOG_MAX, help="per node")
    parser.add_argument(
        "--rate", type=float, default=TARGET_RATE, help="offered tx/s of the paced phases"
    )
    parser.add_argument("--timeout-commit", default=None, help="override consensus.timeout_commit")
    parser.add_argument(
        "--submit",
        choices=sorted(SUBMIT_METHODS),
        default="sync",
        help="broadcast_tx_sync (each transaction's CheckTx answered before the next) or "
        "broadcast_tx_async (a batch's checks queued at once); both networks alike",
    )
    parser.add_argument("--recheck", choices=["default", "true", "false"], default="default")
    parser.add_argument(
        "--only", choices=["kvstore", "stock", "urbis"], action="append", help="run only these"
    )
    parser.add_argument(
        "--transfer-rounds",
        type=int,
        default=1,
        help="saturated transfer phases back to back (each its own row): how a transfer's "
        "cost grows with the history before it",
    )
    parser.add_argument(
        "--no-anchors", action="store_true", help="skip the anchor phases (transfers first)"
    )
    args = parser.parse_args()
    if args.transfer_rounds < 1:
        parser.error("--transfer-rounds must be at least 1")
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
    speed_before = machine_speed()
    print(f"machine at the start: {speed_before.line()}", flush=True)
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
        references: list[Result] = []
        if "kvstore" in only:
            # Run before and after the Urbis networks: the machine's speed drifts, and a
            # share against a reference from another phase says more about the drift.
            print("running stock cometbft + kvstore (before)…", flush=True)
            references.append(run_kvstore(root / "kv-before", "before", size, args))
        if "stock" in nets and load:
            print("running stock cometbft + urbis…", flush=True)
            results += run_urbis(
                "stock cometbft + urbis",
                nets["stock"],
                load,
                args.seconds,
                network.cometbft_binary(),
                args.backlog,
                args.rate,
                args.transfer_rounds,
                not args.no_anchors,
                args.submit,
            )
        if "urbis" in nets and load:
            print("running urbis-cometbft + urbis…", flush=True)
            results += run_urbis(
                "urbis-cometbft + urbis",
                nets["urbis"],
                load,
                args.seconds,
                None,
                args.backlog,
                args.rate,
                args.transfer_rounds,
                not args.no_anchors,
                args.submit,
            )
        if "kvstore" in only:
            print("running stock cometbft + kvstore (after)…", flush=True)
            references.append(run_kvstore(root / "kv-after", "after", size, args))
    print(
        f"\n4 validators on {os.cpu_count()} cores, {args.seconds:.0f} s of load per phase, "
        f"anchors ~{size:.0f} bytes, transfers among {args.accounts:,} accounts, "
        f"submitted with {SUBMIT_METHODS[args.submit]}"
    )
    print(f"machine at the start: {speed_before.line()}")
    print(f"machine at the end:   {machine_speed().line()}")
    results[:0] = references
    for result in results:
        print(result.line())
    kv_rate = statistics.fmean(r.rate for r in references) if references else None
    if len(references) == 2:
        before, after = (r.rate for r in references)
        print(
            f"kvstore reference: {kv_rate:,.0f} tx/s, the mean of {before:,.0f} before and "
            f"{after:,.0f} after the Urbis networks"
        )
        if abs(before - after) > 0.15 * max(before, after):
            print(
                "  the machine changed speed during the run (the kvstore moved by more than "
                "15%): shares of it are approximate"
            )
    print(
        f"targets for urbis-cometbft: >= {TARGET_RATE} tx/s, p50 < {TARGET_P50_S} s, "
        f"p99 < {TARGET_P99_S} s, >= {TARGET_SHARE:.0%} of kvstore"
    )
    print(
        "  (saturation rows: throughput and share; paced rows: latency at the offered rate,"
        " which the network must also keep up with)"
    )
    for result in results:
        if not result.name.startswith("urbis-cometbft"):
            continue
        if "@" in result.name:
            kept_up = "ok" if result.rate >= 0.95 * args.rate else "MISSED"
            checks = [
                f"{result.rate:.0f} of {args.rate:.0f} tx/s offered {kept_up}",
                f"p50 {result.p(0.5):.2f} s {'ok' if result.p(0.5) < TARGET_P50_S else 'MISSED'}",
                f"p99 {result.p(0.99):.2f} s {'ok' if result.p(0.99) < TARGET_P99_S else 'MISSED'}",
            ]
        else:
            checks = [f"{result.rate:.0f} tx/s {'ok' if result.rate >= TARGET_RATE else 'MISSED'}"]
            if kv_rate is not None:
                share = result.rate / kv_rate
                checks.append(
                    f"{share:.0%} of kvstore {'ok' if share >= TARGET_SHARE else 'MISSED'}"
                )
            checks.append(result.cores_line(TARGET_RATE))
        print(f"  {result.name}: " + ", ".join(checks))


def kv_tx(node: int, index: int, size: int) -> bytes:
    head = f"n{node}-{index}-{os.urandom(4).hex()}=".encode()
    return head + b"v" * max(size - len(head), 1)


if __name__ == "__main__":
    main()
