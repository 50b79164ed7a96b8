"""Blocks, transactions, receipts and the account index, in the node's SQLite file.

This is the read side for auditors and the API; it is not part of the app
hash (the header's roots commit to it). A block's rows are written in the same
transaction as its state; the two lookup indexes' rows are merged in batches
(`INDEX_BUFFER_ROWS`), held in memory until then and rebuilt from the blocks
when the store opens.

Every read is checked before it is returned, and a mismatch raises
StoreCorrupt:
- a header must hash to its stored hash (and carry a valid signature where
  it has one);
- a whole block (`block_txs`, and `tx` for the block it finds) must give its
  header's `txs_root` and `results_root`, and its signatures must verify;
  checked blocks are remembered (the most recent CHECKED_BLOCKS_MAX);
- a history (`account_txs`, up to hundreds of blocks a request) is checked
  row by row: the bytes give the id, the receipt names it. Reading whole
  blocks there would let any client make the node verify every signature
  of the chain.
"""

from __future__ import annotations

import bisect
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from urbis.chain.block import (
    HEADER_DOMAIN,
    BlockHeader,
    Receipt,
    SignedHeader,
    receipts_root,
    transactions_root,
    undecodable_tx_id,
)
from urbis.chain.errors import REFUSED_BEFORE_SIGNATURES, UrbisError
from urbis.chain.ids import account_in_text
from urbis.chain.tx import Transaction, decode_tx
from urbis.crypto.encoding import decode_trusted
from urbis.crypto.hashing import tagged_hash
from urbis.crypto.keys import verify, verify_many
from urbis.state.database import Database, blob, insert_rows, integer
from urbis.state.errors import StoreCorrupt

CHECKED_BLOCKS_MAX = 100_000
"""Heights whose transactions were checked against their header since start."""


T = TypeVar("T")

POSITION_BITS = 24
"""A transaction's position is `height << 24 | index`: a block holds far fewer than 16M
transactions (CometBFT's block size limit allows some 200k of the smallest)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
  height INTEGER PRIMARY KEY, hash BLOB NOT NULL, header BLOB NOT NULL,
  signature BLOB NOT NULL, tx_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS block_txs (
  position INTEGER PRIMARY KEY, tx_id BLOB NOT NULL, raw BLOB NOT NULL, receipt BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tx_ids (
  prefix INTEGER NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (prefix, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS account_txs (
  account BLOB NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY (account, height, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
"""Transactions are stored in chain order (`block_txs`, appended: a block's rows fill
new pages at the end of the file) and found by id through `tx_ids`, the id's first 8
bytes beside the position (about 20 bytes a row). Keyed by the whole id, the rows went
to random pages of an ever larger table: at a thousand transactions a block that was
some 1,600 pages (6.5 MB) of WAL written and then checkpointed, the largest share of
a validator's SQLite work. The same id twice (a replay a proposer included, refused)
is stored twice, at its two positions; by id, the first is found."""

INDEX_BUFFER_ROWS = 50_000
"""Index rows (`tx_ids` and `account_txs`) held in memory before they are merged into
their tables, in order, inside a block's transaction. Written a block at a time, each
block's rows went to random pages of both tables: with 1,500 transfers a block among
10,000 accounts, some 1,500 pages (6 MB) of WAL a block once the tables had grown
past that, rising with the chain. Merged 50,000 rows at a time, an account's rows of
those blocks land on one page, and so do ids that fall together. The rows held
are rebuilt from `block_txs` when the store opens (at most this many, read in chain
order), so nothing is lost in a crash: `block_meta.indexed_height` says up to which
height the tables hold them."""

_INDEX_MASK = (1 << POSITION_BITS) - 1

POSITIONS_PER_QUERY = 500
"""Positions read in one `IN (...)` query (SQLite allows some 32,000 parameters)."""

MOVE_CHUNK = 100_000
"""Ids indexed per batch when an old store's transactions are moved over."""

_LEGACY_TXS = "txs"
"""Stores written before `block_txs`: keyed by id, moved over once when opened."""


@dataclass(frozen=True, slots=True)
class StoredTx:
    tx_id: bytes
    height: int
    index: int
    raw: bytes
    receipt: Receipt


