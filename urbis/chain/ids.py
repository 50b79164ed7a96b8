"""Account ids: 20 bytes, shown as bech32m `urbis1…`, named by DIDs `did:urbis:urbis1…`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from urbis._native import bech32m_encode
from urbis.crypto import bech32m
from urbis.crypto.hashing import tagged_hash

ACCOUNT_ID_SIZE = 20
PREFIX = "urbis"
DID_PREFIX = "did:urbis:"
ACCOUNT_TEXT_SIZE = len(PREFIX) + 1 + 32 + 6
"""`urbis1`, 32 characters of data (20 bytes), 6 of checksum."""


@dataclass(frozen=True, slots=True, order=True)
class AccountId:
    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != ACCOUNT_ID_SIZE:
            raise ValueError(f"an account id is {ACCOUNT_ID_SIZE} bytes")

    @classmethod
    def from_key(cls, public_key: bytes) -> AccountId:
        """The id an account gets from the first key it is created with."""
        return cls(tagged_hash("account", public_key)[:ACCOUNT_ID_SIZE])

    @classmethod
    def parse(cls, text: str) -> AccountId:
        """Accept `urbis1…` or `did:urbis:urbis1…`; raise ValueError with the reason."""
        text = text.strip()
        if text.startswith(DID_PREFIX):
            text = text[len(DID_PREFIX) :]
        try:
            return cls(bech32m.decode(PREFIX, text))
        except bech32m.Bech32Error as error:
            raise ValueError(f"not an account id ({error}): {text!r}") from None

    @property
    def text(self) -> str:
        return _text(self.raw)

    @property
    def did(self) -> str:
        return DID_PREFIX + self.text

    def __str__(self) -> str:
        return self.text


TEXTS_REMEMBERED_MAX = 1 << 17
"""Account ids recently shown as text, kept so indexing reads them back without decoding."""

_raw_by_text: dict[str, bytes] = {}


@lru_cache(maxsize=1 << 16)
def _text(raw: bytes) -> str:
    """Events and indexes name the same few accounts over and over: encode each once.

    Natively (`urbis._native.bech32m_encode`); `bech32m.encode` is the reference.
    """
    text = bech32m_encode(PREFIX, raw)
    if len(_raw_by_text) >= TEXTS_REMEMBERED_MAX:
        _raw_by_text.clear()
    _raw_by_text[text] = raw
    return text


def account_in_text(text: str) -> bytes | None:
    """The raw id if `text` is an account id (`urbis1…`), else None; for indexing, so the
    ids this process just wrote into events are read back by a lookup, not a decode."""
    raw = _raw_by_text.get(text)
    if raw is not None:
        return raw
    if not text.startswith(PREFIX + "1") or len(text) != ACCOUNT_TEXT_SIZE:
        return None
    try:
        return AccountId.parse(text).raw
    except ValueError:
        return None


COUNCIL = AccountId(tagged_hash("council", b"")[:ACCOUNT_ID_SIZE])
"""The sender of actions the council executes through an approved proposal."""
