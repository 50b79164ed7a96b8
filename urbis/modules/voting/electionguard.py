"""The one place the voting module touches `urbis.election`: wire bytes in, checked
ElectionGuard objects out, each library error turned into this module's error code.

Everything ElectionGuard publishes travels on chain as canonical JSON bytes (sorted keys,
no spaces) of the library's `to_json` form: the serialization draft's objects, readable in
the exported record as they are. Decoding refuses floats, and the library checks every
group element on the way in, so a ciphertext equal to 0, >= p or outside the subgroup is
`voting.bad_element` before any proof is looked at.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import gmpy2

from urbis.chain.errors import UrbisError
from urbis.crypto.jsonshape import loads_bounded
from urbis.election import ceremony
from urbis.election import hash as eghash
from urbis.election.ballot import ElectionContext, verify_ballot, verify_challenged
from urbis.election.group import (
    ElectionCryptoError,
    ElementNotInSubgroup,
    ElementOutOfRange,
    ElementZero,
    ExponentOutOfRange,
    Group,
    group_named,
)
from urbis.election.record import (
    CAST,
    Ciphertext,
    EncryptedBallot,
    GuardianPublicKey,
    Manifest,
)
from urbis.election.record import ChallengedBallot as RecordChallenged
from urbis.election.tally import (
    DecryptionCommit,
    DecryptionReveal,
    guardian_public_share,
    lagrange,
)
from urbis.election.tally import aggregate as eg_aggregate
from urbis.election.tally import challenges as eg_challenges
from urbis.election.tally import combine as eg_combine
from urbis.modules.voting.errors import (
    BadBallot,
    BadChallenge,
    BadDecryption,
    BadElement,
    BadGuardianProof,
    BadLimitProof,
    BadManifest,
    BadRangeProof,
    BadShareProof,
    BadShareReveal,
    OverVote,
)
from urbis.modules.voting.records import Election

T = TypeVar("T")

ELEMENT_ERRORS = (ElementZero, ElementOutOfRange, ElementNotInSubgroup, ExponentOutOfRange)


def canonical(value: Any) -> bytes:
    """The bytes a JSON-able object travels as: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _no_floats(text: str) -> Any:
    raise ValueError(f"numbers are integers or hex strings, not {text}")


def parse(raw: bytes, what: str, error: type[UrbisError]) -> Any:
    try:
        return loads_bounded(raw.decode(), parse_float=_no_floats, parse_constant=_no_floats)
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:
        raise error(f"{what} is not canonical JSON: {problem}") from None


def decoded(
    raw: bytes,
    what: str,
    decode: Callable[[Mapping[str, Any]], T],
    error: type[UrbisError],
) -> T:
    """Parse and decode with the library; an element outside the group is BadElement, any
    other refusal is `error`."""
    data = parse(raw, what, error)
    if not isinstance(data, dict):
        raise error(f"{what} must be a JSON object")
    try:
        return decode(data)
    except ELEMENT_ERRORS as problem:
        raise BadElement(f"{what}: {problem.message}") from None
    except ElectionCryptoError as problem:
        raise error(f"{what}: {problem.message}") from None
    except (KeyError, TypeError, ValueError, IndexError) as problem:
        raise error(f"{what} is malformed: {problem!r}") from None


def group(name: str) -> Group:
    try:
        return group_named(name)
    except ElectionCryptoError as problem:
        raise BadManifest(problem.message) from None


def manifest(raw: bytes) -> Manifest:
    try:
        return Manifest.parse(raw)
    except ElectionCryptoError as problem:
        raise BadManifest(problem.message) from None


def base_hashes(group_name: str, n: int, k: int, manifest_raw: bytes) -> tuple[bytes, bytes]:
    """H_P for (group, n, k) and H_B over the manifest's exact bytes (checked to parse)."""
    manifest(manifest_raw)
    h_p = eghash.parameter_base_hash(group(group_name), n, k)
    return h_p, eghash.election_base_hash(h_p, manifest_raw)


# -- key ceremony -----------------------------------------------------------------------------


