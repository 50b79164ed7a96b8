"""What a standard wallet or verifier fetches from a department's node: JWT VC issuer
metadata (current keys, a rotation showing in the next block), the did:web document, SD-JWT
VC type metadata in two languages with its schema, OpenID4VCI and OAuth metadata, the
public_url setting, Status List Tokens of a keyless (contract) list, and the offline bundle
with the new credentials."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.city import account, key
from tests.helpers.identity import IdentityCity, identity_city
from urbis.crypto.keys import PrivateKey
from urbis.node.home import HomeError, NodeConfig
from urbis.sdk.bundle import export_bundle, offline_view
from urbis.sdk.identity_urls import did_web, issuer_url, well_known
from urbis.sdk.sdjwt import parse_credential, present, verify_presentation
from urbis.sdk.statuslist import okp_jwk, okp_keys, verify_token

REGISTRY = account("registry")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> object:
    with identity_city(
        tmp_path_factory.mktemp("metadata"), status_signers=f"{account('land').text}=registry"
    ) as running:
        yield running


def metadata(city: IdentityCity, kind: str, account_text: str = REGISTRY.text) -> dict:
    url = well_known(issuer_url(city.url, account_text), kind)
    answer = city.http.get(url)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_issuer_metadata_lists_the_current_keys_and_follows_a_rotation(tmp_path: Path) -> None:
    with identity_city(tmp_path) as fresh:
        before = metadata(fresh, "jwt-vc-issuer")
        assert before["issuer"] == issuer_url(fresh.url, REGISTRY.text)
        assert before["jwks"]["keys"] == [okp_jwk(key("registry").public_key.raw)]
        new = PrivateKey(b"\x07" * 32)
        fresh.run(
            "registry",
            "accounts",
            "rotate_key",
            old_key=key("registry").public_key.raw,
            new_key=new.public_key.raw,
        )
        after = metadata(fresh, "jwt-vc-issuer")  # the block that rotated is the latest
        assert okp_keys(after["jwks"]) == [new.public_key.raw]
        document = fresh.http.get(f"{issuer_url(fresh.url, REGISTRY.text)}/did.json").json()
        assert [m["publicKeyJwk"]["x"] for m in document["verificationMethod"]] == [
            okp_jwk(new.public_key.raw)["x"]
        ]


def test_the_did_web_document_names_the_issuer_url_and_its_did_urbis_alias(
    city: IdentityCity,
) -> None:
    url = issuer_url(city.url, REGISTRY.text)
    document = city.http.get(f"{url}/did.json").json()
    assert document["id"] == did_web(url)
    assert document["id"].startswith("did:web:127.0.0.1%3A")
    assert set(document["alsoKnownAs"]) == {REGISTRY.did, url}
    assert document["assertionMethod"] == [m["id"] for m in document["verificationMethod"]]


def test_type_metadata_has_two_languages_claim_labels_and_the_schema(city: IdentityCity) -> None:
    typed = city.http.get(f"{city.url}/identity/types/ResidentID").json()
    assert typed["vct"] == f"{city.url}/identity/types/ResidentID"
    assert {d["locale"]: d["name"] for d in typed["display"]} == {
        "en-US": "Resident ID",
        "de-CH": "Einwohnerausweis",
    }
    labels = {
        c["path"][0]: {d["locale"]: d["label"] for d in c["display"]} for c in typed["claims"]
    }
    assert labels["birthdate"] == {"en-US": "Date of birth", "de-CH": "Geburtsdatum"}
    assert typed["schema"]["properties"]["birthdate"] == {"type": "string", "format": "date"}
    assert typed["schema"]["properties"]["age_over_18"] == {"type": "boolean"}
    missing = city.http.get(f"{city.url}/identity/types/NoSuchType")
    assert missing.status_code == 404 and missing.json()["code"] == "query.not_found"


def test_openid4vci_metadata_offers_the_types_the_issuer_is_trusted_for(
    city: IdentityCity,
) -> None:
    issuer = metadata(city, "openid-credential-issuer")
    assert list(issuer["credential_configurations_supported"]) == ["ResidentID_dc+sd-jwt"]
    configuration = issuer["credential_configurations_supported"]["ResidentID_dc+sd-jwt"]
    assert configuration["vct"] == f"{city.url}/identity/types/ResidentID"
    assert configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == [
        "ES256"
    ]
    assert issuer["batch_credential_issuance"]["batch_size"] >= 2
    oauth = metadata(city, "oauth-authorization-server")
    assert oauth["token_endpoint"] == f"{issuer['credential_issuer']}/token"
    assert (
        metadata(city, "openid-credential-issuer", account("land").text)[
            "credential_configurations_supported"
        ]
        == {}
    )


def test_a_keyless_owners_list_is_signed_by_its_configured_department(city: IdentityCity) -> None:
    """A contract's list (licensing): `status_signers` names the department that signs it."""
    land = account("land")
    city.run("land", "identity", "create_status_list", list_id=3, size=1024, bits=1)
    uri = f"{city.url}/identity/status/{land.text}/3"
    before = verify_token(
        city.http.get(uri).text,
        uri,
        okp_keys(metadata(city, "jwt-vc-issuer")["jwks"]),
        int(time.time()),
    )
    assert before.issuer == issuer_url(city.url, REGISTRY.text) and before.status(9) == 0
    city.run("land", "identity", "set_status", list_id=3, index=9, status=1)
    after = verify_token(
        city.http.get(uri).text, uri, [key("registry").public_key.raw], int(time.time())
    )
    assert after.status(9) == 1  # the next token shows the revocation


