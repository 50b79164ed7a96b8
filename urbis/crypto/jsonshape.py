"""How deep a JSON text nests and how long its numbers run, without parsing it.

The standard parser recurses once per level and refuses numbers of over
4,300 digits with errors of their own, so anything that parses JSON from
outside (the API, the CLI) asks here first. Strings are cut out (brackets and
digits inside them don't count); then each pass removes the innermost `[]`
pairs, so the depth is decided by C-speed byte operations, never a Python
loop per byte.
"""

from __future__ import annotations

import json
import re
from typing import Any

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)')
"""A JSON string; one never closed runs to the end of the text, so a flood of `\\"` is
matched in one linear pass instead of being retried from every quote."""
_KEEP_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")


def outside_strings(text: bytes | str) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return _STRING.sub(b'""', raw)


def nests_deeper_than(text: bytes | str, depth_max: int) -> bool:
    brackets = outside_strings(text).translate(_SQUARE).translate(None, _KEEP_BRACKETS)
    if b"[" * (depth_max + 1) in brackets:
        return True  # also catches openers never closed, which the passes leave alone
    for _ in range(depth_max):
        if b"[]" not in brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return b"[]" in brackets


def has_number_longer_than(text: bytes | str, digits_max: int) -> bool:
    return re.search(rb"[0-9]{%d,}" % (digits_max + 1), outside_strings(text)) is not None


DEPTH_MAX_DEFAULT = 64


def loads_bounded(text: bytes | str, depth_max: int = DEPTH_MAX_DEFAULT, **options: Any) -> Any:
    """`json.loads`, but a text nested deeper than `depth_max` is a ValueError first.

    The parser recurses in C once per level, bounded only by the recursion limit, which
    libraries raise for the whole process (py_ecc sets 100,000): past the C stack that is
    a segmentation fault, not a RecursionError. JSON carried inside a transaction (a
    schema, a ballot) is never checked by the API's body limits, so it is checked here."""
    if nests_deeper_than(text, depth_max):
        raise ValueError(f"JSON nested deeper than {depth_max} levels")
    return json.loads(text, **options)
