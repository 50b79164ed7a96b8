"""The node's off-chain datastore: record envelopes, batches, wrapped keys, dataset files.

SQLite in WAL mode beside the chain's database (HOME/data/datastore.db). A batch is
stored *pending* when its producer hands it in with the anchor transaction, and becomes
*anchored* when a committed block carries that anchor with the same root; a batch whose
transaction failed is deleted. Only anchored records are served. Shredding deletes keys
here; envelopes stay (they are ciphertext, and the chain's roots still cover them).
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FORMAT = 3
"""The datastore's layout version (SQLite user_version); a file of another is refused."""
LENGTH = struct.Struct(">I")
"""A batch's envelopes are stored as one blob, each prefixed by its u32 length: one row
per batch, written in one go, which is what lets a node take tens of thousands of 1 KB
records a second."""


def pack_envelopes(envelopes: Sequence[bytes]) -> bytes:
    return b"".join(LENGTH.pack(len(e)) + e for e in envelopes)


def unpack_envelopes(blob: bytes) -> list[bytes]:
    out = []
    at = 0
    while at < len(blob):
        (size,) = LENGTH.unpack_from(blob, at)
        out.append(blob[at + 4 : at + 4 + size])
        at += 4 + size
    return out


SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    stream TEXT NOT NULL, first_seq INTEGER NOT NULL, count INTEGER NOT NULL,
    root BLOB NOT NULL, tx_id BLOB, height INTEGER, envelopes BLOB NOT NULL,
    PRIMARY KEY (stream, first_seq));
CREATE TABLE IF NOT EXISTS views (
    stream TEXT NOT NULL, grantee TEXT NOT NULL, first_seq INTEGER NOT NULL,
    envelopes BLOB NOT NULL, PRIMARY KEY (stream, grantee, first_seq));
