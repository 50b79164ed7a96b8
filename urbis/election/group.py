# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF002, RUF003
"""The ElectionGuard group: parameter sets, element checks, fast exponentiation (§3.1, §6.1).

Every received value goes through `element()` (a member of the order-q subgroup of Z_p^*)
or `exponent()` (a member of Z_q) before it is used, so a ciphertext component equal to 0,
at least p, or outside the subgroup is refused at the edge with its own error code.

Exponentiation has a plain path (`gmpy2.powmod`) and two faster paths with the same results:
`FixedBase` (a comb table for g, K and K̂, whose bases never change during an election) and
`multi_exp` (interleaved windows for a product of several powers, as in eq. 14/28/94).
Tests compare each faster path against the plain one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gmpy2
from gmpy2 import mpz


class ElectionCryptoError(ValueError):
    """A value or proof that the ElectionGuard rules refuse; `code` is stable for callers."""

    code: ClassVar[str] = "election.invalid"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ElementZero(ElectionCryptoError):
    code = "election.element_zero"


class ElementOutOfRange(ElectionCryptoError):
    code = "election.element_out_of_range"


class ElementNotInSubgroup(ElectionCryptoError):
    code = "election.element_not_in_subgroup"


class ExponentOutOfRange(ElectionCryptoError):
    code = "election.exponent_out_of_range"


def _hex(text: str) -> int:
    return int("".join(text.split()), 16)


@dataclass(frozen=True, eq=False)
class Group:
    """One parameter set (p, q, r, g); byte widths follow §5.1 (l_p, l_q)."""

    name: str
    p: mpz
    q: mpz
    r: mpz
    g: mpz
    p_bytes: int = field(init=False)
    q_bytes: int = field(init=False)
    _tables: dict[int, FixedBase] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_bytes", (int(self.p).bit_length() + 7) // 8)
        object.__setattr__(self, "q_bytes", (int(self.q).bit_length() + 7) // 8)
        object.__setattr__(self, "_tables", {})

    # -- membership ----------------------------------------------------------------------

    def is_element(self, x: int) -> bool:
        """x is in Z_p^r: 0 <= x < p and x^q mod p == 1 (which also excludes 0)."""
        return 0 < x < self.p and gmpy2.powmod(x, self.q, self.p) == 1

    def element(self, x: int, what: str = "value", *, subgroup: bool = True) -> mpz:
        """Return x as an mpz if it is in the subgroup; otherwise raise with a precise code.

        `subgroup=False` checks only 0 < x < p: for callers that test membership later in
        the same pass as a proof (`powers(..., check_subgroup=True)`), never to skip it."""
        if not isinstance(x, int | type(mpz(0))):
            raise ElementOutOfRange(f"{what} is not an integer", what=what)
        if x == 0:
            raise ElementZero(f"{what} is 0, not a group element", what=what)
        if x < 0 or x >= self.p:
            raise ElementOutOfRange(f"{what} is outside 1..p-1", what=what)
        value = mpz(x)
        if subgroup and gmpy2.powmod(value, self.q, self.p) != 1:
            raise ElementNotInSubgroup(f"{what} is not in the order-q subgroup", what=what)
        return value

    def exponent(self, x: int, what: str = "value") -> mpz:
        """Return x as an mpz if 0 <= x < q (Z_q); otherwise raise."""
        if not isinstance(x, int | type(mpz(0))) or x < 0 or x >= self.q:
            raise ExponentOutOfRange(f"{what} is outside 0..q-1", what=what)
        return mpz(x)

    # -- arithmetic ----------------------------------------------------------------------

    def random_exponent(self) -> mpz:
        return mpz(secrets.randbelow(int(self.q)))

    def pow(self, base: int, e: int) -> mpz:
        """Plain modular exponentiation (the reference path)."""
        return gmpy2.powmod(base, e, self.p)

    def mul(self, *values: int) -> mpz:
        result = mpz(1)
        for value in values:
            result = result * value % self.p
        return result

    def inv(self, x: int) -> mpz:
        return gmpy2.invert(x, self.p)

    def g_pow(self, e: int) -> mpz:
        """g^e through the fixed-base table."""
        return self.fixed_base(self.g).pow(e)

    def fixed_base(self, base: int) -> FixedBase:
        """A cached comb table for `base` (g, K, K̂): built once, reused for every exponent."""
        key = int(base)
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= 16:
                self._tables.pop(next(iter(self._tables)))
            table = FixedBase(self, mpz(base))
            self._tables[key] = table
        return table

    # -- encodings (§5.1) ----------------------------------------------------------------

    def p_to_bytes(self, x: int) -> bytes:
        return int(x).to_bytes(self.p_bytes, "big")

    def q_to_bytes(self, x: int) -> bytes:
        return int(x).to_bytes(self.q_bytes, "big")

    def p_hex(self, x: int) -> str:
        """Uppercase fixed-width hex, the serialization draft's form for a Z_p value."""
        return int(x).to_bytes(self.p_bytes, "big").hex().upper()

    def q_hex(self, x: int) -> str:
        return int(x).to_bytes(self.q_bytes, "big").hex().upper()

    def element_from_hex(self, text: str, what: str = "value", *, subgroup: bool = True) -> mpz:
        """Decode a Z_p^r value written as exactly 2*l_p hex digits, then check membership."""
        return self.element(_fixed_hex(text, self.p_bytes, what), what, subgroup=subgroup)

    def exponent_from_hex(self, text: str, what: str = "value") -> mpz:
        try:
            value = _fixed_hex(text, self.q_bytes, what)
        except ElementOutOfRange as error:
            raise ExponentOutOfRange(error.message, what=what) from None
        return self.exponent(value, what)

    def element_from_bytes(self, raw: bytes, what: str = "value") -> mpz:
        if len(raw) != self.p_bytes:
            raise ElementOutOfRange(f"{what} must be {self.p_bytes} bytes", what=what)
        return self.element(int.from_bytes(raw, "big"), what)

    def exponent_from_bytes(self, raw: bytes, what: str = "value") -> mpz:
        if len(raw) != self.q_bytes:
            raise ExponentOutOfRange(f"{what} must be {self.q_bytes} bytes", what=what)
        return self.exponent(int.from_bytes(raw, "big"), what)


