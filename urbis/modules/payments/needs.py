"""What payments uses of other modules' keepers."""

from __future__ import annotations

from typing import Protocol

from urbis.chain.ids import AccountId


class AccountsView(Protocol):
    def exists(self, account_id: AccountId) -> bool: ...


class Department(Protocol):
    @property
    def admin(self) -> AccountId:
        """The department's revenue account: invoices are paid to it."""
        ...


class GovernanceView(Protocol):
    def department(self, department_id: str) -> Department | None: ...
