"""OpenID4VCI 1.0 issuance, pre-authorised code flow, as a department's node serves it.

1. The department (its officer, signing with the department key) asks for an offer:
   the claims it vouches for and the credential type. The node keeps them in memory
   only, under a fresh pre-authorised code, and returns the offer link
   (`openid-credential-offer://?credential_offer=…`) and a transaction code that the
   officer hands the resident apart from the link (on paper, by SMS).
2. The wallet trades code + transaction code at the token endpoint for an access token
   (once: a reused or expired code is `invalid_grant`).
3. It fetches a `c_nonce` from the nonce endpoint and proves possession of one or more
   holder keys (`openid4vci-proof+jwt`, ES256, `aud` the issuer, `nonce` the c_nonce).
4. The credential endpoint hands out one status index per proof on chain
   (`identity.allocate_status`: the only trace issuance leaves) and returns one SD-JWT VC
   per key: a batch of copies, so verifiers cannot link them by the credential.

Claims never reach the chain or a log; an offer is forgotten once redeemed or expired.
Every refusal is a `ProtocolError`: the OAuth `error` the standard names, and a stable
Urbis `code` (oid4vci.*).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.modules.identity.metadata import BATCH_SIZE, PROOF_ALGS, configuration_id
from urbis.sdk.identity_urls import issuer_url, vct_url
from urbis.sdk.sdjwt import CredentialRejected, StatusReference, _parse_jws, issue, verify_es256

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
OFFER_TTL_S = 600
"""A resident has ten minutes from the counter to their wallet."""
TOKEN_TTL_S = 300
NONCE_TTL_S = 300
PROOF_AGE_MAX_S = 300
"""A key proof older than this (or this far in the future) is refused."""
TX_CODE_DIGITS = 6
OFFERS_MAX = 10_000
"""Open offers one node keeps; more are refused rather than let memory grow."""


class ProtocolError(Exception):
    """A refused OpenID4VC request: the standard's `error`, Urbis's stable `code`."""

    def __init__(self, code: str, error: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.error = error
        self.detail = detail
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.detail, "code": self.code}


def served_key(keys: Mapping[AccountId, PrivateKey], account: AccountId) -> PrivateKey:
    """The key this node holds for `account` (`identity.key_not_served` if none)."""
    key = keys.get(account)
    if key is None:
        raise ProtocolError(
            "identity.key_not_served",
            "invalid_request",
            f"this node holds no key of {account}",
            404,
        )
    return key


@dataclass
class Offer:
    issuer: AccountId
    vct: str
    claims: dict[str, Any]
    disclosable: list[str]
    validity_s: int
    list_id: int
    tx_code: str
    expires_at: int
    redeemed: bool = False


@dataclass
class Grant:
    offer: Offer
    expires_at: int
    used: bool = False


@dataclass
class CredentialRequest:
    """A checked credential request, waiting for its status indexes on chain."""

    grant: Grant
    holder_jwks: list[dict[str, Any]]
    nonce: str


@dataclass
class IssuerService:
    """The issuance endpoints of the departments whose keys this node holds."""

    base: str
    signing_keys: dict[AccountId, PrivateKey]
    offers: dict[str, Offer] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    nonces: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key_of(self, issuer: AccountId) -> PrivateKey:
        return served_key(self.signing_keys, issuer)

    def offer(
        self,
        issuer: AccountId,
        vct: str,
        claims: dict[str, Any],
        disclosable: list[str],
        validity_s: int,
        list_id: int,
        now: int,
    ) -> dict[str, Any]:
        """A new offer: its link, the offer object and the transaction code."""
        self.key_of(issuer)
        with self.lock:
            self._forget_expired(now)
            if len(self.offers) >= OFFERS_MAX:
                raise ProtocolError(
                    "oid4vci.too_many_offers",
                    "temporarily_unavailable",
                    "too many open offers",
                    503,
                )
            code = secrets.token_urlsafe(32)
            tx_code = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_DIGITS))
            self.offers[code] = Offer(
                issuer,
                vct,
                dict(claims),
                list(disclosable),
                validity_s,
                list_id,
                tx_code,
                now + OFFER_TTL_S,
            )
        offer = {
            "credential_issuer": issuer_url(self.base, issuer.text),
            "credential_configuration_ids": [configuration_id(vct)],
            "grants": {
                PRE_AUTHORIZED_GRANT: {
                    "pre-authorized_code": code,
                    "tx_code": {
                        "input_mode": "numeric",
                        "length": TX_CODE_DIGITS,
                        "description": "The code the counter gave you",
                    },
                }
            },
        }
        compact = json.dumps(offer, separators=(",", ":"))
        return {
            "offer": offer,
            "uri": "openid-credential-offer://?credential_offer=" + quote(compact, safe=""),
            "tx_code": tx_code,
            "expires_at": now + OFFER_TTL_S,
        }

    def _forget_expired(self, now: int) -> None:
        for code in [c for c, o in self.offers.items() if o.expires_at <= now]:
            del self.offers[code]
        for token in [t for t, g in self.grants.items() if g.expires_at <= now]:
            del self.grants[token]
        for nonce in [n for n, expires in self.nonces.items() if expires <= now]:
            del self.nonces[nonce]

    def token(self, issuer: AccountId, form: Mapping[str, str], now: int) -> dict[str, Any]:
        """The token endpoint: pre-authorised code + transaction code -> access token."""
        if form.get("grant_type") != PRE_AUTHORIZED_GRANT:
            raise ProtocolError(
                "oid4vci.unsupported_grant",
                "unsupported_grant_type",
                f"grant_type must be {PRE_AUTHORIZED_GRANT}",
            )
        code = form.get("pre-authorized_code", "")
        with self.lock:
            offer = self.offers.get(code)
            if offer is None or offer.issuer != issuer:
                raise ProtocolError(
                    "oid4vci.unknown_code", "invalid_grant", "no such pre-authorised code"
                )
            if offer.redeemed:
                raise ProtocolError(
                    "oid4vci.code_used", "invalid_grant", "this pre-authorised code was used"
                )
            if offer.expires_at <= now:
                raise ProtocolError(
                    "oid4vci.code_expired", "invalid_grant", "this pre-authorised code expired"
                )
            if not secrets.compare_digest(form.get("tx_code", ""), offer.tx_code):
                raise ProtocolError(
                    "oid4vci.wrong_tx_code", "invalid_grant", "the transaction code does not match"
                )
            offer.redeemed = True
            access_token = secrets.token_urlsafe(32)
            self.grants[access_token] = Grant(offer, now + TOKEN_TTL_S)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL_S}

    def nonce(self, now: int) -> dict[str, str]:
        """The nonce endpoint: a fresh c_nonce for key proofs."""
        nonce = secrets.token_urlsafe(24)
        with self.lock:
            self._forget_expired(now)
            self.nonces[nonce] = now + NONCE_TTL_S
        return {"c_nonce": nonce}

    def check_request(
        self, issuer: AccountId, authorization: str, body: Any, now: int
    ) -> CredentialRequest:
        """A credential request checked: token, configuration, every key proof."""
        scheme, _, access_token = authorization.partition(" ")
        with self.lock:
            grant = self.grants.get(access_token) if scheme.lower() == "bearer" else None
        if grant is None or grant.offer.issuer != issuer or grant.expires_at <= now:
            raise ProtocolError(
                "oid4vci.bad_access_token", "invalid_token", "no valid access token", 401
            )
        if grant.used:
            raise ProtocolError(
                "oid4vci.bad_access_token", "invalid_token", "this access token was used", 401
            )
        if not isinstance(body, dict):
            raise ProtocolError(
                "oid4vci.malformed", "invalid_credential_request", "the body is a JSON object"
            )
        wanted = configuration_id(grant.offer.vct)
        if body.get("credential_configuration_id") != wanted:
            raise ProtocolError(
                "oid4vci.unknown_configuration",
                "unknown_credential_configuration",
                f"this offer is for {wanted}",
            )
        proofs = body.get("proofs")
        jwts = proofs.get("jwt") if isinstance(proofs, dict) else None
        if not isinstance(jwts, list) or not jwts or not all(isinstance(j, str) for j in jwts):
            raise ProtocolError(
                "oid4vci.malformed", "invalid_credential_request", "proofs.jwt must list key proofs"
            )
        if len(jwts) > BATCH_SIZE:
            raise ProtocolError(
                "oid4vci.batch_too_large",
                "invalid_credential_request",
                f"at most {BATCH_SIZE} proofs in one request",
            )
        audience = issuer_url(self.base, issuer.text)
        checked = [self._check_proof(jwt, audience, now) for jwt in jwts]
        nonces = {nonce for _, nonce in checked}
        with self.lock:
            if len(nonces) != 1 or self.nonces.get(next(iter(nonces)), 0) <= now:
                raise ProtocolError(
                    "oid4vci.wrong_nonce",
                    "invalid_nonce",
                    "the proofs do not carry a fresh c_nonce",
                )
        holder_jwks = [jwk for jwk, _ in checked]
        if len({json.dumps(j, sort_keys=True) for j in holder_jwks}) != len(holder_jwks):
            raise ProtocolError(
                "oid4vci.duplicate_key",
                "invalid_proof",
                "each copy of a batch is bound to its own holder key",
            )
        return CredentialRequest(grant, holder_jwks, next(iter(nonces)))

    def _check_proof(self, jwt: str, audience: str, now: int) -> tuple[dict[str, Any], str]:
        try:
            header, payload, signing_input, signature = _parse_jws(jwt)
        except CredentialRejected as error:
            raise ProtocolError("oid4vci.bad_proof", "invalid_proof", error.detail) from None
        if header.get("typ") != PROOF_TYP:
            raise ProtocolError(
                "oid4vci.bad_proof", "invalid_proof", f"a key proof has typ {PROOF_TYP}"
            )
        if header.get("alg") not in PROOF_ALGS:
            raise ProtocolError(
                "oid4vci.bad_algorithm",
                "invalid_proof",
                f"alg {header.get('alg')!r} is not one of {', '.join(PROOF_ALGS)}",
            )
        jwk = header.get("jwk")
        if (
            not isinstance(jwk, dict)
            or "d" in jwk
            or not verify_es256(jwk, signing_input, signature)
        ):
            raise ProtocolError(
                "oid4vci.bad_proof", "invalid_proof", "the proof is not signed by its header's jwk"
            )
        if payload.get("aud") != audience:
            raise ProtocolError(
                "oid4vci.wrong_audience",
                "invalid_proof",
                f"the proof's aud must be the credential issuer {audience}",
            )
        issued_at = payload.get("iat")
        if type(issued_at) is not int or abs(now - issued_at) > PROOF_AGE_MAX_S:
            raise ProtocolError("oid4vci.stale_proof", "invalid_proof", "the proof's iat is stale")
        nonce = payload.get("nonce")
        if not isinstance(nonce, str):
            raise ProtocolError("oid4vci.wrong_nonce", "invalid_nonce", "the proof has no nonce")
        public = {k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk}
        return public, nonce

    def issue(self, request: CredentialRequest, indexes: list[int], now: int) -> dict[str, Any]:
        """One SD-JWT VC per holder key, each with its own (allocated) status index."""
        offer = request.grant.offer
        with self.lock:
            if request.grant.used:
                raise ProtocolError(
                    "oid4vci.bad_access_token", "invalid_token", "this access token was used", 401
                )
            request.grant.used = True
            self.nonces.pop(request.nonce, None)
        key = self.key_of(offer.issuer)
        iss = issuer_url(self.base, offer.issuer.text)
        credentials = [
            issue(
                key,
                iss,
                vct_url(self.base, offer.vct),
                offer.claims,
                offer.disclosable,
                jwk,
                now,
                now + offer.validity_s,
                StatusReference(offer.issuer.text, offer.list_id, index, self.base),
            )
            for jwk, index in zip(request.holder_jwks, indexes, strict=True)
        ]
        return {"credentials": [{"credential": c} for c in credentials]}
