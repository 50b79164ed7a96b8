"""OpenID4VCI 1.0 issuance: the OpenWallet Foundation's wallet client against a Urbis
department's node, batch copies that cannot be linked, the chain holding only status
allocations, and every refusal with its code."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers.city import account, key
from tests.helpers.identity import identity_city, node_script, node_server, private_okp
from urbis.modules.identity import keys
from urbis.modules.identity.invariants import check_invariants
from urbis.modules.identity.keeper import allocated
from urbis.modules.identity.oid4vci import IssuerService, ProtocolError
from urbis.sdk.oid4vc import WalletError, key_proof, receive_offer
from urbis.sdk.sdjwt import HolderKey, _jws, parse_credential, unb64url

ISSUER = account("registry")
NOW = 1_800_000_000


def owf_wallet(offer: dict[str, Any], copies: int, *extra: str) -> dict[str, Any]:
    """tests/interop/oid4vci-wallet.mjs: @openid4vc/openid4vci's client, as a wallet runs it."""
    args = (offer["uri"], offer["tx_code"], str(copies), *extra)
    result: dict[str, Any] = node_script("oid4vci-wallet.mjs", *args)
    return result


def holder_of(jwk: dict[str, str]) -> HolderKey:
    return HolderKey(
        ec.derive_private_key(int.from_bytes(unb64url(jwk["d"]), "big"), ec.SECP256R1())
    )


def test_the_owf_wallet_receives_a_batch_of_unlinkable_copies(tmp_path: Path) -> None:
    with identity_city(tmp_path) as city:
        before = city.node.app.store.version
        offer = city.offer({"given_name": "Alice", "birthdate": "1990-04-01"})
        assert parse_qs(urlsplit(offer["uri"]).query)["credential_offer"]
        received = owf_wallet(offer, 3)
        assert "error" not in received, received
        credentials = [parse_credential(c) for c in received["credentials"]]
        assert len(credentials) == 3
        for credential, jwk in zip(credentials, received["keys"], strict=True):
            assert credential.issued.holder_jwk["x"] == jwk["x"]  # bound to its own key
            assert credential.issued.issuer_id == f"{city.url}/identity/issuers/{ISSUER.text}"
            assert credential.issued.vct_id == f"{city.url}/identity/types/ResidentID"
            assert json.loads(unb64url(credential.disclosures["age_over_18"]))[2] is True
        # nothing two copies share but the issuer, the type and the claims' values
        assert len({c.issued.status for c in credentials}) == 3
        assert not set.intersection(*(set(c.issued.digests) for c in credentials))
        assert len({c.issued.signature for c in credentials}) == 3
        # the chain: three allocated indexes, no claims
        statuses = [c.issued.status for c in credentials]
        store = city.node.app.store
        assert all(s and allocated(store, ISSUER, s[1], s[2]) for s in statuses)
        assert check_invariants(store) == []
        written = b"".join(v for _, v in store.scan_prefix(keys.PREFIX, 100_000))
        assert b"Alice" not in written and b"1990-04-01" not in written
        events = [
            e["type"]
            for height in range(before + 1, store.version + 1)
            for tx in city.http.get(f"{city.url}/v1/blocks/{height}").json()["txs"]
            for e in tx["events"]
        ]
        assert events.count("identity.status_allocated") == 1


def test_a_reused_offer_is_oid4vci_code_used(tmp_path: Path) -> None:
    with identity_city(tmp_path) as city:
        offer = city.offer({"given_name": "Alice"})
        assert "error" not in owf_wallet(offer, 1)
        with pytest.raises(WalletError) as refused:
            receive_offer(
                city.http, offer["uri"], offer["tx_code"], [HolderKey()], int(time.time())
            )
        assert "oid4vci.code_used" in refused.value.detail


def test_a_proof_over_another_nonce_is_oid4vci_wrong_nonce(tmp_path: Path) -> None:
    with identity_city(tmp_path) as city:
        offer = city.offer({"given_name": "Alice"})
        answer = owf_wallet(offer, 1, "made-up-nonce")
        assert answer["error"]["code"] == "oid4vci.wrong_nonce"
        assert answer["error"]["error"] == "invalid_nonce"