def _fixed_hex(text: str, width: int, what: str) -> int:
    if not isinstance(text, str) or len(text) != 2 * width:
        raise ElementOutOfRange(f"{what} must be {2 * width} hex digits", what=what)
    try:
        return int(text, 16)
    except ValueError:
        raise ElementOutOfRange(f"{what} is not hexadecimal", what=what) from None


class FixedBase:
    """Comb table for one base: base^(d * 2^(w*i)) for every window i and digit d.

    An exponent below 2^bits costs bits/w multiplications instead of a full square-and-
    multiply; the table (bits/w * 2^w entries) is built once per base.
    """

    WINDOW: ClassVar[int] = 8
    """8-bit windows: 32 multiplications per 256-bit exponent, a 4 MB table at 4096 bits."""

    def __init__(self, group: Group, base: mpz) -> None:
        self.group = group
        self.base = base
        self.bits = int(group.q).bit_length()
        w = self.WINDOW
        self.windows = (self.bits + w - 1) // w
        p = group.p
        rows: list[list[mpz]] = []
        start = base % p
        for _ in range(self.windows):
            row = [mpz(1), start]
            for _ in range(2, 1 << w):
                row.append(row[-1] * start % p)
            rows.append(row)
            start = row[-1] * start % p  # start^(2^w)
        self.rows = rows

    def pow(self, e: int) -> mpz:
        """base^e mod p, same value as `gmpy2.powmod(base, e, p)` for any e >= 0."""
        e = int(e) % int(self.group.q)
        p = self.group.p
        mask = (1 << self.WINDOW) - 1
        result = mpz(1)
        i = 0
        while e:
            digit = e & mask
            if digit:
                result = result * self.rows[i][digit] % p
            e >>= self.WINDOW
            i += 1
        return result


