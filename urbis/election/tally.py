# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF002, RUF003
"""Tally (§3.5) and verifiable threshold decryption (§3.6.2-3.6.5).

The commit-then-challenge protocol, one call per round, so a ledger can run each round as
transactions:

1. `aggregate(context, cast_ballots)`: (A, B) per contest option (eq. 79).
2. each available guardian i: `commit(context, key_share, tally, available)` -> public
   `DecryptionCommit` (M_i and d_i per option) and a private `DecryptionNonces` (u_i) kept
   at the guardian's home;
3. once every d_j is in: each guardian publishes `reveal(nonces)` (a_i, b_i per option);
4. anyone: `challenges(context, tally, available, commits, reveals)` checks every d_j
   (eq. 88) and returns c per option (eq. 90);
5. each guardian: `respond(context, key_share, nonces, challenges, available)` -> v_i;
6. anyone: `combine(context, guardians, tally, available, commits, reveals, responses)`
   checks each guardian's response (Note 3.7, eq. 94-95), combines with Lagrange
   coefficients (eq. 85-86, 93) and finds each t (eq. 82) -> `TallyResult`.

A challenged ballot is normally opened by the voter's device (`ballot.challenge_ballot`); if
the device cannot, k guardians send `ballot_nonce_share` and `open_ballot_nonce` recovers ξ_B.

Fewer than k guardians raises `QuorumNotMet` with the number still needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2
from gmpy2 import mpz

from urbis.election import hash as eghash
from urbis.election.ballot import BallotInvalid, ElectionContext, small_log
from urbis.election.ceremony import GuardianKeyShare
from urbis.election.group import ElectionCryptoError, Group, multi_exp
from urbis.election.record import (
    CAST,
    Ciphertext,
    DecryptedOption,
    DecryptionShare,
    EncryptedBallot,
    GuardianPublicKey,
    TallyResult,
    decoding,
)

OptionKey = tuple[int, int]
"""(contest index, option index)."""


class QuorumNotMet(ElectionCryptoError):
    code = "election.quorum_not_met"


class DecryptionShareInvalid(ElectionCryptoError):
    code = "election.decryption_share_invalid"


class TallyInvalid(ElectionCryptoError):
    code = "election.tally_invalid"


def aggregate(
    context: ElectionContext, ballots: Iterable[EncryptedBallot]
) -> dict[OptionKey, Ciphertext]:
    """(A, B) = (∏ α, ∏ β) per option over the cast ballots (eq. 79); challenged ballots
    are skipped. Options no ballot carries aggregate to the encryption of 0 with nonce 0."""
    p = context.group.p
    alpha: dict[OptionKey, mpz] = {}
    beta: dict[OptionKey, mpz] = {}
    for contest in context.manifest.contests:
        for option in contest.options:
            alpha[(contest.index, option.index)] = mpz(1)
            beta[(contest.index, option.index)] = mpz(1)
    for ballot in ballots:
        if ballot.state != CAST:
            continue
        for encrypted in ballot.contests:
            for selection in encrypted.selections:
                key = (encrypted.contest, selection.option)
                if key not in alpha:
                    raise TallyInvalid(f"ballot carries unknown option {key}")
                alpha[key] = alpha[key] * selection.ciphertext.alpha % p
                beta[key] = beta[key] * selection.ciphertext.beta % p
    return {key: Ciphertext(alpha[key], beta[key]) for key in sorted(alpha)}


def lagrange(group: Group, available: Sequence[int], i: int) -> mpz:
    """w_i = ∏_{ℓ in U, ℓ != i} ℓ / (ℓ - i) mod q  (eq. 85)."""
    q = group.q
    numerator, denominator = mpz(1), mpz(1)
    for other in available:
        if other != i:
            numerator = numerator * other % q
            denominator = denominator * (other - i) % q
    return numerator * gmpy2.invert(denominator, q) % q


def check_quorum(context: ElectionContext, available: Sequence[int]) -> tuple[int, ...]:
    """U sorted, each index in 1..n once; raises `QuorumNotMet` with the count still needed."""
    ordered = tuple(sorted(set(available)))
    if len(ordered) != len(available) or any(not 1 <= i <= context.n for i in ordered):
        raise TallyInvalid(
            f"available guardians {list(available)} must be distinct, in 1..{context.n}"
        )
    if len(ordered) < context.k:
        missing = context.k - len(ordered)
        raise QuorumNotMet(
            f"{len(ordered)} of {context.n} guardians present; "
            f"{missing} more needed (quorum {context.k})",
            needed=missing,
        )
    return ordered


@dataclass(frozen=True)
class DecryptionCommit:
    """Guardian i's first message: M_i = A^{z_i} and d_i (eq. 84, 88) per option."""

    guardian: int
    partials: Mapping[OptionKey, mpz]
    commitments: Mapping[OptionKey, bytes]

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.guardian,
            "options": [
                {
                    "contest": c,
                    "option": o,
                    "m_i": group.p_hex(self.partials[(c, o)]),
                    "d_i": self.commitments[(c, o)].hex().upper(),
                }
                for (c, o) in sorted(self.partials)
            ],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> DecryptionCommit:
        with decoding("DecryptionCommit", DecryptionShareInvalid):
            partials: dict[OptionKey, mpz] = {}
            commitments: dict[OptionKey, bytes] = {}
            for entry in data["options"]:
                key = (int(entry["contest"]), int(entry["option"]))
                partials[key] = group.element_from_hex(entry["m_i"], "M_i")
                d = bytes.fromhex(entry["d_i"])
                if len(d) != 32:
                    raise DecryptionShareInvalid("d_i is 32 bytes")
                commitments[key] = d
            return cls(int(data["i"]), partials, commitments)


