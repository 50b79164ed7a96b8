# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF002, RUF003
"""Ballot encryption (§3.3), confirmation codes (§3.4) and the Benaloh challenge (§3.6.7).

`ElectionContext.build` fixes what a ballot is encrypted against (group, manifest bytes,
K, K̂, H_E). `Device.start` opens a device's confirmation-code chain. `encrypt_ballot` returns
the encrypted ballot and its secret ballot nonce ξ_B (kept by the voter's device only to
answer a challenge). `verify_ballot` checks everything a validator must check before a ballot
enters a block and names the first check that failed. `challenge_ballot` publishes the
selection nonces ξ_i,j (never ξ_B) and `verify_challenged` checks them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import gmpy2
from gmpy2 import mpz

from urbis.election import hash as eghash
from urbis.election.group import (
    ElectionCryptoError,
    ElementNotInSubgroup,
    Group,
    chain_member,
    chain_powers,
    chain_product,
    power_chain,
    powers,
)
from urbis.election.record import (
    ChallengedBallot,
    Ciphertext,
    EncryptedBallot,
    EncryptedBallotNonce,
    EncryptedContest,
    EncryptedSelection,
    GuardianPublicKey,
    Manifest,
    RangeProof,
)


class BallotInvalid(ElectionCryptoError):
    code = "election.ballot_invalid"


class RangeProofInvalid(BallotInvalid):
    code = "election.range_proof_invalid"


class LimitProofInvalid(BallotInvalid):
    code = "election.limit_proof_invalid"


class ConfirmationCodeInvalid(BallotInvalid):
    code = "election.confirmation_code_invalid"


CHECK_ERRORS: dict[str, type[BallotInvalid]] = {
    "range_proof": RangeProofInvalid,
    "limit_proof": LimitProofInvalid,
    "contest_hash": ConfirmationCodeInvalid,
    "confirmation_code": ConfirmationCodeInvalid,
}
"""Error class per failed check for `BallotCheck.raise_for_failure` (others: BallotInvalid)."""


class OverVote(ElectionCryptoError):
    code = "election.over_vote"


class SelectionInvalid(ElectionCryptoError):
    code = "election.selection_invalid"


@dataclass(frozen=True)
class ElectionContext:
    """What every ballot is encrypted against; built once the key ceremony is complete."""

    group: Group
    n: int
    k: int
    manifest: Manifest
    h_p: bytes
    h_b: bytes
    joint_key: mpz
    joint_data_key: mpz
    h_e: bytes

    @classmethod
    def build(
        cls, group: Group, n: int, k: int, manifest: bytes, guardians: Sequence[GuardianPublicKey]
    ) -> ElectionContext:
        """H_P, H_B over the manifest's exact bytes, K and K̂ from the guardians, H_E."""
        if not 1 <= k <= n:
            raise ElectionCryptoError("quorum k must satisfy 1 <= k <= n")
        ordered = sorted(guardians, key=lambda g: g.index)
        if [g.index for g in ordered] != list(range(1, n + 1)):
            raise ElectionCryptoError(f"need guardians 1..{n}, have {[g.index for g in ordered]}")
        parsed = Manifest.parse(manifest)
        h_p = eghash.parameter_base_hash(group, n, k)
        h_b = eghash.election_base_hash(h_p, manifest)
        joint_key = group.mul(*(g.vote_key for g in ordered))
        joint_data_key = group.mul(*(g.data_key for g in ordered))
        h_e = eghash.extended_base_hash(group, h_b, joint_key, joint_data_key)
        return cls(group, n, k, parsed, h_p, h_b, joint_key, joint_data_key, h_e)