def multi_exp(group: Group, pairs: Sequence[tuple[int, int]]) -> mpz:
    """∏ base^exp mod p by interleaved 4-bit windows: the squarings are shared by all bases.

    Used where a check multiplies several powers (eq. 14, 28, 94); same value as the product
    of `powmod`s, which the tests check.
    """
    p = group.p
    w = 4
    size = 1 << w
    tables: list[list[mpz]] = []
    exps: list[int] = []
    for base, e in pairs:
        e = int(e)
        if e < 0:
            raise ValueError("multi_exp takes non-negative exponents")
        b = mpz(base) % p
        row = [mpz(1), b]
        for _ in range(2, size):
            row.append(row[-1] * b % p)
        tables.append(row)
        exps.append(e)
    if not exps:
        return mpz(1)
    top = max(e.bit_length() for e in exps)
    windows = (top + w - 1) // w
    result = mpz(1)
    for i in range(windows - 1, -1, -1):
        if result != 1:
            for _ in range(w):
                result = result * result % p
        shift = i * w
        for row, e in zip(tables, exps, strict=True):
            digit = (e >> shift) & (size - 1)
            if digit:
                result = result * row[digit] % p
    return result


def power_chain(group: Group, base: int) -> list[mpz]:
    """base^(16^i) for every 4-bit digit position i of an exponent below 2^B (B = bits of q),
    followed by base^(2^(4·digits)), the value the membership test needs: 4·digits squarings."""
    p = group.p
    power = mpz(base) % p
    digits = (int(group.q).bit_length() + 3) // 4
    chain = [power]
    for _ in range(digits):
        for _ in range(4):
            power = power * power % p
        chain.append(power)
    return chain


def chain_product(group: Group, chains: Sequence[Sequence[mpz]]) -> list[mpz]:
    """The chain of a product of bases, entry by entry: (∏ x_i)^(16^k) = ∏ x_i^(16^k).

    Cheaper than `power_chain` of the product when there are at most four bases (the
    aggregate (ᾱ, β̄) of a contest's selections, eq. 62)."""
    p = group.p
    out = list(chains[0])
    for chain in chains[1:]:
        out = [a * b % p for a, b in zip(out, chain, strict=True)]
    return out


def chain_member(group: Group, chain: Sequence[mpz]) -> bool:
    """Whether the chain's base x is in Z_p^r, given 0 < x < p: with q = 2^B' - δ (δ small),
    x^q == 1 iff x^(2^B') == x^δ, and x^(2^B') is the chain's last entry."""
    x = chain[0]
    if x == 0:
        return False
    delta = (1 << (4 * (len(chain) - 1))) - int(group.q)
    if not 0 < delta < 1 << 16:
        return bool(gmpy2.powmod(x, group.q, group.p) == 1)
    return bool(chain[-1] == gmpy2.powmod(x, delta, group.p))


def chain_powers(group: Group, chain: Sequence[mpz], exponents: Sequence[int]) -> list[mpz]:
    """base^e for each exponent (0 <= e < q) from the base's chain, by Yao's method: one
    multiplication per non-zero 4-bit digit, then a 30-multiplication combine."""
    p = group.p
    results = []
    for e in exponents:
        buckets = [mpz(1)] * 16
        value = int(e)
        position = 0
        while value:
            digit = value & 15
            if digit:
                buckets[digit] = buckets[digit] * chain[position] % p
            value >>= 4
            position += 1
        running, acc = mpz(1), mpz(1)
        for digit in range(15, 0, -1):
            running = running * buckets[digit] % p
            acc = acc * running % p
        results.append(acc)
    return results


def powers(
    group: Group, base: int, exponents: Sequence[int], *, check_subgroup: bool = False
) -> tuple[list[mpz], bool]:
    """[base^e for e in exponents] sharing one chain of squarings (right-to-left, 4-bit digits),
    and, if asked, whether base is in the order-q subgroup at almost no extra cost.

    A proof check raises the same α or β to several challenges (and to q for the membership
    test); a separate `powmod` per exponent repeats the ~256 squarings each time. Here they
    are done once (`power_chain`), each exponent then costs one multiplication per non-zero
    digit plus a 30-multiplication combine (`chain_powers`, Yao's method). The membership test
    uses q = 2^B - δ with δ small (`chain_member`). Exponents must lie in 0..q-1. Same values
    as `powmod` (the tests compare them).
    """
    chain = power_chain(group, base)
    member = chain_member(group, chain) if check_subgroup else True
    return chain_powers(group, chain, exponents), member


