"""One codec between wire values (CBOR-ready) and typed dataclasses.

Action arguments and state records are frozen dataclasses. `from_wire` checks
each field against its annotation (int, str, bytes, bool, AccountId, lists,
optionals, nested dataclasses), so a handler never sees a raw dict, and says
exactly which field was wrong when the input does not fit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar, Union

from urbis.chain.ids import AccountId

T = TypeVar("T")

INT_MAX = 2**128 - 1
"""Every integer on the wire fits 128 bits; larger ones are refused, never wrapped."""


class CodecError(ValueError):
    """The wire value does not fit the declared type."""


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_wire(value: Any) -> Any:
    if isinstance(value, AccountId):
        return value.raw
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(cls: type[T], value: Any) -> T:
    return typing.cast(T, _convert(cls, value, cls.__name__))


def _convert(annotation: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, where)
        raise CodecError(f"{where}: unsupported union")
    if origin is list or origin is tuple:
        if not isinstance(value, list):
            raise CodecError(f"{where}: expected a list, got {_kind(value)}")
        (item_type, *_) = typing.get_args(annotation)
        items = [_convert(item_type, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise CodecError(f"{where}: expected a map with text keys, got {_kind(value)}")
        _, value_type = typing.get_args(annotation)
        return {k: _convert(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        if value not in typing.get_args(annotation):
            raise CodecError(
                f"{where}: expected one of {typing.get_args(annotation)}, got {value!r}"
            )
        return value
    if annotation is Any:
        return value
    if annotation is AccountId:
        if not isinstance(value, bytes) or len(value) != 20:
            raise CodecError(f"{where}: expected a 20-byte account id")
        return AccountId(value)
    if dataclasses.is_dataclass(annotation):
        return _dataclass(annotation, value, where)  # type: ignore[arg-type]
    if annotation is bool:
        if not isinstance(value, bool):
            raise CodecError(f"{where}: expected a boolean, got {_kind(value)}")
        return value
    if annotation is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CodecError(f"{where}: expected an integer, got {_kind(value)}")
        if not -INT_MAX <= value <= INT_MAX:
            raise CodecError(f"{where}: integer does not fit 128 bits")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise CodecError(f"{where}: expected text, got {_kind(value)}")
        return value
    if annotation is bytes:
        if not isinstance(value, bytes):
            raise CodecError(f"{where}: expected bytes, got {_kind(value)}")
        return value
    raise CodecError(f"{where}: unsupported type {annotation!r}")


def _dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise CodecError(f"{where}: expected a map, got {_kind(value)}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise CodecError(f"{where}: unknown field(s) {', '.join(unknown)}")
    kwargs = {}
    for name, field in fields.items():
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise CodecError(f"{where}: missing field {name!r}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        raise CodecError(f"{where}: {error}") from None


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
