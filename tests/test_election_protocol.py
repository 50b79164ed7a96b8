"""Key ceremony, ballots and tally through the public API, honest and forged (toy group for
speed, plus one standard-group round trip)."""

from __future__ import annotations

import dataclasses
import json

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbis.election import ballot as egballot
from urbis.election import ceremony, simulate, tally
from urbis.election import hash as eghash
from urbis.election.group import (
    STANDARD,
    TOY,
    ElectionCryptoError,
    ElementNotInSubgroup,
    ElementOutOfRange,
    ElementZero,
    ExponentOutOfRange,
)
from urbis.election.record import Ciphertext, EncryptedBallot, Manifest, ManifestInvalid

MANIFEST = json.dumps(
    {
        "label": "Barcelona referendum 2026",
        "contests": [
            {"label": "Superblocks", "options": [{"label": "Yes"}, {"label": "No"}]},
            {
                "label": "Council",
                "selection_limit": 2,
                "options": [{"label": "Ada"}, {"label": "Bo"}, {"label": "Cy"}],
            },
        ],
        "ballot_styles": [{"label": "all", "contests": [1, 2]}],
    },
    ensure_ascii=False,
).encode()


@pytest.fixture(scope="module")
def guardians() -> simulate.Guardians:
    return simulate.run_ceremony(TOY, 5, 3)


@pytest.fixture(scope="module")
def context(guardians: simulate.Guardians) -> egballot.ElectionContext:
    return egballot.ElectionContext.build(TOY, 5, 3, MANIFEST, guardians.public)


def _encrypt(
    context: egballot.ElectionContext, votes: dict[int, list[int]]
) -> tuple[EncryptedBallot, bytes]:
    return egballot.encrypt_ballot(context, 1, votes, egballot.Device.start(context, "test"))


# -- manifest ----------------------------------------------------------------------------------


def test_manifest_effective_limits_follow_the_serialization_draft() -> None:
    raw = json.dumps(
        {
            "label": "m",
            "contests": [
                {
                    "label": "a",
                    "selection_limit": 3,
                    "options": [
                        {"label": "x", "selection_limit": "CONTEST_LIMIT"},
                        {"label": "y", "selection_limit": 8},
                    ],
                },
                {
                    "label": "b",
                    "selection_limit": "NO_LIMIT",
                    "options": [{"label": "x"}, {"label": "y", "selection_limit": 2}],
                },
            ],
            "ballot_styles": [{"label": "s", "contests": [1, 2]}],
        }
    ).encode()
    manifest = Manifest.parse(raw)
    assert [o.selection_limit for o in manifest.contest(1).options] == [3, 3]
    assert manifest.contest(1).selection_limit == 3
    assert manifest.contest(2).selection_limit == 3
    assert manifest.raw == raw


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"label": "x"}', b'{"label": " x", "contests": [], "ballot_styles": []}'],
)
def test_bad_manifest_is_election_manifest_invalid(raw: bytes) -> None:
    with pytest.raises(ManifestInvalid) as error:
        Manifest.parse(raw)
    assert error.value.code == "election.manifest_invalid"


def test_h_b_is_over_the_exact_manifest_bytes(guardians: simulate.Guardians) -> None:
    """Reformatting the manifest (same JSON value) changes H_B: bytes are never re-serialized."""
    pretty = json.dumps(json.loads(MANIFEST), indent=2).encode()
    a = egballot.ElectionContext.build(TOY, 5, 3, MANIFEST, guardians.public)
    b = egballot.ElectionContext.build(TOY, 5, 3, pretty, guardians.public)
    assert a.h_b != b.h_b and a.h_e != b.h_e


# -- key ceremony --------------------------------------------------------------------------------