def test_an_offer_not_signed_by_the_department_is_identity_bad_signed_request(
    tmp_path: Path,
) -> None:
    with identity_city(tmp_path) as city:
        endpoint = f"{city.url}/identity/issuers/{ISSUER.text}/offers"
        forged = city.signed("land", endpoint, vct="ResidentID", claims={"given_name": "Mallory"})
        answer = city.http.post(endpoint, json=forged)
        assert answer.status_code == 401 and answer.json()["code"] == "identity.bad_signed_request"
        replayed = city.signed("registry", endpoint, vct="ResidentID", claims={})
        assert city.http.post(endpoint, json=replayed).status_code == 200
        again = city.http.post(endpoint, json=replayed)
        assert again.json()["code"] == "identity.bad_signed_request"


# -- the issuer service's checks, one refusal each (no network, a fixed clock) --------------


@pytest.fixture
def service() -> IssuerService:
    return IssuerService("https://city.example", {ISSUER: key("registry")})


def offered(service: IssuerService, now: int = NOW) -> tuple[str, str]:
    made = service.offer(ISSUER, "ResidentID", {"given_name": "A"}, ["given_name"], 86_400, 1, now)
    grant = made["offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    return grant["pre-authorized_code"], made["tx_code"]


def token(service: IssuerService, code: str, tx_code: str, now: int = NOW) -> str:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        "pre-authorized_code": code,
        "tx_code": tx_code,
    }
    return str(service.token(ISSUER, form, now)["access_token"])


def refused_code(call: Any) -> str:
    with pytest.raises(ProtocolError) as refused:
        call()
    return refused.value.code


def test_an_expired_code_is_oid4vci_code_expired(service: IssuerService) -> None:
    code, tx_code = offered(service)
    assert refused_code(lambda: token(service, code, tx_code, NOW + 601)) == "oid4vci.code_expired"


def test_a_used_code_is_oid4vci_code_used(service: IssuerService) -> None:
    code, tx_code = offered(service)
    token(service, code, tx_code)
    assert refused_code(lambda: token(service, code, tx_code)) == "oid4vci.code_used"


def test_a_wrong_transaction_code_is_oid4vci_wrong_tx_code(service: IssuerService) -> None:
    code, tx_code = offered(service)
    wrong = "0" * 6 if tx_code != "0" * 6 else "1" * 6
    assert refused_code(lambda: token(service, code, wrong)) == "oid4vci.wrong_tx_code"


def test_an_unknown_code_is_oid4vci_unknown_code(service: IssuerService) -> None:
    assert refused_code(lambda: token(service, "nope", "123456")) == "oid4vci.unknown_code"


def request(service: IssuerService, proofs: list[str], access: str) -> Any:
    body = {"credential_configuration_id": "ResidentID_dc+sd-jwt", "proofs": {"jwt": proofs}}
    return service.check_request(ISSUER, f"Bearer {access}", body, NOW)


def ready(service: IssuerService) -> tuple[str, str]:
    code, tx_code = offered(service)
    return token(service, code, tx_code), service.nonce(NOW)["c_nonce"]


AUDIENCE = f"https://city.example/identity/issuers/{ISSUER.text}"


def test_a_proof_with_a_wrong_nonce_is_oid4vci_wrong_nonce(service: IssuerService) -> None:
    access, _ = ready(service)
    proof = key_proof(HolderKey(), AUDIENCE, "not-the-c-nonce", NOW)
    assert refused_code(lambda: request(service, [proof], access)) == "oid4vci.wrong_nonce"


def test_a_proof_for_another_issuer_is_oid4vci_wrong_audience(service: IssuerService) -> None:
    access, nonce = ready(service)
    proof = key_proof(HolderKey(), "https://elsewhere.example", nonce, NOW)
    assert refused_code(lambda: request(service, [proof], access)) == "oid4vci.wrong_audience"


