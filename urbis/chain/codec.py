"""One codec between wire values (CBOR-ready) and typed dataclasses.

Action arguments and state records are frozen dataclasses. `from_wire` checks
each field against its annotation (int, str, bytes, bool, AccountId, lists,
maps, optionals, nested dataclasses), so a handler never sees a raw dict, and
says exactly which field was wrong when the input does not fit.

A converter is built once per type and cached: decoding runs for every
record a transaction touches, so it must not re-read annotations each time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, Union

from urbis.chain.ids import AccountId

T = TypeVar("T")
Converter = Callable[[Any, str], Any]

INT_MAX = 2**128 - 1
"""Every integer on the wire fits 128 bits; larger ones are refused, never wrapped."""


class CodecError(ValueError):
    """The wire value does not fit the declared type."""


def to_wire(value: Any) -> Any:
    if isinstance(value, AccountId):
        return value.raw
    kind = type(value)
    if kind in PLAIN_TYPES:
        return value
    names = _dataclass_fields(typing.cast(Any, kind))
    if names is not None:
        # Most fields are plain: taken as they are, without a call each (a record is
        # written on every transfer).
        wire = {}
        for name in names:
            field = getattr(value, name)
            wire[name] = field if type(field) in PLAIN_TYPES else to_wire(field)
        return wire
    if kind is list or kind is tuple:
        return [to_wire(v) for v in value]
    if kind is dict:
        return {k: to_wire(v) for k, v in value.items()}
    return value


PLAIN_TYPES = frozenset({int, str, bytes, bool, type(None)})
"""Values that are their own wire form."""


@cache
def _dataclass_fields(kind: type) -> tuple[str, ...] | None:
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(f.name for f in dataclasses.fields(kind))


def from_wire(cls: type[T], value: Any) -> T:
    return typing.cast(T, _converter(typing.cast(Any, cls))(value, cls.__name__))


@cache
def _converter(annotation: Any) -> Converter:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = typing.get_args(annotation)
        inner = [o for o in options if o is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        convert_inner = _converter(inner[0])
        nullable = type(None) in options

        def convert_optional(value: Any, where: str) -> Any:
            if value is None and nullable:
                return None
            return convert_inner(value, where)

        return convert_optional
    if origin is list or origin is tuple:
        convert_item = _converter(typing.get_args(annotation)[0])
        as_tuple = origin is tuple

        def convert_list(value: Any, where: str) -> Any:
            if not isinstance(value, list):
                raise CodecError(f"{where}: expected a list, got {_kind(value)}")
            items = [convert_item(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if as_tuple else items

        return convert_list
    if origin is dict:
        convert_value = _converter(typing.get_args(annotation)[1])

        def convert_map(value: Any, where: str) -> Any:
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise CodecError(f"{where}: expected a map with text keys, got {_kind(value)}")
            return {k: convert_value(v, f"{where}.{k}") for k, v in value.items()}

        return convert_map
    if annotation is Any:
        return lambda value, where: value
    if annotation is AccountId:
        return _account_id
    if dataclasses.is_dataclass(annotation):
        return _dataclass_converter(annotation)  # type: ignore[arg-type]
    simple = _SIMPLE.get(annotation)
    if simple is None:
        raise TypeError(f"unsupported type {annotation!r}")
    return simple


def _account_id(value: Any, where: str) -> AccountId:
    if type(value) is not bytes or len(value) != 20:
        raise CodecError(f"{where}: expected a 20-byte account id")
    return AccountId(value)


def _boolean(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise CodecError(f"{where}: expected a boolean, got {_kind(value)}")
    return value


def _integer(value: Any, where: str) -> int:
    if type(value) is not int:
        raise CodecError(f"{where}: expected an integer, got {_kind(value)}")
    if not -INT_MAX <= value <= INT_MAX:
        raise CodecError(f"{where}: integer does not fit 128 bits")
    return value


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise CodecError(f"{where}: expected text, got {_kind(value)}")
    return value


def _bytes(value: Any, where: str) -> bytes:
    if type(value) is not bytes:
        raise CodecError(f"{where}: expected bytes, got {_kind(value)}")
    return value


_SIMPLE: dict[Any, Converter] = {bool: _boolean, int: _integer, str: _text, bytes: _bytes}


def _dataclass_converter(cls: type) -> Converter:
    hints = typing.get_type_hints(cls)
    fields = []
    for field in dataclasses.fields(cls):
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        fields.append((field.name, required))
    known = frozenset(name for name, _ in fields)
    converters: dict[str, Converter] = {}

    def convert(value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise CodecError(f"{where}: expected a map, got {_kind(value)}")
        if not known.issuperset(value):
            unknown = sorted(set(value) - known)
            raise CodecError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
        kwargs = {}
        for name, required in fields:
            if name in value:
                converter = converters.get(name)
                if converter is None:  # built lazily: records may refer to each other
                    converter = converters[name] = _converter(hints[name])
                kwargs[name] = converter(value[name], f"{where}.{name}")
            elif required:
                raise CodecError(f"{where}: missing field {name!r}")
        try:
            return cls(**kwargs)
        except (ValueError, TypeError) as error:
            raise CodecError(f"{where}: {error}") from None

    return convert


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
