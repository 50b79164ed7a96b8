"""Checkers of the invariants in the accounts module's docstring; an empty list means fine.

`check_invariants` reads one state; `check_transition` compares the module's state before
and after some blocks (a snapshot from `snapshot`), for the invariants about change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.accounts import keys
from urbis.modules.accounts.records import Account

SCAN_MAX = 1_000_000
"""Checkers run in tests and audits over whole test cities: read every key."""


def snapshot(state: Any) -> dict[bytes, bytes]:
    """The module's keys and values in `state` (a store with `scan_prefix`)."""
    return dict(state.scan_prefix(keys.PREFIX, SCAN_MAX))


def check_invariants(state: Any) -> list[str]:
    """I1 and I3 over every account in `state`."""
    problems: list[str] = []
    for key, raw in snapshot(state).items():
        account_id = AccountId(key[-20:])
        if key != keys.account(account_id):
            continue
        account = from_wire(Account, decode_trusted(raw))
        problems += _check_threshold(account_id, account)
        problems += _check_id(account_id, account)
    return problems


def _check_threshold(account_id: AccountId, account: Account) -> list[str]:
    """I1; a keyless account (a contract's) has no keys and threshold 1: no one signs."""
    if not account.keys:
        if account.threshold != 1:
            return [f"I1: keyless account {account_id} has threshold {account.threshold}"]
        return []
    if not 1 <= account.threshold <= account.weight():
        return [f"I1: {account_id} threshold {account.threshold} outside 1..{account.weight()}"]
    return []


def _check_id(account_id: AccountId, account: Account) -> list[str]:
    """I3: the first key ever added names the account (a keyless account has no history)."""
    if not account.key_history:
        return []
    first = account.key_history[0]
    if first.change != "added" or AccountId.from_key(first.key) != account_id:
        return [f"I3: {account_id} is not the hash of its first key"]
    return []


def check_transition(
    before: Mapping[bytes, bytes],
    after: Mapping[bytes, bytes],
    txs_by_sender: Mapping[AccountId, int] | None = None,
) -> list[str]:
    """I2 and I3 (ids never change: no account disappears) between two snapshots.

    With `txs_by_sender` (the authenticated transactions each account had included in
    between), I2's "by one per transaction" is checked too; without, only that nonces grow.
    """
    problems: list[str] = []
    nonces_before = _nonces(before)
    nonces_after = _nonces(after)
    for account_id, old in nonces_before.items():
        if nonces_after.get(account_id, 0) < old:
            problems.append(f"I2: nonce of {account_id} went back from {old}")
    if txs_by_sender is not None:
        for account_id in sorted(set(nonces_after) | set(txs_by_sender)):
            grown = nonces_after.get(account_id, 0) - nonces_before.get(account_id, 0)
            if grown != txs_by_sender.get(account_id, 0):
                problems.append(
                    f"I2: nonce of {account_id} grew by {grown}, "
                    f"{txs_by_sender.get(account_id, 0)} transactions were included"
                )
    for key in before:
        if key == keys.account(AccountId(key[-20:])) and key not in after:
            problems.append(f"I3: account {AccountId(key[-20:])} disappeared")
    return problems


def _nonces(rows: Mapping[bytes, bytes]) -> dict[AccountId, int]:
    nonces = {}
    for key, raw in rows.items():
        account_id = AccountId(key[-20:])
        if key == keys.nonce(account_id):
            nonces[account_id] = int(decode_trusted(raw))
    return nonces
