"""Status List Tokens: the draft's test vectors, every refusal with its code, and the
headline: a standard SD-JWT VC verifier (the OpenWallet Foundation's TypeScript library),
given only the issuer's published metadata, reports a Urbis credential valid and, after a
revocation on chain, revoked."""

from __future__ import annotations

import base64
import json
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import account, key
from tests.helpers.identity import identity_city, node_script, private_okp
from urbis.crypto.keys import PrivateKey
from urbis.sdk.sdjwt import HolderKey, parse_credential, present
from urbis.sdk.statuslist import (
    StatusTokenRejected,
    compress,
    decompress,
    entry,
    okp_keys,
    parse_token,
    sign_token,
    verify_token,
)

URI = "https://city.example/identity/status/urbis1x/1"


def test_the_drafts_one_bit_example_reads_as_the_draft_says() -> None:
    """draft-ietf-oauth-status-list §4.1: bits 1, lst eNrbuRgAAhcBXQ is 0xB9 0xA3."""
    packed = decompress("eNrbuRgAAhcBXQ")
    assert packed == bytes([0xB9, 0xA3])
    first, second = [1, 0, 0, 1, 1, 1, 0, 1], [1, 1, 0, 0, 0, 1, 0, 1]
    assert [entry(packed, 1, i) for i in range(16)] == [*first, *second]


