"""SD-JWT VC credentials against the on-chain registry: each rejection has its reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.city import CityChain, account, city_genesis, key, role_grant
from tests.helpers.identity import define_type, view
from urbis.sdk.builder import action
from urbis.sdk.sdjwt import (
    CredentialRejected,
    HolderKey,
    StatusReference,
    TrustView,
    b64url,
    issue,
    present,
    verify_presentation,
)

CLAIMS = {
    "given_name": "Alice",
    "family_name": "Muster",
    "birthdate": "1990-04-01",
    "age_over_18": True,
    "age_over_65": False,
}


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    chain = CityChain(tmp_path, genesis=city_genesis(extra_accounts=("alice",)))
    run = chain.run
    assert run(
        "registry",
        role_grant("registry", "trust_admin"),
    ).ok
    assert run(
        "registry",
        define_type("ResidentID", CLAIMS),
    ).ok
    assert run(
        "registry", action("identity", "trust_issuer", vct="ResidentID", issuer=account("registry"))
    ).ok
    assert run(
        "registry", action("identity", "create_status_list", list_id=1, size=4096, bits=2)
    ).ok
    yield chain
    chain.close()


def credential(
    chain: CityChain,
    holder: HolderKey,
    index: int = 7,
    issued_ms: int | None = None,
    signer: str = "registry",
) -> str:
    issued = (issued_ms or chain.clock) // 1000
    return issue(
        key(signer),
        account(signer).did,
        "ResidentID",
        CLAIMS,
        list(CLAIMS),
        holder.jwk,
        issued,
        issued + 365 * 86_400,
        StatusReference(account("registry").text, 1, index),
    )


def now(chain: CityChain) -> int:
    return chain.clock // 1000


def test_presenting_only_age_over_18(city: CityChain) -> None:
    holder = HolderKey()
    sd_jwt = credential(city, holder)
    shown = present(sd_jwt, ["age_over_18"], holder, "transit", "n-1", now(city))
    verified = verify_presentation(shown, view(city), "transit", "n-1", now(city))
    assert verified.claims == {"age_over_18": True}
    assert "Alice" not in shown.split("~")[0]  # names travel only as chosen disclosures


def rejected(
    city: CityChain,
    presentation: str,
    audience: str = "transit",
    nonce: str = "n-1",
    trust: TrustView | None = None,
    at: int | None = None,
) -> str:
    with pytest.raises(CredentialRejected) as caught:
        verify_presentation(
            presentation, trust or view(city), audience, nonce, at if at is not None else now(city)
        )
    return caught.value.reason


def test_tampered_and_foreign_disclosures_are_refused(city: CityChain) -> None:
    holder = HolderKey()
    sd_jwt = credential(city, holder)
    shown = present(sd_jwt, ["age_over_18"], holder, "transit", "n-1", now(city))
    jwt, disclosure, kb = shown.split("~")
    forged = disclosure[:-2] + ("AA" if disclosure[-2:] != "AA" else "BB")
    assert rejected(city, "~".join([jwt, forged, kb])) == "disclosure_not_in_credential"
    other = present(
        credential(city, holder), ["age_over_18"], holder, "transit", "n-1", now(city)
    ).split("~")[1]
    assert rejected(city, "~".join([jwt, other, kb])) == "disclosure_not_in_credential"


def test_key_binding_faults(city: CityChain) -> None:
    holder = HolderKey()
    sd_jwt = credential(city, holder)
    shown = present(sd_jwt, ["age_over_18"], holder, "transit", "n-1", now(city))
    assert rejected(city, shown.rsplit("~", 1)[0] + "~") == "missing_key_binding"
    thief = present(sd_jwt, ["age_over_18"], HolderKey(), "transit", "n-1", now(city))
    assert rejected(city, thief) == "bad_key_binding"
    assert rejected(city, shown, audience="bank") == "wrong_audience"
    assert rejected(city, shown, nonce="n-2") == "wrong_nonce"
    trust = view(city)
    verify_presentation(shown, trust, "transit", "n-1", now(city))
    assert rejected(city, shown, trust=trust) == "replayed"


def test_expired_revoked_and_suspended(city: CityChain) -> None:
    holder = HolderKey()
    shown = present(
        credential(city, holder, index=9), ["age_over_18"], holder, "transit", "n-1", now(city)
    )
    assert rejected(city, shown, at=now(city) + 366 * 86_400) == "expired"
    assert city.run("registry", action("identity", "set_status", list_id=1, index=9, status=2)).ok
    assert rejected(city, shown) == "suspended"
    assert city.run("registry", action("identity", "set_status", list_id=1, index=9, status=1)).ok
    assert rejected(city, shown) == "revoked"


def test_issuer_not_trusted_at_issuance(city: CityChain) -> None:
    holder = HolderKey()
    rogue = present(
        credential(city, holder, signer="land"),
        ["age_over_18"],
        holder,
        "transit",
        "n-1",
        now(city),
    )
    assert rejected(city, rogue) == "issuer_not_trusted"
    before = present(
        credential(city, holder, issued_ms=city.genesis.time_ms),
        ["age_over_18"],
        holder,
        "transit",
        "n-1",
        now(city),
    )
    assert rejected(city, before) == "issuer_not_trusted"


def test_key_rotated_before_issuance(city: CityChain) -> None:
    holder = HolderKey()
    old_credential = credential(city, holder)
    rotate = action(
        "accounts",
        "rotate_key",
        old_key=key("registry").public_key.raw,
        new_key=key("registry-2").public_key.raw,
    )
    assert city.run("registry", rotate, signers=["registry"]).ok
    # issued before the rotation with the then-current key: still good
    shown = present(old_credential, ["age_over_18"], holder, "transit", "n-1", now(city))
    assert verify_presentation(shown, view(city), "transit", "n-1", now(city))
    # signed with the retired key after the rotation: refused
    late = issue(
        key("registry"),
        account("registry").did,
        "ResidentID",
        CLAIMS,
        list(CLAIMS),
        holder.jwk,
        now(city) + 5,
        now(city) + 86_400,
        StatusReference(account("registry").text, 1, 3),
    )
    shown_late = present(late, ["age_over_18"], holder, "transit", "n-2", now(city) + 5)
    assert rejected(city, shown_late, nonce="n-2", at=now(city) + 5) == "bad_issuer_signature"


def test_wallet_refuses_claims_the_verifier_is_not_registered_for(city: CityChain) -> None:
    holder = HolderKey()
    with pytest.raises(CredentialRejected) as caught:
        present(
            credential(city, holder),
            ["age_over_18", "birthdate"],
            holder,
            "transit",
            "n-1",
            now(city),
            allowed=["age_over_18"],
        )
    assert caught.value.reason == "claim_not_registered"
    with pytest.raises(CredentialRejected) as missing:
        present(credential(city, holder), ["shoe_size"], holder, "transit", "n-1", now(city))
    assert missing.value.reason == "claim_not_in_credential"


def test_an_independent_sd_jwt_implementation_verifies_our_credentials(city: CityChain) -> None:
    """The IETF reference implementation (package sd-jwt) accepts what we issue."""
    from jwcrypto.jwk import JWK
    from sd_jwt.verifier import SDJWTVerifier

    holder = HolderKey()
    shown = present(
        credential(city, holder), ["age_over_18", "given_name"], holder, "transit", "n-9", now(city)
    )
    issuer_jwk = JWK(kty="OKP", crv="Ed25519", x=b64url(key("registry").public_key.raw))
    verifier = SDJWTVerifier(shown, lambda issuer, header: issuer_jwk, "transit", "n-9")
    payload = verifier.get_verified_payload()
    assert payload["age_over_18"] is True and payload["given_name"] == "Alice"
    assert "birthdate" not in payload


# RFC 9901 §4.2.1-§4.2.3 publish these values; they pin the digest rule (SHA-256 over the
# base64url text of the disclosure, not over the bytes it decodes to).
RFC_DISCLOSURE = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
RFC_DIGEST = "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
RFC_ARRAY_DISCLOSURE = "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"
RFC_ARRAY_DIGEST = "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"


def test_digests_match_the_rfc_9901_examples() -> None:
    import json

    from urbis.sdk.sdjwt import digest, unb64url

    assert digest(RFC_DISCLOSURE) == RFC_DIGEST
    assert digest(RFC_ARRAY_DISCLOSURE) == RFC_ARRAY_DIGEST
    assert json.loads(unb64url(RFC_DISCLOSURE)) == [
        "_26bc4LT-ac6q2KI6cBW5es",
        "family_name",
        "Möbius",
    ]


def test_a_disclosure_encoded_as_the_rfc_prints_it_is_accepted(city: CityChain) -> None:
    """Another issuer's encoding (spaces, escaped umlaut) verifies: we hash the text as sent."""
    import json

    from urbis.sdk import sdjwt

    holder = HolderKey()
    issued = now(city)
    payload = {
        "iss": account("registry").did,
        "vct": "ResidentID",
        "iat": issued,
        "exp": issued + 86_400,
        "cnf": {"jwk": holder.jwk},
        "_sd_alg": "sha-256",
        "_sd": [RFC_DIGEST],
    }
    header = {"alg": "EdDSA", "typ": sdjwt.TYP}
    jwt = sdjwt._jws(header, payload, key("registry").sign)
    shown = present(f"{jwt}~{RFC_DISCLOSURE}~", ["family_name"], holder, "v", "n", issued)
    verified = verify_presentation(shown, view(city), "v", "n", issued)
    assert verified.claims == {"family_name": "Möbius"}
    assert json.loads(sdjwt.unb64url(RFC_DISCLOSURE))[2] == "Möbius"


