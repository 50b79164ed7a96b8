"""The one place money moves: every path (transfer, invoice, refund) goes through
`move`, so every movement is checked and reported the same way.

`PaymentsView` reads (any module, any query); `PaymentsKeeper` extends it with the
writes. `check_supply` stays importable from here for other modules' tests.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted, encode_trusted
from urbis.modules.payments import keys
from urbis.modules.payments.errors import (
    InsufficientFunds,
    Overflow,
    UnknownAccount,
    UnknownAsset,
)
from urbis.modules.payments.invariants import check_supply as check_supply
from urbis.modules.payments.needs import AccountsView
from urbis.modules.payments.records import (
    AMOUNT_MAX,
    Asset,
    Escrow,
    Htlc,
    Invoice,
    Mandate,
    TransferRecord,
)


def read_asset(state: StateReader, code: str) -> Asset | None:
    raw = state.get(keys.asset(code))
    return None if raw is None else _asset(raw)


@functools.lru_cache(maxsize=64)
def _asset(raw: bytes) -> Asset:
    """Every transfer reads its asset: decode each version of the record once."""
    return from_wire(Asset, decode_trusted(raw))


def read_overdraft(state: StateReader, code: str, account: AccountId) -> int:
    """How far below zero the account may go (0 for every account not flagged)."""
    raw = state.get(keys.overdraft(code, account))
    return 0 if raw is None else int(decode_trusted(raw))


def read_balance(state: StateReader, code: str, account: AccountId) -> int:
    raw = state.get(keys.balance(code, account))
    return 0 if raw is None else int(decode_trusted(raw))


def month_of(time_ms: int) -> str:
    """The calendar month (UTC) of a block time: integer arithmetic, same on every node."""
    moment = datetime.fromtimestamp(time_ms // 1000, tz=UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def read_invoice(state: StateReader, invoice_id: bytes) -> Invoice | None:
    raw = state.get(keys.invoice(invoice_id))
    return None if raw is None else from_wire(Invoice, decode_trusted(raw))


def read_escrow(state: StateReader, escrow_id: bytes) -> Escrow | None:
    raw = state.get(keys.escrow(escrow_id))
    return None if raw is None else from_wire(Escrow, decode_trusted(raw))


def can_collect(
    state: StateReader, payer: AccountId, department: str, asset: str, amount: int, time_ms: int
) -> bool:
    """Would collecting `amount` now pass the payer's mandate limits and balance?"""
    raw = state.get(keys.mandate(payer, department))
    if raw is None:
        return False
    mandate = from_wire(Mandate, decode_trusted(raw))
    if mandate.asset != asset or amount > mandate.per_invoice_max_minor:
        return False
    month = month_of(time_ms)
    collected = mandate.collected_this_month_minor if mandate.month == month else 0
    if collected + amount > mandate.per_month_max_minor:
        return False
    return read_balance(state, asset, payer) >= amount


class PaymentsView:
    """What any module or query may read of payments; it cannot move money.

    Reach it as `ctx.view("payments", YourProtocol)` in a handler, or
    `view_of("payments", YourProtocol, state)` in a query.
    """

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def asset(self, code: str) -> Asset | None:
        return read_asset(self._state, code)

    def balance(self, code: str, account: AccountId) -> int:
        return read_balance(self._state, code, account)

    def overdraft(self, code: str, account: AccountId) -> int:
        return read_overdraft(self._state, code, account)

    def transfer(self, sender: AccountId, transfer_id: bytes) -> TransferRecord | None:
        raw = self._state.get(keys.transfer(sender, transfer_id))
        return None if raw is None else from_wire(TransferRecord, decode_trusted(raw))

    def invoice(self, invoice_id: bytes) -> Invoice | None:
        return read_invoice(self._state, invoice_id)

    def escrow(self, escrow_id: bytes) -> Escrow | None:
        return read_escrow(self._state, escrow_id)

    def htlc(self, htlc_id: bytes) -> Htlc | None:
        raw = self._state.get(keys.htlc(htlc_id))
        return None if raw is None else from_wire(Htlc, decode_trusted(raw))

    def mandate(self, payer: AccountId, department: str) -> Mandate | None:
        raw = self._state.get(keys.mandate(payer, department))
        return None if raw is None else from_wire(Mandate, decode_trusted(raw))

    def can_collect(
        self, payer: AccountId, department: str, asset: str, amount: int, now_ms: int
    ) -> bool:
        """Would collecting `amount` at block time `now_ms` pass the mandate and the balance?"""
        return can_collect(self._state, payer, department, asset, amount, now_ms)


