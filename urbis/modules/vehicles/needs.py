"""What vehicles uses of other modules, and nothing more."""

from __future__ import annotations

from typing import Protocol

from urbis.chain.ids import AccountId


class AccountsWriter(Protocol):
    def exists(self, account_id: AccountId) -> bool: ...

    def create_keyless(self, account_id: AccountId) -> None:
        """The escrow account the module approves for: no key signs for it."""
        ...


class Escrow(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def amount_minor(self) -> int: ...


class PaymentsView(Protocol):
    def asset(self, code: str) -> object | None: ...

    def escrow(self, escrow_id: bytes) -> Escrow | None: ...


class PaymentsWriter(PaymentsView, Protocol):
    def move(
        self,
        code: str,
        sender: AccountId,
        recipient: AccountId,
        amount: int,
        reason: str,
        reference: bytes = b"",
    ) -> None: ...


class Department(Protocol):
    @property
    def admin(self) -> AccountId:
        """The department's revenue account: transfer tax is paid to finance's."""
        ...


class GovernanceView(Protocol):
    def department(self, department_id: str) -> Department | None: ...


class IdentityView(Protocol):
    def trusted(self, vct: str, issuer: AccountId, at_ms: int) -> bool: ...

    def status_of(self, issuer: AccountId, list_id: int, index: int) -> int | None: ...
