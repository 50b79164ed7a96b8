"""OpenID4VP 1.0 presentation: the OpenWallet Foundation's wallet libraries answer a Urbis
verifier's signed request, the Urbis wallet does the same, and every refusal has its code
(a wrong nonce or client id, a claim not asked for, a revoked or suspended credential, an
issuer no longer trusted, a replay, a request beyond the verifier's registration)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.helpers.city import account, key
from tests.helpers.identity import (
    IdentityCity,
    identity_city,
    node_script,
    node_server,
    private_okp,
)
from urbis.modules.identity.oid4vp import client_id
from urbis.sdk.bundle import keys_in_did_document
from urbis.sdk.oid4vc import PresentationAsk, WalletError, open_request, respond
from urbis.sdk.sdjwt import HolderKey, _jws, b64url, parse_credential, present


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCity]:
    with identity_city(tmp_path_factory.mktemp("oid4vp")) as running:
        yield running


def resident(city: IdentityCity) -> tuple[str, HolderKey]:
    """A fresh ResidentID for Alice, received over OpenID4VCI."""
    (credential,), (holder,) = city.receive()
    return credential, holder


def did_keys(city: IdentityCity) -> Any:
    def lookup(did: str) -> list[bytes]:
        document = city.http.get(f"{city.url}/v1/dids/{did}").json()
        return keys_in_did_document(document, 2**62)

    return lookup


def registration(city: IdentityCity) -> Any:
    def lookup(verifier: str) -> dict[str, list[str]] | None:
        answer = city.http.get(f"{city.url}/v1/identity/verifiers/{verifier}")
        return answer.json()["allowed_claims"] if answer.status_code == 200 else None

    return lookup


def ask(city: IdentityCity, link: str) -> PresentationAsk:
    return open_request(link, did_keys(city), registration(city), int(time.time()))


def answer(city: IdentityCity, credential: str, holder: HolderKey, **change: Any) -> dict[str, Any]:
    """Alice answers a new request; `change` alters what she presents (claims, aud, nonce).
    Returns the verifier's outcome."""
    request = city.request()
    asked = ask(city, request["link"])
    shown = present(
        credential,
        change.get("claims", asked.claims),
        holder,
        change.get("aud", asked.client_id),
        change.get("nonce", asked.nonce),
        int(time.time()),
    )
    with contextlib.suppress(WalletError):  # a refusal: the outcome says why
        respond(city.http, asked, shown)
    outcome: dict[str, Any] = city.http.get(request["result"]).json()
    return outcome


def test_the_owf_wallet_presents_age_over_18_to_a_urbis_verifier(
    city: IdentityCity, tmp_path: Path
) -> None:
    credential, holder = resident(city)
    path = tmp_path / "credential.txt"
    path.write_text(credential)
    numbers = holder.private.private_numbers()
    private = {**holder.jwk, "d": b64url(numbers.private_value.to_bytes(32, "big"))}
    request = city.request()
    result = node_script(
        "oid4vp-wallet.mjs", request["link"], str(path), json.dumps(private), city.url
    )
    assert result.get("status") == 200, result
    assert result["client"]["prefix"] == "decentralized_identifier"
    assert result["client"]["identifier"] == account(IdentityCity.VERIFIER).did
    outcome = city.http.get(request["result"]).json()
    assert outcome == {
        "status": "verified",
        "issuer": account(IdentityCity.ISSUER).text,
        "vct": "ResidentID",
        "claims": {"age_over_18": True},
    }


def test_the_urbis_wallet_presents_only_what_was_asked(city: IdentityCity) -> None:
    credential, holder = resident(city)
    outcome = answer(city, credential, holder)
    assert outcome["status"] == "verified" and outcome["claims"] == {"age_over_18": True}


def test_a_presentation_for_another_nonce_is_oid4vp_wrong_nonce(city: IdentityCity) -> None:
    credential, holder = resident(city)
    assert answer(city, credential, holder, nonce="other")["code"] == "oid4vp.wrong_nonce"


def test_a_presentation_for_another_client_is_oid4vp_wrong_client_id(city: IdentityCity) -> None:
    credential, holder = resident(city)
    other = client_id(account("land"))
    assert answer(city, credential, holder, aud=other)["code"] == "oid4vp.wrong_client_id"


