"""Run one EVM call on Urbis state through the revm extension, and keep its effects.

The extension asks this host for accounts, code and storage slots, and for
native bridge calls; it returns a sorted state diff that `apply` writes
through the transaction's state, with the surviving native layers. Nothing
is written unless the whole call succeeds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode

from urbis import _native
from urbis.chain.block import Event
from urbis.chain.codec import from_wire
from urbis.chain.context import BlockState, Context, TxState
from urbis.chain.errors import UrbisError
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.contracts import bridges, keys
from urbis.modules.contracts.errors import Halted, OutOfGas, Reverted
from urbis.modules.contracts.records import ContractAccount

NATIVE_CODE = b"\xfe"
"""What EXTCODESIZE sees at a bridge address, so compilers' code-exists checks pass."""
NATIVE_CODE_HASH = bytes(32)

CHAIN_ID = 0x55524253
"""The EVM chain id (CHAINID opcode): 'URBS'. The Urbis chain id binds transactions."""


@dataclass
class Layer:
    writes: dict[bytes, bytes | None]
    events: list[Event]


@dataclass
class Outcome:
    status: str
    reason: str
    gas_used: int
    output: bytes
    created: bytes | None
    logs: list[tuple[bytes, list[bytes], bytes]]
    diff: list[
        tuple[bytes, int | None, bytes | None, bytes | None, bool, list[tuple[bytes, bytes]]]
    ]
    alive: list[int]
    layers: dict[int, Layer] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def error(self) -> UrbisError:
        if self.status == "revert":
            return Reverted(f"reverted: {revert_reason(self.output)}", gas_used=self.gas_used)
        if "OutOfGas" in self.reason:
            return OutOfGas(f"out of gas after {self.gas_used}", gas_used=self.gas_used)
        return Halted(f"halted: {self.reason}", gas_used=self.gas_used)


def revert_reason(output: bytes) -> str:
    if output[:4] == bytes.fromhex("08c379a0"):
        try:
            return str(abi_decode(["string"], output[4:])[0])
        except Exception:  # a malformed Error(string) is still a revert
            pass
    return output.hex() or "no reason given"


class Host:
    """State access and native bridges for one EVM call."""

    def __init__(self, ctx: Context, static: bool = False) -> None:
        self.ctx = ctx
        self.static = static
        self.layers: dict[int, Layer] = {}
        self.failure: UrbisError | None = None

    def account(self, address: bytes) -> tuple[int, bytes, bytes] | None:
        if address in bridges.BRIDGES:
            return (1, NATIVE_CODE_HASH, NATIVE_CODE)
        raw = self.ctx.state.get(keys.account(address))
        if raw is None:
            return None
        record = account_record(raw)
        code = self.ctx.state.get(keys.code(record.code_hash)) or b""
        return (record.nonce, record.code_hash, code)

    def storage(self, address: bytes, index: bytes) -> bytes:
        return self.ctx.state.get(keys.slot(address, index)) or b""

    def native(
        self,
        index: int,
        alive: list[int],
        caller: bytes,
        address: bytes,
        data: bytes,
        static: bool,
        gas: int,
    ) -> tuple[int, bytes, int, bool]:
        if self.failure is not None:
            return (2, b"", gas, False)
        try:
            bridge = bridges.find(address, data, static or self.static)
            cost = bridge.gas(len(data))
            if cost > gas:
                return (0, b"", cost, False)  # the extension turns this into out-of-gas
            view: BlockState | TxState = self.ctx.state
            for j in alive:
                layer = TxState(view, max_writes=None)
                layer.writes = self.layers[j].writes
                view = layer
            child = self.ctx.nested(TxState(view))
            output = bridge.call(child, AccountId(caller), data)
        except UrbisError as error:
            # A native failure fails the whole transaction, whatever the contract does next.
            self.failure = error
            return (2, b"", gas, False)
        if bridge.writes:
            self.layers[index] = Layer(child.state.writes, child.events)
        return (0, output, cost, bridge.writes)


def execute(host: Host, caller: bytes, to: bytes | None, data: bytes, gas_limit: int) -> Outcome:
    block = host.ctx.block
    raw: Any = _native.execute(
        host,
        caller,
        to,
        data,
        gas_limit,
        block.height,
        block.time_ms // 1000,
        CHAIN_ID,
        bridges.ADDRESSES,
    )
    outcome = Outcome(*raw)
    outcome.layers = host.layers
    return outcome


def apply(ctx: Context, outcome: Outcome) -> None:
    """Write a successful call's native layers, then its EVM diff."""
    for index in outcome.alive:
        layer = outcome.layers[index]
        ctx.state.absorb(layer.writes)  # other modules' writes, made under their own guard
        ctx.events.extend(layer.events)
    for address, nonce, code_hash, code, destroyed, slots in outcome.diff:
        if destroyed:
            ctx.state.delete(keys.account(address))
        elif code_hash is not None and code is not None:
            ctx.state.put(keys.code(code_hash), code)
            ctx.state.put_record(keys.account(address), ContractAccount(nonce or 1, code_hash))
        elif nonce is not None:
            current = ctx.state.get_record(keys.account(address), ContractAccount)
            if current is not None:
                ctx.state.put_record(
                    keys.account(address), ContractAccount(nonce, current.code_hash)
                )
        for slot, value in slots:
            key = keys.slot(address, slot)
            stripped = value.lstrip(b"\x00")
            if stripped:
                ctx.state.put(key, value)
            else:
                ctx.state.delete(key)


@functools.lru_cache(maxsize=4096)
def account_record(raw: bytes) -> ContractAccount:
    """Decoded once per distinct record: every call reads its caller's and callee's."""
    return from_wire(ContractAccount, decode_trusted(raw))


def block_state(state: BlockState | TxState) -> BlockState:
    while isinstance(state, TxState):
        state = state.parent
    return state
