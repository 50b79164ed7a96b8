"""The holder's side of OpenID4VCI 1.0 and OpenID4VP 1.0: what `urbis wallet receive` and
`urbis wallet respond` run.

Receiving (pre-authorised code flow): parse the offer link, read the issuer's
Credential Issuer Metadata and its authorisation server's metadata, trade the code and
the transaction code for an access token, fetch a c_nonce, prove possession of one
holder key per copy (`openid4vci-proof+jwt`), and collect the credentials.

Responding: parse the `openid4vp://` link, check the signed request object against
the verifier's DID keys and its registration on chain (it may ask only for what the
registry allows), present the asked claims bound to the client id and nonce, and POST
them to the response URI (`direct_post`).

Every refusal is a `WalletError` with a stable reason (shown as `wallet.<reason>`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from urbis.crypto.keys import verify
from urbis.sdk.identity_urls import issuer_account, vct_name, well_known
from urbis.sdk.sdjwt import CredentialRejected, HolderKey, _jws, _parse_jws

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME = "openid-credential-offer://"
REQUEST_SCHEME = "openid4vp://"
CLIENT_ID_PREFIX = "decentralized_identifier:"


class WalletError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"wallet.{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _get_json(http: httpx.Client, url: str, what: str) -> Any:
    try:
        response = http.get(url)
    except httpx.HTTPError as error:
        raise WalletError("unreachable", f"cannot fetch {what} at {url}: {error}") from None
    if response.status_code != 200:
        raise WalletError("protocol_error", f"{what} at {url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise WalletError("protocol_error", f"{what} at {url} is not JSON") from None


def _post(http: httpx.Client, url: str, what: str, **kwargs: Any) -> Any:
    try:
        response = http.post(url, **kwargs)
    except httpx.HTTPError as error:
        raise WalletError("unreachable", f"cannot reach {what} at {url}: {error}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        code = body.get("code") or body.get("error") or f"HTTP {response.status_code}"
        raise WalletError("refused", f"{what} refused: {code}: {body.get('error_description', '')}")
    return body


# -- OpenID4VCI -------------------------------------------------------------------------------


def parse_offer(uri: str) -> dict[str, Any]:
    """The credential offer object of an `openid-credential-offer://` link (by value)."""
    if not uri.startswith(OFFER_SCHEME):
        raise WalletError("bad_offer", f"an offer link starts with {OFFER_SCHEME}")
    values = parse_qs(urlsplit(uri).query)
    try:
        offer = json.loads(values["credential_offer"][0])
    except (KeyError, IndexError, ValueError):
        raise WalletError("bad_offer", "the link carries no credential_offer JSON") from None
    grant = offer.get("grants", {}).get(PRE_AUTHORIZED_GRANT) if isinstance(offer, dict) else None
    if (
        not isinstance(grant, dict)
        or not isinstance(grant.get("pre-authorized_code"), str)
        or not isinstance(offer.get("credential_issuer"), str)
        or not isinstance(offer.get("credential_configuration_ids"), list)
    ):
        raise WalletError("bad_offer", "the offer needs an issuer, a configuration and a code")
    return offer


def key_proof(holder: HolderKey, audience: str, nonce: str, now: int) -> str:
    """An `openid4vci-proof+jwt`: the holder key (jwk) signs the issuer and c_nonce."""
    return _jws(
        {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": holder.jwk},
        {"aud": audience, "iat": now, "nonce": nonce},
        holder.sign,
    )


def receive_offer(
    http: httpx.Client, uri: str, tx_code: str | None, holders: list[HolderKey], now: int
) -> list[str]:
    """Run the pre-authorised code flow; one credential per holder key (a batch)."""
    offer = parse_offer(uri)
    issuer = offer["credential_issuer"]
    grant = offer["grants"][PRE_AUTHORIZED_GRANT]
    if grant.get("tx_code") is not None and not tx_code:
        raise WalletError("tx_code_needed", "this offer needs the code the issuer gave you")
    metadata = _get_json(http, well_known(issuer, "openid-credential-issuer"), "issuer metadata")
    if metadata.get("credential_issuer") != issuer:
        raise WalletError("bad_offer", "the issuer metadata names another issuer")
    configuration_id = offer["credential_configuration_ids"][0]
    if configuration_id not in metadata.get("credential_configurations_supported", {}):
        raise WalletError("bad_offer", f"the issuer does not offer {configuration_id}")
    batch = int(metadata.get("batch_credential_issuance", {}).get("batch_size", 1))
    if len(holders) > batch:
        raise WalletError("batch_too_large", f"this issuer hands out at most {batch} copies")
    servers = metadata.get("authorization_servers") or [issuer]
    oauth = _get_json(
        http, well_known(servers[0], "oauth-authorization-server"), "authorization server metadata"
    )
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant["pre-authorized_code"]}
    if tx_code:
        form["tx_code"] = tx_code
    token = _post(http, oauth["token_endpoint"], "the token endpoint", data=form)
    nonce = _post(http, metadata["nonce_endpoint"], "the nonce endpoint")["c_nonce"]
    proofs = [key_proof(holder, issuer, nonce, now) for holder in holders]
    answer = _post(
        http,
        metadata["credential_endpoint"],
        "the credential endpoint",
        json={"credential_configuration_id": configuration_id, "proofs": {"jwt": proofs}},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    credentials = [c.get("credential") for c in answer.get("credentials", [])]
    if len(credentials) != len(holders) or not all(isinstance(c, str) for c in credentials):
        raise WalletError("protocol_error", "the issuer did not return one credential per key")
    return credentials


# -- OpenID4VP --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresentationAsk:
    """A verified presentation request: who asks, for which type and claims, where to answer."""

    client_id: str
    verifier: str  # the verifier's account
    vct: str  # the registry's type name
    claims: list[str]
    credential_query_id: str
    nonce: str
    state: str
    response_uri: str


DidKeys = Callable[[str], list[bytes]]
"""did:urbis:<account> -> the account's current keys (the wallet asks the chain)."""
Registration = Callable[[str], dict[str, list[str]] | None]
"""Verifier account -> what the registry lets it ask for (None: not registered)."""


