"""Compile approved contract source on every node, with the one pinned compiler.

The council approves source and the hash of the bytecode it expects; each
validator compiles the source itself and deploys only if its bytecode hashes
the same. A compiler is part of consensus, so only the pinned one is accepted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from urbis.modules.contracts.abi import keccak256
from urbis.modules.contracts.errors import CompileFailed, UnsupportedCompiler

VYPER = "vyper-0.4.3"
EVM_VERSION = "cancun"
"""Matches the extension's SPEC; a chain upgrade changes both."""

COMPILERS = (VYPER,)


@dataclass(frozen=True)
class Compiled:
    bytecode: bytes
    abi: list[dict[str, Any]]
    storage_layout: dict[str, Any]
    """Variable -> {type, slot, n_slots}: where each storage variable lives, for proofs."""

    @property
    def bytecode_hash(self) -> bytes:
        return keccak256(self.bytecode)


def compile_source(compiler: str, source: str) -> Compiled:
    if compiler not in COMPILERS:
        raise UnsupportedCompiler(
            f"{compiler!r} is not this chain's compiler; use one of {', '.join(COMPILERS)}"
        )
    return _compile_vyper(source)


@functools.lru_cache(maxsize=64)
def _compile_vyper(source: str) -> Compiled:
    import vyper
    from vyper.compiler.settings import OptimizationLevel, Settings

    if f"vyper-{vyper.__version__}" != VYPER:
        raise UnsupportedCompiler(f"this node has vyper {vyper.__version__}, not {VYPER}")
    settings = Settings(evm_version=EVM_VERSION, optimize=OptimizationLevel.GAS)
    try:
        out = vyper.compile_code(
            source, output_formats=["bytecode", "abi", "layout"], settings=settings
        )
    except Exception as error:  # the compiler's own exception types vary by release
        raise CompileFailed(f"{type(error).__name__}: {error}".strip()[:2000]) from None
    layout = {
        name: {"type": str(v["type"]), "slot": int(v["slot"]), "n_slots": int(v["n_slots"])}
        for name, v in out["layout"].get("storage_layout", {}).items()
    }
    return Compiled(bytes.fromhex(out["bytecode"].removeprefix("0x")), out["abi"], layout)
