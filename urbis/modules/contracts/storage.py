"""Where a contract variable lives in storage, so its value can be read and proven.

Vyper keeps a `HashMap[K, V]` entry at `keccak256(slot . key)`, with the key
ABI-encoded to one word (dynamic keys hashed first); Solidity keeps a
`mapping(K => V)` entry at `keccak256(key . slot)` (dynamic keys as raw bytes).
In both, a struct's members sit in consecutive slots. With the storage layout
the compiler gave at deployment, this turns "parcels[0x07…].owner" into a
state key with its own proof.
"""

from __future__ import annotations

import re
from typing import Any

from urbis.modules.contracts import abi

_HASHMAP = re.compile(r"^HashMap\[(?P<key>[^,\[]+(?:\[\d*\])?),\s*(?P<value>.+)\]$")
_MAPPING = re.compile(r"^mapping\((?P<key>[^=]+?)\s*=>\s*(?P<value>.+)\)$")


def slot_of(layout: dict[str, Any], variable: str, map_keys: list[Any], offset: int = 0) -> bytes:
    """The 32-byte slot of `variable[map_keys…]` plus `offset` (a struct member's index)."""
    if variable not in layout:
        raise ValueError(f"no storage variable {variable!r}; there are {', '.join(layout)}")
    kind = str(layout[variable]["type"])
    slot = int(layout[variable]["slot"])
    for key in map_keys:
        vyper, solidity = _HASHMAP.match(kind), _MAPPING.match(kind)
        here = slot.to_bytes(32, "big")
        if vyper is not None:
            entry = abi.keccak256(here + _key_word(vyper["key"].strip(), key))
            kind = vyper["value"].strip()
        elif solidity is not None:
            entry = abi.keccak256(_solidity_key(solidity["key"].strip(), key) + here)
            kind = solidity["value"].strip()
        else:
            raise ValueError(f"{variable} is {kind}: it takes no more keys")
        slot = int.from_bytes(entry, "big")
    if offset < 0:
        raise ValueError("offset must be 0 or more")
    return ((slot + offset) % 2**256).to_bytes(32, "big")


def _key_word(kind: str, value: Any) -> bytes:
    if kind.startswith(("String", "Bytes[")):
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return abi.keccak256(raw)
    vyper_to_abi = {"address": "address", "bool": "bool", "bytes32": "bytes32"}
    abi_kind = vyper_to_abi.get(kind, kind)
    return abi.encode_args([abi_kind], [value])


def _solidity_key(kind: str, value: Any) -> bytes:
    if kind in ("string", "bytes"):
        return value.encode() if isinstance(value, str) else bytes(value)
    return abi.encode_args([kind.split(" ")[-1]], [value])


def field_offset(getter_outputs: list[dict[str, Any]], field: str) -> int:
    """A struct member's slot offset, from the public getter's outputs (static members only)."""
    if len(getter_outputs) == 1 and getter_outputs[0].get("type") == "tuple":
        getter_outputs = getter_outputs[0].get("components", [])
    for index, output in enumerate(getter_outputs):
        if output.get("name") == field:
            return index
        if abi.param_type(output) in ("string", "bytes") or abi.param_type(output).endswith("]"):
            break
    raise ValueError(f"cannot place field {field!r}: give --offset (dynamic members before it)")
