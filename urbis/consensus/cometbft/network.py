"""CometBFT homes: the binaries, `init`, genesis and config.toml for one node.

The Urbis genesis travels inside CometBFT's genesis as `app_state`, so every
validator starts from the same city; the validator set is the departments'
CometBFT keys.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from urbis.chain.genesis import Genesis
from urbis.crypto.hashing import sha256

COMETBFT_VERSION = "v0.38.25"
"""The pinned release; scripts/install-cometbft installs exactly this one."""


BLOCK_BYTES_MAX = 4 * 1024 * 1024

PROPOSAL_TXS_MAX = 2000
"""Transactions a validator's PrepareProposal puts in a block (a testnet node's
`max_block_txs`). Every validator executes the block before the next height starts,
and one that is still executing when the others have started waits for the
proposal: a 5,000-transfer block took a validator on half a core 2-3 s, and the
others' propose timeout ran out (bench/cometbft.py saw 4 s heights after the
anchors phases). 2,000 stays above what the network commits in a second."""


NODE_BINARY = "urbis-cometbft"
"""Urbis's node binary (cmd/urbis-cometbft): CometBFT as a library with Urbis's ABCI client."""

STOCK_BINARY = "cometbft"
"""CometBFT's own binary: only the kvstore reference in bench/cometbft.py runs it."""


class CometBFTMissing(RuntimeError):
    """A CometBFT binary is not installed."""


