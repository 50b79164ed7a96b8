"""What other modules (and the API) may read from documents: a record by its hash."""

from __future__ import annotations

from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader
from urbis.crypto.encoding import decode_trusted
from urbis.modules.documents import keys
from urbis.modules.documents.records import DocumentRecord


def read_document(state: StateReader, digest: bytes) -> DocumentRecord | None:
    raw = state.get(keys.document(digest))
    return None if raw is None else from_wire(DocumentRecord, decode_trusted(raw))


class DocumentsView:
    """Read-only: whether a hash is anchored, by whom and when, and whether it is current."""

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def document(self, digest: bytes) -> DocumentRecord | None:
        return read_document(self._state, digest)

    def is_current(self, digest: bytes) -> bool:
        """Anchored, and neither revoked nor superseded."""
        record = read_document(self._state, digest)
        return record is not None and record.status == "valid"


class DocumentsKeeper(DocumentsView):
    """The writer other modules get: documents change only by a notary's actions, so the
    writer reads the transaction's state and offers nothing more than the view."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.state)
