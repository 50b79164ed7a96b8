"""What other code may use of contracts: a read-only view, a writer, and the checkers
of the module's invariants (module docstring, I1-I5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from urbis.chain.block import Event
from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader
from urbis.chain.errors import BadQuery, NotFound
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.contracts import abi, keys
from urbis.modules.contracts.records import (
    GAS_PER_BLOCK_MAX,
    NAME_PATTERN,
    ContractAccount,
    ContractMeta,
    NameEntry,
)

T = TypeVar("T")

ADDRESS_SIZE = 20
SLOT_SIZE = 32
CODE_HASH_SIZE = 32


class ContractsView:
    """Contracts as committed (or as one transaction sees them); reads only."""

    def __init__(self, state: StateReader) -> None:
        self.state = state

    def _record(self, key: bytes, cls: type[T]) -> T | None:
        raw = self.state.get(key)
        return None if raw is None else from_wire(cls, decode_trusted(raw))

    def is_contract(self, address: AccountId) -> bool:
        """Whether code runs at `address` (residents and departments have no EVM record)."""
        return self.state.has(keys.account(address.raw))

    def account(self, address: AccountId) -> ContractAccount | None:
        return self._record(keys.account(address.raw), ContractAccount)

    def meta(self, address: AccountId) -> ContractMeta | None:
        """What the council approved for the contract at `address`."""
        return self._record(keys.meta(address.raw), ContractMeta)

    def require_meta(self, address: AccountId) -> ContractMeta:
        meta = self.meta(address)
        if meta is None:
            raise NotFound(f"no contract at {address}")
        return meta

    def versions(self, name: str) -> list[AccountId]:
        """Every address deployed under `name`, newest last (empty: no such name)."""
        entry = self._record(keys.name(name), NameEntry)
        return [] if entry is None else entry.versions

    def resolve(self, ref: str) -> AccountId:
        """A contract by address (urbis1…) or by name (its newest version)."""
        if ref.startswith("urbis1"):
            try:
                return AccountId.parse(ref)
            except ValueError as error:
                raise BadQuery(str(error)) from None
        versions = self.versions(ref)
        if not versions:
            raise NotFound(f"no contract named {ref!r}")
        return versions[-1]

    def source(self, address: AccountId) -> str:
        return (self.state.get(keys.source(address.raw)) or b"").decode()

    def storage(self, address: AccountId, index: bytes) -> bytes:
        """One 32-byte slot's value; empty when the slot is zero (zero slots are deleted)."""
        return self.state.get(keys.slot(address.raw, index)) or b""


