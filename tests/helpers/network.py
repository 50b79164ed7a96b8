"""A real 4-validator CometBFT testnet for fault tests, and ways to load and probe it."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import missing_tool
from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.node import testnet as net
from urbis.sdk.builder import TxBuilder
from urbis.sdk.keystore import KeyStore


def require_cometbft() -> None:
    """Skip where urbis-cometbft is not built; in CI (CI=true) that is a failure instead."""
    from urbis.consensus.cometbft.network import CometBFTMissing, node_binary

    try:
        node_binary()
        from urbis.consensus.cometbft import proto  # noqa: F401
    except (CometBFTMissing, ImportError) as error:
        missing_tool(f"cometbft is not installed here ({error}); run scripts/install-cometbft")


def _ephemeral_low() -> int:
    """The first port the kernel hands out as a source port (Linux: 32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port_range(count: int) -> int:
    """A base port with `count` free ports after it (tests run beside other networks),
    below the kernel's ephemeral range: while a test has a node down, any outgoing
    connection may be given its port as a source port, and the node then cannot bind it
    again when it restarts (seen once: "address already in use" on a restart)."""
    low = _ephemeral_low()
    for _ in range(200):
        base = random.randrange(10_000, max(low - count, 10_001))
        try:
            sockets = []
            for port in range(base, base + count):
                probe = socket.socket()
                probe.bind(("127.0.0.1", port))
                sockets.append(probe)
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError("no free port range")


@dataclass
class Network:
    testnet: net.Testnet
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    nonces: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, folder: Path, validators: int = 4) -> Network:
        base = free_port_range(10 * validators + validators + 10)
        testnet = net.create(
            folder,
            validators,
            base_port=base,
            api_port=base + 10 * validators,
            timeout_commit="300ms",
        )
        for node in testnet.nodes:
            net.start(node)
        net.wait_ready(testnet.nodes, min_height=2, timeout_s=120)
        return cls(testnet)

    @property
    def nodes(self) -> list[net.TestnetNode]:
        return self.testnet.nodes

    def node(self, name: str) -> net.TestnetNode:
        return self.testnet.node(name)

    def get(self, node: net.TestnetNode, path: str, **params: Any) -> Any:
        return httpx.get(f"{node.api_url}{path}", params=params, timeout=30).json()

    def height(self, node: net.TestnetNode) -> int:
        return int(self.get(node, "/v1/status")["height"])

    def key(self, name: str) -> PrivateKey:
        if name not in self.keys:
            self.keys[name] = KeyStore(self.testnet.folder / "keys").load(name, "")
        return self.keys[name]

    def account(self, name: str) -> AccountId:
        return AccountId.from_key(self.key(name).public_key.raw)

    def signed(
        self, via: net.TestnetNode, sender: str, module: str, name: str, **args: Any
    ) -> bytes:
        if sender not in self.nonces:
            self.nonces[sender] = int(
                self.get(via, f"/v1/accounts/{self.account(sender)}")["nonce"]
            )
        nonce = self.nonces[sender]
        self.nonces[sender] += 1
        height = self.height(via)
        tx = TxBuilder(self.testnet.chain_id, self.account(sender)).add(module, name, **args)
        return tx.sign([self.key(sender)], nonce, height + 10_000).raw

    @contextlib.contextmanager
    def anchoring(
        self, via: list[net.TestnetNode], department: str, label: str
    ) -> Iterator[list[str]]:
        """Anchor documents through `via` in turn on a thread until the block ends; yields
        the ids of those committed so far (a list that grows)."""
        stop = threading.Event()
        committed: list[str] = []

        def load() -> None:
            count = 0
            while not stop.is_set():
                count += 1
                try:
                    answer = self.anchor(
                        via[count % len(via)], department, f"{label}-{count}-{time.time()}"
                    )
                except httpx.HTTPError:
                    self.nonces.pop(department, None)  # it may have landed: re-read the nonce
                    continue
                if answer.get("receipt", {}).get("ok"):
                    committed.append(answer["tx_id"])

        worker = threading.Thread(target=load)
        worker.start()
        try:
            yield committed
        finally:
            stop.set()
            worker.join(60)

    def anchor(self, via: net.TestnetNode, department: str, label: str, wait: bool = True) -> Any:
        raw = self.signed(
            via,
            department,
            "documents",
            "anchor",
            department=department,
            hash=hashlib.sha256(label.encode()).digest(),
            doc_type="record",
        )
        params = {"wait": "commit"} if wait else {}
        return httpx.post(
            f"{via.api_url}/v1/txs",
            params=params,
            timeout=60,
            json={"tx": base64.b64encode(raw).decode()},
        ).json()

    def wait_height(self, height: int, nodes: list[net.TestnetNode], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if all(self.height(n) >= height for n in nodes):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"nodes did not reach height {height} in {timeout_s}s")

    def app_hash(self, node: net.TestnetNode, height: int) -> str:
        return str(self.get(node, f"/v1/blocks/{height}")["header"]["app_hash"])

    def kill(self, node: net.TestnetNode) -> None:
        assert net.signal_node(node, signal.SIGKILL), f"{node.name} was not running"

    def restart(self, node: net.TestnetNode) -> None:
        net.signal_node(node, signal.SIGTERM)
        net.start(node)

    def stop(self) -> None:
        for node in self.nodes:
            net.signal_node(node, signal.SIGTERM)