STANDARD = Group(
    name="standard-4096",
    p=mpz(
        _hex(
            """
FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF
B17217F7 D1CF79AB C9E3B398 03F2F6AF 40F34326 7298B62D 8A0D175B 8BAAFA2B
E7B87620 6DEBAC98 559552FB 4AFA1B10 ED2EAE35 C1382144 27573B29 1169B825
3E96CA16 224AE8C5 1ACBDA11 317C387E B9EA9BC3 B136603B 256FA0EC 7657F74B
72CE87B1 9D6548CA F5DFA6BD 38303248 655FA187 2F20E3A2 DA2D97C5 0F3FD5C6
07F4CA11 FB5BFB90 610D30F8 8FE551A2 EE569D6D FC1EFA15 7D2E23DE 1400B396
17460775 DB8990E5 C943E732 B479CD33 CCCC4E65 9393514C 4C1A1E0B D1D6095D
25669B33 3564A337 6A9C7F8A 5E148E82 074DB601 5CFE7AA3 0C480A54 17350D2C
955D5179 B1E17B9D AE313CDB 6C606CB1 078F735D 1B2DB31B 5F50B518 5064C18B
4D162DB3 B365853D 7598A195 1AE273EE 5570B6C6 8F969834 96D4E6D3 30AF889B
44A02554 731CDC8E A17293D1 228A4EF9 8D6F5177 FBCF0755 268A5C1F 9538B982
61AFFD44 6B1CA3CF 5E9222B8 8C66D3C5 422183ED C9942109 0BBB16FA F3D949F2
36E02B20 CEE886B9 05C128D5 3D0BD2F9 62136319 6AF50302 0060E499 08391A0C
57339BA2 BEBA7D05 2AC5B61C C4E9207C EF2F0CE2 D7373958 D7622658 90445744
FB5F2DA4 B7510058 92D35689 0DEFE9CA D9B9D4B7 13E06162 A2D8FDD0 DF2FD608
FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF"""
        )
    ),
    q=mpz(2**256 - 189),
    r=mpz(
        _hex(
            """
01 00000000 00000000 00000000 00000000 00000000 00000000 00000000 000000BC
B17217F7 D1CF79AB C9E3B398 03F2F6AF 40F34326 7298B62D 8A0D175B 8BAB857A
E8F42816 5418806C 62B0EA36 355A3A73 E0C74198 5BF6A0E3 130179BF 2F0B43E3
3AD86292 3861B8C9 F768C416 9519600B AD06093F 964B27E0 2D868312 31A9160D
E48F4DA5 3D8AB5E6 9E386B69 4BEC1AE7 22D47579 249D5424 767C5C33 B9151E07
C5C11D10 6AC446D3 30B47DB5 9D352E47 A53157DE 04461900 F6FE360D B897DF53
16D87C94 AE71DAD0 BE84B647 C4BCF818 C23A2D4E BB53C702 A5C8062D 19F5E9B5
033A94F7 FF732F54 12971286 9D97B8C9 6C412921 A9D86797 70F499A0 41C297CF
F79D4C91 49EB6CAF 67B9EA3D C563D965 F3AAD137 7FF22DE9 C3E62068 DD0ED615
1C37B4F7 4634C2BD 09DA912F D599F433 3A8D2CC0 05627DCA 37BAD43E 64A39631
19C0BFE3 4810A21E E7CFC421 D53398CB C7A95B3B F585E5A0 4B790E2F E1FE9BC2
64FDA810 9F6454A0 82F5EFB2 F37EA237 AA29DF32 0D6EA860 C41A9054 CCD24876
C6253F66 7BFB0139 B5531FF3 01899612 02FD2B0D 55A75272 C7FD7334 3F7899BC
A0B36A4C 470A64A0 09244C84 E77CEBC9 2417D5BB 13BF1816 7D8033EB 6C4DD787
9FD4A7F5 29FD4A7F 529FD4A7 F529FD4A 7F529FD4 A7F529FD 4A7F529F D4A7F52A"""
        )
    ),
    g=mpz(
        _hex(
            """
36036FED 214F3B50 DC566D3A 312FE413 1FEE1C2B CE6D02EA 39B477AC 05F7F885
F38CFE77 A7E45ACF 4029114C 4D7A9BFE 058BF2F9 95D2479D 3DDA618F FD910D3C
4236AB2C FDD783A5 016F7465 CF59BBF4 5D24A22F 130F2D04 FE93B2D5 8BB9C1D1
D27FC9A1 7D2AF49A 779F3FFB DCA22900 C14202EE 6C996160 34BE35CB CDD3E7BB
7996ADFE 534B63CC A41E21FF 5DC778EB B1B86C53 BFBE9998 7D7AEA07 56237FB4
0922139F 90A62F2A A8D9AD34 DFF799E3 3C857A64 68D001AC F3B681DB 87DC4242
755E2AC5 A5027DB8 1984F033 C4D17837 1F273DBB 4FCEA1E6 28C23E52 759BC776
5728035C EA26B44C 49A65666 889820A4 5C33DD37 EA4A1D00 CB62305C D541BE1E
8A92685A 07012B1A 20A746C3 591A2DB3 815000D2 AACCFE43 DC49E828 C1ED7387
466AFD8E 4BF19355 93B2A442 EEC271C5 0AD39F73 3797A1EA 11802A25 57916534
662A6B7E 9A9E449A 24C8CFF8 09E79A4D 806EB681 119330E6 C57985E3 9B200B48
93639FDF DEA49F76 AD1ACD99 7EBA1365 7541E79E C57437E5 04EDA9DD 01106151
6C643FB3 0D6D58AF CCD28B73 FEDA29EC 12B01A5E B86399A5 93A9D5F4 50DE39CB
92962C5E C6925348 DB54D128 FD99C14B 457F883E C20112A7 5A6A0581 D3D80A3B
4EF09EC8 6F9552FF DA1653F1 33AA2534 983A6F31 B0EE4697 935A6B1E A2F75B85
E7EBA151 BA486094 D68722B0 54633FEC 51CA3F29 B31E77E3 17B178B6 B9D8AE0F"""
        )
    ),
)
"""The spec's standard baseline parameters (§3.1.1): 4096-bit p, q = 2^256 - 189, g = 2^r."""

