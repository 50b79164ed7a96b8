"""The election record (ElectionGuard §3.7) built from chain state alone.

`election_record(state, election)` fills `urbis.election.record.ElectionRecord` from what the
ledger stores: parameters, the manifest's exact bytes, the guardians' keys and proofs, K, K̂,
H_E, every counted and challenged ballot, the device logs, the aggregate and the decrypted
tally. `record_files` is the same record as the files `ElectionRecord.to_dir` writes (the
layout is in urbis/election/record.py and this module's README), plus Urbis's own
`urbis/replaced/<code>.json` for ballots a later ballot of the same key replaced: they are not
counted, so they are not among the record's ballots, but a voter holding that code can see
what happened to it.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from urbis.chain.context import StateReader
from urbis.election import hash as eghash
from urbis.election.record import (
    CAST,
    CHALLENGED,
    ChallengedBallot,
    DeviceLog,
    ElectionRecord,
    GuardianPublicKey,
    TallyResult,
)
from urbis.modules.voting import electionguard as eg
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.records import Election

BINARY_FILES = ("election_manifest.bin",)


def _device_logs(h_e: bytes, ballots: list[dict[str, Any]]) -> list[DeviceLog]:
    """One log per device label, codes in chain order (from the ballots' own fields)."""
    by_device: dict[str, list[dict[str, Any]]] = {}
    for ballot in ballots:
        by_device.setdefault(str(ballot["device"]), []).append(ballot)
    logs = []
    for device, items in sorted(by_device.items()):
        device_hash = eghash.device_hash(h_e, device)
        simple = bytes.fromhex(items[0]["chaining_field"])[:4] == eghash.SIMPLE_CHAINING
        codes = tuple(bytes.fromhex(b["confirmation_code"]) for b in items)
        closing = None
        if simple:
            first, _ = eghash.chain_start(h_e, device_hash)
            closing = eghash.chain_close(h_e, codes[-1], first)
        logs.append(DeviceLog(device, device_hash, "simple" if simple else "none", codes, closing))
    return logs


def election_record(
    state: StateReader, election: Election
) -> tuple[ElectionRecord, list[dict[str, Any]], list[dict[str, Any]]]:
    """(the record without its ballots, the ballots as stored JSON with their state, the
    replaced ballots). Ballots pass through as the bytes the chain checked when they were
    cast: decoding them again here would redo every subgroup check the verifier does
    anyway when it reads the record."""
    view = VotingView(state)
    group = eg.group(election.group)
    n = len(election.guardians)
    guardians = []
    for index in range(1, n + 1):
        key = view.guardian_key(election.id, index)
        if key is not None:
            guardians.append(GuardianPublicKey.from_json(group, json.loads(key.public_key)))
    joint = json.loads(election.joint_key) if election.joint_key else None
    ballots: list[dict[str, Any]] = []
    replaced: list[dict[str, Any]] = []
    for seq in range(election.next_ballot):
        cast = view.ballot(election.id, seq)
        assert cast is not None, "ballot numbers have no gaps"
        data = json.loads(cast.ballot)
        data["state"] = CAST
        (ballots if cast.status == "counted" else replaced).append(data)
    challenged: list[ChallengedBallot] = []
    for seq in range(election.challenged):
        spoiled = view.challenged(election.id, seq)
        assert spoiled is not None
        data = json.loads(spoiled.ballot)
        data["state"] = CHALLENGED
        ballots.append(data)
        challenged.append(ChallengedBallot.from_json(group, json.loads(spoiled.nonces)))
    aggregate = view.aggregate(election.id)
    result = view.result(election.id)
    record = ElectionRecord(
        group=group,
        n=n,
        k=election.quorum,
        manifest=election.manifest,
        h_p=election.parameter_hash,
        h_b=election.base_hash,
        guardians=guardians,
        joint_key=group.element_from_hex(joint["K"], "K") if joint else group.g,
        joint_data_key=group.element_from_hex(joint["K_hat"], "K̂") if joint else group.g,
        h_e=election.extended_base_hash or bytes(32),
        challenged=challenged,
        devices=_device_logs(election.extended_base_hash, ballots) if joint else [],
        encrypted_tally={}
        if aggregate is None
        else eg.read_aggregate(group, aggregate, trusted=True),
        tally=None if result is None else TallyResult.from_json(group, json.loads(result.tally)),
    )
    return record, ballots, replaced


def _json_file(data: Any) -> str:
    """The way `ElectionRecord.to_dir` writes a file."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def record_files(state: StateReader, election: Election) -> dict[str, str]:
    """Every file of the exported record by its relative path: JSON files as text, the
    manifest as base64 (its exact bytes matter)."""
    record, ballots, replaced = election_record(state, election)
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        record.to_dir(root)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                name = path.relative_to(root).as_posix()
                raw = path.read_bytes()
                files[name] = (
                    base64.b64encode(raw).decode() if name in BINARY_FILES else raw.decode()
                )
    for data in ballots:
        files[f"ballots/{str(data['confirmation_code']).upper()}.json"] = _json_file(data)
    for data in replaced:
        files[f"urbis/replaced/{str(data['confirmation_code']).upper()}.json"] = _json_file(data)
    files["urbis/election.json"] = _json_file(
        {
            "election": election.id.decode(),
            "title": election.title,
            "department": election.department,
            "phase": election.phase,
            "opens_at_height": election.opens_at_height,
            "closes_at_height": election.closes_at_height,
            "registrations": election.registrations,
            "counted": election.counted,
            "replaced": election.replaced,
            "challenged": election.challenged,
        }
    )
    return files


def write_files(files: dict[str, str], directory: Path) -> None:
    for name, text in files.items():
        path = directory / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"record file name {name!r} leaves the folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        if name in BINARY_FILES:
            path.write_bytes(base64.b64decode(text))
        else:
            path.write_text(text, encoding="utf-8")


def record_json(state: StateReader, election: Election) -> dict[str, Any]:
    return {"election": election.id.decode(), "files": record_files(state, election)}
