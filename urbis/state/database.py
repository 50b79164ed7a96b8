"""The embedded SQLite database shared by state and the block store.

One file, WAL mode, `synchronous=FULL`: a block's state, its header and its
receipts are written in one transaction, so after `kill -9` (or power loss) the
node reopens at the last committed block, never between (the block store's
lookup indexes are merged in batches and rebuilt from the blocks on open).

Checkpoints (copying the WAL back into the database file) run on a background
thread with a connection of its own, not inside a block's commit: with SQLite's
automatic checkpoint every large block paid for copying the previous ones.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

from urbis.state.errors import StoreCorrupt

CHECKPOINT_EVERY_S = 1.0
"""How often committed WAL pages are copied into the database file, off the commit path."""
WAL_BOUND = 256 * 1024 * 1024
"""Past this, the writer itself finishes the checkpoint after its commit and restarts
the WAL. Under a steady stream of blocks the background checkpointer never catches up
with the last frame, and only then may the WAL start over: measured, it grew past 6 GB
in 200 blocks of 1,000 transfers. The writer's pause is the copy of what the background
pass has not yet copied, about a second's writes."""
WAL_SIZE_LIMIT = WAL_BOUND + 64 * 1024 * 1024
"""After a checkpoint resets the WAL, its file is cut back to this size: above what it
grows to between restarts, so the next pass overwrites pages the file already has. Cut
back to 64 MiB, three quarters of each pass went to fresh file pages, which the kernel
zeroes and allocates on each partial write (a frame is 24 + 4,096 bytes): `perf` put its
zeroing alone at 6.5-8.9% of a validator's CPU after 90,000 transfers."""

# CPython 3.11 binds int, float, str and bytearray as they are, but sends every bytes
# parameter through the adapter protocol (a tuple key built, a registry miss, two
# attribute lookups): some 170 ns a parameter, and a block binds tens of thousands.
# Registered as its own adapter, bytes is found at the first lookup and bound unchanged
# (`bytes(b) is b`). Measured: 1.69 -> 1.36 µs an INSERT of an integer and two blobs.
# The adapter is `bytes.__bytes__`, not `bytes`: the constructor looks `__bytes__` up and
# calls it, 129 ns a parameter against 22 (timeit), the same object back either way.
sqlite3.register_adapter(bytes, bytes.__bytes__)

SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26

log = logging.getLogger("urbis.db")


@contextmanager
def corruption_reported(path: str) -> Iterator[None]:
    """SQLite's own "malformed" and "not a database" errors become StoreCorrupt.

    Other SQLite errors (full disk, locked, I/O) are not damage to what is stored,
    so they pass through unchanged.
    """
    try:
        yield
    except (sqlite3.DatabaseError, UnicodeDecodeError) as error:
        _raise_reported(error, path)
        raise


def _raise_reported(error: Exception, path: str) -> None:
    """StoreCorrupt if `error` is damage to what is stored; otherwise returns, and the
    caller re-raises `error`. Single reads call it from a plain `except`, which costs
    nothing until something is raised, where a context manager costs a generator a call."""
    if isinstance(error, UnicodeDecodeError):  # only the schema and our table names are text
        raise StoreCorrupt(f"the database file {path} is damaged (bad text: {error})") from None
    code = getattr(error, "sqlite_errorcode", None)
    damaged_text = str(error).startswith("Could not decode to UTF-8")
    if damaged_text or (code is not None and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)):
        raise StoreCorrupt(f"the database file {path} is damaged ({error})") from error


ROWS_PER_STATEMENT = (128, 16, 1)
"""How `insert_rows` cuts a batch: as many statements of 128 rows as fit, then of 16,
then single rows, so each table needs three prepared statements whatever the batch."""


def insert_rows(conn: sqlite3.Connection, insert: str, rows: Sequence[Sequence[Any]]) -> None:
    """`insert` (e.g. "INSERT INTO t") of `rows`, many rows a statement.

    `executemany` runs the whole statement once a row (bind, step, halt, reset): a
    block's 15,000 or so rows paid that each. With 128 rows a statement, updating 6,000
    keyed rows took 1.8-2.0 µs a row against 2.9-3.0. Rows are inserted in order, as
    `executemany` would (a later row of the same key replaces an earlier one under OR
    REPLACE); a failing row fails the caller's transaction either way.
    """
    if not rows:
        return
    width = len(rows[0])
    done = 0
    for size in ROWS_PER_STATEMENT:
        count = (len(rows) - done) // size
        if not count:
            continue
        statement = f"{insert} VALUES " + ", ".join(["(" + ", ".join("?" * width) + ")"] * size)
        for _ in range(count):
            conn.execute(statement, list(chain.from_iterable(rows[done : done + size])))
            done += size