def guardian_key(
    group_name: str, h_p: bytes, raw: bytes, index: int, k: int
) -> ceremony.GuardianPublicKey:
    """A guardian's public keys, every element and both Schnorr proofs checked."""
    g = group(group_name)
    key = decoded(
        raw,
        "guardian key",
        lambda data: ceremony.GuardianPublicKey.from_json(g, data),
        BadGuardianProof,
    )
    if key.index != index:
        raise BadGuardianProof(f"the key is for guardian {key.index}; the sender is {index}")
    try:
        ceremony.verify_guardian_key(g, h_p, key, k)
    except ELEMENT_ERRORS as problem:
        raise BadElement(problem.message) from None
    except ElectionCryptoError as problem:
        raise BadGuardianProof(problem.message) from None
    return key


def encrypted_share(
    group_name: str, h_p: bytes, raw: bytes, dealer: int, recipient: int
) -> ceremony.EncryptedShare:
    """A share with its nonce proof checked (what anyone can check without the recipient's
    secret; the recipient checks the rest and confirms or complains)."""
    g = group(group_name)
    share = decoded(
        raw, "share", lambda data: ceremony.EncryptedShare.from_json(g, data), BadShareProof
    )
    if (share.sender, share.receiver) != (dealer, recipient):
        raise BadShareProof(
            f"the share is {share.sender}->{share.receiver}, posted as {dealer}->{recipient}"
        )
    if not ceremony.verify_share_proof(g, h_p, share):
        raise BadShareProof(f"share {dealer}->{recipient}: the nonce proof does not verify")
    return share


def check_revealed_share(
    group_name: str, dealer_key: ceremony.GuardianPublicKey, recipient: int, raw: bytes
) -> None:
    """A share revealed after a complaint must match the dealer's commitments (eq. 28, 29)."""
    g = group(group_name)
    data = parse(raw, "revealed share", BadShareReveal)
    try:
        value = g.exponent_from_hex(data["value"], "P_i(l)")
        data_value = g.exponent_from_hex(data["data_value"], "P̂_i(l)")
    except (KeyError, TypeError) as problem:
        raise BadShareReveal(f"revealed share is malformed: {problem!r}") from None
    except ElectionCryptoError as problem:
        raise BadShareReveal(problem.message) from None
    if g.g_pow(value) != ceremony.public_share(g, dealer_key.commitments, recipient):
        raise BadShareReveal(f"share {dealer_key.index}->{recipient} fails eq. 28")
    if g.g_pow(data_value) != ceremony.public_share(g, dealer_key.data_commitments, recipient):
        raise BadShareReveal(f"share {dealer_key.index}->{recipient} fails eq. 29")


def joint_key(
    group_name: str, h_b: bytes, keys: Sequence[ceremony.GuardianPublicKey]
) -> tuple[bytes, bytes]:
    """(K and K̂ as canonical JSON, H_E)."""
    g = group(group_name)
    joint, joint_data = ceremony.joint_keys(g, keys)
    h_e = eghash.extended_base_hash(g, h_b, joint, joint_data)
    return canonical({"K": g.p_hex(joint), "K_hat": g.p_hex(joint_data)}), h_e


# -- ballots ----------------------------------------------------------------------------------


_contexts: dict[tuple[bytes, bytes], ElectionContext] = {}
"""Contexts by (election id, H_E): derived from committed data only, so caching them is
deterministic; parsing the manifest for every ballot would dominate CheckTx."""


def context(election: Election) -> ElectionContext:
    """What ballots of `election` are encrypted against (needs the joint key)."""
    cache_key = (election.id, election.extended_base_hash)
    found = _contexts.get(cache_key)
    if found is not None:
        return found
    g = group(election.group)
    joint = json.loads(election.joint_key)
    built = ElectionContext(
        g,
        len(election.guardians),
        election.quorum,
        manifest(election.manifest),
        election.parameter_hash,
        election.base_hash,
        g.element_from_hex(joint["K"], "K"),
        g.element_from_hex(joint["K_hat"], "K̂"),
        election.extended_base_hash,
    )
    if len(_contexts) > 64:
        _contexts.clear()
    _contexts[cache_key] = built
    return built