@dataclass
class Device:
    """A voting device's confirmation-code chain: "none" or "simple" chaining (§3.4.4)."""

    label: str
    chaining: str
    device_hash: bytes
    first_field: bytes
    codes: list[bytes] = field(default_factory=list)
    _last: bytes = b""

    @classmethod
    def start(cls, context: ElectionContext, label: str, chaining: str = "simple") -> Device:
        if chaining not in ("none", "simple"):
            raise ElectionCryptoError(f"chaining mode must be none or simple, not {chaining!r}")
        h_di = eghash.device_hash(context.h_e, label)
        if chaining == "simple":
            first, h_0 = eghash.chain_start(context.h_e, h_di)
            return cls(label, chaining, h_di, first, [], h_0)
        return cls(label, chaining, h_di, eghash.NO_CHAINING + h_di)

    def chaining_field(self) -> bytes:
        """B_C for the next ballot: 0x00000000 ∥ H_DI, or 0x00000001 ∥ H_{j-1}."""
        if self.chaining == "none":
            return self.first_field
        return eghash.SIMPLE_CHAINING + self._last

    def advance(self, code: bytes) -> None:
        self.codes.append(code)
        if self.chaining == "simple":
            self._last = code

    def close(self, context: ElectionContext) -> bytes | None:
        """The closing hash H (eq. 77, 78) for simple chaining; None without chaining."""
        if self.chaining != "simple":
            return None
        return eghash.chain_close(context.h_e, self._last, self.first_field)


# -- range proofs (eq. 57-62) ------------------------------------------------------------------


def prove_range(
    context: ElectionContext,
    h_i: bytes,
    contest: int,
    option: int | None,
    ciphertext: Ciphertext,
    nonce: int,
    value: int,
    limit: int,
) -> RangeProof:
    """Prove (α, β) encrypts `value` in 0..limit. Given a value outside the range it still
    returns a proof, which fails verification (so tests can show over-votes are caught)."""
    group = context.group
    q = group.q
    key = group.fixed_base(context.joint_key)
    u = [group.random_exponent() for _ in range(limit + 1)]
    c = [group.random_exponent() for _ in range(limit + 1)]
    commitments: list[tuple[mpz, mpz]] = []
    for j in range(limit + 1):
        a_j = group.g_pow(u[j])
        t_j = u[j] if j == value else (u[j] + (value - j) * c[j]) % q
        commitments.append((a_j, key.pow(t_j)))
    challenge = eghash.range_challenge(
        group, h_i, contest, option, ciphertext.alpha, ciphertext.beta, commitments
    )
    if 0 <= value <= limit:
        c[value] = (challenge - sum(c[j] for j in range(limit + 1) if j != value)) % q
    responses = tuple((u[j] - c[j] * nonce) % q for j in range(limit + 1))
    return RangeProof(tuple(mpz(x) for x in c), responses)


def check_range(
    context: ElectionContext,
    h_i: bytes,
    contest: int,
    option: int | None,
    ciphertext: Ciphertext,
    proof: RangeProof,
    limit: int,
    *,
    check_subgroup: bool = False,
    chains: tuple[Sequence[mpz], Sequence[mpz]] | None = None,
) -> bool:
    """Verification 6 / 7 for one proof: recompute (a_j, b_j), then c and Σ c_j.

    The powers α^c_j and β^c_j come from one chain of squarings per base (`power_chain`,
    or `chains` the caller already built); with `check_subgroup` the same chains test
    α, β ∈ Z_p^r and raise `ElementNotInSubgroup`. `check_range_plain` is the
    one-powmod-per-power reference this is tested against."""
    group = context.group
    if len(proof.challenges) != limit + 1 or len(proof.responses) != limit + 1:
        return False
    p, q = group.p, group.q
    key = group.fixed_base(context.joint_key)
    if chains is None:
        chains = ciphertext_chains(group, ciphertext, check_subgroup=check_subgroup)
    alpha_powers = chain_powers(group, chains[0], proof.challenges)
    beta_powers = chain_powers(group, chains[1], proof.challenges)
    commitments = []
    for j, (c_j, v_j) in enumerate(zip(proof.challenges, proof.responses, strict=True)):
        a_j = group.g_pow(v_j) * alpha_powers[j] % p
        b_j = key.pow((v_j - j * c_j) % q) * beta_powers[j] % p
        commitments.append((a_j, b_j))
    challenge = eghash.range_challenge(
        group, h_i, contest, option, ciphertext.alpha, ciphertext.beta, commitments
    )
    return challenge == sum(proof.challenges) % q