def blob(value: object, what: str) -> bytes:
    """A column Urbis wrote as a blob; a damaged record can hand back any other type."""
    if not isinstance(value, bytes):
        raise StoreCorrupt(f"{what} is stored as {type(value).__name__}, not bytes")
    return value


def integer(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreCorrupt(f"{what} is stored as {type(value).__name__}, not an integer")
    return value


_CREATE = re.compile(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (?P<name>\w+)")


def _normal(sql: str) -> str:
    return " ".join(sql.split())


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            with corruption_reported(self.path):
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute("PRAGMA cache_size=-65536")
                self._conn.execute("PRAGMA wal_autocheckpoint=0")
                self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
                # A multi-row INSERT OR REPLACE (`insert_rows`) may abort halfway, so SQLite
                # keeps a statement journal of each page it changes; spilled to a temporary
                # file, that was a quarter of the bytes a block wrote.
                self._conn.execute("PRAGMA temp_store=MEMORY")
        except BaseException:
            self._conn.close()
            raise
        self.lock = threading.RLock()
        """Serialises use of the one connection between the block thread and API readers."""
        self._schema: dict[str, str] = {}
        """The tables and indexes each part of the node declared, by name."""
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="urbis-checkpoint", daemon=True
        )
        self._checkpointer.start()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock, corruption_reported(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                # SQLite rolls back by itself on some errors (a full disk): then the
                # original error is the one to report, not "no transaction is active".
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._bound_wal()

    def _bound_wal(self) -> None:
        try:
            size = os.stat(self.path + "-wal").st_size
        except OSError:  # the transaction has committed: nothing here may look like it failed
            return
        if size > WAL_BOUND:
            # RESTART waits for readers, copies every frame and makes the next write
            # start the WAL over (its file kept at WAL_SIZE_LIMIT at most); busy just
            # means later.
            # The transaction has committed: a failure here (a full disk while copying)
            # must not look like a failed commit, so it is logged, not raised.
            try:
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.Error as error:
                log.warning("WAL restart failed, the WAL keeps growing: %s", error)
                return
            if busy:
                log.debug("WAL restart postponed: a checkpoint or reader is busy")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.lock, corruption_reported(self.path):
            return self._conn.execute(sql, params)

    def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self.lock:
            try:
                row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            except (sqlite3.DatabaseError, UnicodeDecodeError) as error:
                _raise_reported(error, self.path)
                raise
            return row

    def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock, corruption_reported(self.path):
            return list(self._conn.execute(sql, params).fetchall())

    def executescript(self, sql: str) -> None:
        with self.lock, corruption_reported(self.path):
            self._conn.executescript(sql)

    def ensure_schema(self, script: str) -> None:
        """Create the script's tables and indexes if missing, then check that the stored
        definitions are the script's: a damaged schema (a column or table renamed by a
        flipped bit) must be refused, not queried into odd errors or silent emptiness."""
        self.executescript(script)
        declared = {}
        for statement in script.split(";"):
            found = _CREATE.match(statement.strip())
            if found:
                declared[found["name"]] = _normal(statement.replace(" IF NOT EXISTS", "", 1))
        with self.lock:
            stored = dict(
                self.fetchall(
                    "SELECT name, sql FROM sqlite_master WHERE name IN "
                    f"({', '.join('?' * len(declared))})",
                    tuple(declared),
                )
            )
        for name, sql in declared.items():
            if not isinstance(stored.get(name), str) or _normal(stored[name]) != sql:
                raise StoreCorrupt(f"the definition of {name} in {self.path} is damaged")
        self._schema.update(declared)

    def check_no_strangers(self) -> None:
        """Every table and index in the file was declared by some part of the node."""
        rows = self.fetchall("SELECT type, name FROM sqlite_master")
        for kind, name in rows:
            if not isinstance(name, str) or name.startswith("sqlite_"):
                continue
            if name not in self._schema:
                raise StoreCorrupt(f"{self.path} holds an unknown {kind} {name!r}")

    def checkpoint(self, conn: sqlite3.Connection | None = None) -> int:
        """Copy committed WAL pages into the database file (PASSIVE: writers go on).

        Returns how many WAL frames are still waiting (0 when all were copied).
        """
        own = conn is None
        conn = conn or self._checkpoint_connection()
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            if own:
                conn.close()
        return 0 if busy == 0 and frames == copied else max(frames - copied, 1)

    def _checkpoint_connection(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _checkpoint_loop(self) -> None:
        conn = self._checkpoint_connection()
        try:
            while not self._closing.wait(CHECKPOINT_EVERY_S):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as error:  # busy, or closing: the next round tries again
                    log.debug("checkpoint postponed: %s", error)
        finally:
            conn.close()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join(5)
        with self.lock:
            self._conn.close()