@dataclass(frozen=True)
class CheckedBallot:
    ballot: EncryptedBallot
    code: bytes


def _decode_ballot(g: Group, raw: bytes) -> EncryptedBallot:
    """Decode with every range checked; Z_p^r membership of alpha, beta and C0 is left to
    `verify_ballot`, which tests it in the same pass as the proofs (the library's fast
    ledger path)."""
    try:
        return EncryptedBallot.from_bytes(g, raw, subgroup=False)
    except ELEMENT_ERRORS as problem:
        raise BadElement(f"ballot: {problem.message}") from None
    except ElectionCryptoError as problem:
        raise BadBallot(f"ballot: {problem.message}") from None


BALLOT_CHECK_ERRORS: dict[str, type[UrbisError]] = {
    "range_proof": BadRangeProof,
    "limit_proof": BadLimitProof,
    "element": BadElement,
}


def checked_ballot(election: Election, raw: bytes) -> CheckedBallot:
    """Decode (every element checked) and verify every proof of a cast ballot; identical on
    every node. A proof that claims a wider range than the manifest allows is an over-vote."""
    ctx = context(election)
    ballot = _decode_ballot(ctx.group, raw)
    if ballot.state != CAST:
        raise BadBallot("a cast ballot has state cast")
    for encrypted in ballot.contests:
        try:
            contest = ctx.manifest.contest(encrypted.contest)
        except ElectionCryptoError as problem:
            raise BadBallot(problem.message) from None
        if (
            len(encrypted.selections) > len(contest.options)
            or len(encrypted.limit_proof.challenges) > contest.selection_limit + 1
        ):
            raise OverVote(
                f"contest {contest.index} allows {contest.selection_limit} selection(s); "
                "the ballot claims more"
            )
        for selection, option in zip(encrypted.selections, contest.options, strict=False):
            if len(selection.proof.challenges) > option.selection_limit + 1:
                raise OverVote(
                    f"contest {contest.index} option {option.index} allows at most "
                    f"{option.selection_limit}; the ballot claims more"
                )
    check = verify_ballot(ctx, ballot, check_elements=True)
    if check.failed is not None:
        error = BALLOT_CHECK_ERRORS.get(check.failed, BadBallot)
        raise error(f"ballot fails {check.failed}: {check.detail}", check=check.failed)
    return CheckedBallot(ballot, ballot.confirmation_code)


def check_challenge(election: Election, checked: CheckedBallot, raw: bytes) -> None:
    """A challenged ballot's published nonces must re-encrypt to its confirmation code."""
    ctx = context(election)
    published = decoded(
        raw, "challenge", lambda data: RecordChallenged.from_json(ctx.group, data), BadChallenge
    )
    result = verify_challenged(ctx, checked.ballot, published)
    if result.failed is not None:
        raise BadChallenge(f"challenge fails {result.failed}: {result.detail}")


# -- the aggregate ------------------------------------------------------------------------------


def _aggregate_json(g: Group, values: Mapping[tuple[int, int], Ciphertext]) -> bytes:
    return canonical(
        [
            {"contest": c, "option": o, "alpha": g.p_hex(ct.alpha), "beta": g.p_hex(ct.beta)}
            for (c, o), ct in sorted(values.items())
        ]
    )


def read_aggregate(
    g: Group, raw: bytes, trusted: bool = False
) -> dict[tuple[int, int], Ciphertext]:
    """The aggregate's (A, B) per option. `trusted` skips the subgroup checks for the copy
    this module wrote to its own state (every factor was checked when its ballot was)."""

    def element(text: str, what: str) -> Any:
        return gmpy2.mpz(int(text, 16)) if trusted else g.element_from_hex(text, what)

    return {
        (int(e["contest"]), int(e["option"])): Ciphertext(
            element(e["alpha"], "A"), element(e["beta"], "B")
        )
        for e in json.loads(raw)
    }


def empty_aggregate(election: Election) -> bytes:
    ctx = context(election)
    return _aggregate_json(ctx.group, eg_aggregate(ctx, []))


