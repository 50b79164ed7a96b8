"""What contracts use of other modules' keepers and views.

The native bridges read payments, governance and identity through these
views (writes go through `ctx.dispatch`, the same path as a signed action),
and a deployment opens the contract's keyless account through the accounts
writer. Contracts never import another module.
"""

from __future__ import annotations

from typing import Protocol

from urbis.chain.ids import AccountId


class AccountsWriter(Protocol):
    def exists(self, account_id: AccountId) -> bool: ...

    def create_keyless(self, account_id: AccountId) -> None:
        """A contract's account: it acts only through its code."""
        ...


class Escrow(Protocol):
    """What `escrowOf` answers about an escrow."""

    @property
    def payer(self) -> AccountId: ...
    @property
    def beneficiary(self) -> AccountId: ...
    @property
    def asset(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def status(self) -> str: ...


class Invoice(Protocol):
    """What `invoiceOf` answers about an invoice."""

    @property
    def payer(self) -> AccountId: ...
    @property
    def payee(self) -> AccountId: ...
    @property
    def asset(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def paid_minor(self) -> int: ...
    @property
    def status(self) -> str: ...


class PaymentsView(Protocol):
    def balance(self, asset: str, account: AccountId) -> int: ...

    def invoice(self, invoice_id: bytes) -> Invoice | None: ...

    def escrow(self, escrow_id: bytes) -> Escrow | None: ...

    def can_collect(
        self, payer: AccountId, department: str, asset: str, amount: int, now_ms: int
    ) -> bool:
        """Would collecting `amount` now pass the payer's mandate limits and balance?"""
        ...


class GovernanceView(Protocol):
    def has_role(self, account: AccountId, role: str) -> bool: ...


class IdentityView(Protocol):
    def status_of(self, issuer: AccountId, list_id: int, index: int) -> int | None:
        """The status of one entry (None: no such list or index)."""
        ...