def test_a_disclosure_not_asked_for_is_oid4vp_claim_not_allowed(city: IdentityCity) -> None:
    credential, holder = resident(city)
    extra = answer(city, credential, holder, claims=["age_over_18", "birthdate"])
    assert extra["code"] == "oid4vp.claim_not_allowed"


@pytest.mark.parametrize(("status", "code"), [(1, "oid4vp.revoked"), (2, "oid4vp.suspended")])
def test_a_revoked_or_suspended_credential_is_refused(
    city: IdentityCity, status: int, code: str
) -> None:
    credential, holder = resident(city)
    entry = parse_credential(credential).issued.status
    assert entry is not None
    city.run(
        IdentityCity.ISSUER,
        "identity",
        "set_status",
        list_id=entry[1],
        index=entry[2],
        status=status,
    )
    assert answer(city, credential, holder)["code"] == code


def test_a_replayed_response_is_oid4vp_replayed(city: IdentityCity) -> None:
    credential, holder = resident(city)
    request = city.request()
    asked = ask(city, request["link"])
    shown = present(
        credential, asked.claims, holder, asked.client_id, asked.nonce, int(time.time())
    )
    respond(city.http, asked, shown)
    with pytest.raises(WalletError) as refused:
        respond(city.http, asked, shown)
    assert "oid4vp.replayed" in refused.value.detail


def test_a_request_beyond_the_registration_is_oid4vp_claim_not_allowed(
    city: IdentityCity,
) -> None:
    refused = city.request(["age_over_18", "birthdate"])
    assert refused["code"] == "oid4vp.claim_not_allowed"


def forged_link(city: IdentityCity, signer: str, claims: list[str]) -> str:
    """A request in the verifier's name, made outside its node (so no server check ran)."""
    verifier = account(IdentityCity.VERIFIER)
    now = int(time.time())
    payload = {
        "aud": "https://self-issued.me/v2",
        "client_id": client_id(verifier),
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": f"{city.url}/identity/verifiers/{verifier.text}/response",
        "nonce": "n",
        "state": "s",
        "exp": now + 60,
        "dcql_query": {
            "credentials": [
                {
                    "id": "credential",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [f"{city.url}/identity/types/ResidentID"]},
                    "claims": [{"path": [c]} for c in claims],
                }
            ]
        },
    }
    header = {"alg": "EdDSA", "typ": "oauth-authz-req+jwt", "kid": f"{verifier.did}#k"}
    jwt = _jws(header, payload, key(signer).sign)
    return "openid4vp://?" + urlencode({"client_id": client_id(verifier), "request": jwt})


def test_the_wallet_refuses_a_request_beyond_the_registration(city: IdentityCity) -> None:
    link = forged_link(city, IdentityCity.VERIFIER, ["age_over_18", "given_name"])
    with pytest.raises(WalletError) as refused:
        ask(city, link)
    assert refused.value.reason == "claim_not_registered"


def test_the_wallet_refuses_a_request_not_signed_by_the_verifier(city: IdentityCity) -> None:
    with pytest.raises(WalletError) as refused:
        ask(city, forged_link(city, "land", ["age_over_18"]))
    assert refused.value.reason == "bad_request_signature"


def test_a_credential_from_an_issuer_no_longer_trusted_is_oid4vp_issuer_not_trusted(
    tmp_path: Path,
) -> None:
    with identity_city(tmp_path) as fresh:  # its own city: trust is withdrawn for good
        credential, holder = resident(fresh)
        fresh.run(
            "registry",
            "identity",
            "withdraw_issuer",
            vct="ResidentID",
            issuer=account(IdentityCity.ISSUER),
        )
        assert answer(fresh, credential, holder)["code"] == "oid4vp.issuer_not_trusted"