def ciphertext_chains(
    group: Group, ciphertext: Ciphertext, *, check_subgroup: bool
) -> tuple[list[mpz], list[mpz]]:
    """The squaring chains of α and β; with `check_subgroup`, raise `ElementNotInSubgroup`
    unless both are in Z_p^r (their range 0 < x < p is checked at decode)."""
    alpha_chain = power_chain(group, ciphertext.alpha)
    beta_chain = power_chain(group, ciphertext.beta)
    if check_subgroup and not (
        chain_member(group, alpha_chain) and chain_member(group, beta_chain)
    ):
        raise ElementNotInSubgroup(
            "a ciphertext value is not in the order-q subgroup", what="alpha/beta"
        )
    return alpha_chain, beta_chain


def check_range_plain(
    context: ElectionContext,
    h_i: bytes,
    contest: int,
    option: int | None,
    ciphertext: Ciphertext,
    proof: RangeProof,
    limit: int,
) -> bool:
    """The reference path of `check_range`: every power by `powmod`, straight from eq. 6.1-6.3."""
    group = context.group
    if len(proof.challenges) != limit + 1 or len(proof.responses) != limit + 1:
        return False
    p, q = group.p, group.q
    commitments = []
    for j, (c_j, v_j) in enumerate(zip(proof.challenges, proof.responses, strict=True)):
        a_j = gmpy2.powmod(group.g, v_j, p) * gmpy2.powmod(ciphertext.alpha, c_j, p) % p
        w_j = (v_j - j * c_j) % q
        b_j = gmpy2.powmod(context.joint_key, w_j, p) * gmpy2.powmod(ciphertext.beta, c_j, p) % p
        commitments.append((a_j, b_j))
    challenge = eghash.range_challenge(
        group, h_i, contest, option, ciphertext.alpha, ciphertext.beta, commitments
    )
    return challenge == sum(proof.challenges) % q


# -- ballot encryption -------------------------------------------------------------------------


def encrypt_selection(context: ElectionContext, value: int, nonce: int) -> Ciphertext:
    """Enc(σ, ξ) = (g^ξ, K^(σ+ξ))  (eq. 31)."""
    group = context.group
    return Ciphertext(group.g_pow(nonce), group.fixed_base(context.joint_key).pow(value + nonce))


def encrypt_ballot_nonce(
    context: ElectionContext, h_i: bytes, ballot_nonce: bytes
) -> EncryptedBallotNonce:
    """Encrypt ξ_B to K̂ with a Schnorr proof of the encryption nonce (eq. 34-38)."""
    group = context.group
    xi_hat = group.random_exponent()
    alpha = group.g_pow(xi_hat)
    beta = group.fixed_base(context.joint_data_key).pow(xi_hat)
    k1 = eghash.ballot_nonce_kdf(eghash.ballot_nonce_key(group, h_i, alpha, beta))
    c1 = bytes(x ^ y for x, y in zip(ballot_nonce, k1, strict=True))
    u = group.random_exponent()
    c = eghash.ballot_nonce_challenge(group, h_i, group.g_pow(u), alpha, c1)
    return EncryptedBallotNonce(alpha, c1, c, (u - c * xi_hat) % group.q)


def normalize_selections(
    context: ElectionContext, style: int, selections: Mapping[int, Sequence[int]]
) -> dict[int, tuple[int, ...]]:
    """Selections for every contest of the style (absent contests are all zero); raises
    `SelectionInvalid` for an unknown contest or a wrong length, `OverVote` above a limit."""
    manifest = context.manifest
    ballot_style = manifest.style(style)
    unknown = sorted(set(selections) - set(ballot_style.contests))
    if unknown:
        raise SelectionInvalid(f"contests {unknown} are not on ballot style {style}")
    out: dict[int, tuple[int, ...]] = {}
    for index in ballot_style.contests:
        contest = manifest.contest(index)
        values = tuple(int(v) for v in selections.get(index, (0,) * len(contest.options)))
        if len(values) != len(contest.options):
            raise SelectionInvalid(
                f"contest {index} has {len(contest.options)} options, got {len(values)} values"
            )
        if any(v < 0 for v in values):
            raise SelectionInvalid(f"contest {index}: a selection is negative")
        for option, v in zip(contest.options, values, strict=True):
            if v > option.selection_limit:
                raise OverVote(
                    f"contest {index} option {option.index}: {v} exceeds its limit "
                    f"{option.selection_limit}",
                    contest=index,
                )
        if sum(values) > contest.selection_limit:
            raise OverVote(
                f"contest {index}: {sum(values)} selections exceed "
                f"the limit {contest.selection_limit}",
                contest=index,
            )
        out[index] = values
    return out


