"""What other modules may read of petitions (nothing else writes them, so no writer)."""

from __future__ import annotations

from urbis.chain.codec import from_wire
from urbis.chain.context import StateReader
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.petitions import keys
from urbis.modules.petitions.records import Petition


class PetitionsView:
    def __init__(self, state: StateReader) -> None:
        self._state = state

    def petition(self, petition_id: bytes) -> Petition | None:
        raw = self._state.get(keys.petition(petition_id))
        return None if raw is None else from_wire(Petition, decode_trusted(raw))

    def has_signed(self, petition_id: bytes, account: AccountId) -> bool:
        return self._state.has(keys.signature(petition_id, account))
