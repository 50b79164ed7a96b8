"""`urbis id` and `urbis wallet` as real processes: the resident ID story end to end."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.process import dev_city

pytestmark = pytest.mark.slow


def cli(home: Path, api: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "URBIS_HOME": str(home), "URBIS_API": api, "URBIS_PASSPHRASE": ""}
    return subprocess.run(
        [sys.executable, "-m", "urbis.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_resident_id_and_transit_pass(tmp_path: Path) -> None:
    city, alice = tmp_path / "city", tmp_path / "alice"
    with dev_city(city) as api:

        def run(*args: str, home: Path = city) -> subprocess.CompletedProcess[str]:
            result = cli(home, api, *args, cwd=tmp_path)
            return result

        def ok(*args: str, home: Path = city) -> str:
            result = run(*args, home=home)
            assert result.returncode == 0, f"{args}: {result.stderr}{result.stdout}"
            return result.stdout

        def export_turnstile_bundle() -> None:
            """The transit operator refreshes the turnstile's offline bundle."""
            ok(
                "id",
                "cache-export",
                "--vct",
                "TransitPass",
                "--status",
                "registry/1",
                "--out",
                "turnstile.json",
            )

        def present(
            name: str, claims: str, audience: str, nonce: str, offline: bool = False
        ) -> str:
            """Alice presents `claims` of one credential from her wallet."""
            args = ["wallet", "present", name, "--claims", claims, "--audience", audience]
            args += ["--nonce", nonce, *(["--offline"] if offline else [])]
            return ok(*args, home=alice)

        ok("role", "grant", "registry.trust_admin", "registry", "--from", "registry")
        ok(
            "id",
            "define",
            "ResidentID",
            "--claims",
            "given_name,family_name,birthdate,age_over_18",
            "--from",
            "registry",
        )
        ok(
            "id",
            "define",
            "TransitPass",
            "--claims",
            "zone,valid_until,concession",
            "--from",
            "registry",
        )
        for vct in ("ResidentID", "TransitPass"):
            ok("id", "trust", vct, "registry", "--from", "registry")
        ok("id", "status-list", "1", "--size", "4096", "--from", "registry")
        transport = json.loads(ok("keys", "show", "transport", "--json"))["account"]
        ok(
            "id",
            "register-verifier",
            transport,
            "City Transit",
            "--allow",
            "ResidentID:age_over_18",
            "--from",
            "registry",
        )

        ok("wallet", "init", home=alice)
        (tmp_path / "alice.jwk").write_text(ok("wallet", "key", home=alice))
        ok(
            "id",
            "issue",
            "ResidentID",
            "--holder-jwk",
            "alice.jwk",
            "--claims",
            json.dumps(
                {
                    "given_name": "Alice",
                    "family_name": "Muster",
                    "birthdate": "1990-04-01",
                    "age_over_18": True,
                }
            ),
            "--index",
            "5",
            "--out",
            "resident.sdjwt",
            "--from",
            "registry",
        )
        ok(
            "id",
            "issue",
            "TransitPass",
            "--holder-jwk",
            "alice.jwk",
            "--claims",
            json.dumps({"zone": "A", "valid_until": "2027-01-31", "concession": "student"}),
            "--index",
            "6",
            "--out",
            "transit.sdjwt",
            "--from",
            "registry",
        )
        ok("wallet", "add", "resident.sdjwt", "--name", "resident-id", home=alice)
        ok("wallet", "add", "transit.sdjwt", "--name", "transit", home=alice)

        greedy = run(
            "wallet",
            "present",
            "resident-id",
            "--claims",
            "age_over_18,birthdate",
            "--audience",
            transport,
            "--nonce",
            "n1",
            home=alice,
        )
        assert greedy.returncode == 1 and "wallet.claim_not_registered" in greedy.stderr
        (tmp_path / "age.txt").write_text(present("resident-id", "age_over_18", transport, "n1"))
        verified = json.loads(
            ok("id", "verify", "age.txt", "--audience", transport, "--nonce", "n1", "--json")
        )
        assert verified["claims"] == {"age_over_18": True}

        export_turnstile_bundle()
        (tmp_path / "ride.txt").write_text(
            present("transit", "zone", "turnstile-17", "t1", offline=True)
        )
        ride = json.loads(
            ok(
                "id",
                "verify",
                "ride.txt",
                "--audience",
                "turnstile-17",
                "--nonce",
                "t1",
                "--bundle",
                "turnstile.json",
                "--json",
            )
        )
        assert ride["claims"]["zone"] == "A"

        ok("id", "revoke", "1", "5", "--from", "registry")
        ok("id", "revoke", "1", "6", "--from", "registry")
        (tmp_path / "age2.txt").write_text(present("resident-id", "age_over_18", transport, "n2"))
        online = run("id", "verify", "age2.txt", "--audience", transport, "--nonce", "n2")
        assert online.returncode == 1 and "credential.revoked" in online.stderr
        export_turnstile_bundle()
        (tmp_path / "ride2.txt").write_text(
            present("transit", "zone", "turnstile-17", "t2", offline=True)
        )
        offline = run(
            "id",
            "verify",
            "ride2.txt",
            "--audience",
            "turnstile-17",
            "--nonce",
            "t2",
            "--bundle",
            "turnstile.json",
        )
        assert offline.returncode == 1 and "credential.revoked" in offline.stderr


