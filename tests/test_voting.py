"""The election on the ledger: the whole flow once, then every bad input the ledger
refuses, each with its own code and nothing changed (TOY group, so it stays fast)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account
from tests.helpers.voting import (
    MANIFEST,
    TOY,
    ElectionRun,
    ok,
    registrar_key,
    voting_chain,
)
from urbis.chain.block import Receipt
from urbis.chain.errors import UrbisError
from urbis.crypto import blindrsa
from urbis.election import hash as eghash
from urbis.election.ballot import challenge_ballot, encrypt_contest, prove_range
from urbis.election.ceremony import ShareInvalid
from urbis.election.record import Ciphertext, ElectionRecord
from urbis.election.verify import verify_record
from urbis.modules.voting import electionguard as eg
from urbis.modules.voting.errors import BadBallot
from urbis.modules.voting.export import record_files, write_files
from urbis.modules.voting.invariants import check_all
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.module import check_counts
from urbis.modules.voting.parties import BallotKey, Guardian
from urbis.sdk.builder import action


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[CityChain]:
    made = voting_chain(tmp_path)
    yield made
    made.close()


def test_an_election_from_creation_to_result(chain: CityChain) -> None:
    run = ElectionRun(chain)
    ok(run.create())
    run.ceremony()
    keys = [run.register(bytes([i]) * 32) for i in range(4)]
    run.wait_until_open()
    choices = [1, 2, 1, 1]
    for key, choice in zip(keys, choices, strict=True):
        ok(run.cast(key, run.encrypt(choice)[0]))
    # the last voter changes their mind: only the new ballot counts
    ok(run.cast(keys[3], run.encrypt(2)[0]))
    ok(run.challenge(keys[0], 2))
    election = run.election()
    assert (election.counted, election.replaced, election.challenged) == (4, 1, 1)
    ok(run.close())
    nonces = run.decrypt([1, 3, 5])
    for index in (1, 3, 5):
        ok(run.post_decryption(index, "response", run.respond(index, nonces[index])))
    ok(run.guardian_step(1, "tally"))
    result = run.chain.query("voting", "election", id="ref-2027")
    assert result["phase"] == "tallied"
    recorded = VotingView(chain.app.store).result(run.election_id)
    assert recorded is not None
    assert recorded.counts == [[2, 2]]
    assert check_counts(chain.app.store) == []


# -- bad input: each refused with its own code, nothing changed --------------------------------


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ElectionRun, list[Any]]]:
    """One election with its keys ready, two registered ballot keys, the window open.
    Tests on it only submit transactions the chain refuses, so they can share it."""
    made = voting_chain(tmp_path_factory.mktemp("opened"))
    run = ElectionRun(made)
    ok(run.create())
    run.ceremony()
    keys = [run.register(bytes([40 + i]) * 32) for i in range(2)]
    run.wait_until_open()
    yield run, keys
    made.close()


def refused(run: ElectionRun, receipt: Receipt, code: str, before: Any) -> None:
    assert not receipt.ok
    assert receipt.code == code, receipt.message
    assert run.election() == before, "a refused action changed the election"


def refused_ballot(run: ElectionRun, ballot_action: Any, code: str) -> None:
    """CheckTx keeps the ballot out of the mempool with `code`; a proposer that includes it
    anyway gets a failed receipt with the same code and no change."""
    before = run.election()
    relay = account("relay").raw
    tx = run.chain.sign("relay", [ballot_action], nonce=run.chain.app.next_nonce(relay))
    with pytest.raises(UrbisError) as raised:
        run.chain.app.check_tx(tx.raw)
    assert raised.value.code == code, str(raised.value)
    (receipt,) = run.chain.execute_raw([tx.raw]).receipts
    refused(run, receipt, code, before)


def _ballot_json(run: ElectionRun, choice: int = 1) -> dict[str, Any]:
    return json.loads(run.encrypt(choice)[0])


def _raw(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _not_in_subgroup(run: ElectionRun) -> int:
    group = eg.context(run.election()).group
    return next(x for x in range(2, 1000) if not group.is_element(x))


@pytest.mark.parametrize("value", ["zero", "p", "outside"])
def test_ciphertext_element_is_voting_bad_element(opened: Any, value: str) -> None:
    run, keys = opened
    group = eg.context(run.election()).group
    bad = {"zero": 0, "p": int(group.p), "outside": _not_in_subgroup(run)}[value]
    data = _ballot_json(run)
    data["contests"][0]["selections"][0]["ciphertext"]["alpha"] = format(bad, "X").zfill(
        2 * group.p_bytes
    )
    refused_ballot(run, run.cast_action(keys[0], _raw(data)), "voting.bad_element")


def test_a_broken_range_proof_is_voting_bad_range_proof(opened: Any) -> None:
    run, keys = opened
    data = _ballot_json(run)
    proof = data["contests"][0]["selections"][1]["proof"]
    group = eg.context(run.election()).group
    proof["v"][0] = group.q_hex((int(proof["v"][0], 16) + 1) % int(group.q))
    refused_ballot(run, run.cast_action(keys[0], _raw(data)), "voting.bad_range_proof")


def test_a_broken_limit_proof_is_voting_bad_limit_proof(opened: Any) -> None:
    run, keys = opened
    data = _ballot_json(run)
    proof = data["contests"][0]["limit_proof"]
    group = eg.context(run.election()).group
    proof["c"][1] = group.q_hex((int(proof["c"][1], 16) + 1) % int(group.q))
    refused_ballot(run, run.cast_action(keys[0], _raw(data)), "voting.bad_limit_proof")


def _over_vote(run: ElectionRun, claimed_limit: int) -> bytes:
    """Both options selected in a one-selection contest; the limit proof is for 0..claimed."""
    context = eg.context(run.election())
    group = context.group
    _, nonce, ballot = run.encrypt(1)
    contest = encrypt_contest(context, ballot.h_i, nonce, 1, (1, 1))
    alpha = beta = gmpy2.mpz(1)
    nonce_sum = gmpy2.mpz(0)
    for option, selection in zip((1, 2), contest.selections, strict=True):
        alpha = alpha * selection.ciphertext.alpha % group.p
        beta = beta * selection.ciphertext.beta % group.p
        nonce_sum += eghash.selection_nonce(group, ballot.h_i, 1, option, nonce)
    limit_proof = prove_range(
        context, ballot.h_i, 1, None, Ciphertext(alpha, beta), nonce_sum % group.q, 2, claimed_limit
    )
    contest = dataclasses.replace(contest, limit_proof=limit_proof)
    code = eghash.confirmation_code(ballot.h_i, [contest.contest_hash], ballot.chaining_field)
    forged = dataclasses.replace(ballot, contests=(contest,), confirmation_code=code)
    return forged.to_bytes(group)


def test_an_over_vote_is_voting_over_vote(opened: Any) -> None:
    run, keys = opened
    refused_ballot(run, run.cast_action(keys[0], _over_vote(run, 2)), "voting.over_vote")


def test_an_over_vote_behind_an_in_range_proof_is_voting_bad_limit_proof(opened: Any) -> None:
    run, keys = opened
    refused_ballot(run, run.cast_action(keys[0], _over_vote(run, 1)), "voting.bad_limit_proof")


def test_a_key_the_registrar_never_signed_is_voting_bad_registrar_signature(opened: Any) -> None:
    run, keys = opened
    stranger = BallotKey.fresh(run.election_id)
    # a signature the registrar made for someone else's key does not carry over
    stranger.registrar_signature = keys[0].registrar_signature
    stranger.key_prefix = keys[0].key_prefix
    refused_ballot(
        run, run.cast_action(stranger, run.encrypt(1)[0]), "voting.bad_registrar_signature"
    )
    other = BallotKey.fresh(run.election_id)
    other_key = blindrsa.generate_private_key(2048)
    blinded = other.blind(other_key.public_key())
    other.finalize(other_key.public_key(), blindrsa.blind_sign(other_key, blinded))
    refused_ballot(run, run.cast_action(other, run.encrypt(1)[0]), "voting.bad_registrar_signature")


def test_a_ballot_signed_by_another_key_is_voting_bad_ballot_signature(opened: Any) -> None:
    run, keys = opened
    ballot = run.encrypt(1)[0]
    refused_ballot(
        run,
        run.cast_action(keys[0], ballot, signature=keys[1].sign("cast", ballot)),
        "voting.bad_ballot_signature",
    )


def test_a_second_blind_signature_for_a_nullifier_is_voting_already_registered(
    opened: Any,
) -> None:
    run, _ = opened
    key = BallotKey.fresh(run.election_id)
    blinded = key.blind(registrar_key().public_key())
    before = run.election()
    receipt = run.chain.run(
        "registrar",
        action(
            "voting",
            "record_registration",
            election_id=run.election_id,
            nullifier=bytes([40]) * 32,
            blinded_msg=blinded,
            blind_sig=blindrsa.blind_sign(registrar_key(), blinded),
        ),
    )
    refused(run, receipt, "voting.already_registered", before)


def test_a_blind_signature_by_another_key_is_voting_bad_blind_signature(opened: Any) -> None:
    run, _ = opened
    key = BallotKey.fresh(run.election_id)
    blinded = key.blind(registrar_key().public_key())
    before = run.election()
    receipt = run.chain.run(
        "registrar",
        action(
            "voting",
            "record_registration",
            election_id=run.election_id,
            nullifier=bytes([99]) * 32,
            blinded_msg=blinded,
            blind_sig=bytes(len(blinded)),
        ),
    )
    refused(run, receipt, "voting.bad_blind_signature", before)


def test_only_the_registrar_records_registrations(opened: Any) -> None:
    run, _ = opened
    before = run.election()
    receipt = run.chain.run(
        "relay",
        action(
            "voting",
            "record_registration",
            election_id=run.election_id,
            nullifier=bytes(32),
            blinded_msg=bytes(256),
            blind_sig=bytes(256),
        ),
    )
    refused(run, receipt, "voting.not_registrar", before)


def test_a_manifest_change_after_the_ceremony_is_voting_manifest_locked(opened: Any) -> None:
    run, _ = opened
    before = run.election()
    receipt = run.chain.run(
        "registry",
        action(
            "voting",
            "amend_manifest",
            id=run.election_id,
            department="registry",
            manifest=MANIFEST.replace(b"Car-free", b"Car-full"),
        ),
    )
    refused(run, receipt, "voting.manifest_locked", before)


def test_tally_before_close_is_voting_wrong_phase(opened: Any) -> None:
    run, _ = opened
    before = run.election()
    refused(run, run.guardian_step(1, "tally"), "voting.wrong_phase", before)


def test_ballots_outside_the_window_are_voting_outside_window(chain: CityChain) -> None:
    run = ElectionRun(chain, window_blocks=8)
    ok(run.create(opens_at_height=chain.height + 200, closes_at_height=chain.height + 230))
    run.ceremony()
    key = run.register(bytes(32))
    before = run.election()
    assert chain.height < before.opens_at_height
    refused_ballot(run, run.cast_action(key, run.encrypt(1)[0]), "voting.outside_window")
    run.wait_until_open()
    ok(run.cast(key, run.encrypt(1)[0]))
    ok(run.close())
    refused_ballot(run, run.cast_action(key, run.encrypt(2)[0]), "voting.outside_window")


def test_the_manifest_may_change_until_the_first_guardian_key(chain: CityChain) -> None:
    run = ElectionRun(chain)
    ok(run.create())
    amended = MANIFEST.replace(b"Car-free", b"Car-light")
    amend = action(
        "voting", "amend_manifest", id=run.election_id, department="registry", manifest=amended
    )
    ok(chain.run("registry", amend))
    assert run.election().manifest == amended
    run.post_keys()
    before = run.election()
    refused(run, chain.run("registry", amend), "voting.manifest_locked", before)


def test_a_share_with_a_bad_proof_and_the_complaint_it_triggers(chain: CityChain) -> None:
    run = ElectionRun(chain)
    ok(run.create())
    run.post_keys()
    # a share whose nonce proof was tampered with never reaches the chain
    share = json.loads(run.share(1, 2))
    share["response"] = share["challenge"]
    before = run.election()
    refused(run, run.post_share(1, 2, _raw(share)), "voting.bad_share_proof", before)
    # a share with a valid proof but the wrong value: guardian 2 finds out and complains
    honest = run.guardians[1]
    run.guardians[1] = Guardian.generate(TOY, run.election().parameter_hash, 1, run.quorum)
    wrong = run.share(1, 2)
    run.guardians[1] = honest
    ok(run.post_share(1, 2, wrong))
    view = VotingView(chain.app.store)
    dealer_key = view.guardian_key(run.election_id, 1)
    assert dealer_key is not None
    with pytest.raises(ShareInvalid):
        run.guardians[2].receive(dealer_key.public_key, wrong)
    complain = action("voting", "complain_share", election_id=run.election_id, dealer=1)
    ok(chain.run("g2", complain))
    # a reveal that does not match the commitments is refused
    reveal_wrong = action(
        "voting",
        "reveal_share",
        election_id=run.election_id,
        recipient=2,
        value=run.guardians[3].reveal_for(2),
    )
    before = run.election()
    refused(run, chain.run("g1", reveal_wrong), "voting.bad_share_reveal", before)
    # the ceremony cannot finish while the complaint stands
    for dealer in range(1, 6):
        for recipient in range(1, 6):
            if dealer != recipient and (dealer, recipient) != (1, 2):
                ok(run.post_share(dealer, recipient))
                ok(run.confirm(dealer, recipient))
    assert run.election().phase == "ceremony" and not run.election().joint_key
    # the dealer answers in the clear with the right share: the ceremony completes
    reveal = action(
        "voting",
        "reveal_share",
        election_id=run.election_id,
        recipient=2,
        value=honest.reveal_for(2),
    )
    ok(chain.run("g1", reveal))
    assert run.election().phase == "open" and run.election().extended_base_hash


def test_a_guardian_key_with_a_bad_proof_is_voting_bad_guardian_proof(chain: CityChain) -> None:
    run = ElectionRun(chain)
    ok(run.create())
    guardian = Guardian.generate(TOY, run.election().parameter_hash, 1, run.quorum)
    data = json.loads(guardian.public_key_bytes())
    data["coefficient_proof"]["responses"][0] = data["coefficient_proof"]["challenge"]
    before = run.election()
    receipt = chain.run(
        "g1",
        action("voting", "post_guardian_key", election_id=run.election_id, public_key=_raw(data)),
    )
    refused(run, receipt, "voting.bad_guardian_proof", before)


def test_decryption_faults_and_a_short_quorum(chain: CityChain) -> None:
    """A partial decryption with a bad proof is refused; a tally with fewer than k
    guardians says how many more it needs; with k honest ones it completes."""
    run = ElectionRun(chain, window_blocks=60)
    ok(run.create())
    run.ceremony()
    key = run.register(bytes(32))
    run.wait_until_open()
    ok(run.cast(key, run.encrypt(2)[0]))
    ok(run.close())
    ok(run.guardian_step(2, "join_tally"))
    before = run.election()
    refused(run, run.guardian_step(2, "tally"), "voting.quorum_not_reached", before)
    assert run.chain.query("voting", "election", id="ref-2027")["status"]["waiting_for"].startswith(
        "3 more"
    )
    # guardians 1 and 4 are absent: 2, 3 and 5 decrypt
    nonces = run.decrypt([2, 3, 5])
    bad = json.loads(run.respond(3, nonces[3]))
    group = eg.context(run.election()).group
    bad["options"][0]["v_i"] = group.q_hex((int(bad["options"][0]["v_i"], 16) + 1) % int(group.q))
    before = run.election()
    refused(run, run.post_decryption(3, "response", _raw(bad)), "voting.bad_decryption", before)
    for index in (2, 3, 5):
        ok(run.post_decryption(index, "response", run.respond(index, nonces[index])))
    ok(run.guardian_step(1, "tally"))
    recorded = VotingView(chain.app.store).result(run.election_id)
    assert recorded is not None and recorded.counts == [[0, 1]]
    assert recorded.guardians == [2, 3, 5]


def test_the_exported_record_passes_the_independent_verifier(
    chain: CityChain, tmp_path: Path
) -> None:
    """The record built from chain state alone passes every applicable §6.2 step; a flipped
    ciphertext, a forged decryption share and a removed ballot each fail the right step."""
    run = ElectionRun(chain, window_blocks=60)
    ok(run.create())
    run.ceremony()
    keys = [run.register(bytes([i]) * 32) for i in range(3)]
    run.wait_until_open()
    held = []
    for key, choice in zip(keys, (1, 2, 1), strict=True):
        raw = run.encrypt(choice)[0]
        held.append(bytes.fromhex(json.loads(raw)["confirmation_code"]))
        ok(run.cast(key, raw))
    ok(run.cast(keys[2], run.encrypt(2)[0]))  # replaces keys[2]'s first ballot
    ok(run.challenge(keys[1], 1))
    ok(run.close())
    nonces = run.decrypt([1, 2, 4])
    for index in (1, 2, 4):
        ok(run.post_decryption(index, "response", run.respond(index, nonces[index])))
    ok(run.guardian_step(1, "tally"))
    files = record_files(chain.app.store, run.election())
    assert any(name.startswith("urbis/replaced/") for name in files)
    folder = tmp_path / "record"
    write_files(files, folder)
    record = ElectionRecord.from_dir(folder)
    report = verify_record(record, held_codes=held[:2], allowed_parameter_sets=(TOY,))
    assert report.ok, report.to_text()
    assert [o.tally for o in record.tally.options] == [1, 2] if record.tally else False
    # a flipped ballot ciphertext fails step 6
    flipped = copy_record(folder, tmp_path / "flipped")
    path = next((flipped / "ballots").glob("*.json"))
    data = json.loads(path.read_text())
    selection = data["contests"][0]["selections"][0]["ciphertext"]
    selection["alpha"], selection["beta"] = selection["beta"], selection["alpha"]
    path.write_text(json.dumps(data))
    assert (
        6
        in verify_record(
            ElectionRecord.from_dir(flipped), allowed_parameter_sets=(TOY,)
        ).failed_steps
    )
    # a forged decryption share fails step 10
    forged = copy_record(folder, tmp_path / "forged")
    tally = json.loads((forged / "tally.json").read_text())
    share = tally["results"][0]["shares"][0]
    group = record.group
    share["v_i"] = group.q_hex((int(share["v_i"], 16) + 1) % int(group.q))
    (forged / "tally.json").write_text(json.dumps(tally))
    assert (
        10
        in verify_record(
            ElectionRecord.from_dir(forged), allowed_parameter_sets=(TOY,)
        ).failed_steps
    )
    # a ballot removed whose code a voter holds fails step 8
    removed = copy_record(folder, tmp_path / "removed")
    (removed / "ballots" / f"{held[0].hex().upper()}.json").unlink()
    report = verify_record(
        ElectionRecord.from_dir(removed), held_codes=held[:2], allowed_parameter_sets=(TOY,)
    )
    assert 8 in report.failed_steps


def copy_record(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=50, deadline=None)
@given(value=json_values)
def test_canonical_json_round_trips_and_is_one_spelling(value: Any) -> None:
    raw = eg.canonical(value)
    assert eg.parse(raw, "value", BadBallot) == value
    assert eg.canonical(eg.parse(raw, "value", BadBallot)) == raw


@pytest.mark.parametrize("raw", [b"1.5", b'{"a": 1e3}', b"NaN", b"\xff", b"[" * 100_000])
def test_floats_and_junk_are_refused_with_the_callers_code(raw: bytes) -> None:
    with pytest.raises(BadBallot):
        eg.parse(raw, "value", BadBallot)


def test_the_window_end_fixes_the_aggregate_without_a_transaction(chain: CityChain) -> None:
    run = ElectionRun(chain, window_blocks=60)
    ok(run.create())
    run.ceremony()
    key = run.register(bytes(32))
    run.wait_until_open()
    ok(run.cast(key, run.encrypt(1)[0]))
    while chain.height < run.election().closes_at_height:
        chain.block()
    closed = run.election()
    assert closed.phase == "closed"
    assert VotingView(chain.app.store).aggregate(run.election_id) is not None
    refused(run, run.guardian_step(1, "close"), "voting.wrong_phase", closed)
    assert check_all(chain.app.store) == []


def test_duplicates_unrecorded_signatures_and_false_challenges(chain: CityChain) -> None:
    """voting.duplicate_ballot, voting.registrations_exhausted (a registrar that signs a key
    off the record is caught by the count) and voting.bad_challenge."""
    run = ElectionRun(chain)
    ok(run.create())
    run.ceremony()
    key = run.register(bytes(32))
    run.wait_until_open()
    ballot = run.encrypt(1)[0]
    ok(run.cast(key, ballot))
    refused_ballot(run, run.cast_action(key, ballot), "voting.duplicate_ballot")
    # the registrar signs a second key without recording a nullifier for it
    extra = BallotKey.fresh(run.election_id)
    blinded = extra.blind(registrar_key().public_key())
    extra.finalize(registrar_key().public_key(), blindrsa.blind_sign(registrar_key(), blinded))
    refused_ballot(run, run.cast_action(extra, run.encrypt(2)[0]), "voting.registrations_exhausted")
    # a challenge whose nonces open to a different ballot
    raw, nonce, encrypted = run.encrypt(1)
    context = eg.context(run.election())
    opened = challenge_ballot(context, encrypted, nonce)
    other_raw, other_nonce, other = run.encrypt(2)
    wrong = challenge_ballot(context, other, other_nonce)
    forged = dataclasses.replace(wrong, confirmation_code=opened.confirmation_code)
    challenge = action(
        "voting",
        "challenge",
        election_id=run.election_id,
        ballot_key=key.public,
        key_prefix=key.key_prefix,
        registrar_signature=key.registrar_signature,
        ballot=raw,
        nonces=eg.canonical(forged.to_json(context.group)),
        signature=key.sign("challenge", raw),
    )
    refused_ballot(run, challenge, "voting.bad_challenge")
    assert other_raw != raw
