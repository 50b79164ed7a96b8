"""The revm extension against py-evm, the reference EVM: same bytecode, same calls, same storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth import constants
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from eth.vm.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.chain.context import BlockInfo, BlockState, Context, TxState
from urbis.modules.contracts import abi, keys, runtime
from urbis.modules.contracts.compiler import VYPER, compile_source

TOKEN = (Path(__file__).resolve().parent.parent / "contracts" / "token.vy").read_text()
ACTORS = [bytes([0xA0 + i]) * 20 for i in range(4)]
MINTER = ACTORS[0]
DEPLOYER = bytes([0xDE]) * 20
GAS = 1_000_000
TIME_S = 1_700_000_000


class UrbisEvm:
    """The extension over a plain in-memory state, no chain around it."""

    def __init__(self) -> None:
        self.block = BlockState(_Empty())
        self.info = BlockInfo("diff", 1, TIME_S * 1000, b"")

    def run(self, caller: bytes, to: bytes | None, data: bytes) -> tuple[bool, bytes, bytes | None]:
        ctx = Context(self.info, TxState(self.block), {}, _no_dispatch)
        outcome = runtime.execute(runtime.Host(ctx), caller, to, data, GAS)
        if outcome.ok:
            runtime.apply(ctx, outcome)
            ctx.state.merge()
        return outcome.ok, outcome.output, outcome.created

    def slot(self, address: bytes, index: bytes) -> int:
        return int.from_bytes(self.block.get(keys.slot(address, index)) or b"", "big")


class ReferenceEvm:
    """py-evm's Cancun VM, driven message by message."""

    def __init__(self) -> None:
        chain_class = MiningChain.configure(
            __name__="Reference", vm_configuration=((0, CancunVM),), chain_id=1
        )
        genesis = {
            "difficulty": 0,
            "gas_limit": 30_000_000,
            "timestamp": TIME_S,
            "coinbase": constants.ZERO_ADDRESS,
            "nonce": b"\x00" * 8,
            "mix_hash": constants.ZERO_HASH32,
            "extra_data": b"",
            "base_fee_per_gas": 0,
        }
        self.state = chain_class.from_genesis(AtomicDB(), genesis, {}).get_vm().state

    def run(self, caller: bytes, to: bytes | None, data: bytes, create: bytes = b"") -> Any:
        context = self.state.get_transaction_context_class()(gas_price=0, origin=caller)
        snapshot = self.state.snapshot()
        if to is None:
            message = Message(
                GAS, constants.CREATE_CONTRACT_ADDRESS, caller, 0, b"", data, create_address=create
            )
            computation = self.state.computation_class.apply_create_message(
                self.state, message, context
            )
        else:
            message = Message(GAS, to, caller, 0, data, self.state.get_code(to))
            computation = self.state.computation_class.apply_message(self.state, message, context)
        if computation.is_error:
            self.state.revert(snapshot)
        else:
            self.state.commit(snapshot)
        return computation

    def slot(self, address: bytes, index: bytes) -> int:
        return int(self.state.get_storage(address, int.from_bytes(index, "big")))


class _Empty:
    def get(self, key: bytes) -> bytes | None:
        return None

    def has(self, key: bytes) -> bool:
        return False


def _no_dispatch(*_: Any) -> None:
    raise AssertionError("the token uses no native bridge")


def slots() -> list[bytes]:
    """Every slot the token can write: balances, allowances, supply, minter."""
    out = [i.to_bytes(32, "big") for i in range(4)]
    for a in ACTORS:
        out.append(abi.keccak256((0).to_bytes(32, "big") + bytes(12) + a))
        inner = abi.keccak256((1).to_bytes(32, "big") + bytes(12) + a)
        out.extend(abi.keccak256(inner + bytes(12) + b) for b in ACTORS)
    return out


operation = st.one_of(
    st.tuples(
        st.just("mint"), st.sampled_from(ACTORS), st.sampled_from(ACTORS), st.integers(0, 2**64)
    ),
    st.tuples(
        st.just("transfer"), st.sampled_from(ACTORS), st.sampled_from(ACTORS), st.integers(0, 2**64)
    ),
    st.tuples(
        st.just("approve"), st.sampled_from(ACTORS), st.sampled_from(ACTORS), st.integers(0, 2**64)
    ),
    st.tuples(
        st.just("transferFrom"),
        st.sampled_from(ACTORS),
        st.sampled_from(ACTORS),
        st.integers(0, 2**64),
    ),
)


@settings(deadline=None, max_examples=40)
@given(st.lists(operation, min_size=1, max_size=25))
def test_token_storage_matches_py_evm(ops: list[tuple[str, bytes, bytes, int]]) -> None:
    compiled = compile_source(VYPER, TOKEN)
    init = compiled.bytecode + abi.encode_args(["address"], [MINTER])
    ours, reference = UrbisEvm(), ReferenceEvm()
    address = abi.create_address(DEPLOYER, 0)
    ok, _, created = ours.run(DEPLOYER, None, init)
    assert ok and created == address
    assert not reference.run(DEPLOYER, None, init, create=address).is_error
    for name, caller, other, amount in ops:
        args = {
            "mint": [other, amount],
            "transfer": [other, amount],
            "approve": [other, amount],
            "transferFrom": [other, caller, amount],
        }[name]
        data = abi.encode_call(compiled.abi, name, args)
        ok, output, _ = ours.run(caller, address, data)
        computation = reference.run(caller, address, data)
        assert ok == (not computation.is_error), (name, computation.error if not ok else None)
        if ok:
            assert output == computation.output
    for index in slots():
        assert ours.slot(address, index) == reference.slot(address, index)


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("address"), st.binary(min_size=20, max_size=20)),
            st.tuples(st.just("uint256"), st.integers(0, 2**256 - 1)),
            st.tuples(st.just("int64"), st.integers(-(2**63), 2**63 - 1)),
            st.tuples(st.just("bool"), st.booleans()),
            st.tuples(st.just("bytes32"), st.binary(min_size=32, max_size=32)),
        ),
        max_size=6,
    )
)
def test_fast_log_decoding_matches_eth_abi(params: list[tuple[str, Any]]) -> None:
    from eth_abi import decode as abi_decode
    from eth_abi import encode as abi_encode

    kinds = [k for k, _ in params]
    values = [v for _, v in params]
    item = {"inputs": [{"name": f"a{i}", "type": k, "indexed": False} for i, k in enumerate(kinds)]}
    data = abi_encode(kinds, values)
    fast = abi.decode_log(item, [b"\x00" * 32], data)
    reference = [abi.from_abi(k, v) for k, v in zip(kinds, abi_decode(kinds, data), strict=True)]
    assert list(fast.values()) == reference