def test_the_drafts_two_bit_example_reads_as_the_draft_says() -> None:
    """§4.1 again: bits 2, lst eNo76fITAAPfAgc is 0xC9 0x44 0xF9."""
    packed = decompress("eNo76fITAAPfAgc")
    assert packed == bytes([0xC9, 0x44, 0xF9])
    assert [entry(packed, 2, i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


@given(st.binary(max_size=2048), st.sampled_from([1, 2, 4, 8]))
def test_lst_round_trips_and_reads_every_entry(packed: bytes, bits: int) -> None:
    restored = decompress(compress(packed))
    assert restored == packed
    for index in range(len(packed) * 8 // bits):
        position = index * bits
        assert entry(restored, bits, index) == (packed[position // 8] >> (position % 8)) & (
            (1 << bits) - 1
        )
    assert entry(restored, bits, len(packed) * 8 // bits) is None


def _token(signer: PrivateKey, sub: str = URI, issued_at: int | None = None) -> str:
    now = int(time.time()) if issued_at is None else issued_at
    return sign_token(signer, "k1", "https://city.example/identity/issuers/x", sub, 2, b"\x04", now)


def test_a_token_verifies_and_reads_its_entries() -> None:
    signer = key("registry")
    token = verify_token(_token(signer), URI, [signer.public_key.raw], int(time.time()))
    assert (token.bits, token.status(0), token.status(1), token.ttl_s) == (2, 0, 1, 60)


def test_a_token_signed_by_another_key_is_status_token_bad_signature() -> None:
    with pytest.raises(StatusTokenRejected) as refused:
        verify_token(_token(key("land")), URI, [key("registry").public_key.raw], int(time.time()))
    assert refused.value.code == "status_token.bad_signature"


def test_a_token_for_another_list_is_status_token_wrong_sub() -> None:
    signer = key("registry")
    other = _token(signer, sub=URI.replace("/1", "/2"))
    with pytest.raises(StatusTokenRejected) as refused:
        verify_token(other, URI, [signer.public_key.raw], int(time.time()))
    assert refused.value.code == "status_token.wrong_sub"


def test_an_old_token_is_status_token_expired() -> None:
    signer = key("registry")
    with pytest.raises(StatusTokenRejected) as refused:
        verify_token(_token(signer, issued_at=1000), URI, [signer.public_key.raw], 10_000)
    assert refused.value.code == "status_token.expired"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jws",
        "e30.e30.",
        base64.urlsafe_b64encode(b'{"typ":"statuslist+jwt"}').decode().rstrip("=") + ".e30.",
    ],
)
def test_garbage_is_status_token_malformed(token: str) -> None:
    with pytest.raises(StatusTokenRejected) as refused:
        parse_token(token)
    assert refused.value.code == "status_token.malformed"


def test_a_compression_bomb_is_status_token_malformed() -> None:
    bomb = base64.urlsafe_b64encode(zlib.compress(bytes(17 * 1024 * 1024), 9)).decode()
    with pytest.raises(StatusTokenRejected) as refused:
        decompress(bomb.rstrip("="))
    assert refused.value.code == "status_token.malformed"


# -- against the node, and against the OpenWallet Foundation's verifier ----------------------


def node_verify(presentation: str, nonce: str, folder: Path) -> dict[str, Any]:
    """The standard verifier (tests/interop/verify-sdjwt-vc.mjs): it gets the presentation
    and the nonce, and fetches everything else from what the issuer publishes."""
    path = folder / "presentation.txt"
    path.write_text(presentation)
    result: dict[str, Any] = node_script("verify-sdjwt-vc.mjs", str(path), nonce)
    return result


def test_the_node_serves_the_token_the_credential_names(tmp_path: Path) -> None:
    with identity_city(tmp_path) as city:
        (credential,), _ = city.receive()
        uri = parse_credential(credential).issued.status_uri
        assert uri is not None and uri.startswith(city.url)
        answer = city.http.get(uri, headers={"Accept": "application/statuslist+jwt"})
        assert answer.headers["content-type"].startswith("application/statuslist+jwt")
        issuer = parse_credential(credential).issued.issuer_id
        jwks = city.http.get(
            f"{city.url}/.well-known/jwt-vc-issuer/identity/issuers/{account('registry').text}"
        ).json()
        assert jwks["issuer"] == issuer
        token = verify_token(answer.text, uri, okp_keys(jwks["jwks"]), int(time.time()))
        assert token.issuer == issuer
        proved = city.http.get(uri, params={"prove": "true"}).json()
        assert proved["uri"] == uri and proved["list_proof"]["proof"] is not None
        assert len(proved["page_proofs"]) == 64  # 2^20 entries of 2 bits in 4 KiB pages


def test_a_standard_verifier_reports_valid_then_revoked_after_urbis_id_revoke(
    tmp_path: Path,
) -> None:
    """The issue's "done when": only the issuer's published metadata, and a transaction."""
    with identity_city(tmp_path) as city:
        (credential,), (holder,) = city.receive()
        issued_jwt = parse_credential(credential).issued
        audience = "https://verifier.example"
        shown = present(credential, ["age_over_18"], holder, audience, "n-1", int(time.time()))
        valid = node_verify(shown, "n-1", tmp_path)
        assert valid["valid"], valid
        assert valid["claims"]["age_over_18"] is True
        assert "birthdate" not in valid["claims"]
        labels = {d["locale"]: d["name"] for d in valid["type"]["display"]}
        assert labels == {"en-US": "Resident ID", "de-CH": "Einwohnerausweis"}

        assert issued_jwt.status is not None
        _, list_id, index = issued_jwt.status
        city.run("registry", "identity", "set_status", list_id=list_id, index=index, status=1)
        again = present(credential, ["age_over_18"], holder, audience, "n-2", int(time.time()))
        revoked = node_verify(again, "n-2", tmp_path)
        assert not revoked["valid"] and "Status is not valid" in revoked["error"], revoked


def test_a_token_the_owf_library_builds_reads_here() -> None:
    """@sd-jwt/jwt-status-list compresses and packs the list; Urbis reads the same entries."""
    signer = key("registry")
    made = node_script(
        "owf-issue.mjs",
        json.dumps(
            {
                "key": private_okp(signer),
                "kid": "k1",
                "iss": "https://city.example/identity/issuers/x",
                "vct": "https://city.example/identity/types/ResidentID",
                "status_uri": URI,
                "idx": 777,
                "status": 2,
                "size": 4096,
                "holder": HolderKey().jwk,
                "claims": {"given_name": "Alice"},
                "disclosable": ["given_name"],
            }
        ),
    )
    token = verify_token(made["status_token"], URI, [signer.public_key.raw], int(time.time()))
    assert (token.bits, token.status(777), token.status(776), token.status(778)) == (2, 2, 0, 0)
    with pytest.raises(StatusTokenRejected) as refused:
        verify_token(made["status_token"], URI + "0", [signer.public_key.raw], int(time.time()))
    assert refused.value.code == "status_token.wrong_sub"