def test_shares_reconstruct_the_joint_secret(guardians: simulate.Guardians) -> None:
    """Any 3 of the 5 z_i recombine to s = Σ s_i (Lagrange), and g^z_i matches the commitments."""
    group = TOY
    secret = sum(s.coefficients[0] for s in guardians.secrets) % group.q
    for subset in ([1, 2, 3], [1, 3, 5], [2, 4, 5]):
        combined = (
            sum(tally.lagrange(group, subset, i) * guardians.shares[i - 1].z for i in subset)
            % group.q
        )
        assert combined == secret
    context = egballot.ElectionContext.build(TOY, 5, 3, MANIFEST, guardians.public)
    for share in guardians.shares:
        assert group.g_pow(share.z) == tally.guardian_public_share(
            context, guardians.public, share.index
        )


def test_forged_guardian_proof_is_election_guardian_key_invalid(
    guardians: simulate.Guardians,
) -> None:
    h_p = eghash.parameter_base_hash(TOY, 5, 3)
    key = guardians.public[0]
    bad_proof = dataclasses.replace(key.proof, challenge=(key.proof.challenge + 1) % TOY.q)
    with pytest.raises(ceremony.GuardianKeyInvalid) as error:
        ceremony.verify_guardian_key(TOY, h_p, dataclasses.replace(key, proof=bad_proof), 3)
    assert error.value.code == "election.guardian_key_invalid"
    swapped = dataclasses.replace(key, commitments=(TOY.g_pow(5), *key.commitments[1:]))
    with pytest.raises(ceremony.GuardianKeyInvalid):
        ceremony.verify_guardian_key(TOY, h_p, swapped, 3)


def test_bad_share_proof_is_election_share_invalid(guardians: simulate.Guardians) -> None:
    h_p = eghash.parameter_base_hash(TOY, 5, 3)
    sender, receiver = guardians.secrets[0], guardians.secrets[1]
    share = ceremony.encrypt_share(TOY, h_p, sender, guardians.public[1])
    forged = dataclasses.replace(share, response=(share.response + 1) % TOY.q)
    with pytest.raises(ceremony.ShareInvalid) as error:
        ceremony.receive_share(TOY, h_p, receiver, guardians.public[1], guardians.public[0], forged)
    assert error.value.code == "election.share_invalid"


def test_share_inconsistent_with_commitments_triggers_the_complaint(
    guardians: simulate.Guardians,
) -> None:
    """A sender encrypting a wrong P_i(l) (valid nonce proof) fails eq. 28 at the receiver."""
    h_p = eghash.parameter_base_hash(TOY, 5, 3)
    liar = dataclasses.replace(
        guardians.secrets[0],
        coefficients=(
            guardians.secrets[0].coefficients[0] + 1,
            *guardians.secrets[0].coefficients[1:],
        ),
    )
    share = ceremony.encrypt_share(TOY, h_p, liar, guardians.public[2])
    with pytest.raises(ceremony.ShareInvalid, match=r"eq\. 28"):
        ceremony.receive_share(
            TOY, h_p, guardians.secrets[2], guardians.public[2], guardians.public[0], share
        )


def test_share_round_trips_through_json(guardians: simulate.Guardians) -> None:
    h_p = eghash.parameter_base_hash(TOY, 5, 3)
    share = ceremony.encrypt_share(TOY, h_p, guardians.secrets[3], guardians.public[4])
    assert ceremony.EncryptedShare.from_json(TOY, share.to_json(TOY)) == share
    bad = share.to_json(TOY) | {"c0": TOY.p_hex(0)}
    with pytest.raises(ElementZero):
        ceremony.EncryptedShare.from_json(TOY, bad)


def test_missing_share_is_election_ceremony_incomplete() -> None:
    with pytest.raises(ceremony.CeremonyIncomplete) as error:
        ceremony.key_share(TOY, 1, {1: (1, 1), 2: (1, 1)}, 3)
    assert error.value.details["missing"] == [3]


# -- ballots ---------------------------------------------------------------------------------------