class _RecentIndex:
    """The index rows of the blocks after `block_meta.indexed_height`, by id prefix and by
    account, each list in chain order."""

    def __init__(self) -> None:
        self.ids: dict[int, list[int]] = {}
        self.accounts: dict[bytes, list[int]] = {}
        self.rows = 0

    def add(self, ids: list[tuple[int, int]], accounts: list[tuple[bytes, int]]) -> None:
        for prefix, position in ids:
            self.ids.setdefault(prefix, []).append(position)
        for account, position in accounts:
            self.accounts.setdefault(account, []).append(position)
        self.rows += len(ids) + len(accounts)

    def id_rows(self, more: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """`tx_ids` rows of these and `more`, in key order (each page written once)."""
        rows = [(prefix, p) for prefix, positions in self.ids.items() for p in positions]
        rows += more
        rows.sort()
        return rows

    def account_rows(self, more: list[tuple[bytes, int]]) -> list[tuple[bytes, int, int]]:
        """`account_txs` rows of these and `more`, in key order."""
        rows = [(account, p) for account, positions in self.accounts.items() for p in positions]
        rows += more
        rows.sort()
        return [(account, p >> POSITION_BITS, p & _INDEX_MASK) for account, p in rows]


@dataclass(frozen=True, slots=True)
class _Written:
    """A block's index rows, written in the open transaction; they reach the reads once
    it commits (`promote_written`)."""

    ids: list[tuple[int, int]]
    accounts: list[tuple[bytes, int]]
    merged: bool


class BlockStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        _move_legacy_txs(db)
        self._checked: OrderedDict[int, None] = OrderedDict()
        self._checked_lock = threading.Lock()
        self._recent = _load_recent_index(db)
        self._written: _Written | None = None

    def write(
        self,
        conn: sqlite3.Connection,
        signed: SignedHeader,
        raw_txs: list[bytes],
        receipts: list[Receipt],
        receipt_bytes: list[bytes],
    ) -> None:
        header = signed.header
        conn.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
            (header.height, header.hash, header.encode(), signed.signature, len(raw_txs)),
        )
        base = header.height << POSITION_BITS
        insert_rows(
            conn,
            "INSERT INTO block_txs",
            [
                (base | r.index, r.tx_id, raw, encoded)
                for raw, r, encoded in zip(raw_txs, receipts, receipt_bytes, strict=True)
            ],
        )
        ids = [(_id_prefix(r.tx_id), base | r.index) for r in receipts]
        accounts = [
            (account, base | receipt.index)
            for receipt in receipts
            for account in accounts_named(receipt)
        ]
        recent = self._recent
        merged = recent.rows + len(ids) + len(accounts) >= INDEX_BUFFER_ROWS
        if merged:
            insert_rows(conn, "INSERT INTO tx_ids", recent.id_rows(ids))
            insert_rows(conn, "INSERT OR IGNORE INTO account_txs", recent.account_rows(accounts))
            conn.execute(
                "INSERT OR REPLACE INTO block_meta VALUES ('indexed_height', ?)",
                (header.height,),
            )
        self._written = _Written(ids, accounts, merged)

    def promote_written(self) -> None:
        """After the block's transaction committed: its index rows reach the reads (in
        memory, or in the tables with every row held before them)."""
        written, self._written = self._written, None
        if written is None:
            raise RuntimeError("no block written")
        with self.db.lock:
            if written.merged:
                self._recent = _RecentIndex()
            else:
                self._recent.add(written.ids, written.accounts)

    def latest_height(self) -> int:
        row = self.db.fetchone("SELECT MAX(height) FROM blocks")
        return 0 if row is None or row[0] is None else integer(row[0], "the latest height")

    def header(self, height: int) -> SignedHeader | None:
        row = self.db.fetchone(
            "SELECT hash, header, signature FROM blocks WHERE height = ?", (height,)
        )
        if row is None:
            return None
        stored_hash, encoded, signature = (blob(c, f"block {height}") for c in row)
        if tagged_hash("block", encoded) != stored_hash:
            raise StoreCorrupt(f"the header of block {height} does not match its stored hash")
        header = _decoded(lambda: _header(encoded), f"the header of block {height}")
        if header.height != height:
            raise StoreCorrupt(f"the header stored for block {height} is block {header.height}'s")
        # Solo headers carry the proposer's signature; CometBFT's commits vouch for theirs.
        if signature and not verify(header.proposer, HEADER_DOMAIN + encoded, signature):
            raise StoreCorrupt(f"the signature of block {height} does not verify")
        return SignedHeader(header, signature)

    def block_txs(self, height: int) -> list[StoredTx]:
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM block_txs AS t "
            "WHERE position BETWEEN ? AND ? ORDER BY position",
            (height << POSITION_BITS, ((height + 1) << POSITION_BITS) - 1),
        )
        stored = [_stored(row) for row in rows]
        self._check_block(height, stored, [row[4] for row in rows])
        return stored

    def tx(self, tx_id: bytes) -> StoredTx | None:
        prefix = _id_prefix(tx_id)
        with self.db.lock:  # the tables and the rows held in memory, as of one block
            row = self.db.fetchone(
                f"SELECT {_COLUMNS} FROM tx_ids AS i JOIN block_txs AS t USING (position) "
                "WHERE i.prefix = ? AND t.tx_id = ? ORDER BY position LIMIT 1",
                (prefix, tx_id),
            )
            if row is None:  # the tables hold the earlier blocks: then the recent ones
                rows = self._rows_at(self._recent.ids.get(prefix, []))
                row = next((r for r in rows if r[0] == tx_id), None)
        if row is None:
            return None
        stored = _stored(row)
        self._ensure_checked(stored.height)
        return stored

    def _ensure_checked(self, height: int) -> None:
        if not self._was_checked(height):
            self.block_txs(height)

    def _was_checked(self, height: int) -> bool:
        with self._checked_lock:
            if height not in self._checked:
                return False
            self._checked.move_to_end(height)
            return True

    def _check_block(self, height: int, stored: list[StoredTx], receipt_bytes: list[bytes]) -> None:
        """The block's rows against its header's roots (each raw against its id too)."""
        if self._was_checked(height):
            return
        signed = self.header(height)
        if signed is None:
            if stored:
                raise StoreCorrupt(f"block {height} has transactions but no header")
            return
        header = signed.header
        if [s.index for s in stored] != list(range(len(stored))):
            raise StoreCorrupt(f"the transactions of block {height} are not all stored")
        ids = [s.tx_id for s in stored]
        if transactions_root(ids) != header.txs_root:
            raise StoreCorrupt(f"the transactions of block {height} do not match its header")
        if receipts_root(receipt_bytes) != header.results_root:
            raise StoreCorrupt(f"the receipts of block {height} do not match its header")
        signed_txs: list[Transaction] = []
        for item in stored:
            tx = _check_row(item)
            # A txs_root holds only the bodies' ids: signatures are checked again to show
            # the stored bytes are the ones that were executed.
            if tx is not None and item.receipt.code not in REFUSED_BEFORE_SIGNATURES:
                signed_txs.append(tx)
        triples = [(s.key, tx.signed_message(), s.sig) for tx in signed_txs for s in tx.signatures]
        if not all(verify_many(triples)):
            raise StoreCorrupt(f"a transaction's signature in block {height} does not verify")
        with self._checked_lock:
            self._checked[height] = None
            if len(self._checked) > CHECKED_BLOCKS_MAX:
                self._checked.popitem(last=False)

    def account_txs(
        self, account: bytes, limit: int = 50, before_height: int | None = None
    ) -> list[StoredTx]:
        """The account's transactions, newest first, below `before_height` if given (at
        most `limit`; a negative limit is none, as SQL's)."""
        before = min(before_height if before_height is not None else 2**40, 2**40)
        limit = limit if limit >= 0 else 2**62
        with self.db.lock:  # the tables and the rows held in memory, as of one block
            held = self._recent.accounts.get(account, [])
            end = bisect.bisect_left(held, before << POSITION_BITS)  # held is in chain order
            rows = self._rows_at(held[max(0, end - limit) : end][::-1])
            if len(rows) < limit:
                rows += self.db.fetchall(
                    f"SELECT {_COLUMNS} FROM account_txs a JOIN block_txs t "
                    f"ON t.position = (a.height << {POSITION_BITS}) | a.idx "
                    "WHERE a.account = ? AND a.height < ? "
                    "ORDER BY a.height DESC, a.idx DESC LIMIT ?",
                    (account, before, limit - len(rows)),
                )
        stored = [_stored(row) for row in rows]
        for item in stored:
            _check_row(item)
        return stored

    def _rows_at(self, positions: list[int]) -> list[tuple[Any, ...]]:
        """The `block_txs` rows at `positions`, in that order (those there are)."""
        found: dict[int, tuple[Any, ...]] = {}
        for start in range(0, len(positions), POSITIONS_PER_QUERY):
            chunk = positions[start : start + POSITIONS_PER_QUERY]
            for row in self.db.fetchall(
                f"SELECT {_COLUMNS}, t.position FROM block_txs t "
                f"WHERE t.position IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            ):
                found[row[-1]] = row[:-1]
        return [found[p] for p in positions if p in found]

    def tx_count(self) -> int:
        row = self.db.fetchone("SELECT COALESCE(SUM(tx_count), 0) FROM blocks")
        return 0 if row is None else int(row[0])


def accounts_named(receipt: Receipt) -> set[bytes]:
    """Whose history a transaction belongs in: its authenticated sender and every account
    an event names. Derived from the receipt when the block is stored, so execution
    never spends time on indexing."""
    named = {receipt.sender} if receipt.sender else set()
    for event in receipt.events:
        for value in event.attrs.values():
            if isinstance(value, str):
                raw = account_in_text(value)
                if raw is not None:
                    named.add(raw)
    return named


_COLUMNS = (
    f"t.tx_id, t.position >> {POSITION_BITS}, t.position & {(1 << POSITION_BITS) - 1}, "
    "t.raw, t.receipt"
)
"""A stored transaction's columns as `_stored` reads them (its table named `t`)."""


def _id_prefix(tx_id: bytes) -> int:
    """The id's first 8 bytes as SQLite's signed 64-bit integer."""
    return int.from_bytes(tx_id[:8], "big", signed=True)


def _load_recent_index(db: Database) -> _RecentIndex:
    """The index rows not yet merged into the tables, read back from `block_txs`.

    A store written before `block_meta` has every row in the tables: it is marked
    indexed up to its latest block."""
    with db.lock:
        row = db.fetchone("SELECT value FROM block_meta WHERE name = 'indexed_height'")
        if row is None:
            latest = db.fetchone("SELECT COALESCE(MAX(height), 0) FROM blocks")
            indexed = 0 if latest is None else integer(latest[0], "the latest height")
            with db.transaction() as conn:
                conn.execute("INSERT INTO block_meta VALUES ('indexed_height', ?)", (indexed,))
        else:
            indexed = integer(row[0], "the indexed height")
        recent = _RecentIndex()
        rows = db.fetchall(
            "SELECT position, tx_id, receipt FROM block_txs WHERE position >= ? "
            "ORDER BY position",
            ((indexed + 1) << POSITION_BITS,),
        )
    for position, tx_id, receipt in rows:
        at = integer(position, "a transaction's position")
        decoded = _receipt(receipt, at >> POSITION_BITS, at & _INDEX_MASK)
        prefix = _id_prefix(blob(tx_id, "a transaction id"))
        recent.add([(prefix, at)], [(account, at) for account in accounts_named(decoded)])
    return recent


def _move_legacy_txs(db: Database) -> None:
    """Move a store's transactions from the id-keyed `txs` table to `block_txs` and
    `tx_ids`, in one transaction (a crash leaves the old table whole, to move again)."""
    with db.lock:
        if db.fetchone("SELECT 1 FROM sqlite_master WHERE name = ?", (_LEGACY_TXS,)) is None:
            return
        with db.transaction() as conn:
            conn.execute(
                f"INSERT INTO block_txs SELECT (height << {POSITION_BITS}) | idx, tx_id, raw, "
                "receipt FROM txs ORDER BY height, idx"
            )
            rows = conn.execute("SELECT tx_id, position FROM block_txs")
            while chunk := rows.fetchmany(MOVE_CHUNK):  # memory stays bounded
                conn.executemany(
                    "INSERT INTO tx_ids VALUES (?, ?)",
                    sorted((_id_prefix(blob(t, "a transaction id")), p) for t, p in chunk),
                )
            conn.execute("DROP TABLE txs")


def _stored(row: tuple[Any, ...]) -> StoredTx:
    tx_id, height, index, raw, receipt = row
    return StoredTx(
        blob(tx_id, "a transaction id"),
        integer(height, "a transaction's height"),
        integer(index, "a transaction's index"),
        blob(raw, "a transaction"),
        _receipt(receipt, height, index),
    )


def _receipt(stored: Any, height: Any, index: Any) -> Receipt:
    return _decoded(
        lambda: Receipt.from_wire(decode_trusted(blob(stored, "a receipt"))),
        f"the receipt of transaction {index} in block {height}",
    )


def _header(encoded: bytes) -> BlockHeader:
    header = BlockHeader.from_wire(decode_trusted(encoded))
    if header.encode() != encoded:  # what was hashed must be what is served
        raise ValueError("the header does not re-encode to its stored bytes")
    return header


def _decoded(decode: Callable[[], T], what: str) -> T:
    """Stored bytes our own code encoded; if they no longer decode, they were damaged."""
    try:
        return decode()
    except Exception as error:  # a damaged encoding can fail in any of the decoder's ways
        raise StoreCorrupt(f"{what} does not decode ({error})") from None


def _check_row(item: StoredTx) -> Transaction | None:
    """One stored transaction against itself: its bytes give its id, its receipt names it."""
    tx = _decoded_tx(item.raw)
    tx_id = undecodable_tx_id(item.raw) if tx is None else tx.id
    if tx_id != item.tx_id or item.receipt.tx_id != item.tx_id:
        raise StoreCorrupt(f"transaction {item.index} of block {item.height} is damaged")
    if (item.receipt.height, item.receipt.index) != (item.height, item.index):
        raise StoreCorrupt(f"the receipt of transaction {item.index} in {item.height} is not its")
    return tx


def _decoded_tx(raw: bytes) -> Transaction | None:
    try:
        return decode_tx(raw)
    except UrbisError:
        return None