def encrypt_contest(
    context: ElectionContext,
    h_i: bytes,
    ballot_nonce: bytes,
    contest_index: int,
    values: Sequence[int],
) -> EncryptedContest:
    """Encrypt one contest: selections with nonces from ξ_B (eq. 33), range proofs, the
    selection-limit proof over the aggregate (eq. 62) and the contest hash (eq. 70)."""
    group = context.group
    contest = context.manifest.contest(contest_index)
    encrypted: list[EncryptedSelection] = []
    nonce_sum = mpz(0)
    alpha_bar, beta_bar = mpz(1), mpz(1)
    for option, value in zip(contest.options, values, strict=True):
        nonce = eghash.selection_nonce(group, h_i, contest_index, option.index, ballot_nonce)
        ciphertext = encrypt_selection(context, value, nonce)
        proof = prove_range(
            context,
            h_i,
            contest_index,
            option.index,
            ciphertext,
            nonce,
            value,
            option.selection_limit,
        )
        encrypted.append(EncryptedSelection(option.index, ciphertext, proof))
        nonce_sum = (nonce_sum + nonce) % group.q
        alpha_bar = alpha_bar * ciphertext.alpha % group.p
        beta_bar = beta_bar * ciphertext.beta % group.p
    limit_proof = prove_range(
        context,
        h_i,
        contest_index,
        None,
        Ciphertext(alpha_bar, beta_bar),
        nonce_sum,
        sum(values),
        contest.selection_limit,
    )
    chi = eghash.contest_hash(
        group, h_i, contest_index, [(s.ciphertext.alpha, s.ciphertext.beta) for s in encrypted]
    )
    return EncryptedContest(contest_index, tuple(encrypted), limit_proof, chi)


def encrypt_ballot(
    context: ElectionContext,
    style: int,
    selections: Mapping[int, Sequence[int]],
    device: Device,
    *,
    id_b: bytes | None = None,
    ballot_nonce: bytes | None = None,
) -> tuple[EncryptedBallot, bytes]:
    """Encrypt a ballot; returns it with the secret ξ_B. Advances the device's chain."""
    values = normalize_selections(context, style, selections)
    id_b = secrets.token_bytes(32) if id_b is None else id_b
    ballot_nonce = secrets.token_bytes(32) if ballot_nonce is None else ballot_nonce
    if len(id_b) != 32 or len(ballot_nonce) != 32:
        raise ElectionCryptoError("id_B and ξ_B are 32 bytes each")
    h_i = eghash.identifier_hash(context.h_e, id_b)
    contests = tuple(
        encrypt_contest(context, h_i, ballot_nonce, index, values[index])
        for index in sorted(values)
    )
    nonce_ct = encrypt_ballot_nonce(context, h_i, ballot_nonce)
    chaining_field = device.chaining_field()
    code = eghash.confirmation_code(h_i, [c.contest_hash for c in contests], chaining_field)
    device.advance(code)
    ballot = EncryptedBallot(
        id_b, h_i, style, contests, nonce_ct, device.label, chaining_field, code
    )
    return ballot, ballot_nonce


# -- ballot verification -----------------------------------------------------------------------


@dataclass(frozen=True)
class BallotCheck:
    """The outcome of `verify_ballot`: `failed` names the first check that did not pass."""

    failed: str | None = None
    detail: str = ""
    cause: ElectionCryptoError | None = None
    """For an `element` failure, the element error itself (zero, out of range, subgroup)."""

    @property
    def ok(self) -> bool:
        return self.failed is None

    def raise_for_failure(self) -> None:
        """Raise the coded error for the failed check; do nothing if the ballot passed."""
        if self.failed is None:
            return
        if self.cause is not None:
            raise self.cause
        error_class = CHECK_ERRORS.get(self.failed, BallotInvalid)
        raise error_class(f"ballot fails {self.failed}: {self.detail}", check=self.failed)


