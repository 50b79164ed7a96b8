"""Every state key the payments module writes."""

from urbis.chain.ids import AccountId
from urbis.chain.keyparts import fixed_width

PREFIX = b"payments/"
ASSET_PREFIX = b"payments/asset/"
BALANCE_PREFIX = b"payments/balance/"


def asset(code: str) -> bytes:
    return ASSET_PREFIX + code.encode()


def balance(code: str, account: AccountId) -> bytes:
    return BALANCE_PREFIX + code.encode() + b"/" + account.raw


def balance_prefix(code: str) -> bytes:
    return BALANCE_PREFIX + code.encode() + b"/"


def transfer(sender: AccountId, transfer_id: bytes) -> bytes:
    """Ids are the sender's own: nobody can take another's id first and make its
    idempotent retry fail."""
    return b"payments/transfer/" + sender.raw + b"/" + transfer_id


def expiring(height: int) -> bytes:
    return b"payments/expiring/" + fixed_width(height, 8, "a height")


INVOICE_PREFIX = b"payments/invoice/"


def invoice(invoice_id: bytes) -> bytes:
    return INVOICE_PREFIX + invoice_id


def escrow(escrow_id: bytes) -> bytes:
    return b"payments/escrow/" + escrow_id


def escrow_deadline(height: int) -> bytes:
    return b"payments/escrow_deadline/" + fixed_width(height, 8, "a height")


def mandate(payer: AccountId, department: str) -> bytes:
    return b"payments/mandate/" + payer.raw + b"/" + department.encode()


def htlc(htlc_id: bytes) -> bytes:
    return b"payments/htlc/" + htlc_id


def overdraft(code: str, account: AccountId) -> bytes:
    return b"payments/overdraft/" + code.encode() + b"/" + account.raw
