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
from urbis.sdk.identity_urls import (
    DID_URBIS,
    issuer_account,
    status_target,
    status_url,
    vct_name,
)

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
        signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
        signature = unb64url(signature_b64)
    except (ValueError, RecursionError) as error:
        raise CredentialRejected("malformed", f"not a compact JWS: {error}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise CredentialRejected("malformed", "a JWS header and payload are JSON objects")
    return header, payload, signing_input, signature


def _parse_disclosure(disclosure: str) -> tuple[str, Any]:
    """A disclosure's claim name and value; anything but `[salt, name, value]` is malformed."""
    try:
        decoded = json.loads(unb64url(disclosure))
    except (ValueError, RecursionError):
        raise CredentialRejected("malformed", "a disclosure is not base64url JSON") from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or not isinstance(decoded[0], str)
        or not isinstance(decoded[1], str)
    ):
        raise CredentialRejected("malformed", "a disclosure is not [salt, name, value]")
    return decoded[1], decoded[2]


@dataclass(frozen=True)
class IssuedJwt:
    """The issuer-signed part of an SD-JWT, its fields checked for shape (not yet trusted)."""

    jwt: str
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    issuer_did: str  # did:urbis:<account>, whichever alias `iss` used
    vct: str  # the registry's name of the type (the last part of a type URL)
    issued_at: int
    expires_at: int
    digests: frozenset[str]
    holder_jwk: dict[str, Any]
    status: tuple[str, int, int] | None  # status list issuer, list id, index
    issuer_id: str = ""  # `iss` as written: an issuer URL or did:urbis
    vct_id: str = ""  # `vct` as written: a type URL or a bare name
    status_uri: str | None = None  # status.status_list.uri as written

    @property
    def issuer(self) -> str:
        """The issuing account (urbis1…)."""
        return self.issuer_did.removeprefix(DID_URBIS)