def _installed(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    candidate = Path(gopath) / "bin" / name
    if candidate.exists():
        return str(candidate)
    raise CometBFTMissing(f"{name} is not installed; run scripts/install-cometbft")


NODE_BINARY_VARIABLE = "URBIS_COMETBFT_BINARY"
"""An environment variable naming another node binary; bench/cometbft.py sets it to the
stock `cometbft` to measure the old path. Nothing else should."""


def node_binary() -> str:
    """The binary every Urbis node runs: `urbis-cometbft` (same commands as `cometbft`)."""
    return os.environ.get(NODE_BINARY_VARIABLE) or _installed(NODE_BINARY)


def cometbft_binary() -> str:
    """The stock `cometbft` binary, for comparisons only."""
    return _installed(STOCK_BINARY)


@dataclass(frozen=True)
class NodeIdentity:
    validator_key: bytes
    node_id: str

    @property
    def validator_address(self) -> bytes:
        return sha256(self.validator_key)[:20]


def init_home(cometbft_home: Path) -> NodeIdentity:
    """`cometbft init` (keys, default config) and read back the node's identity."""
    run = [node_binary(), "init", "--home", str(cometbft_home)]
    subprocess.run(run, check=True, capture_output=True)
    return identity(cometbft_home)


def identity(cometbft_home: Path) -> NodeIdentity:
    key = json.loads((cometbft_home / "config" / "priv_validator_key.json").read_text())
    node_id = subprocess.run(
        [node_binary(), "show-node-id", "--home", str(cometbft_home)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return NodeIdentity(base64.b64decode(key["pub_key"]["value"]), node_id)


def write_genesis(cometbft_home: Path, genesis: Genesis) -> None:
    """CometBFT's genesis.json: the validators of the Urbis genesis, and the city as app_state."""
    path = cometbft_home / "config" / "genesis.json"
    document = json.loads(path.read_text())
    document["chain_id"] = genesis.chain_id
    document["genesis_time"] = rfc3339(genesis.time_ms)
    document["initial_height"] = "1"
    document["app_hash"] = ""
    document["validators"] = [
        {
            "address": sha256(v.key)[:20].hex().upper(),
            "pub_key": {
                "type": "tendermint/PubKeyEd25519",
                "value": base64.b64encode(v.key).decode(),
            },
            "power": str(v.power),
            "name": v.name,
        }
        for v in genesis.validators
    ]
    document["app_state"] = genesis.to_json()
    # A block of at most 4 MiB: thousands of city transactions, and a proposal request
    # (the whole reaped mempool goes to PrepareProposal) the app reads in milliseconds.
    document.setdefault("consensus_params", {}).setdefault("block", {})["max_bytes"] = str(
        BLOCK_BYTES_MAX
    )
    path.write_text(json.dumps(document, indent=2) + "\n")


def rfc3339(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{time_ms % 1000:03d}000000Z"


@dataclass(frozen=True)
class Ports:
    p2p: int
    rpc: int
    abci: int
    api: int


def configure(
    cometbft_home: Path,
    moniker: str,
    ports: Ports,
    peers: list[str],
    listen_host: str = "127.0.0.1",
    external_host: str | None = None,
    timeout_commit: str = "500ms",
    timeout_propose: str = "2s",
    abci_address: str | None = None,
) -> None:
    """Set the settings Urbis relies on; everything else keeps CometBFT's defaults.

    `abci_address` is where the node's app listens: a `unix://` socket on the
    same machine (the default a testnet gives), else `tcp://127.0.0.1:<abci port>`.
    """
    path = cometbft_home / "config" / "config.toml"
    settings = {
        "": {
            "moniker": json.dumps(moniker),
            "proxy_app": json.dumps(abci_address or f"tcp://127.0.0.1:{ports.abci}"),
            "abci": '"socket"',
        },
        "rpc": {
            "laddr": json.dumps(f"tcp://{listen_host}:{ports.rpc}"),
            "max_body_bytes": "104857600",
            "timeout_broadcast_tx_commit": '"30s"',
            # The node's batch endpoint forwards up to 10,000 transactions in one call.
            "max_request_batch_size": "10000",
        },
        "p2p": {
            "laddr": json.dumps(f"tcp://{listen_host}:{ports.p2p}"),
            "external_address": json.dumps(f"{external_host}:{ports.p2p}" if external_host else ""),
            "persistent_peers": json.dumps(",".join(peers)),
            "addr_book_strict": "false",
            "allow_duplicate_ip": "true",
            # A connection holds outgoing messages up to this long to batch them; each
            # proposal, block part and vote crosses a connection, so CometBFT's 100 ms
            # default put about 100 ms on every step of every height (an empty height
            # took 810 ms at a 500 ms timeout_commit; 540 ms with this and the gossip
            # sleep below at 10 ms). Department links are short; 10 ms still batches.
            "flush_throttle_timeout": '"10ms"',
        },
        "mempool": {
            # 100,000 pending transactions: about 100 s of the network's measured
            # ~1,000 tx/s, so a burst is queued rather than refused; the bench keeps
            # 4 x 3,000 waiting, far below it.
            "size": "100000",
            # twice the mempool, so a transaction gossiped back by a peer soon after it
            # left the mempool in a block is still known and not checked again
            "cache_size": "200000",
            "max_tx_bytes": "65536",
            # Off: after each block CometBFT would send every pending transaction through
            # CheckTx again. bench/cometbft.py measured 991 -> 1,172 anchors/s and
            # 809 -> 1,040 transfers/s with it off. A transaction a block made stale
            # (its nonce used) then stays in the mempool until the node restarts, which
            # is safe because PrepareProposal leaves it out, ProcessProposal refuses a
            # block that carries it, and execution fails it identically everywhere
            # (tests/test_cometbft_recheck.py).
            "recheck": "false",
        },
        "consensus": {
            "timeout_commit": json.dumps(timeout_commit),
            # A round whose proposer is down waits this long; CometBFT's 3 s default is
            # made for WANs. It must also cover a proposer that finished the last block
            # later than the others: at 1 s, bench/cometbft.py saw validators give up on
            # proposals that came 1.0-1.2 s after their own start under full load, and
            # each such height took 4 s (a second round) instead of about 1.
            "timeout_propose": json.dumps(timeout_propose),
            # How long a peer's gossip routine sleeps when it has nothing to send: a
            # vote or block part made meanwhile waits for it. 100 ms by default;
            # bench/cometbft.py measured transfers at 1,000 tx/s offered going from
            # p50 1.10 s / p99 2.02 s to 0.51 / 1.22 with both settings at 10 ms.
            "peer_gossip_sleep_duration": '"10ms"',
        },
        "instrumentation": {"prometheus": "false"},
    }
    _apply(path, settings)


URBIS_NODE_SETTINGS = {
    # Urbis keeps its own index of transactions (by id and by account, checked against
    # the headers) and its API serves it; CometBFT's would index every transaction and
    # its receipt a second time for nobody. /tx, /tx_search and /block_search answer
    # nothing.
    "tx_index": {"indexer": '"null"'},
    # CometBFT keeps only the latest FinalizeBlock response, which a restart's
    # handshake replays; Urbis stores every receipt itself. /block_results answers
    # an error for every height.
    "storage": {"discard_abci_responses": "true"},
}
"""Settings for a node whose app is Urbis, on top of `configure`'s (which the kvstore
reference in bench/cometbft.py shares): what CometBFT would store that Urbis already
keeps. bench/cometbft.py: the nodes' CPU a transfer (CometBFT README)."""


def configure_for_urbis(cometbft_home: Path) -> None:
    """Apply URBIS_NODE_SETTINGS to a node `configure` has set up."""
    _apply(cometbft_home / "config" / "config.toml", URBIS_NODE_SETTINGS)


def _apply(path: Path, settings: dict[str, dict[str, str]]) -> None:
    text = path.read_text()
    for section, values in settings.items():
        for key, value in values.items():
            text = set_toml(text, section, key, value)
    path.write_text(text)


def set_toml(text: str, section: str, key: str, value: str) -> str:
    """Replace `key = …` inside `[section]` ("" for the top level) of a TOML document."""
    lines = text.splitlines()
    current = ""
    for index, line in enumerate(lines):
        header = re.match(r"^\[([^\]]+)\]\s*$", line.strip())
        if header:
            current = header.group(1)
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            lines[index] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    raise KeyError(f"config.toml has no {key!r} in [{section or 'top level'}]")
