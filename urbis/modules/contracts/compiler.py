"""Compile approved contract source on every node, with the pinned compilers.

The council approves source and the hash of the bytecode it expects; each
validator compiles the source itself and deploys only if its bytecode hashes
the same. A compiler is part of consensus, so only the pinned ones are
accepted: Vyper (a Python dependency of the node) and, for outside vendors,
Solidity (solc from npm, installed by `scripts/install-solc`). A node that
lacks a compiler a block needs stops at that block (CompilerUnavailable is
not an UrbisError) rather than decide differently from the others.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urbis.modules.contracts.abi import keccak256
from urbis.modules.contracts.errors import CompileFailed, UnsupportedCompiler

VYPER = "vyper-0.4.3"
SOLC_VERSION = "0.8.37"
SOLC = f"solc-{SOLC_VERSION}"
EVM_VERSION = "cancun"
"""Matches the extension's SPEC; a chain upgrade changes both."""

COMPILERS = (VYPER, SOLC)
SOLC_TIMEOUT_S = 120


class CompilerUnavailable(RuntimeError):
    """This node cannot run a compiler the chain accepts: it must stop, not diverge."""


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
    if compiler == SOLC:
        return _compile_solidity(source)
    return _compile_vyper(source)


def solc_module() -> Path:
    """Where the pinned solc npm package is (URBIS_SOLC overrides)."""
    override = os.environ.get("URBIS_SOLC")
    if override:
        return Path(override)
    return Path.home() / ".cache" / "urbis" / SOLC / "node_modules" / "solc"


_SOLC_RUNNER = (
    "const solc = require(process.argv[1]); let input = '';"
    "process.stdin.on('data', d => input += d);"
    "process.stdin.on('end', () => process.stdout.write(solc.compile(input)));"
)


@functools.lru_cache(maxsize=64)
def _compile_solidity(source: str) -> Compiled:
    node, module = shutil.which("node"), solc_module()
    if node is None or not (module / "package.json").exists():
        raise CompilerUnavailable(
            f"{SOLC} is not installed on this node (node.js and {module}); "
            "run scripts/install-solc, then restart the node"
        )
    request = {
        "language": "Solidity",
        "sources": {"contract.sol": {"content": source}},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "storageLayout"]}},
        },
    }
    done = subprocess.run(
        [node, "-e", _SOLC_RUNNER, str(module)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=SOLC_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise CompilerUnavailable(f"{SOLC} failed to run: {done.stderr.strip()[:500]}")
    out = json.loads(done.stdout)
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileFailed(
            "; ".join(e.get("formattedMessage", e["message"]) for e in errors)[:2000]
        )
    deployable = {
        name: item
        for name, item in out.get("contracts", {}).get("contract.sol", {}).items()
        if item["evm"]["bytecode"]["object"]
    }
    if len(deployable) != 1:
        raise CompileFailed(
            f"the source must define exactly one deployable contract, not {sorted(deployable)}"
        )
    (item,) = deployable.values()
    layout = _solidity_layout(item.get("storageLayout") or {})
    return Compiled(bytes.fromhex(item["evm"]["bytecode"]["object"]), item["abi"], layout)


def _solidity_layout(storage: dict[str, Any]) -> dict[str, Any]:
    types = storage.get("types") or {}
    return {
        entry["label"]: {
            "type": types.get(entry["type"], {}).get("label", entry["type"]),
            "slot": int(entry["slot"]),
            "offset": int(entry.get("offset", 0)),
            "n_slots": max(1, int(types.get(entry["type"], {}).get("numberOfBytes", "32")) // 32),
        }
        for entry in storage.get("storage", [])
    }


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
