"""Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding).

Everything that is signed or hashed goes through `encode`, so two nodes always
produce the same bytes for the same value. `decode` refuses any input that is
not already in that form: a transaction has exactly one valid encoding, so its
hash (the transaction id) cannot be changed by re-encoding it.
"""

from typing import Any

import cbor2

from urbis._native import cbor_decode, cbor_encode

MAX_DEPTH = 32
"""Nesting deeper than this is never produced by Urbis and only costs the decoder."""


class DecodeError(ValueError):
    """The bytes are not one deterministic CBOR value of the allowed types."""


_ALLOWED = (int, str, bytes, bool, type(None))
_LEAVES = frozenset(_ALLOWED)


def encode(value: Any) -> bytes:
    """Encode `value` (ints, strs, bytes, bools, None, lists, str-keyed maps)."""
    _check(value, 0)
    return encode_trusted(value)


def encode_trusted(value: Any) -> bytes:
    """Encode a value built by Urbis's typed code (records, receipts), skipping the type walk.

    Only for values whose every leaf came through the codec's checked
    converters or from our own constructors; anything from outside uses `encode`.
    """
    if type(value) is int and -_INT_LIMIT <= value < _INT_LIMIT:
        return encode_int(value)
    try:
        # Natively, byte for byte what cbor2 writes (property-tested): cbor2 spends
        # most of a record's encoding setting up its encoder.
        return cbor_encode(value)
    except TypeError:  # a type the native encoder leaves to cbor2 (e.g. an int subclass)
        return cbor2.dumps(value, canonical=True)


_INT_LIMIT = 1 << 64


def encode_int(value: int) -> bytes:
    """A CBOR integer in its shortest form (what cbor2's canonical mode writes), in-line.

    Balances and nonces are written on every transfer; cbor2 spends ~4 µs per call
    setting up an encoder, several times the work itself.
    """
    major, number = (0, value) if value >= 0 else (0x20, -1 - value)
    if number < 24:
        return bytes((major | number,))
    if number < 1 << 8:
        return bytes((major | 24, number))
    if number < 1 << 16:
        return bytes((major | 25,)) + number.to_bytes(2, "big")
    if number < 1 << 32:
        return bytes((major | 26,)) + number.to_bytes(4, "big")
    return bytes((major | 27,)) + number.to_bytes(8, "big")


def decode(data: bytes) -> Any:
    """Decode one deterministic CBOR value, rejecting floats, tags and non-canonical forms.

    One native pass (`urbis._native.cbor_decode`); `decode_reference` is the same rule
    in Python (decode, check, re-encode and compare), kept to test it against.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes")
    try:
        return cbor_decode(bytes(data))
    except ValueError as error:
        raise DecodeError(str(error)) from None


def decode_reference(data: bytes) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes")
    try:
        value = cbor2.loads(bytes(data))
    except Exception as error:  # cbor2 raises several unrelated types
        raise DecodeError(f"not valid CBOR: {error}") from None
    try:
        _check(value, 0)
    except (TypeError, ValueError) as error:
        raise DecodeError(str(error)) from None
    if cbor2.dumps(value, canonical=True) != bytes(data):
        raise DecodeError("CBOR is not in deterministic (canonical) form")
    return value


def uvarint(value: int) -> bytes:
    """Protobuf's unsigned varint (ABCI frame lengths, CometBFT's signed-bytes encoding)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_trusted(data: bytes) -> Any:
    """Decode bytes Urbis wrote itself (state values, stored blocks), without the checks.

    The store only holds what `encode`/`encode_trusted` produced, and the state's
    values are covered by the app hash; re-checking canonical form on every read
    was a fifth of a transfer's cost. Anything from outside still uses `decode`.

    The native decoder reads what `encode` writes a dozen times faster than cbor2 (whose
    decoder setup alone is most of a nonce's read); cbor2 still reads anything it
    refuses, so a value the store holds always decodes as it did.
    """
    try:
        return cbor_decode(data)
    except (ValueError, TypeError):  # TypeError: not bytes (a memoryview, a bytearray)
        return cbor2.loads(data)


def _check(value: Any, depth: int) -> None:
    kind = type(value)
    if kind in _LEAVES:
        return
    if depth > MAX_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_DEPTH}")
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _LEAVES:
                _check(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"map keys must be text, got {type(key).__name__}")
            if type(item) not in _LEAVES:
                _check(item, depth + 1)
        return
    if isinstance(value, _ALLOWED):  # subclasses (e.g. IntEnum) of the allowed leaves
        return
    raise TypeError(f"{kind.__name__} cannot be encoded (floats and tags are not allowed)")
