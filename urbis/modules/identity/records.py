"""Records and action arguments of the identity module.

The chain is the verifiable data registry: who may issue which credential
type, what a type contains, which credentials are revoked or suspended, and
what each verifier may ask for. Names, birthdates, addresses, credential
contents and their hashes never come here: they live in residents' wallets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from urbis.chain.ids import AccountId

VCT_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$")
CLAIM_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
CLAIMS_MAX = 64
STATUS_BITS = (1, 2, 4, 8)
"""Bits per entry, as in the IETF Token Status List (VALID=0, INVALID=1, SUSPENDED=2)."""
PAGE_BYTES = 4096
"""A status update rewrites one page, not a list of a million entries."""
LIST_SIZE_MIN = 1024
LIST_SIZE_MAX = 16 * 1024 * 1024
"""Lists are large so an index says nothing about the person it belongs to."""
VALID, INVALID, SUSPENDED = 0, 1, 2
ALLOCATION_ENTRIES_PER_PAGE = PAGE_BYTES * 8
"""An allocation page holds one bit per entry: 32,768 entries."""
ALLOCATE_MAX = 64
"""Indexes one allocation may take: a batch issuance of a few dozen copies, not a sweep."""


def _check_claims(claims: list[str]) -> None:
    if len(claims) > CLAIMS_MAX or len(set(claims)) != len(claims):
        raise ValueError(f"at most {CLAIMS_MAX} distinct claims")
    for claim in claims:
        if not CLAIM_PATTERN.match(claim):
            raise ValueError(f"claim {claim!r}: lower-case letters, digits, '_'")


def _check_vct(vct: str) -> None:
    if not VCT_PATTERN.match(vct):
        raise ValueError("vct: a letter, then letters, digits or _ . : / - (max 128)")


@dataclass(frozen=True, slots=True)
class CredentialType:
    vct: str
    schema_hash: bytes
    claims: list[str]
    disclosable: list[str]
    validity_days: int
    defined_at_height: int


@dataclass(frozen=True, slots=True)
class TrustGrant:
    granted_by: AccountId
    since_at_height: int
    since_ms: int
    until_at_height: int = 0  # 0: still trusted
    until_ms: int = 0


@dataclass(frozen=True, slots=True)
class TrustRecord:
    """Every period an issuer was trusted for a type: old credentials are judged by the
    trust in force when they were issued."""

    periods: list[TrustGrant]

    def trusted_at(self, time_ms: int) -> bool:
        return any(
            p.since_ms <= time_ms and (p.until_ms == 0 or time_ms < p.until_ms)
            for p in self.periods
        )

    @property
    def current(self) -> bool:
        return bool(self.periods) and self.periods[-1].until_at_height == 0


@dataclass(frozen=True, slots=True)
class StatusList:
    issuer: AccountId
    list_id: int
    size: int
    bits: int
    created_at_height: int
    updated_at_height: int


@dataclass(frozen=True, slots=True)
class VerifierRegistration:
    name: str
    allowed_claims: dict[str, list[str]]  # vct -> claims the verifier may request
    registered_at_height: int


# -- actions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DefineType:
    """A credential type: its claims, which are selectively disclosable, its validity."""

    vct: str
    schema_hash: bytes
    claims: list[str]
    disclosable: list[str]
    validity_days: int

    def __post_init__(self) -> None:
        _check_vct(self.vct)
        _check_claims(self.claims)
        if len(self.schema_hash) != 32:
            raise ValueError("schema_hash must be the SHA-256 of the JSON schema")
        if not set(self.disclosable) <= set(self.claims):
            raise ValueError("every disclosable claim must be one of the claims")
        if not 1 <= self.validity_days <= 36_500:
            raise ValueError("validity_days must be 1 to 36,500")


@dataclass(frozen=True, slots=True)
class TrustIssuer:
    vct: str
    issuer: AccountId


@dataclass(frozen=True, slots=True)
class WithdrawIssuer:
    vct: str
    issuer: AccountId


@dataclass(frozen=True, slots=True)
class CreateStatusList:
    list_id: int
    size: int
    bits: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.list_id < 2**32:
            raise ValueError("list_id must fit 32 bits")
        if self.bits not in STATUS_BITS:
            raise ValueError(f"bits must be one of {STATUS_BITS}")
        if not LIST_SIZE_MIN <= self.size <= LIST_SIZE_MAX:
            raise ValueError(f"size must be {LIST_SIZE_MIN} to {LIST_SIZE_MAX} entries")


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Revoke (1), suspend (2) or reinstate (0) one credential by its list index."""

    list_id: int
    index: int
    status: int


@dataclass(frozen=True, slots=True)
class AllocateStatus:
    """Hand out status entries of one of your lists to credentials being issued.

    Issuance is recorded on chain only as this: the indexes, never the claims or the
    holder. An index is handed out once, so two credentials never share a status.
    """

    list_id: int
    indexes: list[int]

    def __post_init__(self) -> None:
        if not 1 <= len(self.indexes) <= ALLOCATE_MAX:
            raise ValueError(f"allocate 1 to {ALLOCATE_MAX} indexes at a time")
        if len(set(self.indexes)) != len(self.indexes):
            raise ValueError("indexes must be distinct")


@dataclass(frozen=True, slots=True)
class RegisterVerifier:
    """Registry: what a relying party (e.g. the transit operator) may ask residents for."""

    verifier: AccountId
    name: str
    allowed_claims: dict[str, list[str]]

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= 128:
            raise ValueError("name must be 1 to 128 characters")
        for vct, claims in self.allowed_claims.items():
            _check_vct(vct)
            _check_claims(claims)
