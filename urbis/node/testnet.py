"""A local CometBFT network: one validator node per department, each a real process.

    DIR/testnet.json          the nodes, their ports and departments
    DIR/keys/                 dev keys (empty passphrase) for departments and council
    DIR/<department>/         a node home: Urbis config and genesis, cometbft/, data/, node.log

Each node runs as `urbis node --home DIR/<department>` in its own process group,
so `kill` takes down the node and its cometbft child together, as a crash would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from urbis.chain.errors import error_class
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
from urbis.sdk.keystore import KeyStore

BASE_PORT_DEFAULT = 26600
API_PORT_DEFAULT = 8080
VALIDATORS_MAX = len(DEV_DEPARTMENTS) + len(MORE_DEPARTMENTS)
STATUS_TIMEOUT_S = 2.0

PortInUse = error_class("testnet.port_in_use", "Port in use", 409)
"""A port a node of the network must bind is taken; the message names the node and port."""
NodeExited = error_class("testnet.node_exited", "Node exited", 500)
"""A node started by `testnet up` exited; the message quotes the end of its log."""


@dataclass
class TestnetNode:
    """One validator: its home and every port it binds.

    `node_id` (CometBFT's) and `validator_key` (hex) say who should answer on
    those ports; `status` refuses to report any other process as this node.
    """

    name: str
    home: str
    host: str
    p2p: int
    rpc: int
    abci: int
    api: int
    node_id: str = ""
    validator_key: str = ""
    chain_id: str = field(default="", repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    @property
    def listen_host(self) -> str:
        """Where the node binds: loopback on one machine, every interface across machines."""
        return "127.0.0.1" if self.host == "127.0.0.1" else "0.0.0.0"

    def ports(self) -> list[tuple[str, int]]:
        """Every port the node and its CometBFT child bind, with what each is for (the
        ABCI port only when ABCI goes over TCP, not over the home's unix socket)."""
        bound = [("api", self.api), ("p2p", self.p2p), ("rpc", self.rpc)]
        if abci_address(self).startswith("tcp://"):
            bound.append(("abci", self.abci))
        return bound

    def identity(self) -> tuple[str, str]:
        """(node id, validator key hex) this node must report, read from its home if unset.

        Testnets made before these were recorded hold them only in the CometBFT
        config; both are derived from the key files without running cometbft.
        """
        if self.node_id and self.validator_key:
            return self.node_id, self.validator_key
        config = Path(self.home) / "cometbft" / "config"
        try:
            validator = json.loads((config / "priv_validator_key.json").read_text())
            node_key = json.loads((config / "node_key.json").read_text())
            validator_key = base64.b64decode(validator["pub_key"]["value"]).hex()
            node_public = base64.b64decode(node_key["priv_key"]["value"])[32:]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise HomeError(f"{self.name}: cannot read its CometBFT keys: {error}") from None
        # CometBFT's node id: the first 20 bytes of SHA-256 over the Ed25519 public key
        return hashlib.sha256(node_public).digest()[:20].hex(), validator_key


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
        chain_id = data["chain_id"]
        nodes = [TestnetNode(**n, chain_id=chain_id) for n in data["nodes"]]
        return cls(folder, chain_id, nodes)

    def __post_init__(self) -> None:
        for node in self.nodes:
            node.chain_id = self.chain_id

    def save(self) -> None:
        nodes = [{k: v for k, v in asdict(n).items() if k != "chain_id"} for n in self.nodes]
        data = {"chain_id": self.chain_id, "nodes": nodes}
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
        identities.append(network.init_home(folder / department / "cometbft"))
        host = "127.0.0.1" if hosts is None else hosts[index]
        offset = 0 if hosts else index
        nodes.append(
            TestnetNode(
                name=department,
                home=str(folder / department),
                host=host,
                p2p=base_port + 10 * offset,
                rpc=base_port + 10 * offset + 1,
                abci=base_port + 10 * offset + 2,
                api=api_port + offset,
                node_id=identities[-1].node_id,
                validator_key=identities[-1].validator_key.hex(),
            )
        )
    wallet = KeyStore(folder / "keys")
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
                max_block_txs=network.PROPOSAL_TXS_MAX,
                abci_address=abci_address(node),
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
            abci_address=abci_address(node),
        )
        network.configure_for_urbis(cometbft_home)
    testnet = Testnet(folder, chain_id, nodes)
    testnet.save()
    return testnet


UNIX_SOCKET_PATH_MAX = 100
"""Bytes an AF_UNIX socket path may take (108 on Linux, 104 on macOS, with the NUL)."""


def abci_address(node: TestnetNode) -> str:
    """Where the node's app serves ABCI to its CometBFT child.

    A unix socket in the node's home when both run on one machine (always, for
    a testnet node): no TCP stack between them, and nothing else can connect.
    A home too deep for a socket path falls back to the node's loopback port.
    """
    path = str(Path(node.home).resolve() / "abci.sock")
    if len(path.encode()) <= UNIX_SOCKET_PATH_MAX:
        return f"unix://{path}"
    return f"tcp://127.0.0.1:{node.abci}"


def _pid_path(node: TestnetNode) -> Path:
    return Path(node.home) / "node.pid"


def pid_of(node: TestnetNode) -> int | None:
    try:
        pid = int(_pid_path(node).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def port_taken(host: str, port: int) -> str | None:
    """Why `port` cannot be bound on `host` (None: it is free).

    Binds as the node's servers will (SO_REUSEADDR), so a socket lingering in
    TIME_WAIT does not count, while any listener, ours or not, does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def check_ports(nodes: list[TestnetNode], wait_s: float = 0.0) -> None:
    """Refuse, naming the node and port, if any port these nodes will bind is taken.

    A node that fails to bind logs `node.port_in_use` and exits, while whatever
    holds the port keeps answering there; checking first is the only way to
    tell the user which port to free before anything starts. `wait_s` gives a
    node just stopped time to let its ports go (its CometBFT child exits last).
    """
    wanted: dict[int, str] = {}
    for node in nodes:
        for purpose, port in node.ports():
            other = wanted.get(port)
            if other is not None:
                raise PortInUse(
                    f"port {port} is wanted twice: by {other} and by {node.name} ({purpose})",
                    port=port,
                    node=node.name,
                )
            wanted[port] = f"{node.name} ({purpose})"
    deadline = time.monotonic() + wait_s
    for node in nodes:
        for purpose, port in node.ports():
            reason = port_taken(node.listen_host, port)
            while reason is not None and time.monotonic() < deadline:
                time.sleep(0.1)
                reason = port_taken(node.listen_host, port)
            if reason is not None:
                raise PortInUse(
                    f"{purpose} port {port} of node {node.name} is taken by another process "
                    f"({reason}); stop that process or create the network with other ports",
                    port=port,
                    node=node.name,
                    purpose=purpose,
                )


RESTART_PORT_WAIT_S = 10.0
"""How long `start` waits for a node just stopped to release its ports."""


def start(node: TestnetNode) -> int:
    if pid_of(node) is not None:
        raise HomeError(f"{node.name} is already running")
    check_ports([node], wait_s=RESTART_PORT_WAIT_S)
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
    """What the node reports, only once its chain id and identity are proven to be this node's.

    `foreign` (None when all is well) says what answered on the node's API port
    instead: another chain, another validator, or something that is not a node.
    """
    answer: dict[str, Any] = {
        "name": node.name,
        "api": node.api_url,
        "pid": pid_of(node),
        "height": None,
        "app_hash": None,
        "peers": None,
        "catching_up": None,
        "halted": None,
        "foreign": None,
    }
    try:
        response = httpx.get(f"{node.api_url}/v1/status", timeout=STATUS_TIMEOUT_S)
    except httpx.HTTPError:
        return answer  # nothing answers: the node is down (or still starting)
    try:
        data = response.json()
        foreign = _foreign(node, data)
        if foreign is None:
            consensus = data["consensus_status"]
            answer.update(
                height=int(data["height"]),
                app_hash=str(data["app_hash"]),
                peers=len(consensus.get("peers", [])),
                catching_up=consensus.get("catching_up"),
                halted=data["halted"],
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        foreign = "it does not answer /v1/status as an Urbis node"
    if foreign is not None:
        answer["foreign"] = f"foreign process on port {node.api}: {foreign}"
    return answer


def _foreign(node: TestnetNode, data: dict[str, Any]) -> str | None:
    """Why the status `data` is not this node's (None: it is)."""
    node_id, validator_key = node.identity()
    if node.chain_id and data["chain_id"] != node.chain_id:
        return f"chain {data['chain_id']!r}, expected {node.chain_id!r}"
    if data["validator"] != validator_key:
        return f"validator key {str(data['validator'])[:16]}…, expected {validator_key[:16]}…"
    reported = data["consensus_status"].get("node_id")
    if reported is not None and reported != node_id:
        return f"node id {reported}, expected {node_id}"
    return None


def wait_ready(nodes: list[TestnetNode], min_height: int = 1, timeout_s: float = 90.0) -> None:
    """Wait until every node, proven to be itself, reaches `min_height`.

    Raises NodeExited as soon as a node's process is gone (quoting its log),
    rather than waiting out the timeout or mistaking another process for it.
    """
    deadline = time.monotonic() + timeout_s
    heights: list[int | None] = []
    while time.monotonic() < deadline:
        for node in nodes:
            pid = pid_of(node)
            if pid is None or not _alive(pid):
                raise NodeExited(
                    f"{node.name} exited while starting: {_log_tail(node)}", node=node.name
                )
        rows = [status(n) for n in nodes]
        heights = [row["height"] for row in rows]
        if all(h is not None and h >= min_height for h in heights):
            return
        time.sleep(0.2)
    raise HomeError(f"network not ready after {timeout_s:.0f}s (heights {heights})")


def _log_tail(node: TestnetNode, lines: int = 3) -> str:
    try:
        text = (Path(node.home) / "node.log").read_text(errors="replace")
    except OSError:
        return "no node.log"
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) or "node.log is empty"
