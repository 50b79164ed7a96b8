"""The mempool: transactions that passed `check_tx` and wait for a block.

Bounded by count, bytes and per-account pending count (the per-account limit
is Urbis's spam bound: there are no fees). Proposals take transactions in
arrival order, but for each sender only a run of consecutive nonces starting
at its next nonce, so a block never holds a transaction that must fail.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from urbis.chain.errors import AccountRateLimited, DuplicateTx, MempoolFull, NonceUsed
from urbis.chain.tx import Transaction

MEMPOOL_TXS_MAX = 100_000
MEMPOOL_BYTES_MAX = 128 * 1024 * 1024
PENDING_PER_ACCOUNT_MAX = 10_000
"""A busy department can queue a day's batch; a runaway client cannot fill the pool."""


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    txs_max: int = MEMPOOL_TXS_MAX
    bytes_max: int = MEMPOOL_BYTES_MAX
    per_account_max: int = PENDING_PER_ACCOUNT_MAX


class Mempool:
    def __init__(self, limits: MempoolLimits | None = None) -> None:
        self.limits = limits or MempoolLimits()
        self._txs: OrderedDict[bytes, Transaction] = OrderedDict()
        self._by_sender: dict[bytes, dict[int, bytes]] = {}
        self._bytes = 0
        self.lock = threading.Lock()
        self.not_empty = threading.Condition(self.lock)

    def __len__(self) -> int:
        return len(self._txs)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def add(self, tx: Transaction) -> None:
        """Add a checked transaction; raise if it is pending already or a limit is hit."""
        with self.lock:
            tx_id = tx.id
            if tx_id in self._txs:
                raise DuplicateTx(f"transaction {tx_id.hex()} is already pending")
            sender = tx.body.sender.raw
            nonces = self._by_sender.get(sender, {})
            if tx.body.nonce in nonces:
                raise NonceUsed(
                    f"nonce {tx.body.nonce} is already used by a pending transaction",
                    nonce=tx.body.nonce,
                )
            if len(nonces) >= self.limits.per_account_max:
                raise AccountRateLimited(
                    f"{tx.body.sender} has {len(nonces)} pending transactions "
                    f"(limit {self.limits.per_account_max})"
                )
            if len(self._txs) >= self.limits.txs_max:
                raise MempoolFull(f"mempool holds {len(self._txs)} transactions; try again later")
            if self._bytes + len(tx.raw) > self.limits.bytes_max:
                raise MempoolFull("mempool is full by size; try again later")
            self._txs[tx_id] = tx
            self._by_sender.setdefault(sender, {})[tx.body.nonce] = tx_id
            self._bytes += len(tx.raw)
            self.not_empty.notify_all()

    def reap(self, max_txs: int, next_nonce: Callable[[bytes], int]) -> list[Transaction]:
        """Up to `max_txs` transactions, each sender's in nonce order without gaps."""
        with self.lock:
            chosen: list[Transaction] = []
            expected: dict[bytes, int] = {}
            for tx in self._txs.values():
                if len(chosen) >= max_txs:
                    break
                sender = tx.body.sender.raw
                if sender in expected:
                    continue
                nonce = next_nonce(sender)
                pending = self._by_sender[sender]
                while nonce in pending and len(chosen) < max_txs:
                    chosen.append(self._txs[pending[nonce]])
                    nonce += 1
                expected[sender] = nonce
            return chosen

    def remove_committed(self, tx_ids: list[bytes]) -> None:
        with self.lock:
            for tx_id in tx_ids:
                self._remove(tx_id)

    def prune(self, keep: Callable[[Transaction], bool]) -> int:
        """Drop pending transactions that can no longer be included (stale nonce, expired)."""
        with self.lock:
            dead = [tx_id for tx_id, tx in self._txs.items() if not keep(tx)]
            for tx_id in dead:
                self._remove(tx_id)
            return len(dead)

    def _remove(self, tx_id: bytes) -> None:
        tx = self._txs.pop(tx_id, None)
        if tx is None:
            return
        self._bytes -= len(tx.raw)
        sender = tx.body.sender.raw
        nonces = self._by_sender.get(sender)
        if nonces is not None:
            nonces.pop(tx.body.nonce, None)
            if not nonces:
                del self._by_sender[sender]
