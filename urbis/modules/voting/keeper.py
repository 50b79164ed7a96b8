"""What other modules (and the API) may read of voting; nothing else writes it."""

from __future__ import annotations

from typing import TypeVar

from urbis.chain.codec import from_wire
from urbis.chain.context import StateReader
from urbis.crypto.encoding import decode_trusted
from urbis.modules.voting import keys
from urbis.modules.voting.records import (
    CastBallot,
    ChallengedBallot,
    Decryption,
    Election,
    GuardianKey,
    Registration,
    Result,
    Share,
)

T = TypeVar("T")


class VotingView:
    def __init__(self, state: StateReader) -> None:
        self._state = state

    def _read(self, key: bytes, cls: type[T]) -> T | None:
        raw = self._state.get(key)
        return None if raw is None else from_wire(cls, decode_trusted(raw))

    def election(self, election_id: bytes) -> Election | None:
        return self._read(keys.election(election_id), Election)

    def guardian_key(self, election_id: bytes, index: int) -> GuardianKey | None:
        return self._read(keys.guardian_key(election_id, index), GuardianKey)

    def share(self, election_id: bytes, dealer: int, recipient: int) -> Share | None:
        return self._read(keys.share(election_id, dealer, recipient), Share)

    def registration(self, election_id: bytes, nullifier: bytes) -> Registration | None:
        return self._read(keys.registration(election_id, nullifier), Registration)

    def ballot(self, election_id: bytes, seq: int) -> CastBallot | None:
        return self._read(keys.ballot(election_id, seq), CastBallot)

    def ballot_of_key(self, election_id: bytes, ballot_key: bytes) -> int | None:
        raw = self._state.get(keys.ballot_key(election_id, ballot_key))
        return None if raw is None else int.from_bytes(raw, "big")

    def ballot_of_code(self, election_id: bytes, code: bytes) -> int | None:
        raw = self._state.get(keys.code(election_id, code))
        return None if raw is None else int.from_bytes(raw, "big")

    def challenged(self, election_id: bytes, seq: int) -> ChallengedBallot | None:
        return self._read(keys.challenged(election_id, seq), ChallengedBallot)

    def aggregate(self, election_id: bytes) -> bytes | None:
        return self._state.get(keys.aggregate(election_id))

    def decryption(self, election_id: bytes, index: int) -> Decryption | None:
        return self._read(keys.decryption(election_id, index), Decryption)

    def result(self, election_id: bytes) -> Result | None:
        return self._read(keys.result(election_id), Result)
