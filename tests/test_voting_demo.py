"""`urbis demo referendum` on a real solo node, the `urbis vote` commands against it, and
the privacy scan: after the demo, no block, receipt, event or state value puts a resident
(holder key, credential, attribute) next to a ballot, and the registrar's records share
nothing with the ballots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.process import dev_city, urbis
from urbis.chain.codec import from_wire
from urbis.chain.tx import decode_tx
from urbis.crypto.encoding import decode_trusted
from urbis.modules import build_application
from urbis.modules.voting import keys
from urbis.modules.voting.demo import DemoRun, run_demo
from urbis.modules.voting.records import CastBallot, ChallengedBallot, Registration
from urbis.sdk.client import Client, Request
from urbis.sdk.sdjwt import disclosures_of
from urbis.state.database import Database

pytestmark = pytest.mark.slow  # a node subprocess and a whole election

RESIDENTS = 12


def test_referendum_demo_then_every_command_then_the_privacy_scan(tmp_path: Path) -> None:
    home = tmp_path / "city"
    with dev_city(home) as api:
        run = run_demo(home, Client(api), RESIDENTS, "toy-256")
        assert sum(run.counts) == RESIDENTS
        election = run.election_id.decode()
        listed = Client(api).send(Request("GET", "/v1/voting/elections"))["elections"]
        assert [e["phase"] for e in listed if e["id"] == election] == ["tallied"]
        shown = urbis(home, api, "vote", "show", election, "--json")
        assert shown.returncode == 0, shown.stderr
        data = json.loads(shown.stdout)
        assert data["phase"] == "tallied" and data["counted"] == RESIDENTS
        assert data["replaced"] >= 1 and data["challenged"] >= 1
        result = urbis(home, api, "vote", "result", election)
        assert result.returncode == 0 and "yes" in result.stdout, result.stderr
        verified = urbis(home, api, "vote", "verify", election, "--toy")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        record = tmp_path / "record"
        exported = urbis(home, api, "vote", "export", election, str(record))
        assert exported.returncode == 0, exported.stderr
        offline = urbis(home, api, "vote", "verify", "--record", str(record), "--toy", "--json")
        assert offline.returncode == 0 and json.loads(offline.stdout)["ok"], offline.stdout
        # A cast ballot, in a fixed order: the record also holds the challenged one,
        # and a directory lists files in no particular order.
        ballot = next(
            path
            for path in sorted((record / "ballots").glob("*.json"))
            if json.loads(path.read_text())["state"] == "cast"
        )
        code = ballot.stem
        tracked = urbis(home, api, "vote", "track", election, code)
        assert tracked.returncode == 0 and "counted" in tracked.stdout, tracked.stderr
        missing = urbis(home, api, "vote", "track", election, "00" * 32)
        assert missing.returncode == 1 and "query.not_found" in missing.stderr
        # a tampered copy fails, naming the step
        tampered = json.loads(ballot.read_text())
        tampered["contests"][0]["contest_hash"] = "00" * 32
        ballot.write_text(json.dumps(tampered))
        failed = urbis(home, api, "vote", "verify", "--record", str(record), "--toy")
        assert failed.returncode == 1 and "8" in failed.stdout
    _privacy_scan(home, run)


def _privacy_scan(home: Path, run: DemoRun) -> None:
    db = Database(home / "data" / "urbis.db")
    try:
        rows = db.fetchall("SELECT raw, receipt FROM block_txs")
        state = db.fetchall("SELECT * FROM sqlite_master WHERE type = 'table'")
        tables = [row[1] for row in state]
        everything = [bytes(raw) + bytes(receipt) for raw, receipt in rows]
        for table in tables:
            for row in db.fetchall(f"SELECT * FROM {table}"):
                everything.append(
                    b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
                )
        blob = b"\x00".join(everything)
        # nothing of any resident's wallet: holder key, credential, disclosed or hidden attribute
        for person in run.residents:
            jwk = person.holder.jwk
            for secret in (jwk["x"], jwk["y"], person.credential.split("~")[0][-40:]):
                assert secret.encode() not in blob
            for disclosure in disclosures_of(person.credential).values():
                assert disclosure.encode() not in blob
        assert b"district-" not in blob
        # every ballot and challenge was signed by the relay, never by a resident's account
        for raw, _ in rows:
            tx = decode_tx(bytes(raw))
            if any(
                a.module == "voting" and a.name in ("cast", "challenge") for a in tx.body.actions
            ):
                assert tx.body.sender == run.relay
        # the registrar's records and the ballots share no value
        registrations, ballots = [], []
        app = build_application(db)
        for _key, value in app.store.scan_prefix(keys.registration(run.election_id, b""), 10**6):
            registrations.append(from_wire(Registration, decode_trusted(value)))
        for _key, value in app.store.scan_prefix(keys.ballot_prefix(run.election_id), 10**6):
            ballots.append(from_wire(CastBallot, decode_trusted(value)))
        for _key, value in app.store.scan_prefix(keys.challenged_prefix(run.election_id), 10**6):
            assert from_wire(ChallengedBallot, decode_trusted(value)).ballot
        assert len(registrations) == len(run.residents) and len(ballots) > len(run.residents)
        ballot_values = {
            v for b in ballots for v in (b.ballot_key, b.key_prefix, b.registrar_signature)
        }
        ballot_blob = b"\x00".join(b.ballot + b.registrar_signature + b.ballot_key for b in ballots)
        for registration in registrations:
            for value in (registration.nullifier, registration.blinded_msg, registration.blind_sig):
                assert value not in ballot_values
                assert value not in ballot_blob
        registration_blob = b"\x00".join(
            r.nullifier + r.blinded_msg + r.blind_sig for r in registrations
        )
        for ballot in ballots:
            assert ballot.ballot_key not in registration_blob
            assert ballot.registrar_signature not in registration_blob
    finally:
        db.close()
