"""Records and action arguments of the payments module. Amounts are integer minor units."""

from __future__ import annotations

import re
from dataclasses import dataclass

from urbis.chain.ids import AccountId

AMOUNT_MAX = 2**128 - 1
"""Every amount and every total fits 128 bits (as in TigerBeetle); larger is refused."""
ASSET_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")
DECIMALS_MAX = 18
ID_SIZE_MIN = 8
ID_SIZE_MAX = 32
TIMEOUT_BLOCKS_MAX = 1_000_000
"""The longest hold (pending transfer, escrow, HTLC), in blocks: about a year at a few
seconds a block, so no hold outlives the money's purpose by decades."""
HTLC_TIMEOUT_MS_MAX = 366 * 24 * 3600 * 1000
"""The longest time deadline on an HTLC: a year, as TIMEOUT_BLOCKS_MAX is in blocks."""
INVOICE_KINDS = ("tax", "utility", "fee", "fine")
DAY_MS = 86_400_000


def check_amount(amount: int) -> None:
    if not 0 < amount <= AMOUNT_MAX:
        raise ValueError(f"amount_minor must be 1 to 2**128-1, got {amount}")


def check_id(name: str, value: bytes) -> None:
    if not ID_SIZE_MIN <= len(value) <= ID_SIZE_MAX:
        raise ValueError(f"{name} must be {ID_SIZE_MIN} to {ID_SIZE_MAX} bytes")


@dataclass(frozen=True, slots=True)
class Asset:
    code: str
    decimals: int
    issuer: AccountId
    minted_minor: int
    burned_minor: int
    pending_minor: int
    created_at_height: int


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """A transfer as it was asked for, and what became of it (the idempotency record)."""

    id: bytes
    sender: AccountId
    recipient: AccountId
    asset: str
    amount_minor: int
    pending_timeout_blocks: int
    status: str  # "posted" | "pending" | "voided"
    created_at_height: int
    expires_at_height: int = 0


@dataclass(frozen=True, slots=True)
class Invoice:
    id: bytes
    department: str
    payee: AccountId
    payer: AccountId
    kind: str
    asset: str
    amount_minor: int
    due_at_ms: int
    details_hash: bytes
    late_fee_kind: str  # "none" | "flat" | "per_day"
    late_fee_minor: int
    paid_minor: int
    refunded_minor: int
    status: str  # "open" | "partially_paid" | "paid" | "cancelled"
    issued_at_height: int


# -- actions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateAsset:
    """A new currency (council): `issuer` is the treasury that mints and burns it."""

    code: str
    decimals: int
    issuer: AccountId

    def __post_init__(self) -> None:
        if not ASSET_CODE.match(self.code):
            raise ValueError("code is 2-12 upper-case letters and digits, starting with a letter")
        if not 0 <= self.decimals <= DECIMALS_MAX:
            raise ValueError(f"decimals must be 0 to {DECIMALS_MAX}")


@dataclass(frozen=True, slots=True)
class SetOverdraft:
    """Issuer: let `account` (e.g. the treasury) go down to -limit_minor; 0 removes the flag."""

    asset: str
    account: AccountId
    limit_minor: int

    def __post_init__(self) -> None:
        if not 0 <= self.limit_minor <= AMOUNT_MAX:
            raise ValueError("limit_minor must be 0 to 2**128-1")


@dataclass(frozen=True, slots=True)
class Mint:
    """The issuer creates money against fiat deposited with the city."""

    asset: str
    recipient: AccountId
    amount_minor: int

    def __post_init__(self) -> None:
        check_amount(self.amount_minor)