def test_honest_ballot_verifies_and_round_trips(context: egballot.ElectionContext) -> None:
    ballot, _ = _encrypt(context, {1: [1, 0], 2: [1, 1, 0]})
    assert egballot.verify_ballot(context, ballot).ok
    decoded = EncryptedBallot.from_bytes(TOY, ballot.to_bytes(TOY))
    assert decoded == ballot
    assert egballot.verify_ballot(context, decoded, check_elements=False).ok


def test_over_vote_is_refused_before_encryption(context: egballot.ElectionContext) -> None:
    with pytest.raises(egballot.OverVote) as error:
        _encrypt(context, {1: [1, 1]})
    assert error.value.code == "election.over_vote"
    with pytest.raises(egballot.OverVote):
        _encrypt(context, {2: [2, 0, 0]})


def test_forced_over_vote_fails_the_limit_proof(context: egballot.ElectionContext) -> None:
    """A device that skips the check and encrypts yes+no (sum 2 > L = 1) cannot make a
    selection-limit proof that verifies."""
    ballot, nonce = _encrypt(context, {1: [1, 0]})
    h_i = ballot.h_i
    contest = context.manifest.contest(1)
    selections = []
    total_nonce, alpha, beta = 0, gmpy2.mpz(1), gmpy2.mpz(1)
    for option in contest.options:
        xi = eghash.selection_nonce(TOY, h_i, 1, option.index, nonce)
        ct = egballot.encrypt_selection(context, 1, xi)
        proof = egballot.prove_range(context, h_i, 1, option.index, ct, xi, 1, 1)
        selections.append(
            dataclasses.replace(
                ballot.contests[0].selections[option.index - 1], ciphertext=ct, proof=proof
            )
        )
        total_nonce += xi
        alpha, beta = alpha * ct.alpha % TOY.p, beta * ct.beta % TOY.p
    limit = egballot.prove_range(
        context, h_i, 1, None, Ciphertext(alpha, beta), total_nonce % TOY.q, 2, 1
    )
    forged = dataclasses.replace(
        ballot.contests[0], selections=tuple(selections), limit_proof=limit
    )
    check = egballot.verify_ballot(
        context, dataclasses.replace(ballot, contests=(forged, *ballot.contests[1:]))
    )
    assert check.failed == "limit_proof"
    with pytest.raises(egballot.LimitProofInvalid) as error:
        check.raise_for_failure()
    assert error.value.code == "election.limit_proof_invalid"


def test_selection_of_two_fails_the_range_proof(context: egballot.ElectionContext) -> None:
    ballot, _ = _encrypt(context, {1: [0, 0]})
    xi = TOY.random_exponent()
    ct = egballot.encrypt_selection(context, 2, xi)
    proof = egballot.prove_range(context, ballot.h_i, 1, 1, ct, xi, 2, 1)
    first = dataclasses.replace(ballot.contests[0].selections[0], ciphertext=ct, proof=proof)
    contest = dataclasses.replace(
        ballot.contests[0], selections=(first, *ballot.contests[0].selections[1:])
    )
    check = egballot.verify_ballot(
        context, dataclasses.replace(ballot, contests=(contest, *ballot.contests[1:]))
    )
    assert check.failed == "range_proof"
    with pytest.raises(egballot.RangeProofInvalid):
        check.raise_for_failure()


