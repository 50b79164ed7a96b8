"""The Ethereum ABI for Urbis: selectors, calls, return values and logs.

Addresses cross the boundary as Urbis account ids (`urbis1…`): a contract
address and a resident's account are the same 20 bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from Crypto.Hash import keccak
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from urbis.chain.ids import AccountId

Abi = list[dict[str, Any]]


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(param_type(i) for i in item.get('inputs', []))})"


def param_type(param: dict[str, Any]) -> str:
    """The canonical ABI type of a parameter (tuples spelled out)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(param_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind


def selector(sig: str) -> bytes:
    return keccak256(sig.encode())[:4]


def function(abi: Abi, name: str) -> dict[str, Any]:
    matches = [i for i in abi if i.get("type") == "function" and i.get("name") == name]
    if not matches:
        known = sorted(i["name"] for i in abi if i.get("type") == "function")
        raise ValueError(f"no function {name!r}; the contract has {', '.join(known)}")
    return matches[0]


def encode_call(abi: Abi, name: str, args: Sequence[Any]) -> bytes:
    item = function(abi, name)
    types = [param_type(i) for i in item.get("inputs", [])]
    if len(args) != len(types):
        raise ValueError(f"{name} takes {len(types)} arguments ({', '.join(types)})")
    return selector(signature(item)) + abi_encode(
        types, [to_abi(t, a) for t, a in zip(types, args, strict=True)]
    )


def encode_args(types: Sequence[str], args: Sequence[Any]) -> bytes:
    return abi_encode(list(types), [to_abi(t, a) for t, a in zip(types, args, strict=True)])


def decode_output(abi: Abi, name: str, data: bytes) -> list[Any]:
    types = [param_type(o) for o in function(abi, name).get("outputs", [])]
    return [from_abi(t, v) for t, v in zip(types, abi_decode(types, data), strict=True)]


def to_abi(kind: str, value: Any) -> Any:
    """Accept what a person types: urbis1… ids, hex strings for bytes, digits for ints."""
    if kind == "address":
        if isinstance(value, AccountId):
            return value.raw
        if isinstance(value, str) and not value.startswith("0x"):
            return AccountId.parse(value).raw
        return value
    if kind.startswith(("uint", "int")) and isinstance(value, str):
        return int(value, 0)
    if kind.startswith("bytes") and isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if kind.startswith("bytes") and kind != "bytes" and isinstance(value, bytes):
        # eth_abi would pad a short value silently: an id that matches nothing.
        if len(value) != int(kind[5:]):
            raise ValueError(f"{kind} takes exactly {kind[5:]} bytes, got {len(value)}")
        return value
    if kind == "bool" and isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return value


def from_abi(kind: str, value: Any) -> Any:
    if kind == "address":
        return AccountId(bytes.fromhex(value[2:])).text
    if kind.endswith("]") and isinstance(value, (list, tuple)):
        inner = kind[: kind.rindex("[")]
        return [from_abi(inner, v) for v in value]
    if kind.startswith("(") and isinstance(value, tuple):
        return [from_abi(k, v) for k, v in zip(_components(kind[1:-1]), value, strict=True)]
    return value


def _components(inner: str) -> list[str]:
    """Split a tuple type's inside at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p for p in parts if p]


def event_topics(abi: Abi) -> dict[bytes, dict[str, Any]]:
    return {
        keccak256(signature(i).encode()): i
        for i in abi
        if i.get("type") == "event" and not i.get("anonymous")
    }


def decode_log(item: dict[str, Any], topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
    """A log as {argument: value}; indexed dynamic values are only their hash."""
    inputs = item.get("inputs", [])
    indexed = [i for i in inputs if i.get("indexed")]
    plain = [i for i in inputs if not i.get("indexed")]
    values: dict[str, Any] = {}
    for param, topic in zip(indexed, topics[1:], strict=False):
        kind = param_type(param)
        values[param["name"]] = topic if _word_kind(kind) is None else _word(kind, topic)
    kinds = [param_type(p) for p in plain]
    if all(_word_kind(k) for k in kinds) and len(data) == 32 * len(kinds):
        # Logs run on every call: static words decode without eth_abi's generality.
        for i, (param, kind) in enumerate(zip(plain, kinds, strict=True)):
            values[param["name"]] = _word(kind, data[32 * i : 32 * i + 32])
        return values
    for param, value in zip(plain, abi_decode(kinds, data), strict=True):
        values[param["name"]] = from_abi(param_type(param), value)
    return values


def _word_kind(kind: str) -> str | None:
    """The family of a type that fits one 32-byte word, or None."""
    for family in ("address", "bool", "uint", "int", "bytes"):
        if kind.startswith(family) and (family != "bytes" or kind[5:].isdigit()):
            return family
    return None


def _word(kind: str, word: bytes) -> Any:
    family = _word_kind(kind)
    if family == "address":
        return AccountId(word[12:]).text
    if family == "bool":
        return word[-1] == 1
    if family == "uint":
        return int.from_bytes(word, "big")
    if family == "int":
        return int.from_bytes(word, "big", signed=True)
    return word[: int(kind[5:])]


def create_address(deployer: bytes, nonce: int) -> bytes:
    """CREATE's address: keccak(rlp([deployer, nonce]))[12:], for nonces below 0x80."""
    if not 0 <= nonce < 0x80:
        raise ValueError("deployer nonces stay below 128")
    encoded_nonce = b"\x80" if nonce == 0 else bytes([nonce])
    payload = b"\x94" + deployer + encoded_nonce
    return keccak256(bytes([0xC0 + len(payload)]) + payload)[12:]
