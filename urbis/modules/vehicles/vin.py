"""Vehicle identification numbers: 17 characters with the check digit in position 9.

ISO 3779 fixes the VIN's 17 characters (digits and capitals, never I, O or Q).
Its check digit is the North American rule (49 CFR 565.15), which the transport
department applies to every VIN it registers: each character is transliterated
to a number, multiplied by its position's weight, and the sum modulo 11 is the
ninth character (10 written as X).
"""

from __future__ import annotations

VIN_LENGTH = 17
"""ISO 3779: a VIN is exactly 17 characters."""
CHECK_POSITION = 8
"""The check digit is the ninth character (index 8)."""

ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
"""Digits and capitals without I, O and Q (ISO 3565), which read as 1 and 0."""

_LETTER_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(vin: str) -> str:
    """The check digit a 17-character VIN should carry (its own ninth character ignored)."""
    total = sum(_LETTER_VALUES[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_problem(vin: str) -> str | None:
    """Why `vin` is not a valid VIN, or None when it is."""
    if len(vin) != VIN_LENGTH:
        return f"a VIN has {VIN_LENGTH} characters; {vin!r} has {len(vin)}"
    wrong = sorted(set(vin) - ALPHABET)
    if wrong:
        return f"a VIN uses digits and capitals except I, O, Q; {vin!r} has {''.join(wrong)!r}"
    expected = check_digit(vin)
    if vin[CHECK_POSITION] != expected:
        return f"VIN {vin} has check digit {vin[CHECK_POSITION]}; its characters give {expected}"
    return None


def with_check_digit(vin: str) -> str:
    """`vin` with its ninth character set to the right check digit (tests, demos)."""
    return vin[:CHECK_POSITION] + check_digit(vin) + vin[CHECK_POSITION + 1 :]
