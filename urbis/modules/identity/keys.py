"""Every state key the identity module writes. None of them holds personal data."""

from urbis.chain.ids import AccountId
from urbis.chain.keyparts import fixed_width

PREFIX = b"identity/"
TYPE_PREFIX = b"identity/type/"


def credential_type(vct: str) -> bytes:
    return TYPE_PREFIX + vct.encode()


def trust(vct: str, issuer: AccountId) -> bytes:
    return b"identity/trust/" + vct.encode() + b"/" + issuer.raw


def trust_prefix(vct: str) -> bytes:
    return b"identity/trust/" + vct.encode() + b"/"


def status_list(issuer: AccountId, list_id: int) -> bytes:
    return b"identity/status/" + issuer.raw + b"/" + fixed_width(list_id, 4, "a status list id")


def status_page(issuer: AccountId, list_id: int, page: int) -> bytes:
    return status_list(issuer, list_id) + b"/" + fixed_width(page, 4, "a status list page")


def verifier(account: AccountId) -> bytes:
    return b"identity/verifier/" + account.raw
