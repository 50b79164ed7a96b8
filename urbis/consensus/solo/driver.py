"""Solo: one validator key, one process. Blocks are cut every `block_interval_ms`
or as soon as the mempool holds `max_block_txs`; when idle, no empty blocks
are made unless `empty_blocks` is set.

Block time comes from this driver's clock, made strictly increasing, and is
handed to the app in the block; the app never reads the host clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from urbis.chain.app import Application
from urbis.chain.block import BlockHeader, BlockResult, SignedHeader, sign_header
from urbis.chain.context import BlockInfo
from urbis.chain.errors import UrbisError
from urbis.chain.mempool import Mempool
from urbis.chain.tx import Transaction
from urbis.crypto.hashing import EMPTY_HASH
from urbis.crypto.keys import Signer

log = logging.getLogger("urbis.solo")

BLOCK_INTERVAL_MS_DEFAULT = 1000
MAX_BLOCK_TXS_DEFAULT = 5000
"""A block of 5,000 anchors executes in well under a second on two cores."""

CommitListener = Callable[[SignedHeader, BlockResult], None]


@dataclass(frozen=True, slots=True)
class SoloConfig:
    block_interval_ms: int = BLOCK_INTERVAL_MS_DEFAULT
    max_block_txs: int = MAX_BLOCK_TXS_DEFAULT
    empty_blocks: bool = False


class SoloDriver:
    def __init__(
        self,
        app: Application,
        mempool: Mempool,
        signer: Signer,
        config: SoloConfig | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.app = app
        self.mempool = mempool
        self.signer = signer
        self.config = config or SoloConfig()
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._listeners: list[CommitListener] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.block_lock = threading.Lock()
        """Held while a block executes and commits; readers needing a stable view take it."""
        self.halted: BaseException | None = None
        self.last_block_ms = 0.0
        latest = app.blocks.header(app.blocks.latest_height())
        self._last_header = None if latest is None else latest.header

    def on_commit(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    @property
    def validator_key(self) -> bytes:
        return self.signer.public_key.raw

    def broadcast(self, tx: Transaction) -> None:
        self.mempool.add(tx)

    def broadcast_many(self, txs: Sequence[Transaction]) -> list[UrbisError | None]:
        results: list[UrbisError | None] = []
        for tx in txs:
            try:
                self.mempool.add(tx)
                results.append(None)
            except UrbisError as error:
                results.append(error)
        return results

    def signed_header(self, height: int) -> dict[str, object] | None:
        """Solo blocks carry our own signed header; there is no separate consensus commit."""
        return None

    def abci_calls(self) -> dict[str, tuple[int, float]]:
        return {}  # a solo node calls the app directly, not through ABCI

    def pending_txs(self) -> int:
        return len(self.mempool)

    def status(self) -> dict[str, object]:
        return {
            "block_interval_ms": self.config.block_interval_ms,
            "max_block_txs": self.config.max_block_txs,
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="urbis-solo", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self.mempool.not_empty:
            self.mempool.not_empty.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def produce_block(self) -> tuple[SignedHeader, BlockResult]:
        """Cut one block now from whatever the mempool holds (tests and tools call this)."""
        with self.block_lock:
            started = time.perf_counter()
            txs = self.mempool.reap(self.config.max_block_txs, self.app.next_nonce)
            info = self.app.info()
            height = info.height + 1
            last_height = 0 if self._last_header is None else self._last_header.height
            if last_height != info.height:
                # Someone else committed a block (tools, tests): link to the stored one.
                stored = self.app.blocks.header(info.height)
                self._last_header = None if stored is None else stored.header
            previous_time = 0 if self._last_header is None else self._last_header.time_ms
            block = BlockInfo(
                info.chain_id,
                height,
                max(self._clock_ms(), previous_time + 1),
                self.signer.public_key.raw,
            )
            result = self.app.finalize_block(block, [tx.raw for tx in txs])
            header = BlockHeader(
                chain_id=info.chain_id,
                height=height,
                time_ms=block.time_ms,
                prev_hash=EMPTY_HASH if self._last_header is None else self._last_header.hash,
                txs_root=result.txs_root,
                results_root=result.results_root,
                app_hash=result.app_hash,
                proposer=self.signer.public_key.raw,
            )
            signed = sign_header(header, self.signer)
            self.app.commit(signed)
            self._last_header = header
            self.mempool.remove_committed([tx.id for tx in txs])
            self.mempool.prune(self.app.still_valid)
            self.last_block_ms = (time.perf_counter() - started) * 1000
        for listener in self._listeners:
            try:
                listener(signed, result)
            except Exception:  # a listener's bug must not stop the chain
                log.exception("commit listener failed")
        return signed, result

    def _run(self) -> None:
        interval = self.config.block_interval_ms / 1000
        last_block = time.monotonic()
        try:
            while not self._stop.is_set():
                if not self._wait_for_work(last_block, interval):
                    continue
                self.produce_block()
                last_block = time.monotonic()
        except BaseException as error:  # an InvariantBroken or a storage fault: halt
            self.halted = error
            log.critical("block production halted: %s", error, exc_info=True)

    def _wait_for_work(self, last_block: float, interval: float) -> bool:
        """Block until a block should be cut; False when woken to stop or with nothing to do."""
        with self.mempool.not_empty:
            while not self._stop.is_set():
                pending = len(self.mempool)
                waited = time.monotonic() - last_block
                if pending >= self.config.max_block_txs:
                    return True
                if waited >= interval and (pending or self.config.empty_blocks):
                    return True
                timeout = interval - waited if waited < interval else interval
                self.mempool.not_empty.wait(timeout=max(timeout, 0.001))
        return False