def test_flipped_ciphertext_breaks_the_range_proof(context: egballot.ElectionContext) -> None:
    """Swapping in an encryption of the other value (same nonce) keeps the proof, which fails."""
    ballot, nonce = _encrypt(context, {1: [1, 0]})
    xi = eghash.selection_nonce(TOY, ballot.h_i, 1, 1, nonce)
    flipped_ct = egballot.encrypt_selection(context, 0, xi)
    first = dataclasses.replace(ballot.contests[0].selections[0], ciphertext=flipped_ct)
    contest = dataclasses.replace(
        ballot.contests[0], selections=(first, *ballot.contests[0].selections[1:])
    )
    check = egballot.verify_ballot(
        context, dataclasses.replace(ballot, contests=(contest, *ballot.contests[1:]))
    )
    assert check.failed == "range_proof"


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ElementZero), (TOY.p, ElementOutOfRange), (TOY.p - 1, ElementNotInSubgroup)],
    ids=["zero", "p", "not-in-subgroup"],
)
def test_bad_ciphertext_element_is_refused(
    context: egballot.ElectionContext, value: int, error: type
) -> None:
    ballot, _ = _encrypt(context, {1: [0, 1]})
    data = ballot.to_json(TOY)
    width = 2 * TOY.p_bytes
    data["contests"][0]["selections"][0]["ciphertext"]["alpha"] = format(value, "X").zfill(width)
    with pytest.raises(error):
        EncryptedBallot.from_json(TOY, data)
    bad_alpha = dataclasses.replace(
        ballot.contests[0].selections[0].ciphertext, alpha=gmpy2.mpz(value)
    )
    selection = dataclasses.replace(ballot.contests[0].selections[0], ciphertext=bad_alpha)
    contest = dataclasses.replace(
        ballot.contests[0], selections=(selection, *ballot.contests[0].selections[1:])
    )
    check = egballot.verify_ballot(
        context, dataclasses.replace(ballot, contests=(contest, *ballot.contests[1:]))
    )
    assert check.failed == "element"
    with pytest.raises(error):
        check.raise_for_failure()


def test_tampered_confirmation_code_and_nonce_proof(context: egballot.ElectionContext) -> None:
    ballot, _ = _encrypt(context, {1: [0, 1]})
    assert (
        egballot.verify_ballot(
            context, dataclasses.replace(ballot, confirmation_code=bytes(32))
        ).failed
        == "confirmation_code"
    )
    bad_nonce = dataclasses.replace(ballot.ballot_nonce, c1=bytes(32))
    assert (
        egballot.verify_ballot(context, dataclasses.replace(ballot, ballot_nonce=bad_nonce)).failed
        == "ballot_nonce_proof"
    )
    assert (
        egballot.verify_ballot(context, dataclasses.replace(ballot, id_b=bytes(32))).failed
        == "identifier_hash"
    )


def test_benaloh_challenge_opens_the_ballot(context: egballot.ElectionContext) -> None:
    ballot, nonce = _encrypt(context, {1: [0, 1], 2: [0, 1, 1]})
    challenged = egballot.challenge_ballot(context, ballot, nonce)
    assert challenged.selections == {1: (0, 1), 2: (0, 1, 1)}
    assert egballot.verify_challenged(context, ballot, challenged).ok
    lie = dataclasses.replace(challenged, selections={1: (1, 0), 2: (0, 1, 1)})
    assert egballot.verify_challenged(context, ballot, lie).failed == "challenge_code"


def test_device_chain_links_each_code_to_the_previous(context: egballot.ElectionContext) -> None:
    device = egballot.Device.start(context, "kiosk-1")
    first, h_0 = eghash.chain_start(context.h_e, device.device_hash)
    a, _ = egballot.encrypt_ballot(context, 1, {1: [1, 0]}, device)
    b, _ = egballot.encrypt_ballot(context, 1, {1: [0, 1]}, device)
    assert a.chaining_field == eghash.SIMPLE_CHAINING + h_0
    assert b.chaining_field == eghash.SIMPLE_CHAINING + a.confirmation_code
    assert device.close(context) == eghash.chain_close(context.h_e, b.confirmation_code, first)
    plain = egballot.Device.start(context, "kiosk-2", "none")
    c, _ = egballot.encrypt_ballot(context, 1, {}, plain)
    assert c.chaining_field == eghash.NO_CHAINING + plain.device_hash


# -- homomorphism and tally ---------------------------------------------------------------------


