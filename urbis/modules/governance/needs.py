"""What governance uses of other modules' keepers."""

from __future__ import annotations

from typing import Protocol

from urbis.chain.ids import AccountId


class AccountsView(Protocol):
    def exists(self, account_id: AccountId) -> bool: ...
