"""Payments errors and their stable codes."""

from urbis.chain.errors import error_class

UnknownAsset = error_class("payments.unknown_asset", "Unknown asset", 404)
UnknownAccount = error_class("payments.unknown_account", "No such account", 404)
AssetExists = error_class("payments.asset_exists", "Asset exists", 409)
InvalidAmount = error_class("payments.invalid_amount", "Invalid amount", 422)
Overflow = error_class("payments.overflow", "Amount overflows", 422)
NotIssuer = error_class("payments.not_issuer", "Not the asset's issuer", 403)
InsufficientFunds = error_class("payments.insufficient_funds", "Insufficient funds", 409, True)
SameAccount = error_class("payments.same_account", "Same account", 422)
TransferIdConflict = error_class(
    "payments.transfer_id_conflict", "Transfer id used with different content", 409
)
TransferNotFound = error_class("payments.transfer_not_found", "Transfer not found", 404)
TransferNotPending = error_class("payments.transfer_not_pending", "Transfer not pending", 409)
NotTransferSender = error_class("payments.not_transfer_sender", "Not the transfer's sender", 403)
"""Retired: transfer ids are scoped by sender, so another account's id is simply not found."""
InvoiceExists = error_class("payments.invoice_exists", "Invoice exists", 409)
InvoiceNotFound = error_class("payments.invoice_not_found", "Invoice not found", 404)
InvoiceClosed = error_class("payments.invoice_closed", "Invoice closed", 409)
NotPayer = error_class("payments.not_payer", "Not the invoice's payer", 403)
Overpayment = error_class("payments.overpayment", "More than is due", 422)
RefundExceedsPaid = error_class("payments.refund_exceeds_paid", "Refund exceeds paid", 422)
UnknownDepartment = error_class("payments.unknown_department", "Unknown department", 404)
WrongDepartment = error_class("payments.wrong_department", "Invoice of another department", 403)
EscrowExists = error_class("payments.escrow_exists", "Escrow exists", 409)
EscrowNotFound = error_class("payments.escrow_not_found", "Escrow not found", 404)
EscrowClosed = error_class("payments.escrow_closed", "Escrow closed", 409)
NotApprover = error_class("payments.not_approver", "Not an approver", 403)
AlreadyApproved = error_class("payments.already_approved", "Already approved", 409)
NoMandate = error_class("payments.no_mandate", "No mandate", 403)
MandateLimit = error_class("payments.mandate_limit", "Above the mandate's limit", 403)
HtlcExists = error_class("payments.htlc_exists", "HTLC exists", 409)
HtlcNotFound = error_class("payments.htlc_not_found", "HTLC not found", 404)
HtlcClosed = error_class("payments.htlc_closed", "HTLC closed", 409)
WrongPreimage = error_class("payments.wrong_preimage", "Wrong preimage", 403)
HtlcExpired = error_class("payments.htlc_expired", "HTLC deadline passed", 409)
HtlcNotExpired = error_class("payments.htlc_not_expired", "HTLC deadline not reached", 409, True)
NotHtlcParty = error_class("payments.not_htlc_party", "Not the HTLC's party", 403)
# -- the cross-border corridor's driver (corridor.py): raised by the client, never on chain --
CorridorUnreachable = error_class(
    "payments.corridor_unreachable", "The foreign chain's node does not answer", 502, True
)
CorridorRejected = error_class("payments.corridor_rejected", "The foreign chain refused", 409)
CorridorMismatch = error_class(
    "payments.corridor_mismatch", "The counterparty's lock differs from the agreed terms", 409
)
CorridorUnsafeDeadline = error_class(
    "payments.corridor_unsafe_deadline", "The deadlines would let one party take both", 409
)
CorridorNoPreimage = error_class(
    "payments.corridor_no_preimage", "The preimage is not public yet", 409, True
)
