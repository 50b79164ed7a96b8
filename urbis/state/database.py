"""The embedded SQLite database shared by state and the block store.

One file, WAL mode, `synchronous=FULL`: a block's state, its header, its
receipts and the indexes are written in one transaction, so after `kill -9`
(or power loss) the node reopens at the last committed block, never between.

Checkpoints (copying the WAL back into the database file) run on a background
thread with a connection of its own, not inside a block's commit: with SQLite's
automatic checkpoint every large block paid for copying the previous ones.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHECKPOINT_EVERY_S = 1.0
"""How often committed WAL pages are copied into the database file, off the commit path."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""After a checkpoint resets the WAL, its file is cut back to this size."""

log = logging.getLogger("urbis.db")


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA cache_size=-65536")
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        self.lock = threading.RLock()
        """Serialises use of the one connection between the block thread and API readers."""
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="urbis-checkpoint", daemon=True
        )
        self._checkpointer.start()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.lock:
            return self._conn.execute(sql, params)

    def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self.lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            return row

    def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self._conn.execute(sql, params).fetchall())

    def executescript(self, sql: str) -> None:
        with self.lock:
            self._conn.executescript(sql)

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

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join(5)
        with self.lock:
            self._conn.close()