@dataclass(frozen=True)
class DecryptionReveal:
    """Guardian i's second message: (a_i, b_i) per option (eq. 87)."""

    guardian: int
    pairs: Mapping[OptionKey, tuple[mpz, mpz]]

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.guardian,
            "options": [
                {"contest": c, "option": o, "a_i": group.p_hex(a), "b_i": group.p_hex(b)}
                for (c, o), (a, b) in sorted(self.pairs.items())
            ],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> DecryptionReveal:
        with decoding("DecryptionReveal", DecryptionShareInvalid):
            return cls(
                int(data["i"]),
                {
                    (int(e["contest"]), int(e["option"])): (
                        group.element_from_hex(e["a_i"], "a_i"),
                        group.element_from_hex(e["b_i"], "b_i"),
                    )
                    for e in data["options"]
                },
            )


@dataclass(frozen=True)
class DecryptionNonces:
    """Guardian i's private u_i per option, kept between rounds. Never published."""

    guardian: int
    nonces: Mapping[OptionKey, mpz]
    reveal: DecryptionReveal

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.guardian,
            "nonces": [
                {"contest": c, "option": o, "u_i": group.q_hex(u)}
                for (c, o), u in sorted(self.nonces.items())
            ],
            "reveal": self.reveal.to_json(group),
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> DecryptionNonces:
        with decoding("DecryptionNonces", DecryptionShareInvalid):
            return cls(
                int(data["i"]),
                {
                    (int(e["contest"]), int(e["option"])): group.exponent_from_hex(e["u_i"], "u_i")
                    for e in data["nonces"]
                },
                DecryptionReveal.from_json(group, data["reveal"]),
            )


def commit(
    context: ElectionContext,
    key_share: GuardianKeyShare,
    tally: Mapping[OptionKey, Ciphertext],
    available: Sequence[int],
) -> tuple[DecryptionCommit, DecryptionNonces]:
    """Round 1 for guardian i: partial decryptions and the hash commitments d_i."""
    group = context.group
    ordered = check_quorum(context, available)
    if key_share.index not in ordered:
        raise TallyInvalid(f"guardian {key_share.index} is not among the available guardians")
    partials: dict[OptionKey, mpz] = {}
    commitments: dict[OptionKey, bytes] = {}
    nonces: dict[OptionKey, mpz] = {}
    pairs: dict[OptionKey, tuple[mpz, mpz]] = {}
    for key, ciphertext in sorted(tally.items()):
        u = group.random_exponent()
        a_i, b_i = group.g_pow(u), gmpy2.powmod(ciphertext.alpha, u, group.p)
        m_i = gmpy2.powmod(ciphertext.alpha, key_share.z, group.p)
        partials[key] = m_i
        nonces[key] = u
        pairs[key] = (a_i, b_i)
        commitments[key] = eghash.decryption_commitment(
            group,
            context.h_e,
            key[0],
            key[1],
            key_share.index,
            ciphertext.alpha,
            ciphertext.beta,
            a_i,
            b_i,
            m_i,
            ordered,
        )
    reveal = DecryptionReveal(key_share.index, pairs)
    return DecryptionCommit(key_share.index, partials, commitments), DecryptionNonces(
        key_share.index, nonces, reveal
    )


def reveal(nonces: DecryptionNonces) -> DecryptionReveal:
    """Round 2: publish (a_i, b_i), only after every other guardian's d_j has arrived."""
    return nonces.reveal


def _by_guardian(items: Iterable[Any], ordered: Sequence[int], what: str) -> dict[int, Any]:
    found = {item.guardian: item for item in items}
    missing = [i for i in ordered if i not in found]
    if missing:
        raise QuorumNotMet(
            f"no {what} yet from guardians {missing}", needed=len(missing), missing=missing
        )
    return found


