"""OpenID4VP 1.0 verification for a registered verifier: requests out, responses in.

The server-side API a relying party uses (the portal's resident sign-in, a node's
verifier endpoint):

    verifier = PresentationVerifier(base, account, key, trust, registration)
    request = verifier.create_request("ResidentID", ["age_over_18"], now)
    request.link            # openid4vp://?client_id=…&request=… (show it as a QR code)
    ...                     # the wallet POSTs vp_token and state to request.response_uri
    verified = verifier.receive(form, now)   # Verified claims, or ProtocolError (oid4vp.*)

The request is a signed request object (`oauth-authz-req+jwt`, EdDSA with the
verifier's account key). Its client id is `decentralized_identifier:did:urbis:<account>`,
which binds it to the verifier's registration on chain: a wallet checks the signature
against that DID's keys and the requested claims against what the registry lets this
verifier ask for. The response is checked against the trust registry (the issuer trusted
when it issued and still trusted now), the credential's status, the key binding
(audience = client id, nonce = the request's) and, again, the registration.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from urbis.chain.context import StateReader
from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.modules.identity.keeper import keys_at, read_trust, status_of
from urbis.modules.identity.oid4vci import ProtocolError
from urbis.sdk.identity_urls import vct_url
from urbis.sdk.sdjwt import (
    CredentialRejected,
    TrustView,
    Verified,
    _jws,
    parse_jwt,
    verify_presentation,
)

CLIENT_ID_PREFIX = "decentralized_identifier:"
REQUEST_TYP = "oauth-authz-req+jwt"
SELF_ISSUED = "https://self-issued.me/v2"
"""The `aud` of a request object for a wallet found by a link (OpenID4VP static discovery)."""
REQUEST_TTL_S = 300
"""A sign-in QR code is good for five minutes."""
REQUESTS_MAX = 10_000
CREDENTIAL_QUERY_ID = "credential"

Registration = Callable[[], dict[str, list[str]] | None]
"""The verifier's allowed claims per type, from the registry (None: not registered)."""


def client_id(account: AccountId) -> str:
    return CLIENT_ID_PREFIX + account.did


def chain_trusted_now(state: StateReader) -> Callable[[str, str], bool]:
    """Whether an issuer is trusted for a type in the latest committed block."""
    return lambda vct, issuer: read_trust(state, vct, AccountId.parse(issuer)).current


def chain_trust_view(state: StateReader) -> TrustView:
    """What the ledger says: issuer keys at a time, trust periods, status entries."""
    return TrustView(
        key_at=lambda did, t: keys_at(state, AccountId.parse(did), t),
        trusted_at=lambda vct, issuer, t: read_trust(
            state, vct, AccountId.parse(issuer)
        ).trusted_at(t),
        status_of=lambda issuer, list_id, index: status_of(
            state, AccountId.parse(issuer), list_id, index
        ),
    )


@dataclass
class PresentationRequest:
    state: str
    nonce: str
    vct: str
    claims: list[str]
    client_id: str
    response_uri: str
    request_jwt: str
    expires_at: int
    outcome: dict[str, Any] | None = None

    @property
    def link(self) -> str:
        """The `openid4vp://` link (or QR payload) a wallet opens."""
        return "openid4vp://?" + urlencode(
            {"client_id": self.client_id, "request": self.request_jwt}
        )


