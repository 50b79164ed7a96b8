"""Native bridges: precompiles at fixed addresses that let contracts use city modules.

A bridge acts for its direct caller (the calling contract, or the resident
when called from a transaction), through the same action path as a signed
transaction, so roles, limits and errors are the modules' own. Contracts
move only money they hold: the sender of every bridged action is the caller.

Each bridge is a table of ABI functions; Vyper calls them through an
`interface` like any contract. Gas is a fixed price per call plus input size,
the same on every node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from urbis.chain.codec import to_wire
from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action
from urbis.modules.contracts.abi import selector
from urbis.modules.contracts.errors import BadNativeCall, NativeWriteInStaticCall
from urbis.modules.contracts.needs import GovernanceView, IdentityView, PaymentsView


def _native(n: int) -> bytes:
    return bytes(18) + n.to_bytes(2, "big")


PAYMENTS = _native(0x5001)
GOVERNANCE = _native(0x5002)
IDENTITY = _native(0x5003)
CLOCK = _native(0x5004)

READ_GAS = 2_600
WRITE_GAS = 25_000
GAS_PER_INPUT_BYTE = 16

Run = Callable[[Context, AccountId, Sequence[Any]], Sequence[Any]]


@dataclass(frozen=True)
class Bridge:
    signature: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Run
    writes: bool

    def gas(self, input_size: int) -> int:
        return (WRITE_GAS if self.writes else READ_GAS) + GAS_PER_INPUT_BYTE * input_size

    def call(self, ctx: Context, caller: AccountId, data: bytes) -> bytes:
        try:
            args = abi_decode(list(self.inputs), data[4:], strict=True)
        except Exception as error:  # eth_abi raises several decoding error types
            raise BadNativeCall(f"{self.signature}: bad arguments ({error})") from None
        return abi_encode(list(self.outputs), list(self.run(ctx, caller, args)))


def _account(raw: str | bytes) -> AccountId:
    return AccountId(bytes.fromhex(raw[2:]) if isinstance(raw, str) else raw)


def _dispatch(ctx: Context, caller: AccountId, module: str, name: str, **args: Any) -> None:
    wire = to_wire(args)
    assert isinstance(wire, dict)
    ctx.dispatch(caller, Action(module, name, wire))


def _ok(*_: Any) -> tuple[bool]:
    return (True,)


# -- payments --------------------------------------------------------------------------------


def _transfer(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    to, asset, amount, transfer_id = a
    _dispatch(
        ctx,
        caller,
        "payments",
        "transfer",
        id=transfer_id,
        recipient=_account(to),
        asset=asset,
        amount_minor=amount,
    )
    return _ok()


def _balance_of(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    account, asset = a
    return (ctx.view("payments", PaymentsView).balance(asset, _account(account)),)


def _issue_invoice(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    invoice_id, department, payer, kind, asset, amount, due_at_ms, details_hash = a
    _dispatch(
        ctx,
        caller,
        "payments",
        "issue_invoice",
        id=invoice_id,
        department=department,
        payer=_account(payer),
        kind=kind,
        asset=asset,
        amount_minor=amount,
        due_at_ms=due_at_ms,
        details_hash=details_hash,
    )
    return _ok()


def _collect_invoice(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    department, invoice_id = a
    _dispatch(
        ctx, caller, "payments", "collect_invoice", department=department, invoice_id=invoice_id
    )
    return _ok()


def _pay_invoice(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    invoice_id, amount = a
    _dispatch(ctx, caller, "payments", "pay_invoice", invoice_id=invoice_id, amount_minor=amount)
    return _ok()


def _approve_escrow(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    _dispatch(ctx, caller, "payments", "approve_escrow", id=a[0])
    return _ok()


def _escrow_of(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    escrow = ctx.view("payments", PaymentsView).escrow(a[0])
    if escrow is None:
        return (False, bytes(20), bytes(20), "", 0, "")
    return (
        True,
        escrow.payer.raw,
        escrow.beneficiary.raw,
        escrow.asset,
        escrow.amount_minor,
        escrow.status,
    )


def _invoice_of(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    invoice = ctx.view("payments", PaymentsView).invoice(a[0])
    if invoice is None:
        return (False, bytes(20), bytes(20), "", 0, 0, "")
    return (
        True,
        invoice.payer.raw,
        invoice.payee.raw,
        invoice.asset,
        invoice.amount_minor,
        invoice.paid_minor,
        invoice.status,
    )


def _can_collect(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    payer, department, asset, amount = a
    payments = ctx.view("payments", PaymentsView)
    return (payments.can_collect(_account(payer), department, asset, amount, ctx.block.time_ms),)


# -- governance, identity, clock --------------------------------------------------------------


def _has_role(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    account, role = a
    return (ctx.view("governance", GovernanceView).has_role(_account(account), role),)


def _create_status_list(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    list_id, size = a
    _dispatch(ctx, caller, "identity", "create_status_list", list_id=list_id, size=size, bits=2)
    return _ok()


def _set_status(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    list_id, index, status = a
    _dispatch(ctx, caller, "identity", "set_status", list_id=list_id, index=index, status=status)
    return _ok()


def _status_of(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    issuer, list_id, index = a
    status = ctx.view("identity", IdentityView).status_of(_account(issuer), list_id, index)
    return (status is not None, status or 0)


def _now(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    return (ctx.block.time_ms,)


def _height(ctx: Context, caller: AccountId, a: Sequence[Any]) -> Sequence[Any]:
    return (ctx.block.height,)


def _table(*bridges: Bridge) -> dict[bytes, Bridge]:
    return {selector(b.signature): b for b in bridges}


def _bridge(name: str, inputs: str, outputs: str, run: Run, writes: bool) -> Bridge:
    ins = tuple(t for t in inputs.split(",") if t)
    return Bridge(
        f"{name}({','.join(ins)})", ins, tuple(t for t in outputs.split(",") if t), run, writes
    )


BRIDGES: dict[bytes, dict[bytes, Bridge]] = {
    PAYMENTS: _table(
        _bridge("transfer", "address,string,uint256,bytes32", "bool", _transfer, True),
        _bridge("balanceOf", "address,string", "uint256", _balance_of, False),
        _bridge(
            "issueInvoice",
            "bytes32,string,address,string,string,uint256,uint64,bytes32",
            "bool",
            _issue_invoice,
            True,
        ),
        _bridge("collectInvoice", "string,bytes32", "bool", _collect_invoice, True),
        _bridge("canCollect", "address,string,string,uint256", "bool", _can_collect, False),
        _bridge("payInvoice", "bytes32,uint256", "bool", _pay_invoice, True),
        _bridge("approveEscrow", "bytes32", "bool", _approve_escrow, True),
        _bridge(
            "escrowOf", "bytes32", "bool,address,address,string,uint256,string", _escrow_of, False
        ),
        _bridge(
            "invoiceOf",
            "bytes32",
            "bool,address,address,string,uint256,uint256,string",
            _invoice_of,
            False,
        ),
    ),
    GOVERNANCE: _table(_bridge("hasRole", "address,string", "bool", _has_role, False)),
    IDENTITY: _table(
        _bridge("createStatusList", "uint32,uint32", "bool", _create_status_list, True),
        _bridge("setStatus", "uint32,uint256,uint8", "bool", _set_status, True),
        _bridge("statusOf", "address,uint32,uint256", "bool,uint8", _status_of, False),
    ),
    CLOCK: _table(
        _bridge("now", "", "uint64", _now, False),
        _bridge("height", "", "uint64", _height, False),
    ),
}
ADDRESSES = sorted(BRIDGES)


def find(address: bytes, data: bytes, static: bool) -> Bridge:
    bridge = BRIDGES[address].get(data[:4])
    if bridge is None:
        raise BadNativeCall(f"native bridge {address.hex()} has no function {data[:4].hex()}")
    if static and bridge.writes:
        raise NativeWriteInStaticCall(f"{bridge.signature} changes state; not in a static call")
    return bridge