@settings(max_examples=25)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=6), st.data())
def test_encryption_is_additively_homomorphic(values: list[int], data: st.DataObject) -> None:
    context = egballot.ElectionContext.build(TOY, 1, 1, MANIFEST, [simulate_guardian()])
    nonces = [data.draw(st.integers(0, int(TOY.q) - 1)) for _ in values]
    cts = [egballot.encrypt_selection(context, v, x) for v, x in zip(values, nonces, strict=True)]
    alpha = beta = gmpy2.mpz(1)
    for ct in cts:
        alpha, beta = alpha * ct.alpha % TOY.p, beta * ct.beta % TOY.p
    total = egballot.encrypt_selection(context, sum(values), sum(nonces) % TOY.q)
    assert (alpha, beta) == (total.alpha, total.beta)


_ONE_GUARDIAN: list = []


def simulate_guardian():  # type: ignore[no-untyped-def]
    if not _ONE_GUARDIAN:
        _ONE_GUARDIAN.append(simulate.run_ceremony(TOY, 1, 1).public[0])
    return _ONE_GUARDIAN[0]


def test_tally_with_any_quorum_and_too_few_guardians(
    guardians: simulate.Guardians, context: egballot.ElectionContext
) -> None:
    votes = [{1: [1, 0], 2: [1, 0, 1]}, {1: [0, 1], 2: [0, 1, 1]}, {1: [1, 0]}]
    device = egballot.Device.start(context, "d")
    ballots = [egballot.encrypt_ballot(context, 1, v, device)[0] for v in votes]
    aggregate = tally.aggregate(context, ballots)
    for subset in ([1, 2, 3], [2, 4, 5], [1, 2, 3, 4, 5]):
        result = tally.decrypt_tally(
            context, guardians.public, [guardians.shares[i - 1] for i in subset], aggregate, 10
        )
        counts = {(o.contest, o.option): o.tally for o in result.options}
        assert counts == {(1, 1): 2, (1, 2): 1, (2, 1): 1, (2, 2): 1, (2, 3): 2}
    with pytest.raises(tally.QuorumNotMet) as error:
        tally.decrypt_tally(context, guardians.public, guardians.shares[:2], aggregate, 10)
    assert error.value.code == "election.quorum_not_met"
    assert error.value.details["needed"] == 1


def test_bad_decryption_response_names_its_guardian(
    guardians: simulate.Guardians, context: egballot.ElectionContext
) -> None:
    ballots = [
        egballot.encrypt_ballot(context, 1, {1: [1, 0]}, egballot.Device.start(context, "d"))[0]
    ]
    aggregate = tally.aggregate(context, ballots)
    shares = [guardians.shares[i - 1] for i in (1, 3, 4)]
    available = [1, 3, 4]
    rounds = [tally.commit(context, s, aggregate, available) for s in shares]
    commits = [c for c, _ in rounds]
    reveals = [tally.reveal(n) for _, n in rounds]
    challenges = tally.challenges(context, aggregate, available, commits, reveals)
    responses = {
        s.index: tally.respond(context, s, n, challenges, available)
        for s, (_, n) in zip(shares, rounds, strict=True)
    }
    responses[3] = {k: (v + 1) % TOY.q for k, v in responses[3].items()}
    with pytest.raises(tally.DecryptionShareInvalid) as error:
        tally.combine(
            context, guardians.public, aggregate, available, commits, reveals, responses, 5
        )
    assert error.value.code == "election.decryption_share_invalid"
    assert error.value.details["guardian"] == 3


def test_reveal_that_does_not_match_its_commitment_is_refused(
    guardians: simulate.Guardians, context: egballot.ElectionContext
) -> None:
    aggregate = tally.aggregate(context, [])
    available = [1, 2, 3]
    rounds = [
        tally.commit(context, guardians.shares[i - 1], aggregate, available) for i in available
    ]
    reveals = [tally.reveal(n) for _, n in rounds]
    key = next(iter(aggregate))
    changed = dict(reveals[1].pairs)
    changed[key] = (TOY.g_pow(3), changed[key][1])
    reveals[1] = tally.DecryptionReveal(2, changed)
    with pytest.raises(tally.DecryptionShareInvalid) as error:
        tally.challenges(context, aggregate, available, [c for c, _ in rounds], reveals)
    assert error.value.details["guardian"] == 2


