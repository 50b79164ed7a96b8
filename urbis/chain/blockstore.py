"""Blocks, transactions, receipts and the account index, in the node's SQLite file.

This is the read side for auditors and the API; it is not part of the app
hash (the header's roots commit to it). Rows are written in the same
transaction as the block's state.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from urbis.chain.block import BlockHeader, Receipt, SignedHeader
from urbis.crypto.encoding import decode_trusted
from urbis.state.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
  height INTEGER PRIMARY KEY, hash BLOB NOT NULL, header BLOB NOT NULL,
  signature BLOB NOT NULL, tx_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
  tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL,
  raw BLOB NOT NULL, receipt BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS txs_position ON txs (height, idx);
CREATE TABLE IF NOT EXISTS account_txs (
  account BLOB NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY (account, height, idx)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class StoredTx:
    tx_id: bytes
    height: int
    index: int
    raw: bytes
    receipt: Receipt


class BlockStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def write(
        self,
        conn: sqlite3.Connection,
        signed: SignedHeader,
        raw_txs: list[bytes],
        receipts: list[Receipt],
        receipt_bytes: list[bytes],
        accounts_by_tx: list[set[bytes]],
    ) -> None:
        header = signed.header
        conn.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
            (header.height, header.hash, header.encode(), signed.signature, len(raw_txs)),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO txs VALUES (?, ?, ?, ?, ?)",
            [
                (r.tx_id, r.height, r.index, raw, encoded)
                for raw, r, encoded in zip(raw_txs, receipts, receipt_bytes, strict=True)
            ],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO account_txs VALUES (?, ?, ?)",
            [
                (account, header.height, index)
                for index, accounts in enumerate(accounts_by_tx)
                for account in accounts
            ],
        )

    def latest_height(self) -> int:
        row = self.db.fetchone("SELECT MAX(height) FROM blocks")
        return 0 if row is None or row[0] is None else int(row[0])

    def header(self, height: int) -> SignedHeader | None:
        row = self.db.fetchone("SELECT header, signature FROM blocks WHERE height = ?", (height,))
        if row is None:
            return None
        return SignedHeader(BlockHeader.from_wire(decode_trusted(row[0])), bytes(row[1]))

    def block_txs(self, height: int) -> list[StoredTx]:
        rows = self.db.fetchall(
            "SELECT tx_id, height, idx, raw, receipt FROM txs WHERE height = ? ORDER BY idx",
            (height,),
        )
        return [_stored(row) for row in rows]

    def tx(self, tx_id: bytes) -> StoredTx | None:
        row = self.db.fetchone(
            "SELECT tx_id, height, idx, raw, receipt FROM txs WHERE tx_id = ?", (tx_id,)
        )
        return None if row is None else _stored(row)

    def account_txs(
        self, account: bytes, limit: int = 50, before_height: int | None = None
    ) -> list[StoredTx]:
        rows = self.db.fetchall(
            "SELECT t.tx_id, t.height, t.idx, t.raw, t.receipt FROM account_txs a "
            "JOIN txs t ON t.height = a.height AND t.idx = a.idx "
            "WHERE a.account = ? AND a.height < ? ORDER BY a.height DESC, a.idx DESC LIMIT ?",
            (account, before_height if before_height is not None else 2**62, limit),
        )
        return [_stored(row) for row in rows]

    def tx_count(self) -> int:
        row = self.db.fetchone("SELECT COALESCE(SUM(tx_count), 0) FROM blocks")
        return 0 if row is None else int(row[0])


def _stored(row: tuple[Any, ...]) -> StoredTx:
    tx_id, height, index, raw, receipt = row
    return StoredTx(
        bytes(tx_id),
        int(height),
        int(index),
        bytes(raw),
        Receipt.from_wire(decode_trusted(receipt)),
    )