REDUCED = Group(
    name="reduced-3072",
    p=mpz(
        _hex(
            """
FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF
B17217F7 D1CF79AB C9E3B398 03F2F6AF 40F34326 7298B62D 8A0D175B 8BAAFA2B
E7B87620 6DEBAC98 559552FB 4AFA1B10 ED2EAE35 C1382144 27573B29 1169B825
3E96CA16 224AE8C5 1ACBDA11 317C387E B9EA9BC3 B136603B 256FA0EC 7657F74B
72CE87B1 9D6548CA F5DFA6BD 38303248 655FA187 2F20E3A2 DA2D97C5 0F3FD5C6
07F4CA11 FB5BFB90 610D30F8 8FE551A2 EE569D6D FC1EFA15 7D2E23DE 1400B396
17460775 DB8990E5 C943E732 B479CD33 CCCC4E65 9393514C 4C1A1E0B D1D6095D
25669B33 3564A337 6A9C7F8A 5E148E82 074DB601 5CFE7AA3 0C480A54 17350D2C
955D5179 B1E17B9D AE313CDB 6C606CB1 078F735D 1B2DB31B 5F50B518 5064C18B
4D162DB3 B365853D 7598A195 1AE273EE 5570B6C6 8F969834 96D4E6D3 30D6E582
CAB40D66 550984EF 0C42A457 4280B378 45189610 AE3E4BB2 2590A08F 6AD27BFB
FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF"""
        )
    ),
    q=mpz(2**256 - 189),
    r=mpz(
        _hex(
            """
01 00000000 00000000 00000000 00000000 00000000 00000000 00000000 000000BC
B17217F7 D1CF79AB C9E3B398 03F2F6AF 40F34326 7298B62D 8A0D175B 8BAB857A
E8F42816 5418806C 62B0EA36 355A3A73 E0C74198 5BF6A0E3 130179BF 2F0B43E3
3AD86292 3861B8C9 F768C416 9519600B AD06093F 964B27E0 2D868312 31A9160D
E48F4DA5 3D8AB5E6 9E386B69 4BEC1AE7 22D47579 249D5424 767C5C33 B9151E07
C5C11D10 6AC446D3 30B47DB5 9D352E47 A53157DE 04461900 F6FE360D B897DF53
16D87C94 AE71DAD0 BE84B647 C4BCF818 C23A2D4E BB53C702 A5C8062D 19F5E9B5
033A94F7 FF732F54 12971286 9D97B8C9 6C412921 A9D86797 70F499A0 41C297CF
F79D4C91 49EB6CAF 67B9EA3D C563D965 F3AAD137 7FF22DE9 C3E62068 DD0ED615
1C37B4F7 4634C2BD 09DA912F D599F433 3A8D2CC0 05627DCA 37BAD43E 64CAF318
9FD4A7F5 29FD4A7F 529FD4A7 F529FD4A 7F529FD4 A7F529FD 4A7F529F D4A7F52A"""
        )
    ),
    g=mpz(
        _hex(
            """
4A1523CB 0111B381 04EBCDE5 163F581E EEDD9163 7AC57544 C1D22832 34272732
FF0CD85F 38539544 3F573701 32A237FF 38702AB0 37F35E7C 7003669D 83697BA1
3BED69B6 3C88BD61 0D33C6A8 9E4882EE 6F849F05 06A4A8F0 B169E5CA 000A21DC
16D7DCEC C69E593C 65967739 3B6CE260 D3D6A578 E74E42A1 B2ADE1ED 8627050C
FB59E604 CAC389E9 9161DA6E 6E9407DF 94517864 01003A8B 7626AC5E 90B888EA
BB5E07E9 96B18662 9B17165F D630E139 788F674D FF4978A6 B74C6D02 0A6570CC
7C7A9E38 21283571 BA3FA1FC C6901A8C 28D02EF8 B8C4B019 F7DDADE5 1A089C57
EF90C2CE 50761754 D778BC9A BFD84809 5C4A0ED0 FA7B7AE5 2CDA4BD6 E2CB16F3
8EDC033F 32F259C5 13DD9E0D 1F780886 D71D7DB8 35F3F08D B11CC9CD 41EB0D5A
37AC6DBA 1A1EBA55 C378BC06 95B9D93A A59903EB A1CE5288 6A0BAAFB 15354863
1BCEAC52 07B97205 BE8FDF83 0F27348C 7AE852F9 F8876887 D23B8054 A077DC8A
EC0BF615 A1FA74BC 727014CF AC40E20E A194489F 63A6C224 27CB999C 9D04AA61"""
        )
    ),
)
"""The spec's reduced parameters (Appendix): 3072-bit p, the same q; faster, less secure."""

TOY = Group(
    name="toy-256",
    p=mpz(_hex("FFFFFFFF FFFFFFFF 93C467E3 7DB1212B 89995855 493FF059 FFFFFFFF FFFFFFFF")),
    q=mpz(_hex("FFFFFFFF FFFFFFC5")),
    r=mpz(_hex("00000001 00000000 0000003A 93C467E3 7DB12EAB 97DD49C3 4115B1E6")),
    g=mpz(_hex("3B543166 9E3E4893 DF745C67 CDCFD95C CDDA2248 78A3CD5D 3226F75C C5A95638")),
)
"""The spec's toy set with a 64-bit q and 256-bit p (Appendix): tests only, no security.
The 64-bit q keeps a forged proof's chance of passing at 2^-64, so negative tests never flake."""

GROUPS: dict[str, Group] = {group.name: group for group in (STANDARD, REDUCED, TOY)}
"""Parameter sets by name, as the election record names them."""


def group_named(name: str) -> Group:
    try:
        return GROUPS[name]
    except KeyError:
        raise ElectionCryptoError(
            f"unknown parameter set {name!r}; known: {sorted(GROUPS)}"
        ) from None