def test_decryption_messages_round_trip_through_json(
    guardians: simulate.Guardians, context: egballot.ElectionContext
) -> None:
    aggregate = tally.aggregate(context, [])
    commit, nonces = tally.commit(context, guardians.shares[0], aggregate, [1, 2, 3])
    assert tally.DecryptionCommit.from_json(TOY, commit.to_json(TOY)) == commit
    assert tally.DecryptionNonces.from_json(TOY, nonces.to_json(TOY)) == nonces


def test_standard_group_round_trip() -> None:
    """One full election in the 4096-bit group: ceremony (n=3, k=2), two ballots, tally."""
    record, context, _ = simulate.run_election(
        STANDARD, 3, 2, MANIFEST, [{1: [1, 0], 2: [1, 1, 0]}, {1: [0, 1], 2: [0, 0, 1]}]
    )
    assert all(egballot.verify_ballot(context, b).ok for b in record.ballots)
    assert record.tally is not None
    counts = {(o.contest, o.option): o.tally for o in record.tally.options}
    assert counts == {(1, 1): 1, (1, 2): 1, (2, 1): 1, (2, 2): 1, (2, 3): 1}


def test_fast_range_check_agrees_with_the_plain_one(context: egballot.ElectionContext) -> None:
    """Differential test: `check_range` (shared squarings, fixed-base tables) and
    `check_range_plain` (one powmod per power) accept and reject the same proofs."""
    ballot, _ = _encrypt(context, {1: [1, 0], 2: [0, 1, 1]})
    for encrypted in ballot.contests:
        contest = context.manifest.contest(encrypted.contest)
        for selection, option in zip(encrypted.selections, contest.options, strict=True):
            args = (context, ballot.h_i, contest.index, option.index, selection.ciphertext)
            good = selection.proof
            bad = dataclasses.replace(good, responses=(good.responses[0] + 1, *good.responses[1:]))
            for proof, expected in ((good, True), (bad, False)):
                assert (
                    egballot.check_range(*args, proof, option.selection_limit, check_subgroup=True)
                    is expected
                )
                assert egballot.check_range_plain(*args, proof, option.selection_limit) is expected


def test_deferred_membership_decode_still_refuses_a_non_member(
    context: egballot.ElectionContext,
) -> None:
    """The ledger's fast path (decode without the powmod, verify with membership in the proof
    pass) refuses a beta outside the subgroup exactly like the full decode."""
    ballot, _ = _encrypt(context, {1: [0, 1]})
    data = ballot.to_json(TOY)
    data["contests"][0]["selections"][1]["ciphertext"]["beta"] = TOY.p_hex(TOY.p - 1)
    decoded = EncryptedBallot.from_json(TOY, data, subgroup=False)
    check = egballot.verify_ballot(context, decoded)
    assert check.failed == "element"
    with pytest.raises(ElementNotInSubgroup):
        check.raise_for_failure()
    honest = EncryptedBallot.from_bytes(TOY, ballot.to_bytes(TOY), subgroup=False)
    assert egballot.verify_ballot(context, honest).ok


@settings(max_examples=20)
@given(st.integers(1, 4), st.data())
def test_range_proofs_verify_exactly_for_values_in_range(limit: int, data: st.DataObject) -> None:
    """A proof made for the encrypted value verifies when 0 <= value <= limit and never
    otherwise; changing any one challenge or response breaks it."""
    context = egballot.ElectionContext.build(TOY, 1, 1, MANIFEST, [simulate_guardian()])
    value = data.draw(st.integers(0, limit + 2))
    nonce = data.draw(st.integers(0, int(TOY.q) - 1))
    h_i = bytes(32)
    ct = egballot.encrypt_selection(context, value, nonce)
    proof = egballot.prove_range(context, h_i, 1, 1, ct, nonce, value, limit)
    assert egballot.check_range(context, h_i, 1, 1, ct, proof, limit) is (value <= limit)
    position = data.draw(st.integers(0, limit))
    bumped = list(proof.responses)
    bumped[position] = (bumped[position] + 1) % TOY.q
    broken = dataclasses.replace(proof, responses=tuple(bumped))
    assert not egballot.check_range(context, h_i, 1, 1, ct, broken, limit)
    assert not egballot.check_range(context, h_i, 1, 2, ct, proof, limit)  # bound to the option