class ContractsKeeper(ContractsView):
    """The writer: records a council deployment. EVM accounts, code and slots are written
    by `runtime.apply` from a call's state diff."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.state)
        self._ctx = ctx

    def record_deployment(self, meta: ContractMeta, source: str) -> None:
        """Keep what was approved, and list the address under its name (newest last)."""
        state = self._ctx.state
        address = meta.address.raw
        state.put_record(keys.meta(address), meta)
        state.put(keys.source(address), source.encode())
        state.put_record(keys.name(meta.name), NameEntry([*self.versions(meta.name), meta.address]))


# -- invariants --------------------------------------------------------------------------------


class ScanReader(Protocol):
    def scan_prefix(self, prefix: bytes, limit: int = 1000) -> list[tuple[bytes, bytes]]: ...


SCAN_LIMIT = 1_000_000
"""The checkers read the whole module; a test city is far smaller."""


def check_invariants(state: ScanReader) -> list[str]:
    """Describe each way the stored contracts state breaks I1 or I3; empty means fine."""
    rows = dict(state.scan_prefix(keys.PREFIX, limit=SCAN_LIMIT))
    return check_layout(rows) + check_deployments(rows)


def _parts(rows: Mapping[bytes, bytes], prefix: bytes) -> Iterable[tuple[bytes, bytes]]:
    return ((key[len(prefix) :], value) for key, value in rows.items() if key.startswith(prefix))


def _decode(cls: type[T], raw: bytes) -> T:
    return from_wire(cls, decode_trusted(raw))


def check_layout(rows: Mapping[bytes, bytes]) -> list[str]:
    """I1: every EVM account, code and slot is a well-formed key under contracts/ (so the app
    hash covers it): code hashes to its key, each account's code is stored, each slot is a
    non-zero 32-byte word of an existing contract account."""
    problems = []
    known = (
        *(keys.account(b""), keys.code(b""), keys.slot(b"", b"")),
        *(keys.meta(b""), keys.source(b""), keys.name("")),
    )
    for key in rows:
        if not key.startswith(known):
            problems.append(f"I1: unknown key {key!r} under {keys.PREFIX!r}")
    for code_hash, code in _parts(rows, keys.code(b"")):
        if len(code_hash) != CODE_HASH_SIZE or abi.keccak256(code) != code_hash:
            problems.append(f"I1: code stored under {code_hash.hex()} does not hash to it")
    for address, raw in _parts(rows, keys.account(b"")):
        if len(address) != ADDRESS_SIZE:
            problems.append(f"I1: account key of {len(address)} bytes: {address.hex()}")
            continue
        record = _decode(ContractAccount, raw)
        if keys.code(record.code_hash) not in rows:
            problems.append(f"I1: {AccountId(address)} runs unstored code {record.code_hash.hex()}")
    for rest, value in _parts(rows, keys.slot(b"", b"")):
        address, index = rest[:ADDRESS_SIZE], rest[ADDRESS_SIZE:]
        where = f"slot {index.hex()} of {address.hex()}"
        if len(address) != ADDRESS_SIZE or len(index) != SLOT_SIZE:
            problems.append(f"I1: malformed storage key {rest.hex()}")
        elif keys.account(address) not in rows:
            problems.append(f"I1: {where} belongs to no contract")
        if len(value) != SLOT_SIZE or not value.strip(b"\x00"):
            problems.append(f"I1: {where} holds {value.hex()!r}, not a non-zero 32-byte word")
    return problems


def check_deployments(rows: Mapping[bytes, bytes]) -> list[str]:
    """I3: code exists only where a council deployment put it: every contract account has the
    approved metadata and source, listed under its name at its version, each version pointing
    back to the one before it."""
    problems = []
    metas = {address: _decode(ContractMeta, raw) for address, raw in _parts(rows, keys.meta(b""))}
    for raw_address, _ in _parts(rows, keys.account(b"")):
        if raw_address not in metas:
            problems.append(f"I3: code at {AccountId(raw_address)} that no deployment created")
    for raw_address, meta in metas.items():
        if meta.address.raw != raw_address:
            problems.append(f"I3: metadata under {raw_address.hex()} names {meta.address}")
        if keys.source(raw_address) not in rows:
            problems.append(f"I3: {meta.address} keeps no approved source")
    listed: set[bytes] = set()
    for raw_name, raw in _parts(rows, keys.name("")):
        name = raw_name.decode()
        if not NAME_PATTERN.match(name):
            problems.append(f"I3: contract name {name!r} breaks the naming rule")
        versions = _decode(NameEntry, raw).versions
        listed.update(version.raw for version in versions)
        for number, contract in enumerate(versions, start=1):
            found = metas.get(contract.raw)
            previous = versions[number - 2] if number > 1 else None
            if found is None:
                problems.append(f"I3: {name} v{number} at {contract} has no metadata")
            elif (found.name, found.version, found.previous) != (name, number, previous):
                problems.append(
                    f"I3: {contract} is {found.name} v{found.version} after {found.previous}, "
                    f"listed as {name} v{number} after {previous}"
                )
    for raw_address in metas.keys() - listed:
        problems.append(f"I3: {AccountId(raw_address)} is listed under no name")
    return problems


def check_failed_call(
    before: Mapping[bytes, bytes], after: Mapping[bytes, bytes], allowed: Iterable[bytes] = ()
) -> list[str]:
    """I2: a failed call changes nothing (the sender's nonce aside, which `allowed` names;
    the block's gas meter is not state). `before` and `after` are whole-state snapshots."""
    exempt = set(allowed)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return [f"I2: a failed call changed {key!r}" for key in sorted(changed - exempt)]


def check_bridge_callers(state: StateReader, events: Iterable[Event]) -> list[str]:
    """I4: a bridge acts for its direct caller only. Residents cannot call a bridge from a
    transaction (a bridge is no contract), so every money movement among the events of one
    `contracts.call` is sent by a contract, never by the resident who called it."""
    view = ContractsView(state)
    problems = []
    for event in events:
        if event.type != "payments.transferred":
            continue
        sender = AccountId.parse(str(event.attrs["sender"]))
        if not view.is_contract(sender):
            problems.append(f"I4: a contract call moved {sender}'s money")
    return problems


def check_block_gas(gas_used: int) -> list[str]:
    """I5: the block's calls used at most GAS_PER_BLOCK_MAX gas."""
    if gas_used <= GAS_PER_BLOCK_MAX:
        return []
    return [f"I5: the block's calls used {gas_used} gas, more than {GAS_PER_BLOCK_MAX}"]
