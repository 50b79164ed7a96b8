# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF002, RUF003
"""H, H_q and every encoding of §5, one function per row of the §5.5 tables.

H(B0; B1) = HMAC-SHA-256(B0, B1) with a 32-byte key B0. B1 starts with the domain-separation
byte and continues with fixed-width big-endian encodings: Z_p values in l_p bytes, Z_q values
in l_q bytes, small integers (indices, n, k) in 4 bytes, variable strings and files prefixed by
their 4-byte length. Nothing is ever re-serialized before hashing: the manifest is hashed as
the exact bytes the election stores.

Both the encryption side and the independent verifier use these functions; they hold no
election logic, only the spec's byte layouts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from gmpy2 import mpz

from urbis.election.group import Group

VERSION = b"v2.1.0" + bytes(26)
"""ver = 0x76322E312E30 ∥ b(0, 26): the key of H_P (§3.1.2)."""

SPEC_VERSION = "v2.1.0"

NO_CHAINING = b"\x00\x00\x00\x00"
"""Chaining mode identifier 0x00000000 (§3.4.4)."""

SIMPLE_CHAINING = b"\x00\x00\x00\x01"
"""Chaining mode identifier 0x00000001 (§3.4.4)."""


def H(key: bytes, *parts: bytes) -> bytes:
    """ElectionGuard's H: HMAC-SHA-256 keyed with a 32-byte value (§5.2)."""
    if len(key) != 32:
        raise ValueError(f"H takes a 32-byte key, got {len(key)} bytes")
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def Hq(group: Group, key: bytes, *parts: bytes) -> mpz:
    """H_q: H read as a big-endian integer, reduced mod q (§5.4, eq. 132)."""
    return mpz(int.from_bytes(H(key, *parts), "big")) % group.q


def u32(value: int) -> bytes:
    """b(value, 4): a small integer, indices and counts (§5.1.3)."""
    if not 0 <= value < 2**31:
        raise ValueError(f"small integer {value} outside 0..2^31-1")
    return value.to_bytes(4, "big")


def prefixed(data: bytes) -> bytes:
    """b(len, 4) ∥ data: a variable-length string or a file (§5.1.4, §5.1.5)."""
    return u32(len(data)) + data


def _p(group: Group, values: Iterable[int]) -> bytes:
    return b"".join(group.p_to_bytes(v) for v in values)


# -- §5.5.1 parameter base and base hashes ---------------------------------------------------


def parameter_base_hash(group: Group, n: int, k: int) -> bytes:
    """H_P = H(ver; 0x00, p, q, g, n, k)  (eq. 4)."""
    return H(
        VERSION,
        b"\x00",
        group.p_to_bytes(group.p),
        group.q_to_bytes(group.q),
        group.p_to_bytes(group.g),
        u32(n),
        u32(k),
    )


def election_base_hash(h_p: bytes, manifest: bytes) -> bytes:
    """H_B = H(H_P; 0x01, manifest) over the manifest's exact bytes  (eq. 5)."""
    return H(h_p, b"\x01", prefixed(manifest))


# -- §5.5.2 key generation and extended base hash --------------------------------------------


def keygen_challenge(
    group: Group,
    h_p: bytes,
    label: bytes,
    i: int,
    commitments: Sequence[int],
    kappa: int,
    h_values: Sequence[int],
) -> mpz:
    """c_i / ĉ_i = H_q(H_P; 0x10, "pk vote"|"pk data", i, K_i,0..K_i,k-1, κ_i, h_i,0..h_i,k)
    (eq. 11, 13). The label is a fixed 7-byte string, not length-prefixed (table §5.5.2)."""
    if label not in (b"pk vote", b"pk data"):
        raise ValueError("label must be 'pk vote' or 'pk data'")
    return Hq(
        group,
        h_p,
        b"\x10",
        label,
        u32(i),
        _p(group, commitments),
        group.p_to_bytes(kappa),
        _p(group, h_values),
    )


