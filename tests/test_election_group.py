"""The group layer: element checks on every received value, the fast exponentiation paths
against the plain one, and the §5 encodings as properties."""

from __future__ import annotations

import gmpy2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.election import hash as eghash
from urbis.election.group import (
    REDUCED,
    STANDARD,
    TOY,
    ElementNotInSubgroup,
    ElementOutOfRange,
    ElementZero,
    ExponentOutOfRange,
    FixedBase,
    chain_product,
    multi_exp,
    power_chain,
    powers,
)

toy_exponents = st.integers(min_value=0, max_value=int(TOY.q) - 1)
std_exponents = st.integers(min_value=0, max_value=int(STANDARD.q) - 1)


@pytest.mark.parametrize("group", [STANDARD, REDUCED, TOY], ids=lambda g: g.name)
def test_parameter_sets_are_consistent(group) -> None:  # type: ignore[no-untyped-def]
    assert group.p - 1 == group.q * group.r
    assert gmpy2.is_prime(group.p) and gmpy2.is_prime(group.q)
    assert 1 < group.g < group.p and gmpy2.powmod(group.g, group.q, group.p) == 1


def test_zero_is_election_element_zero() -> None:
    with pytest.raises(ElementZero) as error:
        STANDARD.element(0, "alpha")
    assert error.value.code == "election.element_zero"


@pytest.mark.parametrize("value", [STANDARD.p, STANDARD.p + 5, -3])
def test_at_least_p_or_negative_is_election_element_out_of_range(value: int) -> None:
    with pytest.raises(ElementOutOfRange) as error:
        STANDARD.element(value, "beta")
    assert error.value.code == "election.element_out_of_range"


def test_outside_the_subgroup_is_election_element_not_in_subgroup() -> None:
    """p - 1 has order 2 and 2 has order 2q·r/...: both in Z_p^* but not in Z_p^r."""
    for value in (STANDARD.p - 1, 2, 3):
        assert not STANDARD.is_element(value)
        with pytest.raises(ElementNotInSubgroup) as error:
            STANDARD.element(value, "alpha")
        assert error.value.code == "election.element_not_in_subgroup"
    assert STANDARD.is_element(STANDARD.g_pow(12345))


def test_exponent_range() -> None:
    assert TOY.exponent(TOY.q - 1) == TOY.q - 1
    for bad in (TOY.q, -1):
        with pytest.raises(ExponentOutOfRange):
            TOY.exponent(bad)


def test_hex_decoding_requires_the_fixed_width() -> None:
    value = STANDARD.g_pow(7)
    assert STANDARD.element_from_hex(STANDARD.p_hex(value)) == value
    with pytest.raises(ElementOutOfRange):
        STANDARD.element_from_hex(STANDARD.p_hex(value)[2:])
    with pytest.raises(ElementOutOfRange):
        STANDARD.element_from_hex("zz" * STANDARD.p_bytes)


@given(toy_exponents)
def test_fixed_base_matches_powmod_toy(e: int) -> None:
    table = TOY.fixed_base(TOY.g)
    assert table.pow(e) == gmpy2.powmod(TOY.g, e, TOY.p)


@given(std_exponents)
def test_fixed_base_matches_powmod_standard(e: int) -> None:
    """The differential test of the fast path (4096-bit group, random 256-bit exponents)."""
    assert STANDARD.g_pow(e) == gmpy2.powmod(STANDARD.g, e, STANDARD.p)


def test_fixed_base_reduces_exponents_mod_q() -> None:
    base = TOY.g_pow(99)
    table = FixedBase(TOY, base)
    assert table.pow(TOY.q + 5) == gmpy2.powmod(base, 5, TOY.p)
    assert table.pow(0) == 1


