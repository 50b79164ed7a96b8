"""Contracts records (what state holds) and action arguments (what txs carry)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from urbis.chain.ids import AccountId

GAS_PER_TX_DEFAULT = 3_000_000
GAS_PER_TX_MAX = 30_000_000
GAS_PER_BLOCK_MAX = 200_000_000
"""Bounds the EVM work one block can make every validator do (no fees, so gas is only a meter)."""

SOURCE_BYTES_MAX = 64 * 1024
"""Bounds what every node compiles per deployment (the largest shipped contract is ~7 KiB)."""
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,47}$")


@dataclass(frozen=True, slots=True)
class ContractAccount:
    nonce: int
    code_hash: bytes


@dataclass(frozen=True, slots=True)
class ContractMeta:
    """What the council approved, kept for every version so anyone can read what runs."""

    address: AccountId
    name: str
    version: int
    compiler: str
    source_hash: bytes
    bytecode_hash: bytes
    abi_json: str
    deployed_at_height: int
    deploy_tx: bytes
    previous: AccountId | None = None
    layout_json: str = ""
    """The compiler's storage layout, so a variable's slot (and its proof) can be found."""


@dataclass(frozen=True, slots=True)
class NameEntry:
    versions: list[AccountId]


@dataclass(frozen=True, slots=True)
class Deploy:
    """Council only: compile `source` here and deploy it if it hashes to `bytecode_hash`."""

    name: str
    compiler: str
    source: str
    bytecode_hash: bytes
    constructor_args: bytes = b""
    gas_limit: int = GAS_PER_TX_DEFAULT

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError("name is 2-48 of a-z, 0-9, _ and -, starting with a letter")
        if not 0 < len(self.source.encode()) <= SOURCE_BYTES_MAX:
            raise ValueError(f"source must be 1 to {SOURCE_BYTES_MAX} bytes")
        if len(self.bytecode_hash) != 32:
            raise ValueError("bytecode_hash must be the 32-byte keccak-256 of the bytecode")
        check_gas(self.gas_limit)


@dataclass(frozen=True, slots=True)
class Call:
    """Call a contract; `data` is the ABI-encoded call (selector + arguments)."""

    contract: AccountId
    data: bytes
    gas_limit: int = GAS_PER_TX_DEFAULT

    def __post_init__(self) -> None:
        if len(self.data) < 4:
            raise ValueError("data must hold at least a 4-byte function selector")
        check_gas(self.gas_limit)


def check_gas(gas_limit: int) -> None:
    if not 21_000 <= gas_limit <= GAS_PER_TX_MAX:
        raise ValueError(f"gas_limit must be 21000 to {GAS_PER_TX_MAX}")
