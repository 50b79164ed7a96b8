"""Payments handlers: each checks everything first, then moves money through the keeper."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted, encode
from urbis.crypto.hashing import sha256
from urbis.modules.payments import keys
from urbis.modules.payments.errors import (
    AlreadyApproved,
    AssetExists,
    EscrowClosed,
    EscrowExists,
    EscrowNotFound,
    HtlcClosed,
    HtlcExists,
    HtlcExpired,
    HtlcNotExpired,
    HtlcNotFound,
    InsufficientFunds,
    InvoiceClosed,
    InvoiceExists,
    InvoiceNotFound,
    MandateLimit,
    NoMandate,
    NotApprover,
    NotHtlcParty,
    NotIssuer,
    NotPayer,
    Overpayment,
    RefundExceedsPaid,
    SameAccount,
    TransferIdConflict,
    TransferNotFound,
    TransferNotPending,
    UnknownDepartment,
    WrongDepartment,
    WrongPreimage,
)
from urbis.modules.payments.keeper import PaymentsKeeper, month_of
from urbis.modules.payments.needs import GovernanceView
from urbis.modules.payments.records import (
    DAY_MS,
    ApproveEscrow,
    Asset,
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
    Mandate,
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


def create_asset(ctx: Context, sender: AccountId, args: CreateAsset) -> None:
    if ctx.state.get(keys.asset(args.code)) is not None:
        raise AssetExists(f"asset {args.code} exists")
    asset = Asset(args.code, args.decimals, args.issuer, 0, 0, 0, ctx.block.height)
    ctx.state.put_record(keys.asset(args.code), asset)
    ctx.emit("payments.asset_created", asset=args.code, decimals=args.decimals, issuer=args.issuer)


def set_overdraft(ctx: Context, sender: AccountId, args: SetOverdraft) -> None:
    payments = PaymentsKeeper(ctx)
    _require_issuer(payments, args.asset, sender)
    if payments.balance(args.asset, args.account) < -args.limit_minor:
        raise InsufficientFunds(f"{args.account} is already below -{args.limit_minor}")
    if args.limit_minor:
        ctx.state.put(keys.overdraft(args.asset, args.account), encode(args.limit_minor))
    else:
        ctx.state.delete(keys.overdraft(args.asset, args.account))
    ctx.emit(
        "payments.overdraft_set",
        asset=args.asset,
        account=args.account,
        limit_minor=args.limit_minor,
    )


def mint(ctx: Context, sender: AccountId, args: Mint) -> None:
    payments = PaymentsKeeper(ctx)
    _require_issuer(payments, args.asset, sender)
    payments.credit_new(args.asset, args.recipient, args.amount_minor)


def burn(ctx: Context, sender: AccountId, args: Burn) -> None:
    payments = PaymentsKeeper(ctx)
    _require_issuer(payments, args.asset, sender)
    payments.debit_out(args.asset, sender, args.amount_minor)


def transfer(ctx: Context, sender: AccountId, args: Transfer) -> None:
    payments = PaymentsKeeper(ctx)
    payments.require_asset(args.asset)
    if args.recipient == sender:
        raise SameAccount("a transfer needs two different accounts")
    payments.require_account(args.recipient)
    existing = ctx.state.get_record(keys.transfer(sender, args.id), TransferRecord)
    if existing is not None:
        if _same_request(existing, sender, args):
            ctx.emit("payments.transfer_repeated", id=args.id)  # a retry: nothing moves
            return
        raise TransferIdConflict(f"transfer id {args.id.hex()} was used for another transfer")
    if args.pending_timeout_blocks == 0:
        payments.move(args.asset, sender, args.recipient, args.amount_minor, "transfer", args.id)
        record = TransferRecord(
            args.id,
            sender,
            args.recipient,
            args.asset,
            args.amount_minor,
            0,
            "posted",
            ctx.block.height,
        )
        ctx.state.put_record(keys.transfer(sender, args.id), record)
        return
    payments.reserve(args.asset, sender, args.amount_minor)
    expires = ctx.block.height + args.pending_timeout_blocks
    record = TransferRecord(
        args.id,
        sender,
        args.recipient,
        args.asset,
        args.amount_minor,
        args.pending_timeout_blocks,
        "pending",
        ctx.block.height,
        expires,
    )
    ctx.state.put_record(keys.transfer(sender, args.id), record)
    _append(ctx, keys.expiring(expires), [sender.raw, args.id])
    ctx.emit(
        "payments.pending",
        id=args.id,
        asset=args.asset,
        sender=sender,
        recipient=args.recipient,
        amount_minor=args.amount_minor,
        expires_at_height=expires,
    )


def post_pending(ctx: Context, sender: AccountId, args: PostPending) -> None:
    record = _pending(ctx, sender, args.id)
    PaymentsKeeper(ctx).release(record.asset, record.recipient, record.amount_minor)
    _close(ctx, record, "posted")
    ctx.emit(
        "payments.transferred",
        asset=record.asset,
        sender=record.sender,
        recipient=record.recipient,
        amount_minor=record.amount_minor,
        reason="posted",
        reference=record.id,
    )


def void_pending(ctx: Context, sender: AccountId, args: VoidPending) -> None:
    record = _pending(ctx, sender, args.id)
    _void(ctx, record)


def void_expired(ctx: Context) -> None:
    """End of block: pending transfers whose timeout is this height return to their sender."""
    raw = ctx.state.get(keys.expiring(ctx.block.height))
    if raw is None:
        return
    for sender, transfer_id in decode_trusted(raw):
        record = ctx.state.get_record(keys.transfer(AccountId(sender), transfer_id), TransferRecord)
        if record is not None and record.status == "pending":
            _void(ctx, record)
    ctx.state.delete(keys.expiring(ctx.block.height))


def _void(ctx: Context, record: TransferRecord) -> None:
    PaymentsKeeper(ctx).release(record.asset, record.sender, record.amount_minor)
    _close(ctx, record, "voided")
    ctx.emit(
        "payments.voided",
        id=record.id,
        asset=record.asset,
        sender=record.sender,
        amount_minor=record.amount_minor,
    )


def _pending(ctx: Context, sender: AccountId, transfer_id: bytes) -> TransferRecord:
    record = ctx.state.get_record(keys.transfer(sender, transfer_id), TransferRecord)
    if record is None:
        raise TransferNotFound(f"{sender} has no transfer {transfer_id.hex()}")
    if record.status != "pending":
        raise TransferNotPending(f"transfer {transfer_id.hex()} is {record.status}")
    return record


def _close(ctx: Context, record: TransferRecord, status: str) -> None:
    ctx.state.put_record(
        keys.transfer(record.sender, record.id), dataclasses.replace(record, status=status)
    )


def _same_request(record: TransferRecord, sender: AccountId, args: Transfer) -> bool:
    return (
        record.sender,
        record.recipient,
        record.asset,
        record.amount_minor,
        record.pending_timeout_blocks,
    ) == (sender, args.recipient, args.asset, args.amount_minor, args.pending_timeout_blocks)


def _require_issuer(payments: PaymentsKeeper, code: str, sender: AccountId) -> None:
    if payments.require_asset(code).issuer != sender:
        raise NotIssuer(f"only the issuer of {code} may mint or burn it")


# -- invoices -----------------------------------------------------------------------------


def issue_invoice(ctx: Context, sender: AccountId, args: IssueInvoice) -> None:
    PaymentsKeeper(ctx).require_asset(args.asset)
    department = ctx.keeper("governance", GovernanceView).department(args.department)
    if department is None:
        raise UnknownDepartment(f"no department {args.department}")
    if ctx.state.get(keys.invoice(args.id)) is not None:
        raise InvoiceExists(f"invoice {args.id.hex()} exists")
    if args.payer == department.admin:
        raise SameAccount("a department cannot bill its own revenue account")
    invoice = Invoice(
        id=args.id,
        department=args.department,
        payee=department.admin,
        payer=args.payer,
        kind=args.kind,
        asset=args.asset,
        amount_minor=args.amount_minor,
        due_at_ms=args.due_at_ms,
        details_hash=args.details_hash,
        late_fee_kind=args.late_fee_kind,
        late_fee_minor=args.late_fee_minor,
        paid_minor=0,
        refunded_minor=0,
        status="open",
        issued_at_height=ctx.block.height,
    )
    ctx.state.put_record(keys.invoice(args.id), invoice)
    ctx.emit(
        "payments.invoice_issued",
        id=args.id,
        department=args.department,
        payer=args.payer,
        kind=args.kind,
        asset=args.asset,
        amount_minor=args.amount_minor,
        due_at_ms=args.due_at_ms,
    )


def amount_due(invoice: Invoice, now_ms: int) -> int:
    """Amount plus the late fee accrued at block time `now_ms` (integer arithmetic only)."""
    if now_ms <= invoice.due_at_ms or invoice.late_fee_kind == "none":
        return invoice.amount_minor
    if invoice.late_fee_kind == "flat":
        return invoice.amount_minor + invoice.late_fee_minor
    days_late = -(-(now_ms - invoice.due_at_ms) // DAY_MS)  # a day begun is a day owed
    return invoice.amount_minor + invoice.late_fee_minor * days_late


def pay_invoice(ctx: Context, sender: AccountId, args: PayInvoice) -> None:
    invoice = _invoice(ctx, args.invoice_id)
    if invoice.payer != sender:
        raise NotPayer(f"invoice {args.invoice_id.hex()} is billed to {invoice.payer}")
    _settle(ctx, invoice, args.amount_minor, "invoice")


def _settle(ctx: Context, invoice: Invoice, amount: int, reason: str) -> None:
    """Pay `amount` of an open invoice from its payer to the department: money and
    receipt in one step, so a receipt never exists without the money having moved."""
    if invoice.status in ("paid", "cancelled"):
        raise InvoiceClosed(f"invoice {invoice.id.hex()} is {invoice.status}")
    due = amount_due(invoice, ctx.block.time_ms)
    outstanding = due - invoice.paid_minor
    if amount > outstanding:
        raise Overpayment(
            f"{outstanding} is outstanding; {amount} offered", outstanding_minor=outstanding
        )
    PaymentsKeeper(ctx).move(
        invoice.asset, invoice.payer, invoice.payee, amount, reason, invoice.id
    )
    paid = invoice.paid_minor + amount
    status = "paid" if paid >= due else "partially_paid"
    ctx.state.put_record(
        keys.invoice(invoice.id), dataclasses.replace(invoice, paid_minor=paid, status=status)
    )
    ctx.emit(
        "payments.invoice_paid",
        id=invoice.id,
        department=invoice.department,
        payer=invoice.payer,
        asset=invoice.asset,
        amount_minor=amount,
        paid_minor=paid,
        due_minor=due,
        status=status,
    )


def cancel_invoice(ctx: Context, sender: AccountId, args: CancelInvoice) -> None:
    invoice = _invoice(ctx, args.invoice_id, args.department)
    if invoice.status != "open":
        raise InvoiceClosed(
            f"invoice {args.invoice_id.hex()} is {invoice.status}; "
            "only an unpaid invoice can be cancelled (refund instead)"
        )
    ctx.state.put_record(keys.invoice(invoice.id), dataclasses.replace(invoice, status="cancelled"))
    ctx.emit("payments.invoice_cancelled", id=invoice.id, department=invoice.department)


def refund(ctx: Context, sender: AccountId, args: Refund) -> None:
    invoice = _invoice(ctx, args.invoice_id, args.department)
    refunded = invoice.refunded_minor + args.amount_minor
    if refunded > invoice.paid_minor:
        raise RefundExceedsPaid(
            f"{invoice.paid_minor} was paid and {invoice.refunded_minor} "
            f"refunded; {args.amount_minor} more is too much"
        )
    PaymentsKeeper(ctx).move(
        invoice.asset, invoice.payee, invoice.payer, args.amount_minor, "refund", invoice.id
    )
    ctx.state.put_record(
        keys.invoice(invoice.id), dataclasses.replace(invoice, refunded_minor=refunded)
    )
    ctx.emit(
        "payments.refunded",
        id=invoice.id,
        department=invoice.department,
        payer=invoice.payer,
        amount_minor=args.amount_minor,
        refunded_minor=refunded,
    )


def _invoice(ctx: Context, invoice_id: bytes, department: str | None = None) -> Invoice:
    invoice = ctx.state.get_record(keys.invoice(invoice_id), Invoice)
    if invoice is None:
        raise InvoiceNotFound(f"no invoice {invoice_id.hex()}")
    if department is not None and invoice.department != department:
        raise WrongDepartment(f"invoice {invoice_id.hex()} was issued by {invoice.department}")
    return invoice


# -- escrow -------------------------------------------------------------------------------


def open_escrow(ctx: Context, sender: AccountId, args: OpenEscrow) -> None:
    payments = PaymentsKeeper(ctx)
    payments.require_asset(args.asset)
    if ctx.state.get(keys.escrow(args.id)) is not None:
        raise EscrowExists(f"escrow {args.id.hex()} exists")
    payments.require_account(args.beneficiary)
    payments.reserve(args.asset, sender, args.amount_minor)
    deadline = ctx.block.height + args.timeout_blocks
    escrow = Escrow(
        args.id,
        sender,
        args.beneficiary,
        args.asset,
        args.amount_minor,
        list(args.approvers),
        [],
        deadline,
        "open",
    )
    ctx.state.put_record(keys.escrow(args.id), escrow)
    _append(ctx, keys.escrow_deadline(deadline), args.id)
    ctx.emit(
        "payments.escrow_opened",
        id=args.id,
        payer=sender,
        beneficiary=args.beneficiary,
        asset=args.asset,
        amount_minor=args.amount_minor,
        deadline_at_height=deadline,
    )


def approve_escrow(ctx: Context, sender: AccountId, args: ApproveEscrow) -> None:
    escrow = ctx.state.get_record(keys.escrow(args.id), Escrow)
    if escrow is None:
        raise EscrowNotFound(f"no escrow {args.id.hex()}")
    if escrow.status != "open":
        raise EscrowClosed(f"escrow {args.id.hex()} is {escrow.status}")
    if sender not in escrow.approvers:
        raise NotApprover(f"{sender} is not an approver of escrow {args.id.hex()}")
    if sender in escrow.approvals:
        raise AlreadyApproved(f"{sender} already approved escrow {args.id.hex()}")
    approvals = [*escrow.approvals, sender]
    ctx.emit(
        "payments.escrow_approved",
        id=args.id,
        by=sender,
        approvals=len(approvals),
        needed=len(escrow.approvers),
    )
    if len(approvals) < len(escrow.approvers):
        ctx.state.put_record(keys.escrow(args.id), dataclasses.replace(escrow, approvals=approvals))
        return
    release_escrow(ctx, dataclasses.replace(escrow, approvals=approvals))


def release_escrow(ctx: Context, escrow: Escrow) -> None:
    """Every approver agreed: the held funds go to the beneficiary (keepers call this too)."""
    PaymentsKeeper(ctx).release(escrow.asset, escrow.beneficiary, escrow.amount_minor)
    ctx.state.put_record(keys.escrow(escrow.id), dataclasses.replace(escrow, status="released"))
    ctx.emit(
        "payments.transferred",
        asset=escrow.asset,
        sender=escrow.payer,
        recipient=escrow.beneficiary,
        amount_minor=escrow.amount_minor,
        reason="escrow",
        reference=escrow.id,
    )


def return_expired_escrows(ctx: Context) -> None:
    raw = ctx.state.get(keys.escrow_deadline(ctx.block.height))
    if raw is None:
        return
    for escrow_id in decode_trusted(raw):
        escrow = ctx.state.get_record(keys.escrow(escrow_id), Escrow)
        if escrow is not None and escrow.status == "open":
            PaymentsKeeper(ctx).release(escrow.asset, escrow.payer, escrow.amount_minor)
            ctx.state.put_record(
                keys.escrow(escrow_id), dataclasses.replace(escrow, status="returned")
            )
            ctx.emit(
                "payments.escrow_returned",
                id=escrow_id,
                payer=escrow.payer,
                amount_minor=escrow.amount_minor,
            )
    ctx.state.delete(keys.escrow_deadline(ctx.block.height))


# -- mandates -----------------------------------------------------------------------------


def set_mandate(ctx: Context, sender: AccountId, args: SetMandate) -> None:
    PaymentsKeeper(ctx).require_asset(args.asset)
    if ctx.keeper("governance", GovernanceView).department(args.department) is None:
        raise UnknownDepartment(f"no department {args.department}")
    mandate = Mandate(
        sender,
        args.department,
        args.asset,
        args.per_invoice_max_minor,
        args.per_month_max_minor,
        "",
        0,
    )
    ctx.state.put_record(keys.mandate(sender, args.department), mandate)
    ctx.emit(
        "payments.mandate_set",
        payer=sender,
        department=args.department,
        asset=args.asset,
        per_invoice_max_minor=args.per_invoice_max_minor,
        per_month_max_minor=args.per_month_max_minor,
    )


def revoke_mandate(ctx: Context, sender: AccountId, args: RevokeMandate) -> None:
    if ctx.state.get(keys.mandate(sender, args.department)) is None:
        raise NoMandate(f"{sender} has no mandate for {args.department}")
    ctx.state.delete(keys.mandate(sender, args.department))
    ctx.emit("payments.mandate_revoked", payer=sender, department=args.department)


def collect_invoice(ctx: Context, sender: AccountId, args: CollectInvoice) -> None:
    invoice = _invoice(ctx, args.invoice_id, args.department)
    mandate = ctx.state.get_record(keys.mandate(invoice.payer, args.department), Mandate)
    if mandate is None:
        raise NoMandate(f"{invoice.payer} gave {args.department} no mandate")
    amount = amount_due(invoice, ctx.block.time_ms) - invoice.paid_minor
    month = month_of(ctx.block.time_ms)
    collected = mandate.collected_this_month_minor if mandate.month == month else 0
    if mandate.asset != invoice.asset or amount > mandate.per_invoice_max_minor:
        raise MandateLimit(
            f"{amount} {invoice.asset} is above the mandate's per-invoice limit "
            f"of {mandate.per_invoice_max_minor} {mandate.asset}"
        )
    if collected + amount > mandate.per_month_max_minor:
        raise MandateLimit(
            f"{collected} already collected in {month}; {amount} more passes "
            f"the monthly limit of {mandate.per_month_max_minor}"
        )
    _settle(ctx, invoice, amount, "mandate")
    ctx.state.put_record(
        keys.mandate(invoice.payer, args.department),
        dataclasses.replace(mandate, month=month, collected_this_month_minor=collected + amount),
    )


# -- hash-time-locked transfers -------------------------------------------------------------


def lock_htlc(ctx: Context, sender: AccountId, args: LockHtlc) -> None:
    payments = PaymentsKeeper(ctx)
    payments.require_asset(args.asset)
    if args.recipient == sender:
        raise SameAccount("an HTLC needs two different accounts")
    if ctx.state.get(keys.htlc(args.id)) is not None:
        raise HtlcExists(f"HTLC {args.id.hex()} exists")
    payments.require_account(args.recipient)
    payments.reserve(args.asset, sender, args.amount_minor)
    deadline = ctx.block.height + args.timeout_blocks if args.timeout_blocks else 0
    deadline_ms = ctx.block.time_ms + args.timeout_ms if args.timeout_ms else 0
    htlc = Htlc(
        args.id,
        sender,
        args.recipient,
        args.asset,
        args.amount_minor,
        args.hashlock,
        deadline,
        "locked",
        deadline_at_ms=deadline_ms,
    )
    ctx.state.put_record(keys.htlc(args.id), htlc)
    ctx.emit(
        "payments.htlc_locked",
        id=args.id,
        sender=sender,
        recipient=args.recipient,
        asset=args.asset,
        amount_minor=args.amount_minor,
        hashlock=args.hashlock,
        deadline_at_height=deadline,
        deadline_at_ms=deadline_ms,
    )


def claim_htlc(ctx: Context, sender: AccountId, args: ClaimHtlc) -> None:
    htlc = _htlc(ctx, args.id)
    if sender != htlc.recipient:
        raise NotHtlcParty(f"only {htlc.recipient} may claim HTLC {args.id.hex()}")
    if htlc.expired(ctx.block.height, ctx.block.time_ms):
        raise HtlcExpired(f"HTLC {args.id.hex()} expired: {_deadlines(htlc)}")
    if sha256(args.preimage) != htlc.hashlock:
        raise WrongPreimage("the preimage does not hash to the lock")
    PaymentsKeeper(ctx).release(htlc.asset, htlc.recipient, htlc.amount_minor)
    ctx.state.put_record(
        keys.htlc(args.id), dataclasses.replace(htlc, status="claimed", preimage=args.preimage)
    )
    # The preimage becomes public here: the counterparty uses it on the other chain.
    ctx.emit(
        "payments.htlc_claimed",
        id=args.id,
        recipient=sender,
        preimage=args.preimage,
        amount_minor=htlc.amount_minor,
        asset=htlc.asset,
    )


def refund_htlc(ctx: Context, sender: AccountId, args: RefundHtlc) -> None:
    htlc = _htlc(ctx, args.id)
    if sender != htlc.sender:
        raise NotHtlcParty(f"only {htlc.sender} may take back HTLC {args.id.hex()}")
    if not htlc.expired(ctx.block.height, ctx.block.time_ms):
        raise HtlcNotExpired(f"HTLC {args.id.hex()} is claimable until {_deadlines(htlc)}")
    PaymentsKeeper(ctx).release(htlc.asset, htlc.sender, htlc.amount_minor)
    ctx.state.put_record(keys.htlc(args.id), dataclasses.replace(htlc, status="refunded"))
    ctx.emit("payments.htlc_refunded", id=args.id, sender=sender, amount_minor=htlc.amount_minor)


def _deadlines(htlc: Htlc) -> str:
    if htlc.deadline_at_ms:
        # From the record's integer alone: the same text on every node.
        at = datetime.fromtimestamp(htlc.deadline_at_ms // 1000, tz=UTC)
        return f"block time {at:%Y-%m-%d %H:%M:%S} UTC ({htlc.deadline_at_ms} ms)"
    return f"height {htlc.deadline_at_height}"


def _htlc(ctx: Context, htlc_id: bytes) -> Htlc:
    htlc = ctx.state.get_record(keys.htlc(htlc_id), Htlc)
    if htlc is None:
        raise HtlcNotFound(f"no HTLC {htlc_id.hex()}")
    if htlc.status != "locked":
        raise HtlcClosed(f"HTLC {htlc_id.hex()} is {htlc.status}")
    return htlc


def _append(ctx: Context, key: bytes, item: Any) -> None:
    raw = ctx.state.get(key)
    ctx.state.put(key, encode([*(decode_trusted(raw) if raw else []), item]))


def end_block(ctx: Context) -> None:
    void_expired(ctx)
    return_expired_escrows(ctx)