@given(st.lists(st.tuples(st.integers(1, 2**40), toy_exponents), min_size=0, max_size=6))
def test_multi_exp_matches_product_of_powmods(pairs: list[tuple[int, int]]) -> None:
    bases = [(TOY.g_pow(b), e) for b, e in pairs]
    expected = gmpy2.mpz(1)
    for base, e in bases:
        expected = expected * gmpy2.powmod(base, e, TOY.p) % TOY.p
    assert multi_exp(TOY, bases) == expected


def test_multi_exp_standard_group() -> None:
    bases = [(STANDARD.g_pow(i + 2), (i + 1) * 2**200 + 17) for i in range(4)]
    expected = gmpy2.mpz(1)
    for base, e in bases:
        expected = expected * gmpy2.powmod(base, e, STANDARD.p) % STANDARD.p
    assert multi_exp(STANDARD, bases) == expected


@given(st.integers(0, 2**31 - 1))
def test_small_integers_are_four_bytes_big_endian(value: int) -> None:
    encoded = eghash.u32(value)
    assert len(encoded) == 4 and int.from_bytes(encoded, "big") == value


@given(st.integers(0, int(STANDARD.p) - 1))
def test_p_encoding_is_fixed_width_and_round_trips(value: int) -> None:
    encoded = STANDARD.p_to_bytes(value)
    assert len(encoded) == 512 and int.from_bytes(encoded, "big") == value


@given(st.integers(0, int(STANDARD.q) - 1))
def test_q_encoding_is_32_bytes(value: int) -> None:
    encoded = STANDARD.q_to_bytes(value)
    assert len(encoded) == 32 and int.from_bytes(encoded, "big") == value


@given(st.text(max_size=40))
def test_strings_are_length_prefixed_utf8(text: str) -> None:
    raw = text.encode("utf-8")
    assert eghash.prefixed(raw) == len(raw).to_bytes(4, "big") + raw


@given(st.binary(max_size=64), st.binary(max_size=64))
def test_length_prefix_makes_manifest_hashes_injective(a: bytes, b: bytes) -> None:
    """Distinct manifests give distinct B1 inputs to H_B (no concatenation ambiguity)."""
    key = bytes(32)
    if a != b:
        assert eghash.election_base_hash(key, a) != eghash.election_base_hash(key, b)


def test_hash_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        eghash.H(b"short", b"x")


def test_hq_reduces_mod_q() -> None:
    value = eghash.Hq(TOY, bytes(32), b"\x00")
    assert 0 <= value < TOY.q


@given(st.integers(1, int(TOY.q) - 1), st.lists(toy_exponents, max_size=4))
def test_powers_match_powmod_and_detect_membership(k: int, exps: list[int]) -> None:
    """The shared-squaring path against one powmod per power, members and non-members alike."""
    member = TOY.g_pow(k)
    for base, expected_member in (
        (member, True),
        (TOY.p - member, False),
        (member * 3 % TOY.p, False),
    ):
        values, is_member = powers(TOY, base, exps, check_subgroup=True)
        assert values == [gmpy2.powmod(base, e, TOY.p) for e in exps]
        assert is_member == expected_member == TOY.is_element(base)


def test_powers_standard_group() -> None:
    base = STANDARD.g_pow(2**255 + 12345)
    exps = [int(STANDARD.q) - 1, 2**200 + 3, 0]
    values, member = powers(STANDARD, base, exps, check_subgroup=True)
    assert member and values == [gmpy2.powmod(base, e, STANDARD.p) for e in exps]
    _, member = powers(STANDARD, STANDARD.p - base, exps, check_subgroup=True)
    assert not member


@given(st.lists(st.integers(1, int(TOY.q) - 1), min_size=1, max_size=4))
def test_chain_product_is_the_chain_of_the_product(exponents: list[int]) -> None:
    """(ᾱ, β̄)'s chains built from the selections' chains equal the chain built directly."""
    bases = [TOY.g_pow(e) for e in exponents]
    product = gmpy2.mpz(1)
    for base in bases:
        product = product * base % TOY.p
    assert chain_product(TOY, [power_chain(TOY, b) for b in bases]) == power_chain(TOY, product)
