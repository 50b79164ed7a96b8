"""The independent verifier on whole records: an honest election passes every applicable
§6.2 step, and each tampered copy fails the step that owns the damage."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from urbis.election import simulate
from urbis.election import verify as egverify
from urbis.election.group import TOY
from urbis.election.record import ElectionRecord, RecordInvalid

MANIFEST = json.dumps(
    {
        "label": "Referendum",
        "contests": [
            {"label": "Question", "options": [{"label": "Yes"}, {"label": "No"}]},
            {
                "label": "Board",
                "selection_limit": 2,
                "options": [{"label": "A"}, {"label": "B"}, {"label": "C"}],
            },
        ],
        "ballot_styles": [{"label": "all", "contests": [1, 2]}],
    }
).encode()
VOTES = [
    {1: [1, 0], 2: [1, 1, 0]},
    {1: [0, 1], 2: [0, 0, 1]},
    {1: [1, 0]},
    {1: [0, 0], 2: [0, 1, 1]},
] * 3
TOY_ONLY = ("toy-256",)


@pytest.fixture(scope="module")
def honest() -> ElectionRecord:
    record, _, _ = simulate.run_election(
        TOY, 5, 3, MANIFEST, VOTES, challenged=[2, 7], devices=2, available=[1, 3, 5]
    )
    return record


def _verify(record: ElectionRecord, **kwargs) -> egverify.Report:  # type: ignore[no-untyped-def]
    return egverify.verify_record(record, allowed_parameter_sets=TOY_ONLY, **kwargs)


def test_honest_record_passes_every_applicable_step(honest: ElectionRecord) -> None:
    report = _verify(honest)
    assert report.ok, report.to_text()
    assert [s.step for s in report.steps] == list(range(1, 15))
    assert not report.step(12).applicable
    for number in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14):
        assert report.step(number).passed > 0, number
    assert report.step(6).passed == 12 * 5  # every selection of every ballot
    assert report.to_json()["ok"] is True


def test_standard_group_is_required_by_default(honest: ElectionRecord) -> None:
    report = egverify.verify_record(honest)
    assert report.failed_steps == [1]


def test_record_round_trips_through_its_directory(honest: ElectionRecord, tmp_path: Path) -> None:
    honest.to_dir(tmp_path)
    assert (tmp_path / "election_manifest.bin").read_bytes() == MANIFEST
    loaded = ElectionRecord.from_dir(tmp_path)
    by_code = sorted(honest.ballots, key=lambda b: b.confirmation_code)
    assert loaded.ballots == by_code  # file order; devices.json keeps the casting order
    assert loaded.tally == honest.tally
    assert _verify(loaded).ok


def _flip_first_ciphertext(record: ElectionRecord) -> ElectionRecord:
    """Replace the first cast ballot's 'Yes' ciphertext by its 'No' ciphertext (a vote flip)."""
    tampered = copy.copy(record)
    ballot = record.ballots[0]
    contest = ballot.contests[0]
    yes, no = contest.selections
    flipped = dataclasses.replace(yes, ciphertext=no.ciphertext)
    new_contest = dataclasses.replace(contest, selections=(flipped, no))
    tampered.ballots = [
        dataclasses.replace(ballot, contests=(new_contest, *ballot.contests[1:])),
        *record.ballots[1:],
    ]
    return tampered


def test_flipped_ballot_ciphertext_fails_step_6(honest: ElectionRecord) -> None:
    report = _verify(_flip_first_ciphertext(honest))
    assert 6 in report.failed_steps
    assert any("range proof" in f for f in report.step(6).failures)
    # the flip also changes the contest hash and the tally inputs
    assert 8 in report.failed_steps and 9 in report.failed_steps


