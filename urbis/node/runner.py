"""The node process: application + mempool + solo driver, with hooks for the API.

Everything a caller of the API needs goes through `Node`: submit transactions,
wait for their commit, read blocks and state, follow events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from urbis.chain.app import Application
from urbis.chain.block import BlockResult, SignedHeader
from urbis.chain.errors import NodeHalted, UrbisError
from urbis.chain.mempool import Mempool
from urbis.chain.tx import Transaction
from urbis.consensus.solo import SoloConfig, SoloDriver
from urbis.modules import build_application
from urbis.node.home import Home, HomeError, NodeConfig
from urbis.state.database import Database

log = logging.getLogger("urbis.node")


@dataclass(frozen=True, slots=True)
class Submission:
    tx_id: bytes
    error: UrbisError | None = None


BlockListener = Callable[[SignedHeader, BlockResult], None]


class Driver(Protocol):
    """What the node needs from a consensus driver (solo or CometBFT)."""

    halted: BaseException | None

    @property
    def block_lock(self) -> threading.Lock: ...

    @property
    def last_block_ms(self) -> float: ...

    def abci_calls(self) -> dict[str, tuple[int, float]]:
        """ABCI requests answered and CPU seconds spent on them, by call (none on solo)."""
        ...

    @property
    def validator_key(self) -> bytes: ...

    def on_commit(self, listener: BlockListener) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def broadcast(self, tx: Transaction) -> None: ...

    def broadcast_many(self, txs: Sequence[Transaction]) -> list[UrbisError | None]: ...

    def pending_txs(self) -> int: ...

    def signed_header(self, height: int) -> dict[str, Any] | None: ...

    def status(self) -> dict[str, Any]: ...


class Node:
    def __init__(self, home: Home, config: NodeConfig | None = None) -> None:
        if not home.is_initialized():
            raise HomeError(f"{home.path} holds no node; run `urbis init` or `urbis up` first")
        self.home = home
        self.config = config or home.load_config()
        self.genesis = home.load_genesis()
        home.ensure_dirs()
        self.db = Database(home.db_path)
        self.app: Application = build_application(
            self.db,
            self.config.keep_versions,
            node_cache_bytes=self.config.state_node_cache_mib << 20,
        )
        if self.config.consensus == "solo" and self.app.info().height < 0:
            self.app.init_chain(self.genesis)  # CometBFT calls InitChain itself
        elif self.app.chain_id and self.app.chain_id != self.genesis.chain_id:
            raise HomeError(
                f"data is for chain {self.app.chain_id!r}, "
                f"but genesis says {self.genesis.chain_id!r}"
            )
        self.driver: Driver = self._driver()
        self._listeners: list[BlockListener] = []
        self._lock = threading.Lock()
        self.driver.on_commit(self._committed)

    def _driver(self) -> Driver:
        if self.config.consensus == "cometbft":
            from urbis.consensus.cometbft.driver import CometBFTDriver

            return CometBFTDriver(
                self.app,
                self.genesis,
                self.home.path / self.config.cometbft_home,
                self.config.abci_address,
                self.config.cometbft_rpc,
                self.home.path / "cometbft.log",
                self.config.max_block_txs,
            )
        solo = SoloConfig(
            self.config.block_interval_ms, self.config.max_block_txs, self.config.empty_blocks
        )
        return SoloDriver(self.app, Mempool(), self.home.load_validator_key().signer(), solo)

    @property
    def validator_keys(self) -> frozenset[bytes]:
        return frozenset(v.key for v in self.genesis.validators)

    def start(self) -> None:
        self.driver.start()

    def stop(self) -> None:
        self.driver.stop()
        self.db.close()

    def on_block(self, listener: BlockListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def submit(self, raw: bytes) -> Transaction:
        """Check and admit one transaction; raises the UrbisError that rejected it."""
        self._require_running()
        tx = self.app.check_tx(raw)
        self.driver.broadcast(tx)
        return tx

    def submit_many(self, raws: Sequence[bytes]) -> list[Submission]:
        self._require_running()
        checked = self.app.check_txs(raws)
        valid = [t for t in checked if isinstance(t, Transaction)]
        outcomes = iter(self.driver.broadcast_many(valid))
        results = []
        for item in checked:
            if isinstance(item, UrbisError):
                results.append(Submission(b"", item))
            else:
                results.append(Submission(item.id, next(outcomes)))
        return results

    def provable_height(self) -> int:
        """The newest height whose proofs a client can check now.

        Under CometBFT the state after block H is vouched for by header H+1, which
        exists only once the next block is committed.
        """
        latest = self.app.store.version
        return max(latest - 1, 0) if self.config.consensus == "cometbft" else latest

    @property
    def halted(self) -> str | None:
        """Why block production stopped (the app's fault or the driver's), or None."""
        if self.app.halted is not None:
            return self.app.halted
        return None if self.driver.halted is None else str(self.driver.halted)

    def _require_running(self) -> None:
        reason = self.halted
        if reason is not None:
            raise NodeHalted(
                f"block production stopped: {reason}; the operator must look at the log",
                reason=reason,
            )

    def _committed(self, signed: SignedHeader, result: BlockResult) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(signed, result)
            except Exception:
                log.exception("block listener failed")
