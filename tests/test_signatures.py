"""Ed25519 checks: the native verifier accepts exactly what libsodium accepts.

Signing stays with libsodium (PyNaCl); checks run natively off the GIL
(`urbis._native`). A difference in what the two accept would let a wallet make a
signature the chain refuses, or a forger one it should refuse, so every case is
compared against libsodium's own `crypto_sign_open`, edge cases included: keys
and `R` values of small order (in canonical and non-canonical encodings),
non-canonical `S`, a key or an `R` of small order with a signature that
satisfies the equation, keys and `R` values with a torsion part (where a cofactored
check would accept and the cofactorless rule does not). These last also guard an
upgrade of the libsodium PyNaCl bundles: a release with other rules fails here.
"""

from __future__ import annotations

import hashlib
import os

import nacl.bindings
import nacl.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.crypto.keys import PrivateKey, verify, verify_many, verify_stream

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int]


def libsodium_accepts(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.bindings.crypto_sign_open(signature + message, key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


def _decode(encoded: bytes) -> Point | None:
    """RFC 8032 point decoding, lenient on y >= p (so torsion points can be found)."""
    value = int.from_bytes(encoded, "little")
    y, sign = (value & (2**255 - 1)) % P, value >> 255
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    if v * x * x % P != u:
        return None
    if x & 1 != sign:
        x = (-x) % P
    return x, y


def _add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (
        (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P,
        (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P,
    )


def _times(n: int, point: Point) -> Point:
    result: Point = (0, 1)
    while n:
        if n & 1:
            result = _add(result, point)
        point = _add(point, point)
        n >>= 1
    return result


def _encodings(point: Point) -> list[bytes]:
    """The canonical encoding and the non-canonical ones of a point: y + p where it
    fits in 255 bits, and for x = 0 the sign bit set ("-0") on each form of y."""
    x, y = point
    forms = [y] + ([y + P] if y + P < 2**255 else [])
    signs = [x & 1] + ([1] if x == 0 else [])
    return [(form | sign << 255).to_bytes(32, "little") for form in forms for sign in signs]


def _small_order_encodings() -> list[bytes]:
    """All 8 points of small order (L * a random point), in every encoding."""
    torsion: set[Point] = set()
    while len(torsion) < 8:
        point = _decode(os.urandom(32))
        if point is not None:
            torsion.add(_times(L, point))
    return sorted({e for point in torsion for e in _encodings(point)})


SMALL_ORDER = _small_order_encodings()


def _scalar(value: int) -> bytes:
    return (value % L).to_bytes(32, "little")


def test_the_eight_small_order_points_have_fourteen_encodings() -> None:
    """8 canonical; y + p for the identity and the two points with y = 0; "-0" for
    the two with x = 0, and for the identity's y + p as well."""
    assert len({_decode(e) for e in SMALL_ORDER}) == 8
    assert len(SMALL_ORDER) == 14


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200))
def test_valid_signatures_verify(seed: bytes, message: bytes) -> None:
    signer = PrivateKey(seed).signer()
    signature = signer.sign(message)
    assert verify(signer.public_key.raw, message, signature)
    assert libsodium_accepts(signer.public_key.raw, message, signature)


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=100),
    st.sampled_from(["key", "message", "signature"]),
    st.integers(min_value=0, max_value=8 * 200),
)
def test_any_flipped_bit_is_refused_as_libsodium_refuses_it(
    seed: bytes, message: bytes, part: str, bit: int
) -> None:
    signer = PrivateKey(seed).signer()
    parts = {"key": signer.public_key.raw, "message": message, "signature": signer.sign(message)}
    target = bytearray(parts[part])
    if not target:
        target = bytearray(b"\0")
    target[bit // 8 % len(target)] ^= 1 << (bit % 8)
    parts[part] = bytes(target)
    expected = libsodium_accepts(parts["key"], parts["message"], parts["signature"])
    assert verify(parts["key"], parts["message"], parts["signature"]) == expected
    assert not expected


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64), st.binary())
def test_arbitrary_bytes_agree_with_libsodium(key: bytes, signature: bytes, message: bytes) -> None:
    assert verify(key, message, signature) == libsodium_accepts(key, message, signature)


@pytest.mark.parametrize("encoded", SMALL_ORDER, ids=lambda e: e.hex()[:12])
def test_small_order_keys_are_refused_even_when_the_equation_holds(encoded: bytes) -> None:
    """With A of small order, R = s*B satisfies the cofactored equation for many messages;
    libsodium refuses such keys outright, and so must we."""
    s = int.from_bytes(os.urandom(32), "little") % L
    r = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(s))
    for message in (b"", b"pay 100", os.urandom(40)):
        signature = r + _scalar(s)
        assert verify(encoded, message, signature) is False
        assert libsodium_accepts(encoded, message, signature) is False


