"""Bech32m text form for identifiers (BIP 350), so a mistyped account id is caught.

The checksum detects any error in up to four characters; ids read aloud or
copied by hand fail loudly instead of naming somebody else.
"""

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 90


class Bech32Error(ValueError):
    """Text is not a valid bech32m string with the expected prefix."""


def _table() -> list[int]:
    """XOR of the generator terms for each value of the 5 bits shifted out (BIP 173)."""
    table = []
    for top in range(32):
        value = 0
        for bit in range(5):
            if (top >> bit) & 1:
                value ^= _GENERATOR[bit]
        table.append(value)
    return table


_TABLE = _table()


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        checksum = ((checksum & 0x1FFFFFF) << 5) ^ value ^ _TABLE[checksum >> 25]
    return checksum


def _expand_prefix(prefix: str) -> list[int]:
    return [ord(c) >> 5 for c in prefix] + [0] + [ord(c) & 31 for c in prefix]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    accumulator = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & max_value)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & max_value)
    elif bits >= from_bits or ((accumulator << (to_bits - bits)) & max_value):
        raise Bech32Error("invalid padding")
    return out


def encode(prefix: str, data: bytes) -> str:
    words = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_expand_prefix(prefix), *words, 0, 0, 0, 0, 0, 0]) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return prefix + "1" + "".join(CHARSET[w] for w in words + checksum)


def decode(expected_prefix: str, text: str) -> bytes:
    if len(text) > MAX_LENGTH:
        raise Bech32Error(f"too long ({len(text)} characters)")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed case")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1 or separator + 7 > len(text):
        raise Bech32Error("missing separator or checksum")
    prefix, rest = text[:separator], text[separator + 1 :]
    if prefix != expected_prefix:
        raise Bech32Error(f"expected prefix {expected_prefix!r}, got {prefix!r}")
    try:
        words = [CHARSET.index(c) for c in rest]
    except ValueError:
        raise Bech32Error("invalid character") from None
    if _polymod(_expand_prefix(prefix) + words) != _BECH32M_CONST:
        raise Bech32Error("checksum does not match (a character is wrong or missing)")
    return bytes(_convert_bits(words[:-6], 5, 8, pad=False))