@dataclass(frozen=True, slots=True)
class Burn:
    """The issuer destroys money from its own balance when fiat is withdrawn."""

    asset: str
    amount_minor: int

    def __post_init__(self) -> None:
        check_amount(self.amount_minor)


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move `amount_minor` of `asset` from the sender to `recipient`.

    `id` is chosen by the client: the same id twice never moves money twice.
    With `pending_timeout_blocks` > 0 the funds are only reserved, until the
    sender posts or voids them, or that many blocks pass and the chain voids them.
    """

    id: bytes
    recipient: AccountId
    asset: str
    amount_minor: int
    pending_timeout_blocks: int = 0

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_amount(self.amount_minor)
        if not 0 <= self.pending_timeout_blocks <= TIMEOUT_BLOCKS_MAX:
            raise ValueError(f"pending_timeout_blocks must be 0 to {TIMEOUT_BLOCKS_MAX}")


@dataclass(frozen=True, slots=True)
class PostPending:
    id: bytes


@dataclass(frozen=True, slots=True)
class VoidPending:
    id: bytes


@dataclass(frozen=True, slots=True)
class IssueInvoice:
    """A department bills a payer; `details_hash` commits to off-chain line items."""

    id: bytes
    department: str
    payer: AccountId
    kind: str
    asset: str
    amount_minor: int
    due_at_ms: int
    details_hash: bytes
    late_fee_kind: str = "none"
    late_fee_minor: int = 0

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_amount(self.amount_minor)
        if self.kind not in INVOICE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(INVOICE_KINDS)}")
        if len(self.details_hash) != 32:
            raise ValueError("details_hash must be a 32-byte SHA-256 digest")
        if self.late_fee_kind not in ("none", "flat", "per_day"):
            raise ValueError("late_fee_kind must be none, flat or per_day")
        if self.late_fee_kind == "none" and self.late_fee_minor:
            raise ValueError("late_fee_minor needs late_fee_kind flat or per_day")
        if not 0 <= self.late_fee_minor <= AMOUNT_MAX:
            raise ValueError("late_fee_minor must fit 128 bits")
        if self.due_at_ms < 0:
            raise ValueError("due_at_ms must not be negative")


@dataclass(frozen=True, slots=True)
class PayInvoice:
    invoice_id: bytes
    amount_minor: int

    def __post_init__(self) -> None:
        check_amount(self.amount_minor)


@dataclass(frozen=True, slots=True)
class CancelInvoice:
    department: str
    invoice_id: bytes


@dataclass(frozen=True, slots=True)
class Refund:
    """Give back (part of) what was paid on an invoice; never more than was paid."""

    department: str
    invoice_id: bytes
    amount_minor: int

    def __post_init__(self) -> None:
        check_amount(self.amount_minor)


@dataclass(frozen=True, slots=True)
class Escrow:
    id: bytes
    payer: AccountId
    beneficiary: AccountId
    asset: str
    amount_minor: int
    approvers: list[AccountId]
    approvals: list[AccountId]
    deadline_at_height: int
    status: str  # "open" | "released" | "returned"


@dataclass(frozen=True, slots=True)
class Mandate:
    """A payer lets a department collect its invoices, within limits, until revoked."""

    payer: AccountId
    department: str
    asset: str
    per_invoice_max_minor: int
    per_month_max_minor: int
    month: str  # "YYYY-MM" of the last collection, from block time
    collected_this_month_minor: int


@dataclass(frozen=True, slots=True)
class Htlc:
    """Hash-time-locked transfer: claimable with the preimage until the deadline, then
    returnable to its sender: one side of a cross-chain atomic swap."""

    id: bytes
    sender: AccountId
    recipient: AccountId
    asset: str
    amount_minor: int
    hashlock: bytes
    deadline_at_height: int
    status: str  # "locked" | "claimed" | "refunded"
    preimage: bytes = b""
    deadline_at_ms: int = 0
    """A lock by time: the block time after which it is no longer claimable; its
    `deadline_at_height` is then 0. 0 here: a lock by height."""

    def expired(self, height: int, time_ms: int) -> bool:
        """Past its deadline: no longer claimable, refundable to its sender."""
        if self.deadline_at_ms:
            return time_ms > self.deadline_at_ms
        return height > self.deadline_at_height


@dataclass(frozen=True, slots=True)
class OpenEscrow:
    """Hold funds for `beneficiary` until every approver approves; back at the deadline."""

    id: bytes
    beneficiary: AccountId
    asset: str
    amount_minor: int
    approvers: list[AccountId]
    timeout_blocks: int

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_amount(self.amount_minor)
        if not 1 <= len(self.approvers) <= 16 or len(set(self.approvers)) != len(self.approvers):
            raise ValueError("1 to 16 distinct approvers")
        if not 1 <= self.timeout_blocks <= TIMEOUT_BLOCKS_MAX:
            raise ValueError(f"timeout_blocks must be 1 to {TIMEOUT_BLOCKS_MAX}")


@dataclass(frozen=True, slots=True)
class ApproveEscrow:
    id: bytes


@dataclass(frozen=True, slots=True)
class SetMandate:
    department: str
    asset: str
    per_invoice_max_minor: int
    per_month_max_minor: int

    def __post_init__(self) -> None:
        check_amount(self.per_invoice_max_minor)
        check_amount(self.per_month_max_minor)


@dataclass(frozen=True, slots=True)
class RevokeMandate:
    department: str


@dataclass(frozen=True, slots=True)
class CollectInvoice:
    """The department collects an invoice's outstanding amount under the payer's mandate."""

    department: str
    invoice_id: bytes


@dataclass(frozen=True, slots=True)
class LockHtlc:
    id: bytes
    recipient: AccountId
    asset: str
    amount_minor: int
    hashlock: bytes
    timeout_blocks: int
    timeout_ms: int = 0
    """Expire this long after the lock's block time instead of after `timeout_blocks`
    (which is then 0). A swap with another chain needs deadlines both chains measure
    alike: block time, not heights."""

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_amount(self.amount_minor)
        if len(self.hashlock) != 32:
            raise ValueError("hashlock must be a 32-byte SHA-256 digest")
        if self.timeout_ms == 0 and not 1 <= self.timeout_blocks <= TIMEOUT_BLOCKS_MAX:
            raise ValueError(f"timeout_blocks must be 1 to {TIMEOUT_BLOCKS_MAX}")
        if self.timeout_ms != 0 and self.timeout_blocks != 0:
            raise ValueError("give timeout_blocks or timeout_ms, not both")
        if not 0 <= self.timeout_ms <= HTLC_TIMEOUT_MS_MAX:
            raise ValueError(f"timeout_ms must be 0 to {HTLC_TIMEOUT_MS_MAX}")


@dataclass(frozen=True, slots=True)
class ClaimHtlc:
    id: bytes
    preimage: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.preimage) <= 64:
            raise ValueError("preimage must be 1 to 64 bytes")


@dataclass(frozen=True, slots=True)
class RefundHtlc:
    id: bytes
