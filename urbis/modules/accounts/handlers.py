"""Accounts handlers: each checks everything first, then writes."""

from __future__ import annotations

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.modules.accounts import keys
from urbis.modules.accounts.errors import (
    AlreadyExists,
    InvalidKeys,
    KeyExists,
    KeyNotFound,
    ThresholdUnreachable,
    TooManyKeys,
)
from urbis.modules.accounts.keeper import read_account
from urbis.modules.accounts.records import (
    KEYS_PER_ACCOUNT_MAX,
    Account,
    AccountKey,
    AddKey,
    CreateAccount,
    KeyChange,
    RemoveKey,
    RotateKey,
    SetThreshold,
)


def create_account(ctx: Context, sender: AccountId, args: CreateAccount) -> None:
    check_key_set(args.keys, args.threshold)
    account_id = AccountId.from_key(args.keys[0].key)
    if read_account(ctx.state, account_id) is not None:
        raise AlreadyExists(f"account {account_id} already exists", account=account_id)
    write_new_account(ctx, account_id, args.keys, args.threshold)
    ctx.emit("accounts.created", account=account_id, by=sender, threshold=args.threshold)


def write_new_account(
    ctx: Context, account_id: AccountId, account_keys: list[AccountKey], threshold: int
) -> None:
    """Shared by the create action and genesis, so both leave the same records."""
    history = [_change(ctx, k, "added") for k in account_keys]
    record = Account(list(account_keys), threshold, ctx.block.height, history)
    ctx.state.put_record(keys.account(account_id), record)


def add_key(ctx: Context, sender: AccountId, args: AddKey) -> None:
    account = _own(ctx, sender)
    if account.find(args.key) is not None:
        raise KeyExists(f"key {args.key.hex()[:16]}… is already on {sender}")
    if len(account.keys) >= KEYS_PER_ACCOUNT_MAX:
        raise TooManyKeys(f"an account holds at most {KEYS_PER_ACCOUNT_MAX} keys")
    new_key = AccountKey(args.key, args.weight)
    _replace_keys(
        ctx,
        sender,
        account,
        [*account.keys, new_key],
        account.threshold,
        [_change(ctx, new_key, "added")],
    )
    ctx.emit("accounts.key_added", account=sender, key=args.key, weight=args.weight)


def remove_key(ctx: Context, sender: AccountId, args: RemoveKey) -> None:
    account = _own(ctx, sender)
    old = account.find(args.key)
    if old is None:
        raise KeyNotFound(f"key {args.key.hex()[:16]}… is not on {sender}")
    remaining = [k for k in account.keys if k.key != args.key]
    _replace_keys(
        ctx, sender, account, remaining, account.threshold, [_change(ctx, old, "removed")]
    )
    ctx.emit("accounts.key_removed", account=sender, key=args.key)


def rotate_key(ctx: Context, sender: AccountId, args: RotateKey) -> None:
    account = _own(ctx, sender)
    old = account.find(args.old_key)
    if old is None:
        raise KeyNotFound(f"key {args.old_key.hex()[:16]}… is not on {sender}")
    if account.find(args.new_key) is not None:
        raise KeyExists(f"key {args.new_key.hex()[:16]}… is already on {sender}")
    new = AccountKey(args.new_key, old.weight)
    rotated = [new if k.key == args.old_key else k for k in account.keys]
    _replace_keys(
        ctx,
        sender,
        account,
        rotated,
        account.threshold,
        [_change(ctx, old, "removed"), _change(ctx, new, "added")],
    )
    ctx.emit("accounts.key_rotated", account=sender, old_key=args.old_key, new_key=args.new_key)


def set_threshold(ctx: Context, sender: AccountId, args: SetThreshold) -> None:
    account = _own(ctx, sender)
    _replace_keys(ctx, sender, account, account.keys, args.threshold, [])
    ctx.emit("accounts.threshold_set", account=sender, threshold=args.threshold)


def check_key_set(account_keys: list[AccountKey], threshold: int) -> None:
    if not account_keys:
        raise InvalidKeys("an account needs at least one key")
    if len(account_keys) > KEYS_PER_ACCOUNT_MAX:
        raise TooManyKeys(f"an account holds at most {KEYS_PER_ACCOUNT_MAX} keys")
    if len({k.key for k in account_keys}) != len(account_keys):
        raise InvalidKeys("the same key is listed twice")
    total = sum(k.weight for k in account_keys)
    if not 1 <= threshold <= total:
        raise ThresholdUnreachable(
            f"threshold {threshold} must be between 1 and the keys' total weight {total}"
        )


def _own(ctx: Context, sender: AccountId) -> Account:
    account = read_account(ctx.state, sender)
    assert account is not None, "an authenticated sender has an account"
    return account


def _replace_keys(
    ctx: Context,
    sender: AccountId,
    account: Account,
    new_keys: list[AccountKey],
    threshold: int,
    changes: list[KeyChange],
) -> None:
    check_key_set(new_keys, threshold)
    record = Account(new_keys, threshold, account.created_height, [*account.key_history, *changes])
    ctx.state.put_record(keys.account(sender), record)


def _change(ctx: Context, key: AccountKey, change: str) -> KeyChange:
    return KeyChange(ctx.block.height, ctx.block.time_ms, key.key, key.weight, change)
