"""Every state key the petitions module writes."""

from urbis.chain.ids import AccountId

PREFIX = b"petitions/"


def petition(petition_id: bytes) -> bytes:
    return PREFIX + b"petition/" + petition_id


def signature(petition_id: bytes, account: AccountId) -> bytes:
    return PREFIX + b"signature/" + petition_id + b"/" + account.raw
