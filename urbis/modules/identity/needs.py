"""What identity uses of other modules' keepers: an account's keys and key history, for
DID documents and for judging signatures made with keys since rotated away."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from urbis.chain.ids import AccountId


class AccountKey(Protocol):
    @property
    def key(self) -> bytes:
        """The Ed25519 public key."""
        ...


class KeyChange(Protocol):
    @property
    def changed_at_height(self) -> int: ...

    @property
    def time_ms(self) -> int: ...

    @property
    def key(self) -> bytes: ...

    @property
    def change(self) -> str:
        """ "added" or "removed"."""
        ...


class Account(Protocol):
    @property
    def keys(self) -> Sequence[AccountKey]: ...

    @property
    def threshold(self) -> int: ...

    @property
    def key_history(self) -> Sequence[KeyChange]:
        """Every key change, in block order."""
        ...


class AccountsView(Protocol):
    def account(self, account_id: AccountId) -> Account | None: ...