def test_a_list_whose_key_the_node_lacks_is_identity_key_not_served(city: IdentityCity) -> None:
    city.run("finance", "identity", "create_status_list", list_id=4, size=1024, bits=1)
    # finance's key is served (it is the verifier); mayor's is not
    city.run("mayor", "identity", "create_status_list", list_id=1, size=1024, bits=1)
    answer = city.http.get(f"{city.url}/identity/status/{account('mayor').text}/1")
    assert answer.status_code == 404 and answer.json()["code"] == "identity.key_not_served"


@pytest.mark.parametrize("url", ["ftp://city.example", "city.example", "https://x.example/?a=1"])
def test_a_bad_public_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(HomeError):
        NodeConfig.from_mapping({"public_url": url})


def test_public_url_defaults_to_the_api_address() -> None:
    assert NodeConfig(api_port=9000).base_url == "http://127.0.0.1:9000"
    assert NodeConfig.from_mapping({"public_url": "https://id.zug.example/"}).base_url == (
        "https://id.zug.example"
    )


def test_the_offline_bundle_verifies_a_credential_received_over_openid4vci(
    city: IdentityCity,
) -> None:
    (credential,), (holder,) = city.receive()
    entry = parse_credential(credential).issued.status
    assert entry is not None
    now_ms = int(time.time() * 1000)
    bundle = export_bundle(
        lambda path: city.http.get(f"{city.url}{path}").json(),
        ["ResidentID"],
        [entry[:2]],
        city.node.app.store.version,
        now_ms,
    )
    shown = present(credential, ["age_over_18"], holder, "turnstile-17", "t1", now_ms // 1000)
    view = offline_view(bundle, now_ms, 60_000)
    verified = verify_presentation(shown, view, "turnstile-17", "t1", now_ms // 1000)
    assert verified.claims == {"age_over_18": True} and verified.vct == "ResidentID"


def test_the_offline_bundle_carries_signed_tokens_and_refuses_a_forged_one(
    city: IdentityCity,
) -> None:
    """The turnstile reads status from the node's signed Status List Token, checked offline
    against the issuer's keys in the bundle; a token from anyone else spoils the bundle."""
    from urbis.sdk.sdjwt import CredentialRejected
    from urbis.sdk.statuslist import sign_token

    (credential,), (holder,) = city.receive()
    entry = parse_credential(credential).issued.status
    assert entry is not None

    def take() -> dict:
        return export_bundle(
            lambda path: city.http.get(f"{city.url}{path}").json(),
            ["ResidentID"],
            [entry[:2]],
            city.node.app.store.version,
            int(time.time() * 1000),
            lambda path: city.http.get(f"{city.url}{path}").text,
        )

    def check(bundle: dict, nonce: str) -> object:
        now = int(time.time())
        shown = present(credential, ["age_over_18"], holder, "turnstile-17", nonce, now)
        view = offline_view(bundle, now * 1000, 60_000)
        return verify_presentation(shown, view, "turnstile-17", nonce, now)

    fresh = take()
    assert set(fresh["status_tokens"]) == {f"{entry[0]}/{entry[1]}"}
    assert check(fresh, "t1")
    city.run("registry", "identity", "set_status", list_id=entry[1], index=entry[2], status=1)
    refreshed = take()
    refreshed["status_lists"] = fresh["status_lists"]  # stale JSON: the signed token decides
    with pytest.raises(CredentialRejected) as revoked:
        check(refreshed, "t2")
    assert revoked.value.reason == "revoked"

    forged = dict(fresh)
    name = f"{entry[0]}/{entry[1]}"
    uri = f"{city.url}/identity/status/{name}"
    forged["status_tokens"] = {
        name: sign_token(
            key("land"),
            "k",
            issuer_url(city.url, REGISTRY.text),
            uri,
            2,
            bytes(1 << 18),
            int(time.time()),
        )
    }
    with pytest.raises(CredentialRejected) as spoiled:
        check(forged, "t3")
    assert spoiled.value.reason == "bad_bundle"