def test_resident_id_derives_age_flags_at_issuance() -> None:
    from datetime import date

    from urbis.modules.identity.types import derive_claims

    claims = derive_claims("ResidentID", {"birthdate": "2008-12-02"}, date(2026, 12, 1))
    assert claims["age_over_18"] is False
    assert (
        derive_claims("ResidentID", {"birthdate": "2008-12-01"}, date(2026, 12, 1))["age_over_18"]
        is True
    )
    assert (
        derive_claims("ResidentID", {"birthdate": "1961-06-30"}, date(2026, 12, 1))["age_over_65"]
        is True
    )


def test_sdk_objects_issue_keep_present_verify(city: CityChain, tmp_path: Path) -> None:
    from urbis.sdk import CredentialWallet, Issuer, Verifier

    issuer = Issuer(key("registry"), account("registry").did)
    wallet = CredentialWallet(tmp_path / "wallet", HolderKey())
    verifier = Verifier("transit", view(city))
    credential = issuer.issue(
        "ResidentID",
        CLAIMS,
        list(CLAIMS),
        wallet.holder.jwk,
        now(city),
        86_400,
        StatusReference(account("registry").text, 1, 11),
    )
    assert "age_over_18" in wallet.add("resident", credential)
    assert wallet.list()[0]["vct"] == "ResidentID"
    nonce = verifier.challenge()
    shown = wallet.present(
        "resident", ["age_over_18"], "transit", nonce, now(city), allowed=["age_over_18"]
    )
    assert verifier.verify(shown, nonce, now(city)).claims == {"age_over_18": True}
    with pytest.raises(CredentialRejected) as replay:
        verifier.verify(shown, nonce, now(city))
    assert replay.value.reason == "replayed"