@pytest.mark.parametrize("alg", ["HS256", "none", "EdDSA"])
def test_a_proof_with_another_algorithm_is_oid4vci_bad_algorithm(
    service: IssuerService, alg: str
) -> None:
    access, nonce = ready(service)
    holder = HolderKey()
    header = {"alg": alg, "typ": "openid4vci-proof+jwt", "jwk": holder.jwk}
    proof = _jws(header, {"aud": AUDIENCE, "iat": NOW, "nonce": nonce}, holder.sign)
    assert refused_code(lambda: request(service, [proof], access)) == "oid4vci.bad_algorithm"


def test_a_proof_signed_by_another_key_is_oid4vci_bad_proof(service: IssuerService) -> None:
    access, nonce = ready(service)
    claimed, signer = HolderKey(), HolderKey()
    header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": claimed.jwk}
    proof = _jws(header, {"aud": AUDIENCE, "iat": NOW, "nonce": nonce}, signer.sign)
    assert refused_code(lambda: request(service, [proof], access)) == "oid4vci.bad_proof"


def test_a_batch_over_the_limit_is_oid4vci_batch_too_large(service: IssuerService) -> None:
    access, nonce = ready(service)
    proofs = [key_proof(HolderKey(), AUDIENCE, nonce, NOW) for _ in range(11)]
    assert refused_code(lambda: request(service, proofs, access)) == "oid4vci.batch_too_large"


def test_two_copies_for_one_key_is_oid4vci_duplicate_key(service: IssuerService) -> None:
    access, nonce = ready(service)
    holder = HolderKey()
    proofs = [key_proof(holder, AUDIENCE, nonce, NOW), key_proof(holder, AUDIENCE, nonce, NOW + 1)]
    assert refused_code(lambda: request(service, proofs, access)) == "oid4vci.duplicate_key"


def test_a_spent_access_token_is_oid4vci_bad_access_token(service: IssuerService) -> None:
    access, nonce = ready(service)
    checked = request(service, [key_proof(HolderKey(), AUDIENCE, nonce, NOW)], access)
    service.issue(checked, [7], NOW)
    again = service.nonce(NOW)["c_nonce"]
    proof = key_proof(HolderKey(), AUDIENCE, again, NOW)
    assert refused_code(lambda: request(service, [proof], access)) == "oid4vci.bad_access_token"


def test_a_request_for_another_configuration_is_oid4vci_unknown_configuration(
    service: IssuerService,
) -> None:
    access, nonce = ready(service)
    body = {
        "credential_configuration_id": "TransitPass_dc+sd-jwt",
        "proofs": {"jwt": [key_proof(HolderKey(), AUDIENCE, nonce, NOW)]},
    }
    code = refused_code(lambda: service.check_request(ISSUER, f"Bearer {access}", body, NOW))
    assert code == "oid4vci.unknown_configuration"


def test_the_urbis_wallet_receives_from_the_owf_issuer() -> None:
    """The other direction: tests/interop/oid4vci-issuer.mjs is an issuer built on
    @openid4vc/openid4vci and @openid4vc/oauth2; the Urbis wallet runs the flow against it."""
    import httpx

    request = {
        "key": private_okp(key("registry")),
        "kid": key("registry").public_key.hex()[:16],
        "path": f"/identity/issuers/{ISSUER.text}",
        "vct": "https://city.example/identity/types/ResidentID",
        "claims": {"given_name": "Alice", "age_over_18": True},
        "disclosable": ["given_name", "age_over_18"],
    }
    with node_server("oid4vci-issuer.mjs", request) as (offered_by_owf, _):
        holders = [HolderKey(), HolderKey()]
        with httpx.Client(timeout=30) as http:
            with pytest.raises(WalletError) as refused:
                receive_offer(http, offered_by_owf["offer"], "000000", holders, int(time.time()))
            assert refused.value.reason == "refused"  # a wrong transaction code
            credentials = receive_offer(
                http, offered_by_owf["offer"], offered_by_owf["tx_code"], holders, int(time.time())
            )
    for credential, holder in zip(credentials, holders, strict=True):
        parsed = parse_credential(credential)
        assert parsed.issued.holder_jwk == holder.jwk
        assert parsed.issued.issuer == ISSUER.text and parsed.issued.vct == "ResidentID"
        assert sorted(parsed.disclosures) == ["age_over_18", "given_name"]