CREATE TABLE IF NOT EXISTS subjects (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, pseudonym BLOB NOT NULL,
    PRIMARY KEY (stream, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subjects_pseudonym ON subjects (stream, pseudonym);
CREATE TABLE IF NOT EXISTS wrapped_keys (
    stream TEXT NOT NULL, epoch INTEGER NOT NULL, department TEXT NOT NULL,
    wrapped BLOB NOT NULL, PRIMARY KEY (stream, epoch, department));
CREATE TABLE IF NOT EXISTS subject_keys (
    stream TEXT NOT NULL, pseudonym BLOB NOT NULL, epoch INTEGER NOT NULL,
    wrapped BLOB NOT NULL, PRIMARY KEY (stream, pseudonym, epoch));
CREATE TABLE IF NOT EXISTS dataset_files (
    id TEXT NOT NULL, version INTEGER NOT NULL, content BLOB NOT NULL,
    PRIMARY KEY (id, version));
"""


@dataclass(frozen=True, slots=True)
class Batch:
    stream: str
    first_seq: int
    count: int
    root: bytes
    tx_id: bytes | None
    height: int | None

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1


class Datastore:
    """One SQLite file, one connection, one lock: the API's threads and the block
    listener share it; each call is one short transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=16384")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and version != FORMAT:
            self._db.close()
            raise RuntimeError(
                f"{path} is a datastore of format {version}, this node writes {FORMAT}: "
                "move it away (its records can be replicated back from a granted node)"
            )
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version = {FORMAT}")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- records -------------------------------------------------------------------

    def add_batch(
        self,
        batch: Batch,
        envelopes: Sequence[bytes],
        pseudonyms: Sequence[bytes | None],
        views: dict[str, list[bytes]] | None = None,
    ) -> None:
        """Store a batch and its records in one transaction (pending until anchored, unless
        `batch.height` is given: a replica stores batches it already checked)."""
        subjects = [
            (batch.stream, batch.first_seq + i, pseudonym)
            for i, pseudonym in enumerate(pseudonyms)
            if pseudonym is not None
        ]
        blob = pack_envelopes(envelopes)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        batch.stream,
                        batch.first_seq,
                        batch.count,
                        batch.root,
                        batch.tx_id,
                        batch.height,
                        blob,
                    ),
                )
                if subjects:
                    self._db.executemany("INSERT INTO subjects VALUES (?, ?, ?)", subjects)
                for grantee, copies in (views or {}).items():
                    self._db.execute(
                        "INSERT INTO views VALUES (?, ?, ?, ?)",
                        (batch.stream, grantee, batch.first_seq, pack_envelopes(copies)),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def head(self, stream: str, anchored_only: bool = False) -> int:
        """The next sequence number after the stored (or anchored) batches."""
        where = " AND height IS NOT NULL" if anchored_only else ""
        with self._lock:
            row = self._db.execute(
                f"SELECT MAX(first_seq + count) FROM batches WHERE stream = ?{where}", (stream,)
            ).fetchone()
        return int(row[0] or 0)

    def mark_anchored(self, stream: str, first_seq: int, root: bytes, height: int) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE batches SET height = ? WHERE stream = ? AND first_seq = ? AND root = ?"
                " AND height IS NULL",
                (height, stream, first_seq, root),
            )
        return cursor.rowcount == 1

    def drop_pending(self, tx_id: bytes) -> list[Batch]:
        """Delete the batches (and records) a failed transaction carried."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, first_seq, count, root, tx_id, height FROM batches"
                " WHERE tx_id = ? AND height IS NULL",
                (tx_id,),
            ).fetchall()
            for stream, first_seq, count, *_ in rows:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "DELETE FROM subjects WHERE stream = ? AND seq >= ? AND seq < ?",
                    (stream, first_seq, first_seq + count),
                )
                self._db.execute(
                    "DELETE FROM batches WHERE stream = ? AND first_seq = ?", (stream, first_seq)
                )
                self._db.execute(
                    "DELETE FROM views WHERE stream = ? AND first_seq = ?", (stream, first_seq)
                )
                self._db.execute("COMMIT")
        return [Batch(*row) for row in rows]

    def pending(self) -> list[Batch]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, first_seq, count, root, tx_id, height FROM batches"
                " WHERE height IS NULL ORDER BY stream, first_seq"
            ).fetchall()
        return [Batch(*row) for row in rows]

    def batches(self, stream: str, start: int, end: int) -> list[Batch]:
        """Anchored batches holding any of the records start .. end-1."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, first_seq, count, root, tx_id, height FROM batches"
                " WHERE stream = ? AND height IS NOT NULL AND first_seq < ?"
                " AND first_seq + count > ? ORDER BY first_seq",
                (stream, end, start),
            ).fetchall()
        return [Batch(*row) for row in rows]

    def envelopes(self, stream: str, start: int, end: int) -> list[tuple[int, bytes]]:
        """(seq, envelope) of the stored records start..end-1, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT first_seq, envelopes FROM batches WHERE stream = ? AND first_seq < ?"
                " AND first_seq + count > ? ORDER BY first_seq",
                (stream, end, start),
            ).fetchall()
        out = []
        for first_seq, blob in rows:
            for offset, envelope in enumerate(unpack_envelopes(bytes(blob))):
                if start <= first_seq + offset < end:
                    out.append((int(first_seq) + offset, envelope))
        return out

    def view_envelopes(
        self, stream: str, grantee: str, start: int, end: int
    ) -> list[tuple[int, bytes]]:
        """(seq, projected copy for `grantee`) of records start..end-1 that have one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT v.first_seq, v.envelopes FROM views v JOIN batches b"
                " ON b.stream = v.stream AND b.first_seq = v.first_seq"
                " WHERE v.stream = ? AND v.grantee = ? AND v.first_seq < ?"
                " AND v.first_seq + b.count > ? ORDER BY v.first_seq",
                (stream, grantee, end, start),
            ).fetchall()
        out = []
        for first_seq, blob in rows:
            for offset, envelope in enumerate(unpack_envelopes(bytes(blob))):
                if start <= first_seq + offset < end:
                    out.append((int(first_seq) + offset, envelope))
        return out

    def subject_seqs(self, stream: str, pseudonym: bytes) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq FROM subjects WHERE stream = ? AND pseudonym = ? ORDER BY seq",
                (stream, pseudonym),
            ).fetchall()
        return [int(seq) for (seq,) in rows]

    def prune(self, stream: str, before_height: int) -> int:
        """Delete anchored batches (and their records) committed before `before_height`:
        the stream's retention has passed for them. Anchors on chain stay."""
        with self._lock:
            rows = self._db.execute(
                "SELECT first_seq, count FROM batches WHERE stream = ? AND height IS NOT NULL"
                " AND height < ?",
                (stream, before_height),
            ).fetchall()
            if not rows:
                return 0
            self._db.execute("BEGIN IMMEDIATE")
            for first_seq, count in rows:
                self._db.execute(
                    "DELETE FROM subjects WHERE stream = ? AND seq >= ? AND seq < ?",
                    (stream, first_seq, first_seq + count),
                )
            for first_seq, _ in rows:
                self._db.execute(
                    "DELETE FROM views WHERE stream = ? AND first_seq = ?", (stream, first_seq)
                )
            self._db.execute(
                "DELETE FROM batches WHERE stream = ? AND height IS NOT NULL AND height < ?",
                (stream, before_height),
            )
            self._db.execute("COMMIT")
        return sum(int(count) for _, count in rows)

    def streams(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT stream FROM batches").fetchall()
        return [str(stream) for (stream,) in rows]

    # -- keys ----------------------------------------------------------------------

    def put_wrapped_keys(self, stream: str, epoch: int, wrapped: dict[str, bytes]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO wrapped_keys VALUES (?, ?, ?, ?)",
                [(stream, epoch, department, blob) for department, blob in wrapped.items()],
            )

    def wrapped_keys(self, stream: str, department: str) -> dict[int, bytes]:
        with self._lock:
            rows = self._db.execute(
                "SELECT epoch, wrapped FROM wrapped_keys WHERE stream = ? AND department = ?",
                (stream, department),
            ).fetchall()
        return {int(epoch): bytes(blob) for epoch, blob in rows}

    def put_subject_keys(self, stream: str, rows: Iterable[tuple[bytes, int, bytes]]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO subject_keys VALUES (?, ?, ?, ?)",
                [(stream, pseudonym, epoch, blob) for pseudonym, epoch, blob in rows],
            )

    def subject_keys(
        self, stream: str, pseudonyms: Iterable[bytes]
    ) -> list[tuple[bytes, int, bytes]]:
        out: list[tuple[bytes, int, bytes]] = []
        with self._lock:
            for pseudonym in set(pseudonyms):
                rows = self._db.execute(
                    "SELECT epoch, wrapped FROM subject_keys WHERE stream = ? AND pseudonym = ?",
                    (stream, pseudonym),
                ).fetchall()
                out.extend((pseudonym, int(epoch), bytes(blob)) for epoch, blob in rows)
        return out

    def shred_epoch(self, stream: str, epoch: int) -> int:
        """Delete every copy of the epoch's key held here, and the subject keys it wraps."""
        with self._lock:
            gone = self._db.execute(
                "DELETE FROM wrapped_keys WHERE stream = ? AND epoch = ?", (stream, epoch)
            ).rowcount
            gone += self._db.execute(
                "DELETE FROM subject_keys WHERE stream = ? AND epoch = ?", (stream, epoch)
            ).rowcount
        return int(gone)

    def shred_subject(self, stream: str, pseudonym: bytes) -> int:
        with self._lock:
            return int(
                self._db.execute(
                    "DELETE FROM subject_keys WHERE stream = ? AND pseudonym = ?",
                    (stream, pseudonym),
                ).rowcount
            )

    # -- dataset files --------------------------------------------------------------

    def put_dataset_file(self, dataset_id: str, version: int, content: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO dataset_files VALUES (?, ?, ?)",
                (dataset_id, version, content),
            )

    def dataset_file(self, dataset_id: str, version: int) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT content FROM dataset_files WHERE id = ? AND version = ?",
                (dataset_id, version),
            ).fetchone()
        return None if row is None else bytes(row[0])