def test_forged_decryption_share_fails_step_10(honest: ElectionRecord, tmp_path: Path) -> None:
    honest.to_dir(tmp_path)
    tally_file = tmp_path / "tally.json"
    data = json.loads(tally_file.read_text())
    share = data["results"][0]["shares"][1]
    share["m_i"] = TOY.p_hex(TOY.g_pow(12345))
    tally_file.write_text(json.dumps(data))
    report = _verify(ElectionRecord.from_dir(tmp_path))
    assert report.failed_steps == [10]
    assert any("guardian 3" in f for f in report.step(10).failures)


def test_forged_tally_value_fails_step_10(honest: ElectionRecord) -> None:
    assert honest.tally is not None
    tampered = copy.copy(honest)
    first = honest.tally.options[0]
    forged = dataclasses.replace(
        first, tally=first.tally + 1, value=first.value * TOY.g_pow(0) % TOY.p
    )
    tampered.tally = dataclasses.replace(honest.tally, options=(forged, *honest.tally.options[1:]))
    report = _verify(tampered)
    assert report.failed_steps == [10]
    assert any("10.C" in f for f in report.step(10).failures)


def test_removed_ballot_with_a_held_code_fails_step_8(honest: ElectionRecord) -> None:
    """Deleting a cast ballot (and fixing up the tally to hide it) breaks the device chain, and
    the voter's kept confirmation code is missing."""
    victim = honest.ballots[4]
    tampered = copy.copy(honest)
    tampered.ballots = [b for b in honest.ballots if b is not victim]
    tampered.devices = [
        dataclasses.replace(log, codes=tuple(c for c in log.codes if c != victim.confirmation_code))
        for log in honest.devices
    ]
    report = _verify(tampered, held_codes=[victim.confirmation_code])
    assert 8 in report.failed_steps
    failures = " ".join(report.step(8).failures)
    assert "does not chain" in failures and "a voter's confirmation code" in failures


def test_removed_last_ballot_fails_the_closing_hash(honest: ElectionRecord) -> None:
    last_code = honest.devices[0].codes[-1]
    tampered = copy.copy(honest)
    tampered.ballots = [b for b in honest.ballots if b.confirmation_code != last_code]
    tampered.devices = [
        dataclasses.replace(honest.devices[0], codes=honest.devices[0].codes[:-1]),
        *honest.devices[1:],
    ]
    report = _verify(tampered)
    assert any("8.G" in f for f in report.step(8).failures)


def test_tampered_guardian_key_fails_steps_2_and_3(honest: ElectionRecord) -> None:
    tampered = copy.copy(honest)
    guardian = honest.guardians[1]
    tampered.guardians = [
        honest.guardians[0],
        dataclasses.replace(guardian, kappa=TOY.g_pow(77)),
        *honest.guardians[2:],
    ]
    report = _verify(tampered)
    assert 2 in report.failed_steps


def test_manifest_changed_after_the_ceremony_fails_step_1(honest: ElectionRecord) -> None:
    tampered = copy.copy(honest)
    tampered.manifest = MANIFEST.replace(b"Referendum", b"Referendun")
    report = _verify(tampered)
    assert 1 in report.failed_steps


def test_challenged_ballot_with_wrong_selections_fails_step_13(honest: ElectionRecord) -> None:
    tampered = copy.copy(honest)
    opened = honest.challenged[0]
    tampered.challenged = [
        dataclasses.replace(
            opened, selections={**opened.selections, 1: tuple(1 - v for v in opened.selections[1])}
        ),
        *honest.challenged[1:],
    ]
    report = _verify(tampered)
    assert 13 in report.failed_steps


def test_challenged_ballot_is_not_counted(honest: ElectionRecord) -> None:
    assert honest.tally is not None
    counts = {(o.contest, o.option): o.tally for o in honest.tally.options}
    cast = [v for i, v in enumerate(VOTES) if i not in (2, 7)]
    assert counts[(1, 1)] == sum(v[1][0] for v in cast)


