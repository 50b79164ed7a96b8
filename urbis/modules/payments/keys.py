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


TRANSFER_PREFIX = b"payments/transfer/"


def transfer(sender: AccountId, transfer_id: bytes) -> bytes:
    """Ids are the sender's own: nobody can take another's id first and make its
    idempotent retry fail."""
    return TRANSFER_PREFIX + sender.raw + b"/" + transfer_id


EXPIRING_PREFIX = b"payments/expiring/"


def expiring(height: int) -> bytes:
    return EXPIRING_PREFIX + fixed_width(height, 8, "a height")


INVOICE_PREFIX = b"payments/invoice/"


def invoice(invoice_id: bytes) -> bytes:
    return INVOICE_PREFIX + invoice_id


ESCROW_PREFIX = b"payments/escrow/"


def escrow(escrow_id: bytes) -> bytes:
    return ESCROW_PREFIX + escrow_id


ESCROW_DEADLINE_PREFIX = b"payments/escrow_deadline/"


def escrow_deadline(height: int) -> bytes:
    return ESCROW_DEADLINE_PREFIX + fixed_width(height, 8, "a height")


MANDATE_PREFIX = b"payments/mandate/"


def mandate(payer: AccountId, department: str) -> bytes:
    return MANDATE_PREFIX + payer.raw + b"/" + department.encode()


HTLC_PREFIX = b"payments/htlc/"


def htlc(htlc_id: bytes) -> bytes:
    return HTLC_PREFIX + htlc_id


OVERDRAFT_PREFIX = b"payments/overdraft/"


def overdraft(code: str, account: AccountId) -> bytes:
    return OVERDRAFT_PREFIX + code.encode() + b"/" + account.raw