def _combined(
    election: Election, aggregate_raw: bytes | None, ballot: EncryptedBallot, sign: int
) -> bytes:
    ctx = context(election)
    g = ctx.group
    current = (
        eg_aggregate(ctx, [])
        if aggregate_raw is None
        else read_aggregate(g, aggregate_raw, trusted=True)
    )
    updated = dict(current)
    for encrypted in ballot.contests:
        for selection in encrypted.selections:
            key = (encrypted.contest, selection.option)
            alpha, beta = selection.ciphertext.alpha, selection.ciphertext.beta
            if sign < 0:
                alpha, beta = g.inv(alpha), g.inv(beta)
            old = updated[key]
            updated[key] = Ciphertext(old.alpha * alpha % g.p, old.beta * beta % g.p)
    return _aggregate_json(g, updated)


def aggregate_add(election: Election, aggregate_raw: bytes | None, checked: CheckedBallot) -> bytes:
    return _combined(election, aggregate_raw, checked.ballot, 1)


def aggregate_remove(election: Election, aggregate_raw: bytes | None, ballot_raw: bytes) -> bytes:
    """Take a replaced ballot back out of the aggregate (it was checked when it was cast)."""
    ballot = EncryptedBallot.from_bytes(context(election).group, ballot_raw, subgroup=False)
    return _combined(election, aggregate_raw, ballot, -1)


# -- decryption ---------------------------------------------------------------------------------


def guardian_keys(election: Election, stored: Sequence[bytes]) -> list[GuardianPublicKey]:
    g = group(election.group)
    return [GuardianPublicKey.from_json(g, json.loads(raw)) for raw in stored]


def decryption_commit(
    election: Election, aggregate_raw: bytes, index: int, raw: bytes
) -> DecryptionCommit:
    ctx = context(election)
    commit = decoded(
        raw,
        "decryption commitment",
        lambda d: DecryptionCommit.from_json(ctx.group, d),
        BadDecryption,
    )
    if commit.guardian != index:
        raise BadDecryption(f"the commitment is guardian {commit.guardian}'s, sent by {index}")
    expected = set(read_aggregate(ctx.group, aggregate_raw, trusted=True))
    if set(commit.partials) != expected or set(commit.commitments) != expected:
        raise BadDecryption("a commitment covers exactly the aggregate's options")
    return commit


def decryption_reveal(
    election: Election,
    aggregate_raw: bytes,
    available: Sequence[int],
    commit: DecryptionCommit,
    raw: bytes,
) -> DecryptionReveal:
    """(a_i, b_i) must be what guardian i committed to in d_i (eq. 88)."""
    ctx = context(election)
    reveal = decoded(
        raw, "decryption reveal", lambda d: DecryptionReveal.from_json(ctx.group, d), BadDecryption
    )
    if reveal.guardian != commit.guardian:
        raise BadDecryption(f"the reveal is guardian {reveal.guardian}'s")
    aggregate = read_aggregate(ctx.group, aggregate_raw, trusted=True)
    if set(reveal.pairs) != set(aggregate):
        raise BadDecryption("a reveal covers exactly the aggregate's options")
    for key, ciphertext in aggregate.items():
        a_i, b_i = reveal.pairs[key]
        expected = eghash.decryption_commitment(
            ctx.group,
            ctx.h_e,
            key[0],
            key[1],
            commit.guardian,
            ciphertext.alpha,
            ciphertext.beta,
            a_i,
            b_i,
            commit.partials[key],
            tuple(sorted(available)),
        )
        if expected != commit.commitments[key]:
            raise BadDecryption(
                f"guardian {commit.guardian}: (a_i, b_i) for option {key} do not match d_i"
            )
    return reveal


def decryption_challenges(
    election: Election,
    aggregate_raw: bytes,
    available: Sequence[int],
    commits: Sequence[DecryptionCommit],
    reveals: Sequence[DecryptionReveal],
) -> bytes:
    ctx = context(election)
    aggregate = read_aggregate(ctx.group, aggregate_raw, trusted=True)
    try:
        found = eg_challenges(ctx, aggregate, available, commits, reveals)
    except ElectionCryptoError as problem:
        raise BadDecryption(problem.message) from None
    return canonical(
        [
            {"contest": c, "option": o, "c": ctx.group.q_hex(v)}
            for (c, o), v in sorted(found.items())
        ]
    )