class PaymentsKeeper(PaymentsView):
    """The writer: balances and assets; every movement of money goes through `move`,
    `credit_new`, `debit_out`, `reserve` or `release`."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.state)
        self._ctx = ctx

    def require_asset(self, code: str) -> Asset:
        asset = read_asset(self._ctx.state, code)
        if asset is None:
            raise UnknownAsset(f"no asset {code!r}")
        return asset

    def require_account(self, account: AccountId) -> None:
        """Money only goes to accounts that exist: a mistyped id must not swallow it."""
        # A read: the accounts module's view, not its writer (which would need a context
        # of its own, confined to its prefix, to answer the same question).
        accounts = self._ctx.view("accounts", AccountsView)
        if not accounts.exists(account):
            raise UnknownAccount(f"no account {account}; money can only go to an account")

    def require_funds(self, code: str, account: AccountId, amount: int) -> int:
        """The account's balance, if `amount` may leave it (its overdraft counts)."""
        balance = self.balance(code, account)
        if balance >= amount:
            return balance  # the common case needs no look-up of an overdraft
        available = balance + read_overdraft(self._ctx.state, code, account)
        if available < amount:
            raise InsufficientFunds(
                f"{account} has {available} {code}, needs {amount}",
                needed_minor=amount,
                available_minor=available,
            )
        return balance

    def move(
        self,
        code: str,
        sender: AccountId,
        recipient: AccountId,
        amount: int,
        reason: str,
        reference: bytes = b"",
    ) -> None:
        """Debit `sender`, credit `recipient` (double entry); never below zero."""
        self.require_account(recipient)
        self._set(code, sender, self.require_funds(code, sender, amount) - amount)
        self._set(code, recipient, self.balance(code, recipient) + amount)
        self._ctx.emit(
            "payments.transferred",
            asset=code,
            sender=sender,
            recipient=recipient,
            amount_minor=amount,
            reason=reason,
            reference=reference,
        )

    def credit_new(self, code: str, recipient: AccountId, amount: int) -> None:
        """Mint: money enters circulation."""
        asset = self.require_asset(code)
        self.require_account(recipient)
        if asset.minted_minor + amount > AMOUNT_MAX:
            raise Overflow(f"minting {amount} would take {code}'s supply past 128 bits")
        self._ctx.state.put_record(
            keys.asset(code), _with(asset, minted_minor=asset.minted_minor + amount)
        )
        self._set(code, recipient, self.balance(code, recipient) + amount)
        self._ctx.emit("payments.minted", asset=code, recipient=recipient, amount_minor=amount)

    def debit_out(self, code: str, account: AccountId, amount: int) -> None:
        """Burn: money leaves circulation."""
        asset = self.require_asset(code)
        balance = self.require_funds(code, account, amount)
        self._ctx.state.put_record(
            keys.asset(code), _with(asset, burned_minor=asset.burned_minor + amount)
        )
        self._set(code, account, balance - amount)
        self._ctx.emit("payments.burned", asset=code, account=account, amount_minor=amount)

    def reserve(self, code: str, account: AccountId, amount: int) -> None:
        """Two-phase, first phase: funds leave the balance into the asset's pending total."""
        asset = self.require_asset(code)
        self._set(code, account, self.require_funds(code, account, amount) - amount)
        self._ctx.state.put_record(
            keys.asset(code), _with(asset, pending_minor=asset.pending_minor + amount)
        )

    def release(self, code: str, recipient: AccountId, amount: int) -> None:
        """Two-phase, second phase: pending funds land with `recipient` (post or void)."""
        asset = self.require_asset(code)
        if asset.pending_minor < amount:
            raise AssertionError(f"{code} pending total below a pending transfer")
        self._ctx.state.put_record(
            keys.asset(code), _with(asset, pending_minor=asset.pending_minor - amount)
        )
        self._set(code, recipient, self.balance(code, recipient) + amount)

    def _set(self, code: str, account: AccountId, amount: int) -> None:
        below_floor = amount < 0 and amount < -read_overdraft(self._ctx.state, code, account)
        if below_floor or amount > AMOUNT_MAX:
            raise AssertionError(f"balance of {account} in {code} would be {amount}")
        self._ctx.state.put(keys.balance(code, account), encode_trusted(amount))


def _with(record: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(record, **changes)