def challenges(
    context: ElectionContext,
    tally: Mapping[OptionKey, Ciphertext],
    available: Sequence[int],
    commits: Iterable[DecryptionCommit],
    reveals: Iterable[DecryptionReveal],
) -> dict[OptionKey, mpz]:
    """Check each d_j against its reveal (eq. 88), then c per option (eq. 89-90)."""
    group = context.group
    ordered = check_quorum(context, available)
    commit_of = _by_guardian(commits, ordered, "commitment")
    reveal_of = _by_guardian(reveals, ordered, "reveal")
    weights = {i: lagrange(group, ordered, i) for i in ordered}
    out: dict[OptionKey, mpz] = {}
    for key, ciphertext in sorted(tally.items()):
        a, b, m = mpz(1), mpz(1), mpz(1)
        for i in ordered:
            try:
                m_i = commit_of[i].partials[key]
                a_i, b_i = reveal_of[i].pairs[key]
                d_i = commit_of[i].commitments[key]
            except KeyError:
                raise DecryptionShareInvalid(
                    f"guardian {i} sent nothing for option {key}", guardian=i
                ) from None
            expected = eghash.decryption_commitment(
                group,
                context.h_e,
                key[0],
                key[1],
                i,
                ciphertext.alpha,
                ciphertext.beta,
                a_i,
                b_i,
                m_i,
                ordered,
            )
            if expected != d_i:
                raise DecryptionShareInvalid(
                    f"guardian {i}: (a_i, b_i) do not match the commitment d_i for option {key}",
                    guardian=i,
                )
            a = a * a_i % group.p
            b = b * b_i % group.p
            m = m * gmpy2.powmod(m_i, weights[i], group.p) % group.p
        out[key] = eghash.decryption_challenge(
            group, context.h_e, key[0], key[1], ciphertext.alpha, ciphertext.beta, a, b, m
        )
    return out


def respond(
    context: ElectionContext,
    key_share: GuardianKeyShare,
    nonces: DecryptionNonces,
    challenge_of: Mapping[OptionKey, int],
    available: Sequence[int],
) -> dict[OptionKey, mpz]:
    """Round 3: v_i = u_i - c·w_i·z_i mod q per option (eq. 91-92)."""
    group = context.group
    ordered = check_quorum(context, available)
    w_i = lagrange(group, ordered, key_share.index)
    return {
        key: (u - challenge_of[key] * w_i * key_share.z) % group.q
        for key, u in sorted(nonces.nonces.items())
    }


def responses_to_json(
    group: Group, guardian: int, responses: Mapping[OptionKey, int]
) -> dict[str, Any]:
    """Guardian i's round-3 message as JSON: v_i per option."""
    return {
        "i": guardian,
        "options": [
            {"contest": c, "option": o, "v_i": group.q_hex(v)}
            for (c, o), v in sorted(responses.items())
        ],
    }


def responses_from_json(group: Group, data: Mapping[str, Any]) -> tuple[int, dict[OptionKey, mpz]]:
    """Decode a round-3 message; each v_i must lie in Z_q."""
    try:
        return int(data["i"]), {
            (int(e["contest"]), int(e["option"])): group.exponent_from_hex(e["v_i"], "v_i")
            for e in data["options"]
        }
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ElectionCryptoError):
            raise
        raise DecryptionShareInvalid(f"decryption response is malformed: {error!r}") from None


def guardian_public_share(
    context: ElectionContext, guardians: Sequence[GuardianPublicKey], i: int
) -> mpz:
    """g^{z_i} = ∏_j ∏_m K_j,m^(i^m), from the commitments alone (eq. 94's inner product)."""
    q = int(context.group.q)
    pairs = [(K, pow(i, m, q)) for g in guardians for m, K in enumerate(g.commitments)]
    return multi_exp(context.group, pairs)