def read_challenges(g: Group, raw: bytes) -> dict[tuple[int, int], int]:
    return {
        (int(e["contest"]), int(e["option"])): int(g.exponent_from_hex(e["c"], "c"))
        for e in json.loads(raw)
    }


def read_responses(g: Group, raw: bytes, what: str = "responses") -> dict[tuple[int, int], int]:
    data = parse(raw, what, BadDecryption)
    try:
        return {
            (int(e["contest"]), int(e["option"])): int(g.exponent_from_hex(e["v_i"], "v_i"))
            for e in data["options"]
        }
    except ELEMENT_ERRORS as problem:
        raise BadElement(f"{what}: {problem.message}") from None
    except (KeyError, TypeError, ValueError) as problem:
        raise BadDecryption(f"{what} are malformed: {problem!r}") from None


def responses_json(g: Group, index: int, responses: Mapping[tuple[int, int], int]) -> bytes:
    return canonical(
        {
            "i": index,
            "options": [
                {"contest": c, "option": o, "v_i": g.q_hex(v)}
                for (c, o), v in sorted(responses.items())
            ],
        }
    )


def check_response(
    election: Election,
    guardians: Sequence[GuardianPublicKey],
    aggregate_raw: bytes,
    available: Sequence[int],
    commit: DecryptionCommit,
    reveal: DecryptionReveal,
    challenges_raw: bytes,
    raw: bytes,
) -> None:
    """Guardian i's Chaum-Pedersen response checks against g^{z_i} and M_i (eq. 94-95)."""
    ctx = context(election)
    g = ctx.group
    responses = read_responses(g, raw)
    aggregate = read_aggregate(g, aggregate_raw, trusted=True)
    if set(responses) != set(aggregate):
        raise BadDecryption("responses cover exactly the aggregate's options")
    challenge_of = read_challenges(g, challenges_raw)
    index = commit.guardian
    weight = lagrange(g, tuple(sorted(available)), index)
    public = guardian_public_share(ctx, guardians, index)
    for key, ciphertext in aggregate.items():
        c_i = challenge_of[key] * weight % g.q
        v_i = responses[key]
        a_i, b_i = reveal.pairs[key]
        a_check = g.g_pow(v_i) * g.pow(public, c_i) % g.p
        b_check = g.pow(ciphertext.alpha, v_i) * g.pow(commit.partials[key], c_i) % g.p
        if a_check != a_i or b_check != b_i:
            raise BadDecryption(
                f"guardian {index}: the partial decryption of option {key} does not verify"
            )


def combine(
    election: Election,
    guardians: Sequence[GuardianPublicKey],
    aggregate_raw: bytes,
    available: Sequence[int],
    commits: Sequence[DecryptionCommit],
    reveals: Sequence[DecryptionReveal],
    responses: Mapping[int, bytes],
) -> tuple[bytes, list[list[int]]]:
    """The result (the library's TallyResult as canonical JSON) and the counts per contest."""
    ctx = context(election)
    g = ctx.group
    aggregate = read_aggregate(g, aggregate_raw, trusted=True)
    max_tally = max(1, election.counted) * max(
        (o.selection_limit for c in ctx.manifest.contests for o in c.options), default=1
    )
    try:
        result = eg_combine(
            ctx,
            guardians,
            aggregate,
            available,
            commits,
            reveals,
            {i: read_responses(g, raw) for i, raw in responses.items()},
            max_tally,
        )
    except ELEMENT_ERRORS as problem:
        raise BadElement(problem.message) from None
    except ElectionCryptoError as problem:
        raise BadDecryption(problem.message) from None
    counts: list[list[int]] = []
    for contest in ctx.manifest.contests:
        by_option = {o.option: o.tally for o in result.options if o.contest == contest.index}
        counts.append([by_option[o.index] for o in contest.options])
    return canonical(result.to_json(g)), counts