def test_a_credential_the_owf_library_issued_is_verified_here(city: IdentityCity) -> None:
    """The other direction: @sd-jwt/sd-jwt-vc issues (with the registry's key, under the
    city's URLs); the Urbis wallet presents it and the Urbis verifier accepts it."""
    holder = HolderKey()
    issuer = account(IdentityCity.ISSUER)
    made = node_script(
        "owf-issue.mjs",
        json.dumps(
            {
                "key": private_okp(key(IdentityCity.ISSUER)),
                "kid": key(IdentityCity.ISSUER).public_key.hex()[:16],
                "iss": f"{city.url}/identity/issuers/{issuer.text}",
                "vct": f"{city.url}/identity/types/ResidentID",
                "status_uri": f"{city.url}/identity/status/{issuer.text}/1",
                "idx": 4242,
                "status": 0,
                "size": 8192,
                "holder": holder.jwk,
                "claims": {"given_name": "Alice", "age_over_18": True},
                "disclosable": ["given_name", "age_over_18"],
            }
        ),
    )
    outcome = answer(city, made["credential"], holder)
    assert outcome["status"] == "verified" and outcome["claims"] == {"age_over_18": True}


def test_the_urbis_wallet_answers_an_owf_verifier(city: IdentityCity) -> None:
    """The other direction: tests/interop/oid4vp-verifier.mjs signs its request with
    @openid4vc/openid4vp (as the registered verifier's DID) and checks the answer with
    @sd-jwt/sd-jwt-vc from the issuer's published metadata only."""
    verifier = key(IdentityCity.VERIFIER)
    request = {
        "key": private_okp(verifier),
        "did": account(IdentityCity.VERIFIER).did,
        "kid": f"{account(IdentityCity.VERIFIER).did}#{verifier.public_key.hex()[:16]}",
        "vct": f"{city.url}/identity/types/ResidentID",
        "claims": ["age_over_18"],
    }
    credential, holder = resident(city)
    with node_server("oid4vp-verifier.mjs", request) as (opened, lines):
        asked = ask(city, opened["link"])
        assert asked.claims == ["age_over_18"] and asked.vct == "ResidentID"
        now = int(time.time())
        shown = present(credential, asked.claims, holder, asked.client_id, asked.nonce, now)
        respond(city.http, asked, shown)
        outcome = json.loads(lines.readline())
    assert outcome["valid"], outcome
    assert outcome["claims"]["age_over_18"] is True and "birthdate" not in outcome["claims"]


def test_a_presentation_naming_no_account_is_oid4vp_malformed(city: IdentityCity) -> None:
    """A forged credential whose issuer URL names no account: a code, never a traceback."""
    request = city.request()
    asked = ask(city, request["link"])
    holder = HolderKey()
    forged = _jws(
        {"alg": "EdDSA", "typ": "dc+sd-jwt"},
        {
            "iss": f"{city.url}/identity/issuers/not-an-account",
            "vct": f"{city.url}/identity/types/ResidentID",
            "iat": 1,
            "exp": 2**40,
            "cnf": {"jwk": holder.jwk},
            "_sd": [],
        },
        key("land").sign,
    )
    shown = present(forged + "~", [], holder, asked.client_id, asked.nonce, int(time.time()))
    with contextlib.suppress(WalletError):
        respond(city.http, asked, shown)
    assert city.http.get(request["result"]).json()["code"] == "oid4vp.malformed"


def test_urbis_id_request_waits_for_the_answer_and_prints_the_claims(city: IdentityCity) -> None:
    """`urbis id request --wait`, as the verifier's officer runs it, answered by a wallet."""
    import os
    import subprocess
    import sys

    credential, holder = resident(city)
    env = {
        **os.environ,
        "URBIS_HOME": str(city.node.home.path),
        "URBIS_API": city.url,
        "URBIS_PASSPHRASE": "",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "4000",
    }
    command = [sys.executable, "-m", "urbis.cli.main", "id", "request", "ResidentID"]
    command += ["--claims", "age_over_18", "--from", "finance", "--wait", "60"]
    officer = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert officer.stdout is not None
        link = officer.stdout.readline().strip()  # printed before it waits
        asked = ask(city, link)
        now = int(time.time())
        respond(
            city.http,
            asked,
            present(credential, asked.claims, holder, asked.client_id, asked.nonce, now),
        )
        printed, _ = officer.communicate(timeout=60)
    finally:
        officer.kill()
    assert officer.returncode == 0
    assert "age_over_18" in printed and "True" in printed