def _int_claim(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if type(value) is not int:
        raise CredentialRejected("malformed", f"claim {name} must be an integer")
    return value


def parse_jwt(jwt: str) -> IssuedJwt:
    """The issuer's JWT of an SD-JWT; `malformed` unless it has the shape we issue."""
    header, payload, signing_input, signature = _parse_jws(jwt)
    if header.get("typ") != TYP or header.get("alg") != "EdDSA":
        raise CredentialRejected("malformed", f"expected typ {TYP} and alg EdDSA")
    issuer_id, vct = payload.get("iss"), payload.get("vct")
    account = issuer_account(issuer_id) if isinstance(issuer_id, str) else None
    if not isinstance(issuer_id, str) or account is None:
        raise CredentialRejected(
            "malformed", "claim iss must be an issuer URL (…/identity/issuers/ID) or did:urbis"
        )
    if not isinstance(vct, str) or not vct:
        raise CredentialRejected("malformed", "claim vct (the credential type) is missing")
    digests = payload.get("_sd", [])
    if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
        raise CredentialRejected("malformed", "claim _sd must be a list of digests")
    cnf = payload.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise CredentialRejected("malformed", "claim cnf.jwk (the holder key) is missing")
    status, status_uri = _status_of(payload)
    return IssuedJwt(
        jwt,
        payload,
        signing_input,
        signature,
        DID_URBIS + account,
        vct_name(vct),
        _int_claim(payload, "iat"),
        _int_claim(payload, "exp"),
        frozenset(digests),
        cnf["jwk"],
        status,
        issuer_id,
        vct,
        status_uri,
    )


def _status_of(payload: dict[str, Any]) -> tuple[tuple[str, int, int] | None, str | None]:
    status = payload.get("status")
    if status is None:
        return None, None
    entry = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(entry, dict):
        raise CredentialRejected("malformed", "claim status must hold a status_list")
    uri, index = entry.get("uri"), entry.get("idx")
    target = status_target(uri) if isinstance(uri, str) else None
    if target is None or type(index) is not int or index < 0:
        raise CredentialRejected(
            "malformed", "status_list needs uri …/identity/status/ISSUER/N and idx"
        )
    return (target[0], target[1], index), uri


@dataclass(frozen=True)
class Credential:
    """An issued SD-JWT as a wallet keeps it: the JWT and its disclosures by claim name."""

    text: str
    issued: IssuedJwt
    disclosures: dict[str, str]


def parse_credential(sd_jwt: str) -> Credential:
    """An SD-JWT as issued (`jwt~d1~…~dn~`, no key binding), every disclosure in the JWT."""
    text = sd_jwt.strip()
    parts = text.split("~")
    if len(parts) < 2 or parts[-1] != "":
        raise CredentialRejected("malformed", "not an SD-JWT as issued (jwt~disclosures~)")
    issued = parse_jwt(parts[0])
    named: dict[str, str] = {}
    for disclosure in parts[1:-1]:
        name, _ = _parse_disclosure(disclosure)
        if digest_or_none(disclosure) not in issued.digests:
            raise CredentialRejected(
                "disclosure_not_in_credential", f"the disclosure of {name} is not in the JWT"
            )
        if name in named:
            raise CredentialRejected("malformed", f"claim {name} disclosed twice")
        named[name] = disclosure
    return Credential(text, issued, named)


def digest_or_none(text: str) -> str | None:
    try:
        return digest(text)
    except UnicodeEncodeError:
        return None


def issued_ms(issued_at: int) -> int:
    """The time in ms to judge keys and trust at for an `iat` in whole seconds: its last
    millisecond, since the credential was signed somewhere in that second (a key or a trust
    grant from earlier in the same second was already in force)."""
    return issued_at * 1000 + 999


def check_issuer_signature(issued: IssuedJwt, keys: Iterable[bytes]) -> None:
    """Refuse (`bad_issuer_signature`) unless one of `keys` signed the JWT."""
    if not any(verify(key, issued.signing_input, issued.signature) for key in keys):
        raise CredentialRejected(
            "bad_issuer_signature", "not signed by a key the issuer held when it issued"
        )


# -- issuing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReference:
    issuer: str  # the list owner's account id (urbis1…)
    list_id: int
    index: int
    base_url: str | None = None  # the city's public_url; None: the old urbis:status/ form

    @property
    def uri(self) -> str:
        if self.base_url is None:
            return f"urbis:status/{self.issuer}/{self.list_id}"
        return status_url(self.base_url, self.issuer, self.list_id)

    def claim(self) -> dict[str, Any]:
        return {"status_list": {"idx": self.index, "uri": self.uri}}


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
    """An SD-JWT: the signed JWT, then one disclosure per disclosable claim, then `~`.

    `issuer_did` is the `iss` to write: the issuer URL under the city's public_url
    (what wallets resolve) or, for older callers, `did:urbis:<account>`.
    """
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
    key_id = issuer_key.public_key.hex()[:16]
    kid = f"{issuer_did}#{key_id}" if issuer_did.startswith(DID_URBIS) else key_id
    header = {"alg": "EdDSA", "typ": TYP, "kid": kid}
    jwt = _jws(header, payload, issuer_key.sign)
    return "~".join([jwt, *disclosures, ""])


# -- presenting --------------------------------------------------------------------------------


def disclosures_of(sd_jwt: str) -> dict[str, str]:
    """Claim name -> its disclosure, for the holder choosing what to reveal."""
    return parse_credential(sd_jwt).disclosures


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
    issued = parse_jwt(jwt)
    issuer_did, issued_at, vct = issued.issuer_did, issued.issued_at, issued.vct
    check_issuer_signature(issued, view.key_at(issuer_did, issued_ms(issued_at)))
    issuer = issued.issuer
    if not view.trusted_at(vct, issuer, issued_ms(issued_at)):
        raise CredentialRejected(
            "issuer_not_trusted", f"{issuer} was not trusted for {vct} when it issued"
        )
    if now >= issued.expires_at:
        raise CredentialRejected("expired", "the credential has expired")
    claims = {
        k: v
        for k, v in issued.payload.items()
        if k not in ("_sd", "_sd_alg", "cnf", "iss", "vct", "iat", "exp", "status")
    }
    for disclosure in disclosures:
        if digest_or_none(disclosure) not in issued.digests:
            raise CredentialRejected(
                "disclosure_not_in_credential",
                "a disclosure was altered or is from another credential",
            )
        name, value = _parse_disclosure(disclosure)
        if name in claims:
            raise CredentialRejected("malformed", f"claim {name} disclosed twice")
        claims[name] = value
    if not kb:
        raise CredentialRejected("missing_key_binding", "no key-binding JWT")
    kb_header, kb_payload, kb_input, kb_signature = _parse_jws(kb)
    if kb_header.get("typ") != KB_TYP or not verify_es256(
        issued.holder_jwk, kb_input, kb_signature
    ):
        raise CredentialRejected("bad_key_binding", "the key binding is not the holder's")
    if kb_payload.get("sd_hash") != digest_or_none("~".join([jwt, *disclosures, ""])):
        raise CredentialRejected("bad_key_binding", "the key binding is for other disclosures")
    if kb_payload.get("aud") != audience:
        raise CredentialRejected("wrong_audience", "the presentation was made for another verifier")
    if kb_payload.get("nonce") != nonce:
        raise CredentialRejected("wrong_nonce", "the presentation answers another request")
    if nonce in view.seen_nonces:
        raise CredentialRejected("replayed", "this nonce was already used")
    kb_issued_at = kb_payload.get("iat")
    if type(kb_issued_at) is not int or abs(now - kb_issued_at) > max_kb_age:
        raise CredentialRejected("stale_key_binding", "the key binding is too old")
    status_claim = issued.payload.get("status", {}).get("status_list")
    if issued.status is not None:
        list_issuer, list_id, index = issued.status
        state = view.status_of(list_issuer, list_id, index)
        if state is None:
            raise CredentialRejected("status_unknown", "the status list entry does not exist")
        if state == 1:
            raise CredentialRejected("revoked", "the issuer revoked this credential")
        if state == 2:
            raise CredentialRejected("suspended", "the issuer suspended this credential")
    view.seen_nonces.add(nonce)
    return Verified(issuer, vct, claims, issued_at, status_claim)