def combine(
    context: ElectionContext,
    guardians: Sequence[GuardianPublicKey],
    tally: Mapping[OptionKey, Ciphertext],
    available: Sequence[int],
    commits: Iterable[DecryptionCommit],
    reveals: Iterable[DecryptionReveal],
    responses: Mapping[int, Mapping[OptionKey, int]],
    max_tally: int,
) -> TallyResult:
    """Check every guardian's response (eq. 94-95) so a bad share names its guardian, then
    combine M (eq. 86), v (eq. 93), T = B/M (eq. 82) and t with K^t = T."""
    group = context.group
    p, q = group.p, group.q
    ordered = check_quorum(context, available)
    commit_of = _by_guardian(list(commits), ordered, "commitment")
    reveal_of = _by_guardian(list(reveals), ordered, "reveal")
    missing = [i for i in ordered if i not in responses]
    if missing:
        raise QuorumNotMet(
            f"no response yet from guardians {missing}", needed=len(missing), missing=missing
        )
    challenge_of = challenges(context, tally, ordered, commit_of.values(), reveal_of.values())
    weights = {i: lagrange(group, ordered, i) for i in ordered}
    public = {i: guardian_public_share(context, guardians, i) for i in ordered}
    results: list[DecryptedOption] = []
    for key, ciphertext in sorted(tally.items()):
        c = challenge_of[key]
        m, v = mpz(1), mpz(0)
        shares = []
        for i in ordered:
            m_i = commit_of[i].partials[key]
            a_i, b_i = reveal_of[i].pairs[key]
            try:
                v_i = group.exponent(responses[i][key], "v_i")
            except KeyError:
                raise DecryptionShareInvalid(
                    f"guardian {i} sent no response for {key}", guardian=i
                ) from None
            c_i = c * weights[i] % q
            a_check = group.g_pow(v_i) * gmpy2.powmod(public[i], c_i, p) % p
            b_check = gmpy2.powmod(ciphertext.alpha, v_i, p) * gmpy2.powmod(m_i, c_i, p) % p
            if a_check != a_i or b_check != b_i:
                raise DecryptionShareInvalid(
                    f"guardian {i}: the partial decryption of option {key} does not verify",
                    guardian=i,
                )
            m = m * gmpy2.powmod(m_i, weights[i], p) % p
            v = (v + v_i) % q
            shares.append(DecryptionShare(i, m_i, a_i, b_i, v_i))
        value = ciphertext.beta * gmpy2.invert(m, p) % p
        t = small_log(group, context.joint_key, value, max_tally)
        if t is None:
            raise TallyInvalid(f"option {key}: no tally in 0..{max_tally} decrypts to T")
        results.append(DecryptedOption(key[0], key[1], t, value, c, v, tuple(shares)))
    labels = {
        contest.index: (contest.label, {o.index: o.label for o in contest.options})
        for contest in context.manifest.contests
    }
    return TallyResult(ordered, tuple(results), labels)


def decrypt_tally(
    context: ElectionContext,
    guardians: Sequence[GuardianPublicKey],
    key_shares: Sequence[GuardianKeyShare],
    tally: Mapping[OptionKey, Ciphertext],
    max_tally: int,
) -> TallyResult:
    """All rounds in one process, for tests, demos and the bench: the guardians in `key_shares`
    are the available set U."""
    available = [share.index for share in key_shares]
    rounds = [commit(context, share, tally, available) for share in key_shares]
    commits = [c for c, _ in rounds]
    reveals = [reveal(n) for _, n in rounds]
    challenge_of = challenges(context, tally, available, commits, reveals)
    responses = {
        share.index: respond(context, share, nonces, challenge_of, available)
        for share, (_, nonces) in zip(key_shares, rounds, strict=True)
    }
    return combine(context, guardians, tally, available, commits, reveals, responses, max_tally)


# -- challenged ballots opened by the guardians (§3.6.7) ---------------------------------------


def ballot_nonce_share(
    context: ElectionContext, key_share: GuardianKeyShare, ballot: EncryptedBallot
) -> mpz:
    """Guardian i's m_i = C_ξB,0^ẑ_i (eq. 107), only after the Schnorr proof of eq. 38 verifies.

    For a challenged ballot whose voter's device can no longer publish the nonces itself."""
    group = context.group
    nonce = ballot.ballot_nonce
    group.element(nonce.c0, "ballot nonce C0")
    a_b = group.g_pow(nonce.response) * gmpy2.powmod(nonce.c0, nonce.challenge, group.p) % group.p
    if eghash.ballot_nonce_challenge(group, ballot.h_i, a_b, nonce.c0, nonce.c1) != nonce.challenge:
        raise BallotInvalid("the ballot nonce's Schnorr proof fails; guardians must not decrypt it")
    return gmpy2.powmod(nonce.c0, key_share.z_hat, group.p)


def open_ballot_nonce(
    context: ElectionContext, ballot: EncryptedBallot, shares: Mapping[int, int]
) -> bytes:
    """ξ_B from k or more guardians' m_i: β_B = ∏ m_i^w_i (eq. 108), then eq. 35-36.

    Pass the result to `ballot.challenge_ballot`, which derives and publishes the selection
    nonces; a wrong share yields a ξ_B that does not open the ballot (`BallotInvalid`)."""
    group = context.group
    available = check_quorum(context, list(shares))
    beta = mpz(1)
    for i in available:
        m_i = group.element(shares[i], "m_i")
        beta = beta * gmpy2.powmod(m_i, lagrange(group, available, i), group.p) % group.p
    nonce = ballot.ballot_nonce
    k1 = eghash.ballot_nonce_kdf(eghash.ballot_nonce_key(group, ballot.h_i, nonce.c0, beta))
    return bytes(x ^ y for x, y in zip(nonce.c1, k1, strict=True))
