"""Contracts: an EVM (revm, through the `urbis._native` extension) on Urbis state.

Code runs only after a council proposal approves its source: every node
compiles the source with the pinned compiler and deploys only if the
bytecode hashes as approved. Contracts reach payments, governance and
identity through native bridges at fixed addresses, acting as themselves.

I1  every EVM account, code and slot is Urbis state under contracts/ (provable)
I2  a failed call (revert, out of gas, native failure) changes nothing but the block's gas meter
    (and the sender's nonce, which every failed transaction spends)
I3  code exists only at addresses a council deployment created; calls cannot create code
I4  a bridge acts for its direct caller only; never through DELEGATECALL or CALLCODE
I5  the block's calls use at most GAS_PER_BLOCK_MAX gas

Each has a checker in keeper.py (check_layout I1, check_failed_call I2,
check_deployments I3, check_bridge_callers I4, check_block_gas I5, asserted
at every end of block); tests/test_contracts_invariants.py runs them after
random sequences of actions.
"""

from __future__ import annotations

import json
from typing import Any

from urbis.chain.context import BlockInfo, BlockState, Context, StateReader, TxState
from urbis.chain.errors import InvariantBroken, UrbisError
from urbis.chain.ids import COUNCIL, AccountId
from urbis.chain.module import COUNCIL_ROLE, ActionSpec, Module
from urbis.modules.contracts import handlers, keys, runtime
from urbis.modules.contracts.errors import UnknownContract
from urbis.modules.contracts.keeper import ContractsKeeper, ContractsView, check_block_gas
from urbis.modules.contracts.records import (
    GAS_PER_TX_DEFAULT,
    Call,
    ContractMeta,
    Deploy,
)


def resolve(state: StateReader, ref: str) -> AccountId:
    """A contract by address (urbis1…) or by name (its newest version)."""
    return ContractsView(state).resolve(ref)


def read_meta(state: StateReader, address: AccountId) -> ContractMeta:
    return ContractsView(state).require_meta(address)


def query_contract(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    view = ContractsView(state)
    address = view.resolve(params.get("ref", ""))
    meta = view.require_meta(address)
    return {
        "address": address.text,
        "name": meta.name,
        "version": meta.version,
        "versions": [v.text for v in view.versions(meta.name)],
        "compiler": meta.compiler,
        "bytecode_hash": meta.bytecode_hash.hex(),
        "source_hash": meta.source_hash.hex(),
        "deployed_at_height": meta.deployed_at_height,
        "deploy_tx": meta.deploy_tx.hex(),
        "previous": meta.previous.text if meta.previous else None,
        "abi": json.loads(meta.abi_json),
        "storage_layout": json.loads(meta.layout_json or "{}"),
        "source": view.source(address),
    }


def read_only_call(
    state: StateReader,
    block: BlockInfo,
    contract: AccountId,
    data: bytes,
    caller: AccountId | None = None,
    gas_limit: int = GAS_PER_TX_DEFAULT,
) -> runtime.Outcome:
    """Run a call on committed state and throw its effects away (views, simulations)."""
    tx_state = TxState(BlockState(state))
    if not ContractsView(tx_state).is_contract(contract):
        raise UnknownContract(f"no contract at {contract}")

    def no_dispatch(*_: Any) -> None:
        raise UrbisError("read-only calls cannot change native state")

    ctx = Context(block, tx_state, {}, no_dispatch)
    host = runtime.Host(ctx, static=True)
    outcome = runtime.execute(host, (caller or COUNCIL).raw, contract.raw, data, gas_limit)
    if host.failure is not None:
        raise host.failure
    return outcome


def end_block(ctx: Context) -> None:
    """Assert I5 on the block's gas meter (the node halts rather than commit a block over it)."""
    problems = check_block_gas(runtime.block_state(ctx.state).gas_used)
    if problems:
        raise InvariantBroken("; ".join(problems))


module = Module(
    name="contracts",
    actions={
        "deploy": ActionSpec(
            Deploy, handlers.deploy, COUNCIL_ROLE, "Compile approved source and deploy it"
        ),
        "call": ActionSpec(Call, handlers.call, None, "Call a contract function"),
    },
    queries={"contract": query_contract},
    keeper=ContractsKeeper,
    view=ContractsView,
    end_block=end_block,
    prefix=keys.PREFIX,
)
