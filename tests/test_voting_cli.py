"""`urbis vote` end to end against a real node, each party in its own home: the registrar
makes its key, the commission creates the election, three guardians run the ceremony from
their homes, a resident registers blindly with a wallet credential, challenges, casts and
re-votes, guardians 1 and 2 decrypt (3 is absent), and the result is read."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.helpers.process import dev_city
from tests.helpers.voting import MANIFEST
from urbis.cli.main import app
from urbis.cli.wallet import _wallet
from urbis.modules.voting.client import VotingApi
from urbis.modules.voting.demo import Demo
from urbis.sdk.builder import action
from urbis.sdk.client import Client
from urbis.sdk.credentials import Issuer
from urbis.sdk.keystore import KeyStore
from urbis.sdk.sdjwt import StatusReference

pytestmark = pytest.mark.slow  # a node subprocess and every party's commands

runner = CliRunner()


def vote(api: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["vote", *args], env={"URBIS_API": api, "URBIS_PASSPHRASE": ""})
    assert result.exit_code == code, f"{args}: {result.output}"
    return result.output


def _party(demo: Demo, home: Path, name: str) -> str:
    """A key in `home` and its account on chain (created by the registry)."""
    info = KeyStore(home / "keys").create(name, "")
    demo.send(
        "registry", action("accounts", "create", keys=[{"key": info.public_key, "weight": 1}])
    )
    return info.account.text


def test_every_party_through_urbis_vote(tmp_path: Path) -> None:
    city = tmp_path / "city"
    with dev_city(city) as api:
        demo = Demo(city, Client(api))
        homes = {name: tmp_path / name for name in ("g1", "g2", "g3", "registrar", "alice")}
        guardians = [_party(demo, homes[g], g) for g in ("g1", "g2", "g3")]
        registrar = _party(demo, homes["registrar"], "registrar")
        for role in ("elections", "trust_admin"):
            demo.send(
                "registry",
                action(
                    "governance",
                    "grant_role",
                    department="registry",
                    role=role,
                    account=demo.account("registry"),
                ),
            )
        _voter_eligibility(demo)

        public = tmp_path / "registrar.pub.pem"
        home = ["--home", str(homes["registrar"])]
        vote(api, "registrar", "keygen", "--out", str(public), "--bits", "2048", *home)
        manifest = tmp_path / "manifest.json"
        manifest.write_bytes(MANIFEST)
        guardian_options = [x for g in guardians for x in ("--guardian", g)]
        vote(
            api,
            "create",
            "cli-2027",
            "--manifest",
            str(manifest),
            "--department",
            "registry",
            "--title",
            "Car-free old town",
            *guardian_options,
            "--quorum",
            "2",
            "--registrar",
            registrar,
            "--registrar-key",
            str(public),
            "--opens-in",
            "2",
            "--window",
            "25",
            "--group",
            "toy-256",
            "--from",
            "registry",
            "--home",
            str(city),
        )
        ballot = {
            "ballot_key": "00" * 32,
            "key_prefix": "00" * 32,
            "registrar_signature": "00" * 256,
            "ballot": "{}",
            "signature": "00" * 64,
        }
        answer = httpx.post(f"{api}/v1/voting/elections/cli-2027/ballots", json=ballot)
        assert answer.status_code == 503 and answer.json()["code"] == "voting.no_relay"
        relay = demo.key("relay").public_key.raw  # the node's own relay key, in its home
        demo.send("registry", action("accounts", "create", keys=[{"key": relay, "weight": 1}]))
        for step in ("keygen", "shares", "confirm"):
            for name in ("g1", "g2", "g3"):
                vote(api, "guardian", step, "cli-2027", "--from", name, "--home", str(homes[name]))
        assert "open" in vote(api, "show", "cli-2027")

        _give_credential(demo, homes["alice"])
        alice = ["--home", str(homes["alice"])]
        request, response = tmp_path / "request.json", tmp_path / "response.json"
        vote(api, "register", "cli-2027", "--credential", "voter", "--out", str(request), *alice)
        assert "district" not in request.read_text()  # only election_id is disclosed
        vote(
            api,
            "registrar",
            "sign",
            str(request),
            "--out",
            str(response),
            "--from",
            "registrar",
            *home,
        )
        again = vote(
            api,
            "registrar",
            "sign",
            str(request),
            "--out",
            str(response),
            "--from",
            "registrar",
            *home,
            code=1,
        )
        assert "credential.replayed" in again or "voting.already_registered" in again
        vote(api, "register", "cli-2027", "--finish", str(response), *alice)
        assert "challenged" in vote(api, "challenge", "cli-2027", "--choose", "yes", *alice)
        first = json.loads(vote(api, "cast", "cli-2027", "--choose", "no", "--json", *alice))
        _wait(lambda: VotingApi(Client(api)).election(b"cli-2027").data["counted"] == 1)
        vote(api, "cast", "cli-2027", "--choose", "yes", *alice)
        _wait(lambda: VotingApi(Client(api)).election(b"cli-2027").data["replaced"] == 1)
        assert "replaced" in vote(api, "track", "cli-2027", first["confirmation_code"])

        closes = int(VotingApi(Client(api)).election(b"cli-2027").data["closes_at_height"])
        close = action("voting", "close", election_id=b"cli-2027")
        demo.wait_for_height(closes, lambda: demo.send("registry", close, expect="any"))
        if VotingApi(Client(api)).election(b"cli-2027").phase == "open":
            vote(api, "close", "cli-2027", "--from", "registry", "--home", str(city))
        refused = vote(api, "tally", "cli-2027", "--from", "registry", "--home", str(city), code=1)
        assert "voting.quorum_not_reached" in refused
        done: set[str] = set()
        for _ in range(6):  # guardian 3 is absent; 1 and 2 take turns until both are done
            for name in ("g1", "g2"):
                if name not in done:
                    result = runner.invoke(
                        app,
                        [
                            "vote",
                            "guardian",
                            "decrypt",
                            "cli-2027",
                            "--from",
                            name,
                            "--home",
                            str(homes[name]),
                            "--wait",
                            "0",
                        ],
                        env={"URBIS_API": api, "URBIS_PASSPHRASE": ""},
                    )
                    if result.exit_code == 0:
                        done.add(name)
        assert done == {"g1", "g2"}
        vote(api, "tally", "cli-2027", "--from", "registry", "--home", str(city))
        answer = json.loads(vote(api, "result", "cli-2027", "--json"))
        assert answer["counts"] == [[1, 0]] and answer["guardians"] == [1, 2]


def _voter_eligibility(demo: Demo) -> None:
    import hashlib

    demo.send(
        "registry",
        action(
            "identity",
            "define_type",
            vct="VoterEligibility",
            schema_hash=hashlib.sha256(b"VoterEligibility").digest(),
            claims=["district", "election_id"],
            disclosable=["district", "election_id"],
            validity_days=90,
        ),
        action("identity", "trust_issuer", vct="VoterEligibility", issuer=demo.account("registry")),
        action("identity", "create_status_list", list_id=7, size=1024),
    )


def _give_credential(demo: Demo, home: Path) -> None:
    """`urbis wallet init`, then the registry issues a VoterEligibility credential to it."""
    result = runner.invoke(
        app, ["wallet", "init", "--home", str(home)], env={"URBIS_PASSPHRASE": ""}
    )
    assert result.exit_code == 0, result.output
    wallet = _wallet(home)
    issuer = Issuer(demo.key("registry"), demo.account("registry").did)
    credential = issuer.issue(
        "VoterEligibility",
        {"district": "district-3", "election_id": "cli-2027"},
        ["district", "election_id"],
        wallet.holder.jwk,
        int(time.time()),
        86_400,
        StatusReference(demo.account("registry").text, 7, 5),
    )
    wallet.add("voter", credential)


def _wait(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not committed in time"
        time.sleep(0.1)