def share_key(
    group: Group, h_p: bytes, i: int, receiver: int, kappa_l: int, alpha: int, beta: int
) -> bytes:
    """k_i,ℓ = H(H_P; 0x11, i, ℓ, κ_ℓ, α_i,ℓ, β_i,ℓ)  (eq. 16)."""
    return H(h_p, b"\x11", u32(i), u32(receiver), _p(group, (kappa_l, alpha, beta)))


def share_kdf(key: bytes, i: int, receiver: int) -> tuple[bytes, bytes]:
    """k_i,ℓ,1 and k_i,ℓ,2: SP 800-108 counter mode, 512 bits in all  (eq. 17, 18)."""
    tail = b"share enc keys" + b"\x00" + b"share encrypt" + u32(i) + u32(receiver) + b"\x02\x00"
    return H(key, b"\x01" + tail), H(key, b"\x02" + tail)


def share_challenge(
    group: Group, h_p: bytes, i: int, receiver: int, gamma: int, c0: int, c1: bytes
) -> mpz:
    """c̄_i,ℓ = H_q(H_P; 0x12, i, ℓ, γ_i,ℓ, C_i,ℓ,0, C_i,ℓ,1)  (eq. 22)."""
    return Hq(group, h_p, b"\x12", u32(i), u32(receiver), _p(group, (gamma, c0)), c1)


def guardian_record_hash(
    group: Group,
    h_b: bytes,
    joint_key: int,
    joint_data_key: int,
    commitments: Sequence[Sequence[int]],
    data_commitments: Sequence[Sequence[int]],
    kappas: Sequence[int],
) -> bytes:
    """H_G = H(H_B; 0x13, K, K̂, K_1,0..K_n,k-1, K̂_1,0..K̂_n,k-1, κ_1..κ_n), guardians in index
    order  (eq. 27)."""
    return H(
        h_b,
        b"\x13",
        _p(group, (joint_key, joint_data_key)),
        b"".join(_p(group, row) for row in commitments),
        b"".join(_p(group, row) for row in data_commitments),
        _p(group, kappas),
    )


def extended_base_hash(group: Group, h_b: bytes, joint_key: int, joint_data_key: int) -> bytes:
    """H_E = H(H_B; 0x14, K, K̂)  (eq. 30)."""
    return H(h_b, b"\x14", _p(group, (joint_key, joint_data_key)))


# -- §5.5.3 ballot encryption and confirmation codes -----------------------------------------


def identifier_hash(h_e: bytes, id_b: bytes) -> bytes:
    """H_I = H(H_E; 0x20, id_B)  (eq. 32); id_B is 32 bytes."""
    if len(id_b) != 32:
        raise ValueError("the selection encryption identifier is 32 bytes")
    return H(h_e, b"\x20", id_b)


def selection_nonce(
    group: Group, h_i: bytes, contest: int, option: int, ballot_nonce: bytes
) -> mpz:
    """ξ_i,j = H_q(H_I; 0x21, i, j, ξ_B)  (eq. 33); ξ_B is 32 bytes."""
    return Hq(group, h_i, b"\x21", u32(contest), u32(option), ballot_nonce)


def ballot_nonce_key(group: Group, h_i: bytes, alpha: int, beta: int) -> bytes:
    """h = H(H_I; 0x22, α_B, β_B)  (eq. 35)."""
    return H(h_i, b"\x22", _p(group, (alpha, beta)))


def ballot_nonce_kdf(key: bytes) -> bytes:
    """k_1 = HMAC(h, 0x01 ∥ "ballot nonce" ∥ 0x00 ∥ "ballot nonce encrypt" ∥ 0x0100)  (eq. 36)."""
    return H(key, b"\x01" + b"ballot nonce" + b"\x00" + b"ballot nonce encrypt" + b"\x01\x00")


def ballot_nonce_challenge(group: Group, h_i: bytes, a: int, c0: int, c1: bytes) -> mpz:
    """c_B = H_q(H_I; 0x23, a_B, C_ξB,0, C_ξB,1)  (eq. 38)."""
    return Hq(group, h_i, b"\x23", _p(group, (a, c0)), c1)


