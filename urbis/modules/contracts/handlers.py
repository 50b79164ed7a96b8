"""Contracts actions: deploy (council) and call."""

from __future__ import annotations

import functools
import json
from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.crypto.hashing import tagged_hash
from urbis.modules.contracts import abi, keys, runtime
from urbis.modules.contracts.compiler import compile_source
from urbis.modules.contracts.errors import (
    AddressTaken,
    BlockGasExhausted,
    BytecodeMismatch,
    CreateForbidden,
    UnknownContract,
)
from urbis.modules.contracts.keeper import ContractsKeeper
from urbis.modules.contracts.needs import AccountsWriter
from urbis.modules.contracts.records import (
    GAS_PER_BLOCK_MAX,
    Call,
    ContractMeta,
    Deploy,
)

INT_EVENT_MAX = 2**63 - 1
"""Larger event integers travel as decimal strings (receipts keep to 64-bit CBOR ints)."""


def deploy(ctx: Context, sender: AccountId, args: Deploy) -> None:
    compiled = compile_source(args.compiler, args.source)
    if compiled.bytecode_hash != args.bytecode_hash:
        raise BytecodeMismatch(
            f"{args.compiler} compiles this source to {compiled.bytecode_hash.hex()}, "
            f"the proposal approved {args.bytecode_hash.hex()}"
        )
    contracts = ContractsKeeper(ctx)
    versions = contracts.versions(args.name)
    version = len(versions) + 1
    deployer = tagged_hash("contracts/deployer", f"{args.name}/{version}".encode())[:20]
    address = abi.create_address(deployer, 0)
    contract = AccountId(address)
    accounts = ctx.keeper("accounts", AccountsWriter)
    if accounts.exists(contract):
        raise AddressTaken(f"{contract} is already an account; deploy under another name")
    # The account exists before the constructor runs, so a constructor can act through
    # the bridges as the contract (the licensing contract creates its status list).
    accounts.create_keyless(contract)
    outcome = _run(ctx, deployer, None, compiled.bytecode + args.constructor_args, args.gas_limit)
    if outcome.created != address:
        raise CreateForbidden(f"deployment created {outcome.created!r}, expected {address.hex()}")
    _keep(ctx, outcome, allow_create=address)
    meta = ContractMeta(
        address=contract,
        name=args.name,
        version=version,
        compiler=args.compiler,
        source_hash=tagged_hash("contracts/source", args.source.encode()),
        bytecode_hash=compiled.bytecode_hash,
        abi_json=json.dumps(compiled.abi, sort_keys=True, separators=(",", ":")),
        deployed_at_height=ctx.block.height,
        deploy_tx=ctx.tx_id,
        previous=versions[-1] if versions else None,
        layout_json=json.dumps(compiled.storage_layout, sort_keys=True, separators=(",", ":")),
    )
    contracts.record_deployment(meta, args.source)
    ctx.emit(
        "contracts.deployed",
        contract=contract,
        name=args.name,
        version=version,
        bytecode_hash=compiled.bytecode_hash,
        gas_used=outcome.gas_used,
    )


def call(ctx: Context, sender: AccountId, args: Call) -> None:
    address = args.contract.raw
    if not ContractsKeeper(ctx).is_contract(args.contract):
        raise UnknownContract(f"no contract at {args.contract}")
    outcome = _run(ctx, sender.raw, address, args.data, args.gas_limit)
    _keep(ctx, outcome, allow_create=None)
    ctx.emit("contracts.called", contract=args.contract, caller=sender, gas_used=outcome.gas_used)


def _run(
    ctx: Context, caller: bytes, to: bytes | None, data: bytes, gas_limit: int
) -> runtime.Outcome:
    block = runtime.block_state(ctx.state)
    if block.gas_used + gas_limit > GAS_PER_BLOCK_MAX:
        raise BlockGasExhausted(
            f"the block has {GAS_PER_BLOCK_MAX - block.gas_used} gas left, "
            f"the call asks {gas_limit}"
        )
    host = runtime.Host(ctx)
    outcome = runtime.execute(host, caller, to, data, gas_limit)
    block.gas_used += outcome.gas_used  # spent even when the call fails
    if host.failure is not None:
        raise host.failure
    if not outcome.ok:
        raise outcome.error()
    return outcome


def _keep(ctx: Context, outcome: runtime.Outcome, allow_create: bytes | None) -> None:
    for address, _, code_hash, _, _, _ in outcome.diff:
        if code_hash is not None and address != allow_create:
            raise CreateForbidden(
                f"a contract tried to create {AccountId(address)}; new code needs the council"
            )
    runtime.apply(ctx, outcome)
    for address, topics, data in outcome.logs:
        _emit_log(ctx, address, topics, data)


def _emit_log(ctx: Context, address: bytes, topics: list[bytes], data: bytes) -> None:
    raw_meta = ctx.state.get(keys.meta(address))
    item = None
    if raw_meta is not None and topics:
        item = _events_of(raw_meta).get(topics[0])
    if item is None:
        ctx.emit("contracts.log", contract=AccountId(address), topics=topics, data=data)
        return
    values = {k: _event_safe(v) for k, v in abi.decode_log(item, topics, data).items()}
    ctx.emit("contracts.event", contract=AccountId(address), event=item["name"], args=values)


@functools.lru_cache(maxsize=256)
def _events_of(raw_meta: bytes) -> dict[bytes, dict[str, Any]]:
    """A contract's events by topic, cached by its (immutable) metadata bytes."""
    meta = from_wire(ContractMeta, decode_trusted(raw_meta))
    return abi.event_topics(json.loads(meta.abi_json))


def _event_safe(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -INT_EVENT_MAX <= value <= INT_EVENT_MAX:
        return str(value)
    if isinstance(value, list):
        return [_event_safe(v) for v in value]
    return value
