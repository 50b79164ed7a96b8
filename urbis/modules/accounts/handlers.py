"""Accounts handlers: each checks everything first, then writes."""

from __future__ import annotations

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.modules.accounts import keys
from urbis.modules.accounts.errors import (
    AlreadyApproved,
    AlreadyExists,
    InvalidKeys,
    KeyExists,
    KeyNotFound,
    NoGuardians,
    NoRecovery,
    NotGuardian,
    RecoveryExists,
    RecoveryNotReady,
    ThresholdUnreachable,
    TooManyKeys,
    UnknownAccount,
)
from urbis.modules.accounts.keeper import read_account
from urbis.modules.accounts.records import (
    KEYS_PER_ACCOUNT_MAX,
    Account,
    AccountKey,
    AddKey,
    ApproveRecovery,
    CancelRecovery,
    CreateAccount,
    ExecuteRecovery,
    Guardians,
    KeyChange,
    ProposeRecovery,
    Recovery,
    RemoveKey,
    RotateKey,
    SetGuardians,
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
    record = Account(
        new_keys, threshold, account.created_at_height, [*account.key_history, *changes]
    )
    ctx.state.put_record(keys.account(sender), record)


def _change(ctx: Context, key: AccountKey, change: str) -> KeyChange:
    return KeyChange(ctx.block.height, ctx.block.time_ms, key.key, key.weight, change)


# -- recovery by guardians ----------------------------------------------------------------


def set_guardians(ctx: Context, sender: AccountId, args: SetGuardians) -> None:
    for guardian in args.guardians:
        if read_account(ctx.state, guardian) is None:
            raise UnknownAccount(f"guardian {guardian} has no account")
    if ctx.state.get(keys.recovery(sender)) is not None:
        raise RecoveryExists("a recovery is under way; cancel it first")
    ctx.state.put_record(
        keys.guardians(sender), Guardians(list(args.guardians), args.threshold, args.delay_blocks)
    )
    ctx.emit(
        "accounts.guardians_set",
        account=sender,
        guardians=len(args.guardians),
        threshold=args.threshold,
        delay_blocks=args.delay_blocks,
    )


def propose_recovery(ctx: Context, sender: AccountId, args: ProposeRecovery) -> None:
    guardians = _guardians_of(ctx, args.account, sender)
    if ctx.state.get(keys.recovery(args.account)) is not None:
        raise RecoveryExists(f"a recovery of {args.account} is under way")
    check_key_set(args.new_keys, args.new_threshold)
    recovery = Recovery(
        list(args.new_keys),
        args.new_threshold,
        [sender],
        ctx.block.height,
        ctx.block.height + guardians.delay_blocks,
    )
    ctx.state.put_record(keys.recovery(args.account), recovery)
    ctx.emit(
        "accounts.recovery_proposed",
        account=args.account,
        by=sender,
        ready_at_height=recovery.ready_at_height,
    )


def approve_recovery(ctx: Context, sender: AccountId, args: ApproveRecovery) -> None:
    _guardians_of(ctx, args.account, sender)
    recovery = _recovery(ctx, args.account)
    if sender in recovery.approvals:
        raise AlreadyApproved(f"{sender} already approved this recovery")
    approvals = [*recovery.approvals, sender]
    ctx.state.put_record(
        keys.recovery(args.account),
        Recovery(
            recovery.new_keys,
            recovery.new_threshold,
            approvals,
            recovery.started_at_height,
            recovery.ready_at_height,
        ),
    )
    ctx.emit(
        "accounts.recovery_approved", account=args.account, by=sender, approvals=len(approvals)
    )


def cancel_recovery(ctx: Context, sender: AccountId, args: CancelRecovery) -> None:
    _recovery(ctx, sender)
    ctx.state.delete(keys.recovery(sender))
    ctx.emit("accounts.recovery_cancelled", account=sender)


def execute_recovery(ctx: Context, sender: AccountId, args: ExecuteRecovery) -> None:
    recovery = _recovery(ctx, args.account)
    guardians = ctx.state.get_record(keys.guardians(args.account), Guardians)
    assert guardians is not None, "a recovery exists only where guardians are set"
    approved = sum(1 for g in recovery.approvals if g in guardians.guardians)
    if approved < guardians.threshold:
        raise RecoveryNotReady(f"{approved} of {guardians.threshold} guardians approved")
    if ctx.block.height < recovery.ready_at_height:
        raise RecoveryNotReady(
            f"the owner may still cancel until height {recovery.ready_at_height}"
        )
    account = _own(ctx, args.account)
    removed = [_change(ctx, k, "removed") for k in account.keys]
    added = [_change(ctx, k, "added") for k in recovery.new_keys]
    _replace_keys(
        ctx, args.account, account, recovery.new_keys, recovery.new_threshold, [*removed, *added]
    )
    ctx.state.delete(keys.recovery(args.account))
    ctx.emit("accounts.recovered", account=args.account, by=sender, keys=len(recovery.new_keys))


def _guardians_of(ctx: Context, account: AccountId, sender: AccountId) -> Guardians:
    guardians = ctx.state.get_record(keys.guardians(account), Guardians)
    if guardians is None:
        raise NoGuardians(f"{account} named no guardians")
    if sender not in guardians.guardians:
        raise NotGuardian(f"{sender} is not a guardian of {account}")
    return guardians


def _recovery(ctx: Context, account: AccountId) -> Recovery:
    recovery = ctx.state.get_record(keys.recovery(account), Recovery)
    if recovery is None:
        raise NoRecovery(f"no recovery of {account} is under way")
    return recovery
