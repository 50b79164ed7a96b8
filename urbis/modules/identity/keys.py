"""Every state key the identity module writes. None of them holds personal data."""

from urbis.chain.ids import AccountId
from urbis.chain.keyparts import fixed_width

PREFIX = b"identity/"
TYPE_PREFIX = b"identity/type/"
TRUST_PREFIX = b"identity/trust/"
STATUS_PREFIX = b"identity/status/"
VERIFIER_PREFIX = b"identity/verifier/"
ALLOCATION_PREFIX = b"identity/allocation/"


def credential_type(vct: str) -> bytes:
    return TYPE_PREFIX + vct.encode()


def trust(vct: str, issuer: AccountId) -> bytes:
    return TRUST_PREFIX + vct.encode() + b"/" + issuer.raw


def trust_prefix(vct: str) -> bytes:
    return TRUST_PREFIX + vct.encode() + b"/"


def status_list(issuer: AccountId, list_id: int) -> bytes:
    return STATUS_PREFIX + issuer.raw + b"/" + fixed_width(list_id, 4, "a status list id")


def status_page(issuer: AccountId, list_id: int, page: int) -> bytes:
    return status_list(issuer, list_id) + b"/" + fixed_width(page, 4, "a status list page")


def verifier(account: AccountId) -> bytes:
    return VERIFIER_PREFIX + account.raw


def allocation_page(issuer: AccountId, list_id: int, page: int) -> bytes:
    """One bit per status entry: set once the issuer has handed the index out."""
    return (
        ALLOCATION_PREFIX
        + issuer.raw
        + b"/"
        + fixed_width(list_id, 4, "a status list id")
        + b"/"
        + fixed_width(page, 4, "an allocation page")
    )
