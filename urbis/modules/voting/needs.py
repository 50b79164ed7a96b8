"""What voting uses of other modules."""

from __future__ import annotations

from typing import Protocol


class GovernanceView(Protocol):
    def department(self, department_id: str) -> object | None: ...
