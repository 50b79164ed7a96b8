"""Accounts: who can sign for whom.

An account holds up to 16 Ed25519 keys with weights and a threshold; a
transaction is authentic when its valid signatures by the account's keys
reach the threshold. Keys rotate without changing the account id, so an
identity survives the loss of a device. The DID `did:urbis:<id>` names it.

I1  every account's threshold is between 1 and its keys' total weight
    (a keyless account, a contract's, has no keys and threshold 1)
I2  an account's nonce only grows, by one per included authenticated transaction
I3  an account id is the tagged hash of its first key; ids never change
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import Context, StateReader
from urbis.chain.errors import BadQuery, NotFound
from urbis.chain.genesis import Genesis
from urbis.chain.ids import AccountId
from urbis.chain.module import ActionSpec, Module
from urbis.modules.accounts import handlers, keys
from urbis.modules.accounts.keeper import (
    AccountsKeeper,
    AccountsView,
    read_account,
    read_nonce,
)
from urbis.modules.accounts.records import (
    AccountKey,
    AddKey,
    ApproveRecovery,
    CancelRecovery,
    CreateAccount,
    ExecuteRecovery,
    ProposeRecovery,
    RemoveKey,
    RotateKey,
    SetGuardians,
    SetThreshold,
)


def init_genesis(ctx: Context, genesis: Genesis) -> None:
    for account in genesis.accounts:
        account_keys = [AccountKey(k.key, k.weight) for k in account.keys]
        handlers.check_key_set(account_keys, account.threshold)
        handlers.write_new_account(ctx, account.id, account_keys, account.threshold)


def query_account(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        account_id = AccountId.parse(params.get("id", ""))
    except ValueError as error:
        raise BadQuery(str(error)) from None
    account = read_account(state, account_id)
    if account is None:
        raise NotFound(f"account {account_id} does not exist")
    return {
        "id": account_id.text,
        "did": account_id.did,
        "keys": [{"key": k.key.hex(), "weight": k.weight} for k in account.keys],
        "threshold": account.threshold,
        "nonce": read_nonce(state, account_id),
        "created_at_height": account.created_at_height,
        "key_history": [
            {
                "changed_at_height": c.changed_at_height,
                "time_ms": c.time_ms,
                "key": c.key.hex(),
                "weight": c.weight,
                "change": c.change,
            }
            for c in account.key_history
        ],
    }


module = Module(
    name="accounts",
    actions={
        "create": ActionSpec(CreateAccount, handlers.create_account, None, "Create an account"),
        "add_key": ActionSpec(AddKey, handlers.add_key, None, "Add a key to your account"),
        "remove_key": ActionSpec(RemoveKey, handlers.remove_key, None, "Remove one of your keys"),
        "rotate_key": ActionSpec(RotateKey, handlers.rotate_key, None, "Replace one of your keys"),
        "set_threshold": ActionSpec(
            SetThreshold, handlers.set_threshold, None, "Change your signature threshold"
        ),
        "set_guardians": ActionSpec(
            SetGuardians,
            handlers.set_guardians,
            None,
            "Name who may recover your account, and the delay",
        ),
        "propose_recovery": ActionSpec(
            ProposeRecovery,
            handlers.propose_recovery,
            None,
            "Guardian: propose new keys for a lost account",
        ),
        "approve_recovery": ActionSpec(
            ApproveRecovery, handlers.approve_recovery, None, "Guardian: approve a recovery"
        ),
        "cancel_recovery": ActionSpec(
            CancelRecovery,
            handlers.cancel_recovery,
            None,
            "Owner: stop a recovery during its delay",
        ),
        "execute_recovery": ActionSpec(
            ExecuteRecovery,
            handlers.execute_recovery,
            None,
            "Anyone: apply an approved recovery after its delay",
        ),
    },
    queries={"account": query_account},
    keeper=AccountsKeeper,
    view=AccountsView,
    init_genesis=init_genesis,
    prefix=keys.PREFIX,
)
