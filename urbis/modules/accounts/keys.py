"""Every state key the accounts module writes."""

from urbis.chain.ids import AccountId

PREFIX = b"accounts/"


def account(account_id: AccountId) -> bytes:
    return b"accounts/account/" + account_id.raw


def nonce(account_id: AccountId) -> bytes:
    return b"accounts/nonce/" + account_id.raw


def guardians(account_id: AccountId) -> bytes:
    return b"accounts/guardians/" + account_id.raw


def recovery(account_id: AccountId) -> bytes:
    return b"accounts/recovery/" + account_id.raw
