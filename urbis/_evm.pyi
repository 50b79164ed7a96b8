"""Types of the revm extension (native/evm, built by maturin)."""

from typing import Any

SPEC: str
MARKER: bytes

def execute(
    host: Any,
    caller: bytes,
    to: bytes | None,
    data: bytes,
    gas_limit: int,
    number: int,
    timestamp: int,
    chain_id: int,
    native: list[bytes],
) -> tuple[Any, ...]: ...
def smt_update(
    committed: dict[bytes, bytes], root: bytes, items: list[tuple[bytes, bytes | None]]
) -> tuple[bytes, list[tuple[bytes, bytes]], list[bytes]]: ...
