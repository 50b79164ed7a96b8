"""Payments: city money, transfers, two-phase transfers and invoices.

Double entry: every movement debits one account and credits another of the
same asset. Transfer ids are chosen by clients, so a retried transfer never
moves money twice. Departments bill residents with invoices (tax, utility,
fee, fine); paying one moves money to the department's revenue account (its
admin account) and emits a receipt event in the same transaction.

I1  no balance is below its floor: 0, or minus the overdraft the issuer granted
I2  per asset: minted - burned = Σ balances + pending, and pending = what the unsettled
    holds (pending transfers, open escrows, locked HTLCs) hold
I3  per invoice: refunded ≤ paid ≤ amount + late fee accrued when paid
I4  a transfer id moves money at most once; a pending transfer is posted or voided once
I5  a failed action changes nothing
I6  an escrow or HTLC settles once: released, returned, claimed or refunded
I7  a mandate never collects more in a month than its monthly limit

Each has a checker in `invariants.py` (`check_invariants` for one state,
`check_settled_once` for a history of events, `check_unchanged` for I5), run after
every step of random action sequences in tests/test_payments_invariants.py.
"""

from __future__ import annotations

from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.context import StateReader
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.ids import AccountId
from urbis.chain.module import COUNCIL_ROLE, ActionSpec, Module
from urbis.crypto.encoding import decode_trusted
from urbis.modules.payments import handlers, keys
from urbis.modules.payments.keeper import PaymentsKeeper, PaymentsView, read_asset, read_balance
from urbis.modules.payments.records import (
    ApproveEscrow,
    Burn,
    CancelInvoice,
    ClaimHtlc,
    CollectInvoice,
    CreateAsset,
    Escrow,
    Htlc,
    Invoice,
    IssueInvoice,
    LockHtlc,
    Mint,
    OpenEscrow,
    PayInvoice,
    PostPending,
    Refund,
    RefundHtlc,
    RevokeMandate,
    SetMandate,
    SetOverdraft,
    Transfer,
    TransferRecord,
    VoidPending,
)

BILLING = "{department}.billing"


def query_asset(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    asset = read_asset(state, params.get("code", ""))
    if asset is None:
        raise NotFound(f"no asset {params.get('code')!r}")
    return {
        **jsonable({k: getattr(asset, k) for k in asset.__slots__}),
        "issuer": asset.issuer.text,
    }


def query_balance(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        account = AccountId.parse(params.get("account", ""))
    except ValueError as error:
        raise BadQuery(str(error)) from None
    code = params.get("asset", "")
    if read_asset(state, code) is None:
        raise NotFound(f"no asset {code!r}")
    return {
        "account": account.text,
        "asset": code,
        "balance_minor": read_balance(state, code, account),
    }


def query_invoice(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    record = _by_id(state, keys.invoice, params, Invoice, "invoice")
    return jsonable({k: getattr(record, k) for k in record.__slots__})


def query_transfer(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        sender = AccountId.parse(params.get("sender", ""))
    except ValueError as error:
        raise BadQuery(f"sender: {error}") from None
    record = _by_id(state, lambda i: keys.transfer(sender, i), params, TransferRecord, "transfer")
    return jsonable({k: getattr(record, k) for k in record.__slots__})


def query_escrow(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    record = _by_id(state, keys.escrow, params, Escrow, "escrow")
    return jsonable({k: getattr(record, k) for k in record.__slots__})


def query_htlc(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    record = _by_id(state, keys.htlc, params, Htlc, "HTLC")
    return jsonable({k: getattr(record, k) for k in record.__slots__})


def _by_id(state: StateReader, key: Any, params: dict[str, str], cls: type, what: str) -> Any:
    try:
        record_id = bytes.fromhex(params.get("id", ""))
    except ValueError:
        raise BadQuery(f"{what} id must be hex") from None
    raw = state.get(key(record_id))
    if raw is None:
        raise NotFound(f"no {what} {record_id.hex()}")
    return from_wire(cls, decode_trusted(raw))


module = Module(
    name="payments",
    actions={
        "create_asset": ActionSpec(
            CreateAsset,
            handlers.create_asset,
            COUNCIL_ROLE,
            "Create a currency and name its issuer",
        ),
        "mint": ActionSpec(Mint, handlers.mint, None, "Issuer: create money"),
        "set_overdraft": ActionSpec(
            SetOverdraft,
            handlers.set_overdraft,
            None,
            "Issuer: let an account (the treasury) go below zero",
        ),
        "burn": ActionSpec(Burn, handlers.burn, None, "Issuer: destroy money"),
        "transfer": ActionSpec(
            Transfer,
            handlers.transfer,
            None,
            "Move money (or reserve it, with pending_timeout_blocks)",
        ),
        "post_pending": ActionSpec(
            PostPending, handlers.post_pending, None, "Complete a pending transfer"
        ),
        "void_pending": ActionSpec(
            VoidPending, handlers.void_pending, None, "Cancel a pending transfer"
        ),
        "issue_invoice": ActionSpec(IssueInvoice, handlers.issue_invoice, BILLING, "Bill a payer"),
        "pay_invoice": ActionSpec(PayInvoice, handlers.pay_invoice, None, "Pay an invoice"),
        "cancel_invoice": ActionSpec(
            CancelInvoice, handlers.cancel_invoice, BILLING, "Cancel an unpaid invoice"
        ),
        "refund": ActionSpec(Refund, handlers.refund, BILLING, "Refund an invoice payment"),
        "open_escrow": ActionSpec(
            OpenEscrow, handlers.open_escrow, None, "Hold funds until every approver approves"
        ),
        "approve_escrow": ActionSpec(
            ApproveEscrow, handlers.approve_escrow, None, "Approve the release of an escrow"
        ),
        "set_mandate": ActionSpec(
            SetMandate,
            handlers.set_mandate,
            None,
            "Let a department collect your invoices, within limits",
        ),
        "revoke_mandate": ActionSpec(
            RevokeMandate, handlers.revoke_mandate, None, "Withdraw a mandate"
        ),
        "collect_invoice": ActionSpec(
            CollectInvoice,
            handlers.collect_invoice,
            BILLING,
            "Collect an invoice under the payer's mandate",
        ),
        "lock_htlc": ActionSpec(
            LockHtlc,
            handlers.lock_htlc,
            None,
            "Lock funds under a hash and a deadline (atomic swaps)",
        ),
        "claim_htlc": ActionSpec(
            ClaimHtlc, handlers.claim_htlc, None, "Claim locked funds with the preimage"
        ),
        "refund_htlc": ActionSpec(
            RefundHtlc, handlers.refund_htlc, None, "Take back locked funds after the deadline"
        ),
    },
    queries={
        "asset": query_asset,
        "balance": query_balance,
        "invoice": query_invoice,
        "transfer": query_transfer,
        "escrow": query_escrow,
        "htlc": query_htlc,
    },
    keeper=PaymentsKeeper,
    view=PaymentsView,
    end_block=handlers.end_block,
    prefix=keys.PREFIX,
)