def test_parallel_verification_gives_the_same_report(honest: ElectionRecord) -> None:
    bigger = copy.copy(honest)
    bigger.ballots = honest.ballots * 6  # duplicates fail step 5/8, but steps 6-7 must agree
    serial = _verify(bigger)
    parallel = _verify(bigger, workers=2)
    assert serial.step(6).passed == parallel.step(6).passed == 6 * 60
    assert serial.step(7).passed == parallel.step(7).passed


def test_broken_record_directory_is_election_record_invalid(
    honest: ElectionRecord, tmp_path: Path
) -> None:
    honest.to_dir(tmp_path)
    (tmp_path / "hashes.json").write_text("{")
    with pytest.raises(RecordInvalid) as error:
        ElectionRecord.from_dir(tmp_path)
    assert error.value.code == "election.record_invalid"


def test_ciphertext_outside_the_subgroup_fails_step_6a(honest: ElectionRecord) -> None:
    tampered = copy.copy(honest)
    ballot = honest.ballots[0]
    contest = ballot.contests[0]
    yes = contest.selections[0]
    outside = dataclasses.replace(yes.ciphertext, beta=TOY.p - yes.ciphertext.beta)
    new_contest = dataclasses.replace(
        contest, selections=(dataclasses.replace(yes, ciphertext=outside), *contest.selections[1:])
    )
    tampered.ballots = [
        dataclasses.replace(ballot, contests=(new_contest, *ballot.contests[1:])),
        *honest.ballots[1:],
    ]
    report = _verify(tampered)
    assert any(f.startswith("6.A") for f in report.step(6).failures)


def test_malformed_record_gives_failed_steps_not_a_traceback(honest: ElectionRecord) -> None:
    tampered = copy.copy(honest)
    ballot = honest.ballots[0]
    stray = dataclasses.replace(ballot.contests[0], contest=99)
    tampered.ballots = [dataclasses.replace(ballot, contests=(stray,)), *honest.ballots[1:]]
    report = _verify(tampered)
    assert not report.ok and 6 in report.failed_steps


def test_record_before_the_tally_reports_tally_steps_not_applicable(honest: ElectionRecord) -> None:
    early = copy.copy(honest)
    early.encrypted_tally, early.tally = {}, None
    report = _verify(early)
    assert report.ok, report.to_text()
    assert not report.step(9).applicable and not report.step(10).applicable


def test_command_line_verifier(
    honest: ElectionRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    honest.to_dir(tmp_path)
    assert egverify.main([str(tmp_path), "--allow-toy"]) == 0
    assert "verification PASSED" in capsys.readouterr().out
    assert egverify.main([str(tmp_path)]) == 1  # the toy group is not the standard group
    capsys.readouterr()
    missing = honest.ballots[0].confirmation_code[::-1].hex()
    assert egverify.main([str(tmp_path), "--allow-toy", "--held", missing, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [s["step"] for s in report["steps"] if s["failed"]] == [8]
    assert egverify.main([str(tmp_path / "nowhere")]) == 2
    assert "election.record_invalid" in capsys.readouterr().err


def test_declared_parameters_and_version_are_checked(
    honest: ElectionRecord, tmp_path: Path
) -> None:
    """election_parameters.json follows the serialization draft's shape; a different p or
    specification version in it fails step 1."""
    honest.to_dir(tmp_path)
    path = tmp_path / "election_parameters.json"
    data = json.loads(path.read_text())
    assert data["fixed_parameters"]["ElectionGuard_Design_Specification_version"]["number"] == [
        2,
        1,
        0,
    ]
    data["fixed_parameters"]["group"]["p"] = data["fixed_parameters"]["group"]["p"][:-1] + "D"
    data["fixed_parameters"]["ElectionGuard_Design_Specification_version"]["number"] = [2, 0, 0]
    path.write_text(json.dumps(data))
    report = _verify(ElectionRecord.from_dir(tmp_path))
    assert report.failed_steps == [1]
    failures = " ".join(report.step(1).failures)
    assert "1.A" in failures and "1.B" in failures
