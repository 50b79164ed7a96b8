"""Payments errors and their stable codes."""

from urbis.chain.errors import error_class

UnknownAsset = error_class("payments.unknown_asset", "Unknown asset", 404)
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
InvoiceExists = error_class("payments.invoice_exists", "Invoice exists", 409)
InvoiceNotFound = error_class("payments.invoice_not_found", "Invoice not found", 404)
InvoiceClosed = error_class("payments.invoice_closed", "Invoice closed", 409)
NotPayer = error_class("payments.not_payer", "Not the invoice's payer", 403)
Overpayment = error_class("payments.overpayment", "More than is due", 422)
RefundExceedsPaid = error_class("payments.refund_exceeds_paid", "Refund exceeds paid", 422)
UnknownDepartment = error_class("payments.unknown_department", "Unknown department", 404)
WrongDepartment = error_class("payments.wrong_department", "Invoice of another department", 403)