def open_request(
    link: str, did_keys: DidKeys, registration: Registration, now: int
) -> PresentationAsk:
    """Parse and check an `openid4vp://` link's signed request."""
    if not link.startswith(REQUEST_SCHEME):
        raise WalletError("bad_request", f"a presentation link starts with {REQUEST_SCHEME}")
    values = parse_qs(urlsplit(link).query)
    client_id = values.get("client_id", [""])[0]
    jwt = values.get("request", [""])[0]
    if not client_id.startswith(CLIENT_ID_PREFIX) or not jwt:
        raise WalletError(
            "bad_request", f"need client_id ({CLIENT_ID_PREFIX}did:…) and a signed request"
        )
    did = client_id.removeprefix(CLIENT_ID_PREFIX)
    verifier = issuer_account(did)
    if verifier is None or not did.startswith("did:urbis:"):
        raise WalletError("bad_request", f"{did} is not a DID this wallet resolves")
    try:
        header, payload, signing_input, signature = _parse_jws(jwt)
    except CredentialRejected as error:
        raise WalletError("bad_request", error.detail) from None
    if (
        header.get("typ") != "oauth-authz-req+jwt"
        or header.get("alg") != "EdDSA"
        or not any(verify(k, signing_input, signature) for k in did_keys(did))
    ):
        raise WalletError("bad_request_signature", f"the request is not signed by {did}")
    if payload.get("client_id") != client_id:
        raise WalletError("bad_request", "the signed request names another client_id")
    expires_at = payload.get("exp")
    if type(expires_at) is not int or now >= expires_at:
        raise WalletError("request_expired", "the presentation request expired")
    if payload.get("response_type") != "vp_token" or payload.get("response_mode") != "direct_post":
        raise WalletError("bad_request", "only response_type vp_token over direct_post")
    try:
        (query,) = payload["dcql_query"]["credentials"]
        (vct,) = query["meta"]["vct_values"]
        claims = [c["path"][0] for c in query.get("claims", [])]
        ask = PresentationAsk(
            client_id,
            verifier,
            vct_name(vct),
            [str(c) for c in claims],
            str(query["id"]),
            str(payload["nonce"]),
            str(payload["state"]),
            str(payload["response_uri"]),
        )
    except (KeyError, TypeError, ValueError, IndexError):
        raise WalletError(
            "bad_request", "the DCQL query must ask for one dc+sd-jwt credential by claim paths"
        ) from None
    allowed = registration(verifier)
    if allowed is None:
        raise WalletError("claim_not_registered", f"{verifier} is not a registered verifier")
    extra = sorted(set(ask.claims) - set(allowed.get(ask.vct, [])))
    if extra:
        raise WalletError(
            "claim_not_registered",
            f"the verifier may not ask for {', '.join(extra)} of {ask.vct}",
        )
    return ask


def respond(http: httpx.Client, ask: PresentationAsk, presentation: str) -> Any:
    """POST the presentation to the verifier (direct_post); its answer, or `wallet.refused`."""
    vp_token = json.dumps({ask.credential_query_id: [presentation]}, separators=(",", ":"))
    return _post(
        http,
        ask.response_uri,
        "the verifier",
        data={"vp_token": vp_token, "state": ask.state},
    )