def verify_ballot(
    context: ElectionContext, ballot: EncryptedBallot, *, check_elements: bool = True
) -> BallotCheck:
    """Every check a validator makes on one ballot (Verifications 5.B, 6, 7, 8.A-B, and the
    ballot-nonce proof), in that order; the result names the first that failed.

    With `check_elements` (the default) every value's range and Z_p^r membership is checked
    too, membership in the same pass as the proofs; so the fast ledger path is
    `EncryptedBallot.from_bytes(group, raw, subgroup=False)` then `verify_ballot(...)`.
    Pass `check_elements=False` only for a ballot decoded with full checks."""
    group = context.group
    manifest = context.manifest
    if ballot.h_i != eghash.identifier_hash(context.h_e, ballot.id_b):
        return BallotCheck("identifier_hash", "H_I != H(H_E; 0x20, id_B)")
    try:
        style = manifest.style(ballot.style)
    except ElectionCryptoError as error:
        return BallotCheck("style", str(error))
    if tuple(c.contest for c in ballot.contests) != style.contests:
        return BallotCheck("style", f"contests must be exactly {list(style.contests)} in order")
    if check_elements:
        # Ranges here (0 < x < p, proof values in Z_q); Z_p^r membership of α, β and C0 is
        # tested below in the same pass as the proofs.
        try:
            group.element(ballot.ballot_nonce.c0, "ballot nonce C0", subgroup=False)
            for checked in ballot.contests:
                for selection in checked.selections:
                    group.element(selection.ciphertext.alpha, "alpha", subgroup=False)
                    group.element(selection.ciphertext.beta, "beta", subgroup=False)
                for proof in (checked.limit_proof, *(s.proof for s in checked.selections)):
                    for x in (*proof.challenges, *proof.responses):
                        group.exponent(x, "proof value")
        except ElectionCryptoError as error:
            return BallotCheck("element", str(error), error)
    try:
        failed = _check_proofs(context, ballot, check_elements)
    except ElementNotInSubgroup as error:
        return BallotCheck("element", str(error), error)
    if failed is not None:
        return failed
    code = eghash.confirmation_code(
        ballot.h_i, [c.contest_hash for c in ballot.contests], ballot.chaining_field
    )
    if code != ballot.confirmation_code:
        return BallotCheck("confirmation_code", "H_C does not match the contest hashes and B_C")
    return BallotCheck()


# -- Benaloh challenge -------------------------------------------------------------------------


def small_log(group: Group, base: int, value: int, bound: int) -> int | None:
    """t in 0..bound with base^t == value, by baby-step giant-step; None if there is none."""
    p = group.p
    step = max(1, int(gmpy2.isqrt(bound)) + 1)
    baby: dict[int, int] = {}
    current = mpz(1)
    for j in range(step):
        baby.setdefault(int(current), j)
        current = current * base % p
    giant = gmpy2.invert(current, p)  # base^(-step)
    gamma = mpz(value)
    for i in range(step + 1):
        found = baby.get(int(gamma))
        if found is not None and i * step + found <= bound:
            return i * step + found
        gamma = gamma * giant % p
    return None


def challenge_ballot(
    context: ElectionContext, ballot: EncryptedBallot, ballot_nonce: bytes
) -> ChallengedBallot:
    """What the voter's device publishes when the voter challenges: the selection nonces ξ_i,j
    derived from ξ_B (never ξ_B itself) and the selections they reveal."""
    group = context.group
    key = group.fixed_base(context.joint_key)
    selections: dict[int, tuple[int, ...]] = {}
    nonces: dict[int, tuple[mpz, ...]] = {}
    for encrypted in ballot.contests:
        contest = context.manifest.contest(encrypted.contest)
        values: list[int] = []
        contest_nonces: list[mpz] = []
        for selection, option in zip(encrypted.selections, contest.options, strict=True):
            nonce = eghash.selection_nonce(
                group, ballot.h_i, contest.index, option.index, ballot_nonce
            )
            k_sigma = selection.ciphertext.beta * gmpy2.invert(key.pow(nonce), group.p) % group.p
            value = small_log(group, context.joint_key, k_sigma, option.selection_limit)
            if value is None:
                raise BallotInvalid("the ballot nonce does not open this ballot")
            values.append(value)
            contest_nonces.append(nonce)
        selections[contest.index] = tuple(values)
        nonces[contest.index] = tuple(contest_nonces)
    return ChallengedBallot(ballot.confirmation_code, selections, nonces)