def test_guardians_open_a_challenged_ballot(
    guardians: simulate.Guardians, context: egballot.ElectionContext
) -> None:
    """§3.6.7: k guardians decrypt ξ_B with their ẑ_i; the nonces it yields open the ballot."""
    ballot, nonce = _encrypt(context, {1: [0, 1], 2: [1, 0, 1]})
    shares = {
        i: tally.ballot_nonce_share(context, guardians.shares[i - 1], ballot) for i in (2, 4, 5)
    }
    assert tally.open_ballot_nonce(context, ballot, shares) == nonce
    opened = egballot.challenge_ballot(
        context, ballot, tally.open_ballot_nonce(context, ballot, shares)
    )
    assert opened.selections == {1: (0, 1), 2: (1, 0, 1)}
    assert egballot.verify_challenged(context, ballot, opened).ok
    with pytest.raises(tally.QuorumNotMet):
        tally.open_ballot_nonce(context, ballot, {2: shares[2], 4: shares[4]})
    forged = {**shares, 4: TOY.g_pow(5)}
    with pytest.raises(egballot.BallotInvalid):
        egballot.challenge_ballot(context, ballot, tally.open_ballot_nonce(context, ballot, forged))
    bad_proof = dataclasses.replace(
        ballot, ballot_nonce=dataclasses.replace(ballot.ballot_nonce, c1=bytes(32))
    )
    with pytest.raises(egballot.BallotInvalid):
        tally.ballot_nonce_share(context, guardians.shares[0], bad_proof)


def test_responses_round_trip_through_json(
    guardians: simulate.Guardians, context: egballot.ElectionContext
) -> None:
    responses = {(1, 1): TOY.random_exponent(), (1, 2): TOY.random_exponent()}
    data = tally.responses_to_json(TOY, 3, responses)
    assert tally.responses_from_json(TOY, data) == (3, responses)
    data["options"][0]["v_i"] = TOY.q_hex(TOY.q - 1)[:-1] + "Z"
    with pytest.raises(ExponentOutOfRange):
        tally.responses_from_json(TOY, data)


def test_manifest_with_a_repeated_property_is_refused() -> None:
    raw = b'{"label": "a", "label": "b", "contests": [], "ballot_styles": []}'
    with pytest.raises(ManifestInvalid, match="repeats"):
        Manifest.parse(raw)


@pytest.mark.parametrize(
    ("decode", "error_code"),
    [
        (lambda d: ceremony.EncryptedShare.from_json(TOY, d), "election.share_invalid"),
        (lambda d: ceremony.GuardianKeyShare.from_json(TOY, d), "election.share_invalid"),
        (lambda d: tally.DecryptionCommit.from_json(TOY, d), "election.decryption_share_invalid"),
        (lambda d: tally.DecryptionReveal.from_json(TOY, d), "election.decryption_share_invalid"),
        (lambda d: EncryptedBallot.from_json(TOY, d), "election.record_invalid"),
        (lambda d: ceremony.GuardianPublicKey.from_json(TOY, d), "election.record_invalid"),
    ],
)
def test_malformed_messages_give_coded_errors(decode, error_code: str) -> None:  # type: ignore[no-untyped-def]
    for bad in ({}, {"i": "x", "options": 5}, {"i": 1, "options": [{}]}):
        with pytest.raises(ElectionCryptoError) as error:
            decode(bad)
        assert error.value.code == error_code