@pytest.mark.parametrize("encoded", SMALL_ORDER, ids=lambda e: e.hex()[:12])
def test_small_order_r_is_refused(encoded: bytes) -> None:
    signer = PrivateKey(os.urandom(32)).signer()
    message = b"transfer"
    signature = encoded + signer.sign(message)[32:]
    assert verify(signer.public_key.raw, message, signature) is False
    assert libsodium_accepts(signer.public_key.raw, message, signature) is False


def test_identity_r_is_refused_even_when_the_equation_holds() -> None:
    """R = identity with S = k*a (k the challenge, a the secret scalar) satisfies
    [S]B - [k]A = R exactly, so only the small-order rule on R refuses it. The native
    check tests R' (the point computed) rather than decoding R: this is the case where
    leaving that test out would accept."""
    a = int.from_bytes(os.urandom(32), "little") % L
    key = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(a))
    identity = [e for e in SMALL_ORDER if _decode(e) == (0, 1)]
    assert len(identity) == 4  # y = 1 and y = 1 + p, each with the sign bit clear or set
    for r in identity:
        for message in (b"", b"pay 100"):
            challenge = hashlib.sha512(r + key + message).digest()
            k = int.from_bytes(challenge, "little") % L
            signature = r + _scalar(k * a)
            assert verify(key, message, signature) is False
            assert libsodium_accepts(key, message, signature) is False
    # The same construction with R = [r]B for a random r (S = r + k*a) is a valid
    # signature: the refusal above is the rule, not a fault in the construction.
    nonce = int.from_bytes(os.urandom(32), "little") % L
    r = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(nonce))
    k = int.from_bytes(hashlib.sha512(r + key + b"pay 100").digest(), "little") % L
    signature = r + _scalar(nonce + k * a)
    assert verify(key, b"pay 100", signature) is True
    assert libsodium_accepts(key, b"pay 100", signature) is True


def _order_eight_point() -> Point:
    points = [_decode(e) for e in SMALL_ORDER]
    return next(q for q in points if q is not None and _times(4, q) != (0, 1))


def _mixed_order_key(a: int) -> tuple[bytes, Point]:
    """A = [a]B + T with T of order 8: a key libsodium takes (its encoding is not one of
    a small-order point), whose torsion part shows in every cofactorless check."""
    torsion = _order_eight_point()
    prime_part = _decode(nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(a)))
    assert prime_part is not None
    return _encodings(_add(prime_part, torsion))[0], torsion


def _challenge(r: bytes, key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + key + message).digest(), "little") % L


def test_a_mixed_order_key_verifies_only_where_its_torsion_cancels() -> None:
    """With A = [a]B + T and S = r + k*a, the point computed is R - [k]T: the same as R
    only when 8 divides k. Both verifiers accept exactly then (cofactorless), and a
    cofactored check would accept every one of them."""
    a = int.from_bytes(os.urandom(32), "little") % L
    key, _ = _mixed_order_key(a)
    outcomes = set()
    for n in range(200):
        message = b"m%d" % n
        nonce = int.from_bytes(os.urandom(32), "little") % L
        r = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(nonce))
        k = _challenge(r, key, message)
        signature = r + _scalar(nonce + k * a)
        accepted = verify(key, message, signature)
        assert accepted == libsodium_accepts(key, message, signature) == (k % 8 == 0)
        outcomes.add(accepted)
    assert outcomes == {True, False}


def test_small_order_r_equal_to_the_computed_point_is_refused() -> None:
    """With a mixed-order key and S = k*a the computed point is -[k]T, of small order; for
    about one message in eight it is exactly R (chosen among the small-order points),
    so the equation holds and only the small-order rule refuses. Unlike the identity
    case this reaches R of order 2, 4 and 8."""
    a = int.from_bytes(os.urandom(32), "little") % L
    key, torsion = _mixed_order_key(a)
    points = {e: q for e in SMALL_ORDER if (q := _decode(e)) is not None and e == _encodings(q)[0]}
    canonical = sorted(points)
    orders_met = set()
    for n in range(800):
        message = b"m%d" % n
        r = canonical[n % len(canonical)]
        k = _challenge(r, key, message)
        if _times((-k) % 8, torsion) != points[r]:
            continue
        signature = r + _scalar(k * a)
        assert verify(key, message, signature) is False
        assert libsodium_accepts(key, message, signature) is False
        orders_met.add(next(m for m in (1, 2, 4, 8) if _times(m, points[r]) == (0, 1)))
    assert {2, 4, 8} <= orders_met


