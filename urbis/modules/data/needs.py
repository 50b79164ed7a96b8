"""What data uses of other modules."""

from __future__ import annotations

from typing import Protocol

from urbis.chain.ids import AccountId


class GovernanceView(Protocol):
    def department(self, department_id: str) -> object | None: ...

    def has_role(self, account: AccountId, role: str) -> bool: ...