def test_a_resident_receives_presents_and_a_standard_verifier_sees_the_revocation(
    tmp_path: Path,
) -> None:
    """The issue's "done when", from the terminal: `urbis wallet receive` an OpenID4VCI offer,
    `urbis wallet respond` to a registered verifier's OpenID4VP request for age_over_18, and
    the OpenWallet Foundation's verifier, with only the published metadata, sees the
    credential valid, then revoked after `urbis id revoke`."""
    import httpx

    from tests.test_status_list_token import node_verify  # the standard verifier
    from urbis.sdk.sdjwt import parse_credential

    city, alice = tmp_path / "city", tmp_path / "alice"
    with dev_city(city) as api:

        def ok(*args: str, home: Path = city) -> str:
            result = cli(home, api, *args, cwd=tmp_path)
            assert result.returncode == 0, f"{args}: {result.stderr}{result.stdout}"
            return result.stdout

        ok("role", "grant", "registry.trust_admin", "registry", "--from", "registry")
        ok("id", "define", "ResidentID", "--from", "registry")
        ok("id", "trust", "ResidentID", "registry", "--from", "registry")
        ok("id", "status-list", "1", "--from", "registry")
        transport = json.loads(ok("keys", "show", "transport", "--json"))["account"]
        ok(
            "id",
            "register-verifier",
            transport,
            "City Transit",
            "--allow",
            "ResidentID:age_over_18",
            "--from",
            "registry",
        )
        ok("wallet", "init", home=alice)
        typed = httpx.get(f"{api}/identity/types/ResidentID").json()
        schema = json.dumps(typed["schema"], sort_keys=True, separators=(",", ":")).encode()
        assert hashlib.sha256(schema).hexdigest() == typed["urbis"]["schema_hash"]  # on chain

        claims = {"given_name": "Alice", "family_name": "Muster", "birthdate": "1990-04-01"}
        offer = json.loads(
            ok(
                "id",
                "offer",
                "ResidentID",
                "--claims",
                json.dumps(claims),
                "--from",
                "registry",
                "--json",
            )
        )
        ok(
            "wallet",
            "receive",
            offer["uri"],
            "--tx-code",
            offer["tx_code"],
            "--name",
            "resident-id",
            "--copies",
            "2",
            home=alice,
        )
        listed = json.loads(ok("wallet", "list", "--json", home=alice))
        assert sorted(row["name"] for row in listed) == ["resident-id", "resident-id.2"]

        request = json.loads(
            ok(
                "id",
                "request",
                "ResidentID",
                "--claims",
                "age_over_18",
                "--from",
                "transport",
                "--json",
            )
        )
        assert request["link"].startswith("openid4vp://")
        ok("wallet", "respond", request["link"], home=alice)
        outcome = httpx.get(request["result"]).json()
        assert outcome["status"] == "verified" and outcome["claims"] == {"age_over_18": True}

        shown = ok(
            "wallet",
            "present",
            "resident-id",
            "--claims",
            "age_over_18",
            "--audience",
            "https://verifier.example",
            "--nonce",
            "n-1",
            "--offline",
            home=alice,
        )
        valid = node_verify(shown.strip(), "n-1", tmp_path)
        assert valid["valid"] and valid["claims"]["age_over_18"] is True, valid

        for copy in ("resident-id", "resident-id.2"):  # the registry revokes every copy
            credential = (alice / "wallet" / "credentials" / f"{copy}.sdjwt").read_text()
            status = parse_credential(credential).issued.status
            assert status is not None
            ok("id", "revoke", str(status[1]), str(status[2]), "--from", "registry")

        again = ok(
            "wallet",
            "present",
            "resident-id",
            "--claims",
            "age_over_18",
            "--audience",
            "https://verifier.example",
            "--nonce",
            "n-2",
            "--offline",
            home=alice,
        )
        revoked = node_verify(again.strip(), "n-2", tmp_path)
        assert not revoked["valid"] and "Status is not valid" in revoked["error"], revoked

        second = json.loads(
            ok(
                "id",
                "request",
                "ResidentID",
                "--claims",
                "age_over_18",
                "--from",
                "transport",
                "--json",
            )
        )
        refused = cli(alice, api, "wallet", "respond", second["link"], cwd=tmp_path)
        assert refused.returncode == 1 and "oid4vp.revoked" in refused.stderr, refused.stderr
