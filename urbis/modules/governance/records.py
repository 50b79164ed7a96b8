"""Records and action arguments of the governance module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from urbis.chain.ids import AccountId

VOTING_PERIOD_BLOCKS_DEFAULT = 10_000
"""Blocks a proposal stays open: about three hours at 1 s blocks."""
VOTING_PERIOD_BLOCKS_MAX = 1_000_000
VALIDATORS_MAX = 100


@dataclass(frozen=True, slots=True)
class City:
    chain_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str
    admin: AccountId
    created_at_height: int


@dataclass(frozen=True, slots=True)
class RoleGrant:
    granted_by: AccountId
    granted_at_height: int


@dataclass(frozen=True, slots=True)
class Council:
    members: list[AccountId]
    threshold: int


@dataclass(frozen=True, slots=True)
class Validator:
    name: str
    key: bytes
    power: int

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("a validator key is a 32-byte Ed25519 public key")
        if not 0 <= self.power <= 1_000_000:
            raise ValueError("validator power is 0 to 1,000,000 (0 removes)")


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    validators: list[Validator]


@dataclass(frozen=True, slots=True)
class ProposedAction:
    module: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    title: str
    proposer: AccountId
    action: ProposedAction
    approvals: list[AccountId]
    status: str  # "open" | "executed" | "failed" | "expired"
    submitted_at_height: int
    expires_at_height: int
    closed_at_height: int = 0
    result_code: str = ""
    result_message: str = ""


# -- actions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrantRole:
    """Grant `<department>.<role>` to `account`; needs `<department>.admin`."""

    department: str
    role: str
    account: AccountId


@dataclass(frozen=True, slots=True)
class RevokeRole:
    department: str
    role: str
    account: AccountId


@dataclass(frozen=True, slots=True)
class SubmitProposal:
    """A council member proposes one privileged action; their approval counts at once."""

    title: str
    action: ProposedAction
    voting_period_blocks: int = VOTING_PERIOD_BLOCKS_DEFAULT


@dataclass(frozen=True, slots=True)
class ApproveProposal:
    id: int


@dataclass(frozen=True, slots=True)
class AddDepartment:
    id: str
    name: str
    admin: AccountId


@dataclass(frozen=True, slots=True)
class SetDepartmentAdmin:
    department: str
    admin: AccountId


@dataclass(frozen=True, slots=True)
class SetCouncil:
    members: list[AccountId]
    threshold: int


@dataclass(frozen=True, slots=True)
class SetValidators:
    validators: list[Validator] = field(default_factory=list)