@dataclass
class PresentationVerifier:
    """One registered verifier's OpenID4VP requests and the responses to them."""

    base: str
    account: AccountId
    key: PrivateKey
    trust: Callable[[], TrustView]
    registration: Registration
    trusted_now: Callable[[str, str], bool] | None = None
    """vct, issuer account -> trusted in the latest block (None: judged at the wall clock)."""
    requests: dict[str, PresentationRequest] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client_id(self) -> str:
        return client_id(self.account)

    @property
    def response_uri(self) -> str:
        return f"{self.base}/identity/verifiers/{self.account.text}/response"

    def create_request(self, vct: str, claims: list[str], now: int) -> PresentationRequest:
        """A signed request for `claims` of a `vct` credential; refused beyond the registration."""
        allowed = self.registration()
        if allowed is None:
            raise ProtocolError(
                "oid4vp.not_registered",
                "invalid_client",
                f"{self.account} is not a registered verifier",
                403,
            )
        extra = sorted(set(claims) - set(allowed.get(vct, [])))
        if extra or not claims:
            raise ProtocolError(
                "oid4vp.claim_not_allowed",
                "invalid_request",
                f"this verifier may not ask for {', '.join(extra) or 'nothing'} of {vct}",
                403,
            )
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        dcql = {
            "credentials": [
                {
                    "id": CREDENTIAL_QUERY_ID,
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [vct_url(self.base, vct)]},
                    "claims": [{"path": [claim]} for claim in claims],
                }
            ]
        }
        payload = {  # no `iss`: the kid's DID and the client_id say who signed
            "aud": SELF_ISSUED,
            "iat": now,
            "exp": now + REQUEST_TTL_S,
            "client_id": self.client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": self.response_uri,
            "nonce": nonce,
            "state": state,
            "dcql_query": dcql,
            "client_metadata": {
                "vp_formats_supported": {
                    "dc+sd-jwt": {"sd-jwt_alg_values": ["EdDSA"], "kb-jwt_alg_values": ["ES256"]}
                }
            },
        }
        header = {
            "alg": "EdDSA",
            "typ": REQUEST_TYP,
            "kid": f"{self.account.did}#{self.key.public_key.hex()[:16]}",
        }
        request = PresentationRequest(
            state,
            nonce,
            vct,
            list(claims),
            self.client_id,
            self.response_uri,
            _jws(header, payload, self.key.sign),
            now + REQUEST_TTL_S,
        )
        with self.lock:
            for old in [s for s, r in self.requests.items() if r.expires_at + REQUEST_TTL_S <= now]:
                del self.requests[old]
            if len(self.requests) >= REQUESTS_MAX:
                raise ProtocolError(
                    "oid4vp.too_many_requests", "temporarily_unavailable", "too many open requests"
                )
            self.requests[state] = request
        return request

    def result(self, state: str) -> dict[str, Any] | None:
        """What came of a request: None while waiting, then its claims or its error code."""
        with self.lock:
            request = self.requests.get(state)
        if request is None:
            raise ProtocolError("oid4vp.unknown_request", "invalid_request", "no such request", 404)
        return request.outcome

    def receive(self, form: Mapping[str, str], now: int) -> Verified:
        """Check a direct_post response; the outcome is also kept for `result`."""
        with self.lock:
            request = self.requests.get(form.get("state", ""))
            if request is None:
                raise ProtocolError(
                    "oid4vp.unknown_request", "invalid_request", "no request has this state"
                )
            if request.outcome is not None:
                raise ProtocolError(
                    "oid4vp.replayed", "invalid_request", "this request was answered already"
                )
            request.outcome = {"status": "checking"}
        try:
            try:
                verified = self._check(request, form, now)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                # a well-formed JWS whose contents are not (an issuer id that names no
                # account, a claim of the wrong type): refused with a code, not a trace
                raise ProtocolError(
                    "oid4vp.malformed", "invalid_request", f"{type(error).__name__}: {error}"
                ) from None
        except ProtocolError as error:
            request.outcome = {"status": "refused", "code": error.code, "detail": error.detail}
            raise
        request.outcome = {
            "status": "verified",
            "issuer": verified.issuer,
            "vct": verified.vct,
            "claims": verified.claims,
        }
        return verified

    def _check(self, request: PresentationRequest, form: Mapping[str, str], now: int) -> Verified:
        if request.expires_at <= now:
            raise ProtocolError("oid4vp.request_expired", "invalid_request", "the request expired")
        if "error" in form:
            raise ProtocolError(
                "oid4vp.wallet_refused",
                "access_denied",
                f"the wallet answered {form['error']}: {form.get('error_description', '')}",
            )
        try:
            token = json.loads(form.get("vp_token", ""))
        except (ValueError, RecursionError):
            raise ProtocolError(
                "oid4vp.malformed", "invalid_request", "vp_token is not JSON"
            ) from None
        shown = token.get(CREDENTIAL_QUERY_ID) if isinstance(token, dict) else None
        if not isinstance(shown, list) or len(shown) != 1 or not isinstance(shown[0], str):
            raise ProtocolError(
                "oid4vp.malformed",
                "invalid_request",
                f"vp_token must be {{{CREDENTIAL_QUERY_ID!r}: [one presentation]}}",
            )
        presentation = shown[0]
        try:
            issued = parse_jwt(presentation.split("~")[0])
            view = self.trust()
            verified = verify_presentation(
                presentation, view, request.client_id, request.nonce, now
            )
        except CredentialRejected as error:
            reason = {"wrong_audience": "wrong_client_id"}.get(error.reason, error.reason)
            raise ProtocolError(f"oid4vp.{reason}", "invalid_request", error.detail) from None
        if issued.vct != request.vct:
            raise ProtocolError(
                "oid4vp.wrong_type", "invalid_request", f"asked for {request.vct}, got {issued.vct}"
            )
        still = (
            self.trusted_now(issued.vct, issued.issuer)
            if self.trusted_now is not None
            else view.trusted_at(issued.vct, issued.issuer, now * 1000)
        )
        if not still:
            raise ProtocolError(
                "oid4vp.issuer_not_trusted",
                "invalid_request",
                f"{issued.issuer} is no longer trusted for {issued.vct}",
            )
        allowed = set((self.registration() or {}).get(issued.vct, [])) & set(request.claims)
        disclosed = {
            name for name in verified.claims if name not in issued.payload or name == "_sd"
        }
        extra = sorted(disclosed - allowed)
        if extra:
            raise ProtocolError(
                "oid4vp.claim_not_allowed",
                "invalid_request",
                f"the presentation discloses {', '.join(extra)}, which was not asked for",
            )
        return verified
