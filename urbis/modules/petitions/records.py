"""Records and action arguments of the petitions module."""

from __future__ import annotations

from dataclasses import dataclass

from urbis.chain.ids import AccountId

TITLE_MAX = 200
"""Bytes of a title: a headline, the text itself lives off chain under `text_hash`."""
OPEN_BLOCKS_MAX = 1_000_000
"""About eleven days at 1 s blocks: a petition is a campaign, not a standing list."""


@dataclass(frozen=True, slots=True)
class Petition:
    id: bytes
    department: str
    title: str
    text_hash: bytes
    opened_by: AccountId
    opened_at_height: int
    closes_at_height: int
    signatures: int


@dataclass(frozen=True, slots=True)
class OpenPetition:
    """Ask a department for something; residents sign until `open_blocks` have passed."""

    id: bytes
    department: str
    title: str
    text_hash: bytes
    open_blocks: int

    def __post_init__(self) -> None:
        if not 8 <= len(self.id) <= 32:
            raise ValueError("id must be 8 to 32 bytes")
        if not self.title or len(self.title.encode()) > TITLE_MAX:
            raise ValueError(f"title must be 1 to {TITLE_MAX} bytes")
        if len(self.text_hash) != 32:
            raise ValueError("text_hash must be the petition text's 32-byte SHA-256")
        if not 1 <= self.open_blocks <= OPEN_BLOCKS_MAX:
            raise ValueError(f"open_blocks must be 1 to {OPEN_BLOCKS_MAX}")


@dataclass(frozen=True, slots=True)
class SignPetition:
    id: bytes
