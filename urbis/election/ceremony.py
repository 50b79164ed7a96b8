# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF001, RUF002, RUF003
"""Key ceremony (§3.2): guardian keys, Schnorr proofs, encrypted shares, joint keys.

Each guardian i (1..n) calls `generate_guardian`, publishes its `GuardianPublicKey`, then
`encrypt_share` for every other guardian ℓ. Each receiver calls `receive_share`, which checks
the share's Schnorr proof and eq. 28/29 against the sender's commitments and raises
`ShareInvalid` (the complaint) when either fails. With every share received, a guardian
calls `key_share` for its z_i and ẑ_i. `joint_keys` gives K and K̂.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gmpy2 import mpz

from urbis.election import hash as eghash
from urbis.election.group import ElectionCryptoError, Group, multi_exp
from urbis.election.record import CoefficientProof, GuardianPublicKey, decoding

__all__ = [
    "CeremonyIncomplete",
    "CoefficientProof",
    "EncryptedShare",
    "GuardianKeyInvalid",
    "GuardianKeyShare",
    "GuardianPublicKey",
    "GuardianSecret",
    "ShareInvalid",
    "encrypt_share",
    "generate_guardian",
    "guardian_record_hash",
    "joint_keys",
    "key_share",
    "own_share",
    "public_share",
    "receive_share",
    "verify_guardian_key",
    "verify_share_proof",
]


class GuardianKeyInvalid(ElectionCryptoError):
    code = "election.guardian_key_invalid"


class ShareInvalid(ElectionCryptoError):
    code = "election.share_invalid"


class CeremonyIncomplete(ElectionCryptoError):
    code = "election.ceremony_incomplete"


@dataclass(frozen=True)
class GuardianSecret:
    """What guardian i keeps at home: both polynomials and ζ_i. Never published."""

    index: int
    coefficients: tuple[mpz, ...]
    data_coefficients: tuple[mpz, ...]
    zeta: mpz

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.index,
            "secret_coefficients": [group.q_hex(a) for a in self.coefficients],
            "data_secret_coefficients": [group.q_hex(a) for a in self.data_coefficients],
            "communication_secret_key": group.q_hex(self.zeta),
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> GuardianSecret:
        with decoding("GuardianSecret", ShareInvalid):
            return cls(
                int(data["i"]),
                tuple(group.exponent_from_hex(a, "a_i,j") for a in data["secret_coefficients"]),
                tuple(
                    group.exponent_from_hex(a, "â_i,j") for a in data["data_secret_coefficients"]
                ),
                group.exponent_from_hex(data["communication_secret_key"], "ζ_i"),
            )


@dataclass(frozen=True)
class EncryptedShare:
    """E_ℓ(P_i(ℓ), P̂_i(ℓ)) = (C0, C1, (c̄, v̄)) from guardian i to guardian ℓ (eq. 19-22)."""

    sender: int
    receiver: int
    c0: mpz
    c1: bytes
    challenge: mpz
    response: mpz

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.sender,
            "l": self.receiver,
            "c0": group.p_hex(self.c0),
            "c1": self.c1.hex().upper(),
            "challenge": group.q_hex(self.challenge),
            "response": group.q_hex(self.response),
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> EncryptedShare:
        with decoding("EncryptedShare", ShareInvalid):
            try:
                c1 = bytes.fromhex(data["c1"])
            except (ValueError, TypeError):
                raise ShareInvalid("share ciphertext C1 is not hex") from None
            if len(c1) != 64:
                raise ShareInvalid("share ciphertext C1 must be 64 bytes")
            return cls(
                int(data["i"]),
                int(data["l"]),
                group.element_from_hex(data["c0"], "C_i,ℓ,0"),
                c1,
                group.exponent_from_hex(data["challenge"], "c̄_i,ℓ"),
                group.exponent_from_hex(data["response"], "v̄_i,ℓ"),
            )


@dataclass(frozen=True)
class GuardianKeyShare:
    """z_i = P(i) and ẑ_i = P̂(i): all a guardian needs at the tally (eq. 24)."""

    index: int
    z: mpz
    z_hat: mpz

    def to_json(self, group: Group) -> dict[str, Any]:
        return {"i": self.index, "z": group.q_hex(self.z), "z_hat": group.q_hex(self.z_hat)}

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> GuardianKeyShare:
        with decoding("GuardianKeyShare", ShareInvalid):
            return cls(
                int(data["i"]),
                group.exponent_from_hex(data["z"], "z_i"),
                group.exponent_from_hex(data["z_hat"], "ẑ_i"),
            )


def _prove_coefficients(
    group: Group,
    h_p: bytes,
    label: bytes,
    index: int,
    coefficients: Sequence[mpz],
    commitments: Sequence[mpz],
    zeta: mpz,
    kappa: mpz,
) -> CoefficientProof:
    secrets_ = [*coefficients, zeta]
    nonces = [group.random_exponent() for _ in secrets_]
    h_values = [group.g_pow(u) for u in nonces]
    c = eghash.keygen_challenge(group, h_p, label, index, commitments, kappa, h_values)
    responses = tuple((u - c * s) % group.q for u, s in zip(nonces, secrets_, strict=True))
    return CoefficientProof(c, responses)


def generate_guardian(
    group: Group, h_p: bytes, index: int, k: int
) -> tuple[GuardianSecret, GuardianPublicKey]:
    """Guardian G_index's keys: k coefficients twice (eq. 7-8), ζ_i (eq. 9), both proofs."""
    if index < 1 or k < 1:
        raise GuardianKeyInvalid("guardian index and quorum start at 1")
    coefficients = tuple(group.random_exponent() for _ in range(k))
    data_coefficients = tuple(group.random_exponent() for _ in range(k))
    zeta = group.random_exponent()
    commitments = tuple(group.g_pow(a) for a in coefficients)
    data_commitments = tuple(group.g_pow(a) for a in data_coefficients)
    kappa = group.g_pow(zeta)
    proof = _prove_coefficients(
        group, h_p, b"pk vote", index, coefficients, commitments, zeta, kappa
    )
    data_proof = _prove_coefficients(
        group, h_p, b"pk data", index, data_coefficients, data_commitments, zeta, kappa
    )
    secret = GuardianSecret(index, coefficients, data_coefficients, zeta)
    public = GuardianPublicKey(index, commitments, data_commitments, kappa, proof, data_proof)
    return secret, public


