"""What other modules (and the node's datastore) may read of data; nothing else writes it."""

from __future__ import annotations

from typing import Any, TypeVar

from urbis.chain.codec import from_wire
from urbis.chain.context import StateReader
from urbis.crypto.encoding import decode_trusted
from urbis.modules.data import keys
from urbis.modules.data.records import (
    AccessEntry,
    Anchor,
    Attestation,
    DataKey,
    Dataset,
    Epoch,
    Grant,
    Schema,
    Stream,
)

T = TypeVar("T")


class DataView:
    def __init__(self, state: StateReader) -> None:
        self._state = state

    def _read(self, key: bytes, cls: type[T]) -> T | None:
        raw = self._state.get(key)
        return None if raw is None else from_wire(cls, decode_trusted(raw))

    def data_key(self, department: str) -> DataKey | None:
        return self._read(keys.data_key(department), DataKey)

    def stream(self, stream_id: str) -> Stream | None:
        return self._read(keys.stream(stream_id), Stream)

    def schema(self, stream_id: str, version: int) -> Schema | None:
        return self._read(keys.schema(stream_id, version), Schema)

    def anchor(self, stream_id: str, first_seq: int) -> Anchor | None:
        return self._read(keys.anchor(stream_id, first_seq), Anchor)

    def epoch(self, stream_id: str, number: int) -> Epoch | None:
        return self._read(keys.epoch(stream_id, number), Epoch)

    def grant(self, stream_id: str, grantee: str) -> Grant | None:
        return self._read(keys.grant(stream_id, grantee), Grant)

    def access(self, stream_id: str, index: int) -> AccessEntry | None:
        return self._read(keys.access(stream_id, index), AccessEntry)

    def subject_shredded(self, stream_id: str, pseudonym: bytes) -> bool:
        return self._state.has(keys.subject_shred(stream_id, pseudonym))

    def dataset(self, dataset_id: str, version: int) -> Dataset | None:
        return self._read(keys.dataset(dataset_id, version), Dataset)

    def attestation(self, dataset_id: str, version: int, kind: str) -> Attestation | None:
        return self._read(keys.attestation(dataset_id, version, kind), Attestation)

    def grant_in_force(self, stream_id: str, grantee: str, height: int) -> Grant | None:
        """The grant if it exists and has not expired at `height`."""
        grant = self.grant(stream_id, grantee)
        return grant if grant is not None and height < grant.expires_at_height else None


def scan(store: Any, prefix: bytes, cls: type[T], limit: int = 10_000) -> list[T]:
    """Committed records under `prefix`, in key order (for the read side, not execution)."""
    return [from_wire(cls, decode_trusted(raw)) for _, raw in store.scan_prefix(prefix, limit)]
