"""What contracts use of other modules' keepers."""

from __future__ import annotations

from typing import Protocol

from urbis.chain.ids import AccountId


class AccountsWriter(Protocol):
    def exists(self, account_id: AccountId) -> bool: ...

    def create_keyless(self, account_id: AccountId) -> None:
        """A contract's account: it acts only through its code."""
        ...