def verify_guardian_key(group: Group, h_p: bytes, key: GuardianPublicKey, k: int) -> None:
    """Verification 2 for one guardian; raises `GuardianKeyInvalid` naming what failed."""
    if len(key.commitments) != k or len(key.data_commitments) != k:
        raise GuardianKeyInvalid(f"guardian {key.index} must publish {k} commitments of each kind")
    for value in (*key.commitments, *key.data_commitments, key.kappa):
        group.element(value, "guardian commitment")
    for label, commitments, proof in (
        (b"pk vote", key.commitments, key.proof),
        (b"pk data", key.data_commitments, key.data_proof),
    ):
        if len(proof.responses) != k + 1:
            raise GuardianKeyInvalid(f"guardian {key.index}: a proof has k+1 responses")
        bases = [*commitments, key.kappa]
        h_values = [
            group.g_pow(v) * group.pow(base, proof.challenge) % group.p
            for v, base in zip(proof.responses, bases, strict=True)
        ]
        expected = eghash.keygen_challenge(
            group, h_p, label, key.index, commitments, key.kappa, h_values
        )
        if expected != proof.challenge:
            raise GuardianKeyInvalid(
                f"guardian {key.index}: the {label.decode()} Schnorr proof does not verify",
                guardian=key.index,
            )


def _poly(group: Group, coefficients: Sequence[mpz], x: int) -> mpz:
    result = mpz(0)
    for a in reversed(coefficients):
        result = (result * x + a) % group.q
    return result


def encrypt_share(
    group: Group, h_p: bytes, sender: GuardianSecret, receiver: GuardianPublicKey
) -> EncryptedShare:
    """Encrypt P_i(ℓ) and P̂_i(ℓ) to guardian ℓ's κ_ℓ, with a Schnorr proof on the nonce
    (eq. 15-22)."""
    i, target = sender.index, receiver.index
    share = _poly(group, sender.coefficients, target)
    data_share = _poly(group, sender.data_coefficients, target)
    xi = group.random_exponent()
    alpha = group.g_pow(xi)
    beta = group.pow(receiver.kappa, xi)
    key = eghash.share_key(group, h_p, i, target, receiver.kappa, alpha, beta)
    k1, k2 = eghash.share_kdf(key, i, target)
    c1 = _xor(int(share).to_bytes(32, "big"), k1) + _xor(int(data_share).to_bytes(32, "big"), k2)
    u = group.random_exponent()
    gamma = group.g_pow(u)
    c = eghash.share_challenge(group, h_p, i, target, gamma, alpha, c1)
    return EncryptedShare(i, target, alpha, c1, c, (u - c * xi) % group.q)


