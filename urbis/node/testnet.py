"""A local CometBFT network: one validator node per department, each a real process.

    DIR/testnet.json          the nodes, their ports and departments
    DIR/keys/                 dev keys (empty passphrase) for departments and council
    DIR/<department>/         a node home: Urbis config and genesis, cometbft/, data/, node.log

Each node runs as `urbis node --home DIR/<department>` in its own process group,
so `kill` takes down the node and its cometbft child together, as a crash would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from urbis.chain.genesis import GenesisAccount, GenesisValidator
from urbis.consensus.cometbft import network
from urbis.node.home import (
    DEV_DEPARTMENTS,
    MORE_DEPARTMENTS,
    Home,
    HomeError,
    NodeConfig,
    dev_city_genesis,
)
from urbis.sdk.wallet import Wallet

BASE_PORT_DEFAULT = 26600
API_PORT_DEFAULT = 8080
VALIDATORS_MAX = len(DEV_DEPARTMENTS) + len(MORE_DEPARTMENTS)


@dataclass
class TestnetNode:
    name: str
    home: str
    host: str
    p2p: int
    rpc: int
    abci: int
    api: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"


@dataclass
class Testnet:
    folder: Path
    chain_id: str
    nodes: list[TestnetNode]

    @classmethod
    def load(cls, folder: Path) -> Testnet:
        path = folder / "testnet.json"
        if not path.exists():
            raise HomeError(f"{folder} holds no testnet; run `urbis testnet up --dir {folder}`")
        data = json.loads(path.read_text())
        return cls(folder, data["chain_id"], [TestnetNode(**n) for n in data["nodes"]])

    def save(self) -> None:
        data = {"chain_id": self.chain_id, "nodes": [asdict(n) for n in self.nodes]}
        (self.folder / "testnet.json").write_text(json.dumps(data, indent=2) + "\n")

    def node(self, name: str) -> TestnetNode:
        for node in self.nodes:
            if name in (node.name, str(self.nodes.index(node))):
                return node
        raise HomeError(f"no node {name!r}; nodes are {', '.join(n.name for n in self.nodes)}")


def create(
    folder: Path,
    validators: int,
    chain_id: str = "urbis-testnet",
    base_port: int = BASE_PORT_DEFAULT,
    api_port: int = API_PORT_DEFAULT,
    hosts: list[str] | None = None,
    timeout_commit: str = "500ms",
    extra_accounts: tuple[tuple[GenesisAccount, str], ...] = (),
) -> Testnet:
    """Make the homes of a network; with `hosts`, one per machine (copy each folder there)."""
    if not 1 <= validators <= VALIDATORS_MAX:
        raise HomeError(f"validators must be 1 to {VALIDATORS_MAX}")
    if hosts is not None and len(hosts) != validators:
        raise HomeError(f"give one host per validator ({validators}), got {len(hosts)}")
    if (folder / "testnet.json").exists():
        raise HomeError(f"{folder} already holds a testnet")
    departments = (DEV_DEPARTMENTS + MORE_DEPARTMENTS)[:validators]
    folder.mkdir(parents=True, exist_ok=True)
    nodes, identities = [], []
    for index, (department, _) in enumerate(departments):
        home = folder / department
        identities.append(network.init_home(home / "cometbft"))
        host = "127.0.0.1" if hosts is None else hosts[index]
        offset = 0 if hosts else index
        nodes.append(
            TestnetNode(
                name=department,
                home=str(home),
                host=host,
                p2p=base_port + 10 * offset,
                rpc=base_port + 10 * offset + 1,
                abci=base_port + 10 * offset + 2,
                api=api_port + offset,
            )
        )
    wallet = Wallet(folder / "keys")
    genesis = dev_city_genesis(
        wallet,
        chain_id,
        [
            GenesisValidator(n.name, i.validator_key, 10)
            for n, i in zip(nodes, identities, strict=True)
        ],
        departments=DEV_DEPARTMENTS + tuple(d for d in departments if d not in DEV_DEPARTMENTS),
        extra=extra_accounts,
    )
    for node in nodes:
        home = Home(node.home)
        home.ensure_dirs()
        genesis.save(home.genesis_path)
        listen = "127.0.0.1" if hosts is None else "0.0.0.0"
        home.save_config(
            NodeConfig(
                api_host=listen,
                api_port=node.api,
                consensus="cometbft",
                abci_address=f"tcp://127.0.0.1:{node.abci}",
                cometbft_rpc=f"http://127.0.0.1:{node.rpc}",
            )
        )
        shutil.copytree(folder / "keys", Path(node.home) / "keys", dirs_exist_ok=True)
        cometbft_home = Path(node.home) / "cometbft"
        network.write_genesis(cometbft_home, genesis)
        peers = [
            f"{i.node_id}@{n.host}:{n.p2p}"
            for n, i in zip(nodes, identities, strict=True)
            if n is not node
        ]
        network.configure(
            cometbft_home,
            node.name,
            network.Ports(node.p2p, node.rpc, node.abci, node.api),
            peers,
            listen_host=listen,
            external_host=None if hosts is None else node.host,
            timeout_commit=timeout_commit,
        )
    testnet = Testnet(folder, chain_id, nodes)
    testnet.save()
    return testnet


def _pid_path(node: TestnetNode) -> Path:
    return Path(node.home) / "node.pid"


def pid_of(node: TestnetNode) -> int | None:
    try:
        pid = int(_pid_path(node).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(node: TestnetNode) -> int:
    if pid_of(node) is not None:
        raise HomeError(f"{node.name} is already running")
    log = (Path(node.home) / "node.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "urbis.cli.main", "node", "--home", node.home],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    _pid_path(node).write_text(str(process.pid))
    return process.pid


def signal_node(node: TestnetNode, signum: int, wait_s: float = 20.0) -> bool:
    """Signal the node's whole process group; wait for it to go. False if it was not running."""
    pid = pid_of(node)
    if pid is None:
        return False
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            finished = 0 if _alive(pid) else pid
        if finished == pid or not _alive(pid):
            break
        time.sleep(0.05)
    else:
        os.killpg(pid, signal.SIGKILL)
    _pid_path(node).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def status(node: TestnetNode) -> dict[str, Any]:
    answer: dict[str, Any] = {"name": node.name, "api": node.api_url, "pid": pid_of(node)}
    try:
        data = httpx.get(f"{node.api_url}/v1/status", timeout=2).json()
        answer.update(
            height=data["height"],
            app_hash=data["app_hash"],
            peers=len(data["consensus_status"].get("peers", [])),
            catching_up=data["consensus_status"].get("catching_up"),
            halted=data["halted"],
        )
    except (httpx.HTTPError, ValueError, KeyError):
        answer.update(height=None, app_hash=None, peers=None, catching_up=None, halted=None)
    return answer


def wait_ready(nodes: list[TestnetNode], min_height: int = 1, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        heights = [status(n)["height"] for n in nodes]
        if all(h is not None and h >= min_height for h in heights):
            return
        time.sleep(0.2)
    raise HomeError(f"network not ready after {timeout_s:.0f}s (heights {heights})")
