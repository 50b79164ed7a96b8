"""SD-JWT VC (RFC 9901, `typ: dc+sd-jwt`): issue, present with key binding, verify.

Issuers sign with their department account's Ed25519 key (EdDSA); the DID
document on chain names that key. Holders bind credentials to their own P-256
key (ES256, what wallets use), and prove possession with a key-binding JWT
over the verifier's nonce and audience. Each disclosure is a salted
`[salt, name, value]`; the signed payload holds only their SHA-256 digests,
so a presentation reveals exactly the claims the holder chose.

Every rejection is a `CredentialRejected` with a stable reason, for the user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from urbis.crypto.keys import PrivateKey, verify

TYP = "dc+sd-jwt"
KB_TYP = "kb+jwt"
SALT_BYTES = 16


class CredentialRejected(Exception):
    """A credential or presentation fails a check; `reason` is stable, `detail` for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def digest(text: str) -> str:
    return b64url(hashlib.sha256(text.encode("ascii")).digest())


# -- keys ------------------------------------------------------------------------------


class HolderKey:
    """A wallet's P-256 key (ES256), the one a credential's `cnf` binds to."""

    def __init__(self, private: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.private = private or ec.generate_private_key(ec.SECP256R1())

    @property
    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_es256(jwk: dict[str, Any], message: bytes, signature: bytes) -> bool:
    try:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or len(signature) != 64:
            return False
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64url(jwk["x"]), "big"),
            int.from_bytes(unb64url(jwk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


def _jws(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64url(_json(header))}.{b64url(_json(payload))}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii')))}"


def _parse_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(unb64url(header_b64))
        payload = json.loads(unb64url(payload_b64))
        return (
            header,
            payload,
            f"{header_b64}.{payload_b64}".encode("ascii"),
            unb64url(signature_b64),
        )
    except (ValueError, json.JSONDecodeError) as error:
        raise CredentialRejected("malformed", f"not a compact JWS: {error}") from None


# -- issuing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReference:
    issuer: str  # the issuer's account id (urbis1…)
    list_id: int
    index: int

    def claim(self) -> dict[str, Any]:
        uri = f"urbis:status/{self.issuer}/{self.list_id}"
        return {"status_list": {"idx": self.index, "uri": uri}}


def issue(
    issuer_key: PrivateKey,
    issuer_did: str,
    vct: str,
    claims: dict[str, Any],
    disclosable: Iterable[str],
    holder_jwk: dict[str, str],
    issued_at: int,
    expires_at: int,
    status: StatusReference | None = None,
) -> str:
    """An SD-JWT: the signed JWT, then one disclosure per disclosable claim, then `~`."""
    payload: dict[str, Any] = {
        "iss": issuer_did,
        "vct": vct,
        "iat": issued_at,
        "exp": expires_at,
        "cnf": {"jwk": holder_jwk},
        "_sd_alg": "sha-256",
    }
    if status is not None:
        payload["status"] = status.claim()
    disclosures = []
    hidden = set(disclosable)
    for name, value in claims.items():
        if name in hidden:
            disclosure = b64url(_json([b64url(os.urandom(SALT_BYTES)), name, value]))
            disclosures.append(disclosure)
        else:
            payload[name] = value
    payload["_sd"] = sorted(digest(d) for d in disclosures)  # order says nothing
    header = {"alg": "EdDSA", "typ": TYP, "kid": f"{issuer_did}#{issuer_key.public_key.hex()[:16]}"}
    jwt = _jws(header, payload, issuer_key.sign)
    return "~".join([jwt, *disclosures, ""])


# -- presenting --------------------------------------------------------------------------------


def disclosures_of(sd_jwt: str) -> dict[str, str]:
    """Claim name -> its disclosure, for the holder choosing what to reveal."""
    parts = sd_jwt.split("~")
    named = {}
    for disclosure in parts[1:-1]:
        _, name, _ = json.loads(unb64url(disclosure))
        named[name] = disclosure
    return named


def present(
    sd_jwt: str,
    reveal: Iterable[str],
    holder: HolderKey,
    audience: str,
    nonce: str,
    now: int,
    allowed: Iterable[str] | None = None,
) -> str:
    """Only the chosen claims, plus a key-binding JWT over the verifier's nonce and audience.

    `allowed` is what the verifier is registered to ask for; asking for more is refused.
    """
    chosen = list(reveal)
    if allowed is not None:
        extra = sorted(set(chosen) - set(allowed))
        if extra:
            raise CredentialRejected(
                "claim_not_registered", f"the verifier may not ask for {', '.join(extra)}"
            )
    available = disclosures_of(sd_jwt)
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise CredentialRejected("claim_not_in_credential", f"no claim {', '.join(missing)}")
    jwt = sd_jwt.split("~")[0]
    presented = "~".join([jwt, *(available[name] for name in chosen), ""])
    kb = _jws(
        {"alg": "ES256", "typ": KB_TYP},
        {"iat": now, "aud": audience, "nonce": nonce, "sd_hash": digest(presented)},
        holder.sign,
    )
    return presented + kb


# -- verifying ----------------------------------------------------------------------------------


@dataclass
class Verified:
    issuer: str
    vct: str
    claims: dict[str, Any]
    issued_at: int
    status: dict[str, Any] | None


@dataclass
class TrustView:
    """What a verifier knows: issuer keys (with the times they were valid), trust, status.

    Built online from the chain, or offline from a cached bundle.
    """

    key_at: Callable[[str, int], list[bytes]]  # issuer DID, time -> Ed25519 keys then in force
    trusted_at: Callable[[str, str, int], bool]  # vct, issuer account, time -> trusted?
    status_of: Callable[[str, int, int], int | None]  # issuer account, list, index
    seen_nonces: set[str] = field(default_factory=set)


def verify_presentation(
    presentation: str, view: TrustView, audience: str, nonce: str, now: int, max_kb_age: int = 300
) -> Verified:
    """Check signature, disclosures, key binding, time, trust at issuance and status."""
    parts = presentation.split("~")
    if len(parts) < 2:
        raise CredentialRejected("malformed", "not an SD-JWT presentation")
    jwt, disclosures, kb = parts[0], parts[1:-1], parts[-1]
    header, payload, signing_input, signature = _parse_jws(jwt)
    if header.get("typ") != TYP or header.get("alg") != "EdDSA":
        raise CredentialRejected("malformed", f"expected typ {TYP} and alg EdDSA")
    issuer_did, issued_at = str(payload.get("iss", "")), int(payload.get("iat", 0))
    keys = view.key_at(issuer_did, issued_at * 1000)
    if not any(verify(key, signing_input, signature) for key in keys):
        raise CredentialRejected(
            "bad_issuer_signature", "not signed by a key the issuer held when it issued"
        )
    issuer = issuer_did.removeprefix("did:urbis:")
    vct = str(payload.get("vct", ""))
    if not view.trusted_at(vct, issuer, issued_at * 1000):
        raise CredentialRejected(
            "issuer_not_trusted", f"{issuer} was not trusted for {vct} when it issued"
        )
    if now >= int(payload.get("exp", 0)):
        raise CredentialRejected("expired", "the credential has expired")
    claims = {
        k: v
        for k, v in payload.items()
        if k not in ("_sd", "_sd_alg", "cnf", "iss", "vct", "iat", "exp", "status")
    }
    digests = set(payload.get("_sd", []))
    for disclosure in disclosures:
        if digest(disclosure) not in digests:
            raise CredentialRejected(
                "disclosure_not_in_credential",
                "a disclosure was altered or is from another credential",
            )
        try:
            _, name, value = json.loads(unb64url(disclosure))
        except (ValueError, json.JSONDecodeError):
            raise CredentialRejected(
                "malformed", "a disclosure is not [salt, name, value]"
            ) from None
        if name in claims:
            raise CredentialRejected("malformed", f"claim {name} disclosed twice")
        claims[name] = value
    if not kb:
        raise CredentialRejected("missing_key_binding", "no key-binding JWT")
    kb_header, kb_payload, kb_input, kb_signature = _parse_jws(kb)
    holder_jwk = payload.get("cnf", {}).get("jwk", {})
    if kb_header.get("typ") != KB_TYP or not verify_es256(holder_jwk, kb_input, kb_signature):
        raise CredentialRejected("bad_key_binding", "the key binding is not the holder's")
    if kb_payload.get("sd_hash") != digest("~".join([jwt, *disclosures, ""])):
        raise CredentialRejected("bad_key_binding", "the key binding is for other disclosures")
    if kb_payload.get("aud") != audience:
        raise CredentialRejected("wrong_audience", "the presentation was made for another verifier")
    if kb_payload.get("nonce") != nonce:
        raise CredentialRejected("wrong_nonce", "the presentation answers another request")
    if nonce in view.seen_nonces:
        raise CredentialRejected("replayed", "this nonce was already used")
    if abs(now - int(kb_payload.get("iat", 0))) > max_kb_age:
        raise CredentialRejected("stale_key_binding", "the key binding is too old")
    status_claim = payload.get("status", {}).get("status_list")
    if status_claim is not None:
        _, _, rest = str(status_claim.get("uri", "")).partition("urbis:status/")
        list_issuer, _, list_id = rest.partition("/")
        state = view.status_of(list_issuer, int(list_id or -1), int(status_claim.get("idx", -1)))
        if state is None:
            raise CredentialRejected("status_unknown", "the status list entry does not exist")
        if state == 1:
            raise CredentialRejected("revoked", "the issuer revoked this credential")
        if state == 2:
            raise CredentialRejected("suspended", "the issuer suspended this credential")
    view.seen_nonces.add(nonce)
    return Verified(issuer, vct, claims, issued_at, status_claim)