def verify_share_proof(group: Group, h_p: bytes, share: EncryptedShare) -> bool:
    gamma = group.g_pow(share.response) * group.pow(share.c0, share.challenge) % group.p
    expected = eghash.share_challenge(
        group, h_p, share.sender, share.receiver, gamma, share.c0, share.c1
    )
    return expected == share.challenge


def public_share(group: Group, commitments: Sequence[int], x: int) -> mpz:
    """g^{P_i(x)} from the commitments alone: ∏_j K_i,j^(x^j)  (eq. 14), by multi-exponentiation."""
    return multi_exp(group, [(K, pow(x, j, int(group.q))) for j, K in enumerate(commitments)])


def receive_share(
    group: Group,
    h_p: bytes,
    receiver: GuardianSecret,
    receiver_key: GuardianPublicKey,
    sender_key: GuardianPublicKey,
    share: EncryptedShare,
) -> tuple[mpz, mpz]:
    """Check and decrypt a share (eq. 23, 28, 29); `ShareInvalid` is the complaint's reason."""
    if share.receiver != receiver.index or share.sender != sender_key.index:
        raise ShareInvalid("share is addressed to a different pair of guardians")
    group.element(share.c0, "C_i,ℓ,0")
    if not verify_share_proof(group, h_p, share):
        raise ShareInvalid(
            f"share {share.sender}->{share.receiver}: the nonce proof does not verify",
            sender=share.sender,
        )
    beta = group.pow(share.c0, receiver.zeta)
    key = eghash.share_key(
        group, h_p, share.sender, share.receiver, receiver_key.kappa, share.c0, beta
    )
    k1, k2 = eghash.share_kdf(key, share.sender, share.receiver)
    value = mpz(int.from_bytes(_xor(share.c1[:32], k1), "big"))
    data_value = mpz(int.from_bytes(_xor(share.c1[32:], k2), "big"))
    if value >= group.q or data_value >= group.q:
        raise ShareInvalid(f"share {share.sender}->{share.receiver} decrypts outside Z_q")
    if group.g_pow(value) != public_share(group, sender_key.commitments, receiver.index):
        raise ShareInvalid(
            f"share {share.sender}->{share.receiver} does not match the commitments (eq. 28)",
            sender=share.sender,
        )
    if group.g_pow(data_value) != public_share(group, sender_key.data_commitments, receiver.index):
        raise ShareInvalid(
            f"share {share.sender}->{share.receiver} does not match the data commitments (eq. 29)",
            sender=share.sender,
        )
    return value, data_value


def own_share(group: Group, secret: GuardianSecret) -> tuple[mpz, mpz]:
    """P_i(i) and P̂_i(i): the part of z_i a guardian computes itself."""
    return _poly(group, secret.coefficients, secret.index), _poly(
        group, secret.data_coefficients, secret.index
    )


def key_share(
    group: Group, index: int, shares: Mapping[int, tuple[int, int]], n: int
) -> GuardianKeyShare:
    """z_i = Σ_j P_j(i), ẑ_i = Σ_j P̂_j(i) over all n senders, own share included (eq. 24)."""
    missing = [j for j in range(1, n + 1) if j not in shares]
    if missing:
        raise CeremonyIncomplete(f"guardian {index} lacks shares from {missing}", missing=missing)
    z = sum((mpz(shares[j][0]) for j in range(1, n + 1)), mpz(0)) % group.q
    z_hat = sum((mpz(shares[j][1]) for j in range(1, n + 1)), mpz(0)) % group.q
    return GuardianKeyShare(index, z, z_hat)


def joint_keys(group: Group, keys: Sequence[GuardianPublicKey]) -> tuple[mpz, mpz]:
    """K = ∏ K_i and K̂ = ∏ K̂_i (eq. 25, 26)."""
    return group.mul(*(k.vote_key for k in keys)), group.mul(*(k.data_key for k in keys))


def guardian_record_hash(group: Group, h_b: bytes, keys: Sequence[GuardianPublicKey]) -> bytes:
    """H_G over the guardians in index order (eq. 27), whatever order `keys` lists them in."""
    ordered = sorted(keys, key=lambda key: key.index)
    joint, joint_data = joint_keys(group, ordered)
    return eghash.guardian_record_hash(
        group,
        h_b,
        joint,
        joint_data,
        [k.commitments for k in ordered],
        [k.data_commitments for k in ordered],
        [k.kappa for k in ordered],
    )


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))