def verify_challenged(
    context: ElectionContext, ballot: EncryptedBallot, challenged: ChallengedBallot
) -> BallotCheck:
    """Verifications 13 and 14 for one challenged ballot: re-encrypt with the nonces, rebuild
    the contest hashes and H_C, and check the selections are within the limits."""
    group = context.group
    if ballot.confirmation_code != challenged.confirmation_code:
        return BallotCheck("challenge_match", "the challenge names a different ballot")
    hashes: list[bytes] = []
    for encrypted in ballot.contests:
        contest = context.manifest.contest(encrypted.contest)
        values = challenged.selections.get(contest.index)
        nonces = challenged.nonces.get(contest.index)
        if values is None or nonces is None or len(values) != len(contest.options):
            return BallotCheck("challenge_contents", f"contest {contest.index} is missing or short")
        if any(v > o.selection_limit for v, o in zip(values, contest.options, strict=True)) or (
            sum(values) > contest.selection_limit
        ):
            return BallotCheck("challenge_limits", f"contest {contest.index} exceeds a limit")
        recomputed = [encrypt_selection(context, v, x) for v, x in zip(values, nonces, strict=True)]
        hashes.append(
            eghash.contest_hash(
                group, ballot.h_i, contest.index, [(c.alpha, c.beta) for c in recomputed]
            )
        )
    code = eghash.confirmation_code(ballot.h_i, hashes, ballot.chaining_field)
    if code != ballot.confirmation_code:
        return BallotCheck("challenge_code", "re-encryption does not give the confirmation code")
    return BallotCheck()


def _check_proofs(
    context: ElectionContext, ballot: EncryptedBallot, check_subgroup: bool
) -> BallotCheck | None:
    """Range proofs, selection-limit proofs, contest hashes and the ballot-nonce proof."""
    group = context.group
    manifest = context.manifest
    for encrypted in ballot.contests:
        contest = manifest.contest(encrypted.contest)
        if tuple(s.option for s in encrypted.selections) != tuple(o.index for o in contest.options):
            return BallotCheck(
                "options", f"contest {contest.index}: options out of order or missing"
            )
        alpha_bar, beta_bar = mpz(1), mpz(1)
        chains = []
        for selection, option in zip(encrypted.selections, contest.options, strict=True):
            pair = ciphertext_chains(group, selection.ciphertext, check_subgroup=check_subgroup)
            if not check_range(
                context,
                ballot.h_i,
                contest.index,
                option.index,
                selection.ciphertext,
                selection.proof,
                option.selection_limit,
                chains=pair,
            ):
                return BallotCheck("range_proof", f"contest {contest.index} option {option.index}")
            chains.append(pair)
            alpha_bar = alpha_bar * selection.ciphertext.alpha % group.p
            beta_bar = beta_bar * selection.ciphertext.beta % group.p
        # (ᾱ, β̄)'s chains as products of the selections' chains: cheaper up to 4 options.
        bar_chains = None
        if len(chains) <= 4:
            bar_chains = (
                chain_product(group, [a for a, _ in chains]),
                chain_product(group, [b for _, b in chains]),
            )
        if not check_range(
            context,
            ballot.h_i,
            contest.index,
            None,
            Ciphertext(alpha_bar, beta_bar),
            encrypted.limit_proof,
            contest.selection_limit,
            chains=bar_chains,
        ):
            return BallotCheck("limit_proof", f"contest {contest.index}")
        chi = eghash.contest_hash(
            group,
            ballot.h_i,
            contest.index,
            [(s.ciphertext.alpha, s.ciphertext.beta) for s in encrypted.selections],
        )
        if chi != encrypted.contest_hash:
            return BallotCheck("contest_hash", f"contest {contest.index}")
    nonce = ballot.ballot_nonce
    (c0_power,), c0_ok = powers(group, nonce.c0, [nonce.challenge], check_subgroup=check_subgroup)
    if not c0_ok:
        raise ElementNotInSubgroup("ballot nonce C0 is not in the order-q subgroup", what="C0")
    a_b = group.g_pow(nonce.response) * c0_power % group.p
    if eghash.ballot_nonce_challenge(group, ballot.h_i, a_b, nonce.c0, nonce.c1) != nonce.challenge:
        return BallotCheck("ballot_nonce_proof", "the Schnorr proof of the ballot nonce fails")
    return None
