"""Pieces of state keys that modules' keys.py share.

A number inside a key has a fixed width so keys sort by it. A number from a
transaction or a query (a proposal id, a status list id) can be anything the
codec admits, so the width is checked here, once, and a number that does not
fit is the caller's mistake (`tx.invalid_args`), never an OverflowError that
escapes a block.
"""

from __future__ import annotations

from urbis.chain.errors import InvalidArgs


def fixed_width(number: int, size: int, what: str) -> bytes:
    """`number` as `size` big-endian bytes; InvalidArgs if it is negative or too large."""
    if not 0 <= number < 1 << (8 * size):
        raise InvalidArgs(f"{what} must be 0 to {(1 << (8 * size)) - 1}, not {number}")
    return number.to_bytes(size, "big")