def test_r_with_a_torsion_part_is_refused() -> None:
    """R = [r]B + T and S = r + k*a: a cofactored check accepts (8(R' - R) = 0), the
    cofactorless rule both verifiers keep refuses."""
    signer_scalar = int.from_bytes(os.urandom(32), "little") % L
    key = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(signer_scalar))
    torsion = _order_eight_point()
    for n in range(8):
        nonce = int.from_bytes(os.urandom(32), "little") % L
        prime_part = _decode(nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(nonce)))
        assert prime_part is not None
        r = _encodings(_add(prime_part, _times(n % 7 + 1, torsion)))[0]
        message = b"m%d" % n
        signature = r + _scalar(nonce + _challenge(r, key, message) * signer_scalar)
        assert verify(key, message, signature) is False
        assert libsodium_accepts(key, message, signature) is False


def test_non_canonical_s_is_refused() -> None:
    """S + L verifies the same equation; both verifiers demand S < L (no malleability)."""
    signer = PrivateKey(os.urandom(32)).signer()
    for n in range(20):
        message = b"m%d" % n
        signature = signer.sign(message)
        s = int.from_bytes(signature[32:], "little")
        if s + L >= 2**256:
            continue
        forged = signature[:32] + (s + L).to_bytes(32, "little")
        assert verify(signer.public_key.raw, message, forged) is False
        assert libsodium_accepts(signer.public_key.raw, message, forged) is False


def test_non_canonical_key_encoding_is_refused() -> None:
    """A key whose y is written as y + p names the same point; libsodium refuses it."""
    for _ in range(200):
        signer = PrivateKey(os.urandom(32)).signer()
        y = int.from_bytes(signer.public_key.raw, "little") & (2**255 - 1)
        if y + P < 2**255:  # only y < 19: vanishingly rare for a real key
            pytest.fail("a random key with y < 19")
    # Build one directly: the point with y = 3 (if on the curve) or the next that is.
    for y in range(2, 19):
        point = _decode(y.to_bytes(32, "little"))
        if point is not None:
            break
    assert point is not None
    canonical, non_canonical = _encodings(point)[:2]
    assert canonical != non_canonical
    for key in (canonical, non_canonical):
        for signature in (os.urandom(64), bytes(64)):
            assert verify(key, b"x", signature) == libsodium_accepts(key, b"x", signature)
    assert verify(non_canonical, b"x", bytes(64)) is False


def test_a_key_written_non_canonically_is_refused_before_any_signature() -> None:
    """No signature can show it (nobody can sign for a point with y < 19), so the key
    rule itself is checked: libsodium takes a key only in its canonical encoding and
    not of small order. (Comparing with ed25519-dalek's VerifyingKey.to_bytes, which
    hands back the bytes it was given, had once let y + p through.)"""
    from urbis._native import ed25519_key_accepted

    signer = PrivateKey(os.urandom(32)).signer()
    assert ed25519_key_accepted(signer.public_key.raw)
    found = 0
    for y in range(2, 19):
        point = _decode(y.to_bytes(32, "little"))
        if point is None or point in {_decode(e) for e in SMALL_ORDER}:
            continue
        canonical, *others = _encodings(point)
        assert ed25519_key_accepted(canonical)
        assert others and not any(ed25519_key_accepted(e) for e in others)
        found += 1
    assert found
    assert not any(ed25519_key_accepted(e) for e in SMALL_ORDER)
    assert not ed25519_key_accepted(b"short")


RFC8032_TESTS = [  # RFC 8032 section 7.1, TEST 1-3: (public key, message, signature)
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("key", "message", "signature"), RFC8032_TESTS)
def test_rfc_8032_vectors_verify_and_a_changed_message_does_not(
    key: str, message: str, signature: str
) -> None:
    """The published vectors, on whichever backend the CPU gives the native check
    (AVX-512 IFMA, AVX2 or portable: chosen at run time)."""
    raw_key, raw_message, raw_signature = (bytes.fromhex(x) for x in (key, message, signature))
    assert verify(raw_key, raw_message, raw_signature) is True
    assert verify(raw_key, raw_message + b"\0", raw_signature) is False
    assert verify_many([(raw_key, raw_message, raw_signature)] * 40) == [True] * 40


def test_wrong_lengths_are_refused_not_raised() -> None:
    signer = PrivateKey(os.urandom(32)).signer()
    signature = signer.sign(b"m")
    assert verify(signer.public_key.raw[:31], b"m", signature) is False
    assert verify(signer.public_key.raw, b"m", signature[:63]) is False
    assert verify(signer.public_key.raw, b"m", signature + b"\0") is False


def test_many_checks_on_all_cores_keep_input_order() -> None:
    signers = [PrivateKey(os.urandom(32)).signer() for _ in range(8)]
    items = []
    for n in range(2_000):
        signer = signers[n % 8]
        message = b"tx %d" % n
        signature = signer.sign(message)
        if n % 7 == 3:
            signature = signature[:10] + bytes([signature[10] ^ 1]) + signature[11:]
        items.append((signer.public_key.raw, message, signature))
    expected = [n % 7 != 3 for n in range(2_000)]
    assert verify_many(items) == expected
    assert list(verify_stream(items)) == expected