def range_challenge(
    group: Group,
    h_i: bytes,
    contest: int,
    option: int | None,
    alpha: int,
    beta: int,
    commitments: Sequence[tuple[int, int]],
) -> mpz:
    """Range-proof challenge with separator 0x24 (eq. 41, 50, 59; option is None for the
    contest selection-limit proof, eq. 62). Both proofs share 0x24 as the spec says; they
    differ in length (the option index is absent in eq. 62)."""
    head = u32(contest) if option is None else u32(contest) + u32(option)
    flat = [x for pair in commitments for x in pair]
    return Hq(group, h_i, b"\x24", head, _p(group, (alpha, beta)), _p(group, flat))


def contest_hash(
    group: Group, h_i: bytes, contest: int, ciphertexts: Sequence[tuple[int, int]]
) -> bytes:
    """χ_l = H(H_I; 0x28, l, α_1, β_1, ..., α_m, β_m)  (eq. 70; no contest data field)."""
    flat = [x for pair in ciphertexts for x in pair]
    return H(h_i, b"\x28", u32(contest), _p(group, flat))


def confirmation_code(h_i: bytes, contest_hashes: Sequence[bytes], chaining_field: bytes) -> bytes:
    """H_C = H(H_I; 0x29, χ_1, ..., χ_mB, B_C)  (eq. 71); B_C is 36 bytes."""
    if len(chaining_field) != 36:
        raise ValueError("the chaining field B_C is 36 bytes")
    return H(h_i, b"\x29", *contest_hashes, chaining_field)


def device_hash(h_e: bytes, device: str) -> bytes:
    """H_DI = H(H_E; 0x2A, S_device), the string UTF-8 with a 4-byte length  (eq. 72)."""
    return H(h_e, b"\x2a", prefixed(device.encode("utf-8")))


def chain_start(h_e: bytes, device_hash_value: bytes) -> tuple[bytes, bytes]:
    """Simple chaining: (B_C,0, H_0) with B_C,0 = 0x00000001 ∥ H_DI, H_0 = H(H_E; 0x29, B_C,0)
    (eq. 74, 75)."""
    first = SIMPLE_CHAINING + device_hash_value
    return first, H(h_e, b"\x29", first)


def chain_close(h_e: bytes, last_code: bytes, first_field: bytes) -> bytes:
    """The closing hash H = H(H_E; 0x29, 0x00000001 ∥ H(H_E; 0x2B, H_ℓ, B_C,0))  (eq. 77, 78)."""
    inner = H(h_e, b"\x2b", last_code, first_field)
    return H(h_e, b"\x29", SIMPLE_CHAINING + inner)


# -- §5.5.4 verifiable decryption -------------------------------------------------------------


def decryption_commitment(
    group: Group,
    h_e: bytes,
    contest: int,
    option: int,
    i: int,
    big_a: int,
    big_b: int,
    a_i: int,
    b_i: int,
    m_i: int,
    available: Sequence[int],
) -> bytes:
    """d_i = H(H_E; 0x30, ind_c, ind_o, i, A, B, a_i, b_i, M_i, U), U as b(#U,4) ∥ indices
    (eq. 88)."""
    return H(
        h_e,
        b"\x30",
        u32(contest),
        u32(option),
        u32(i),
        _p(group, (big_a, big_b, a_i, b_i, m_i)),
        u32(len(available)),
        b"".join(u32(j) for j in available),
    )


def decryption_challenge(
    group: Group,
    h_e: bytes,
    contest: int,
    option: int,
    big_a: int,
    big_b: int,
    a: int,
    b: int,
    m: int,
) -> mpz:
    """c = H_q(H_E; 0x31, ind_c, ind_o, A, B, a, b, M)  (eq. 90)."""
    return Hq(group, h_e, b"\x31", u32(contest), u32(option), _p(group, (big_a, big_b, a, b, m)))
