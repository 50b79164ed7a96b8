"""Status List Tokens (draft-ietf-oauth-status-list, JWT form): sign, check, read an entry.

A token is a JWS with `typ: statuslist+jwt` whose payload holds `sub` (the URI
the referenced credential names), `iat`, `exp`, `ttl` and `status_list`
(`bits`, and `lst`: the packed entries, ZLIB/DEFLATE-compressed, base64url).
Entry i is `bits` bits starting at bit i*bits, least significant bit first.

A verifier checks, in this order: the shape (`status_token.malformed`), the
signature against the status issuer's published keys (`status_token.bad_signature`),
that `sub` is the URI it fetched (`status_token.wrong_sub`), and that the token
has not expired (`status_token.expired`).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from urbis.crypto.keys import PrivateKey, verify

TYP = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
TTL_S = 60
"""How long a verifier may cache a token: revocations show within a minute even for
verifiers that honour the cache, and within a block for those that fetch."""
VALIDITY_S = 300
"""`exp` - `iat`: a token found stale (a replayed old list) is refused after five minutes."""
LIST_BYTES_MAX = 16 * 1024 * 1024
"""The largest packed list (16,777,216 entries of 8 bits); a larger inflation is refused."""
BITS = (1, 2, 4, 8)


class StatusTokenRejected(Exception):
    """A Status List Token fails a check; `code` is stable (status_token.*)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"status_token.{reason}: {detail}")
        self.reason = reason
        self.code = f"status_token.{reason}"
        self.detail = detail


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compress(packed: bytes) -> str:
    """`lst`: the packed entries, DEFLATE in the ZLIB format (RFC 1950), base64url."""
    return _b64(zlib.compress(packed, 9))


def decompress(lst: str) -> bytes:
    """The packed entries of `lst`; refuses a bomb that inflates past the largest list."""
    try:
        inflater = zlib.decompressobj()
        packed = inflater.decompress(_unb64(lst), LIST_BYTES_MAX + 1)
    except (ValueError, zlib.error) as error:
        raise StatusTokenRejected("malformed", f"lst is not base64url ZLIB: {error}") from None
    if len(packed) > LIST_BYTES_MAX or inflater.unconsumed_tail:
        raise StatusTokenRejected("malformed", "lst inflates past the largest status list")
    return packed


def entry(packed: bytes, bits: int, index: int) -> int | None:
    """Entry `index` (None when the list is shorter)."""
    position = index * bits
    if index < 0 or position // 8 >= len(packed):
        return None
    return (packed[position // 8] >> (position % 8)) & ((1 << bits) - 1)


def sign_token(
    key: PrivateKey,
    kid: str,
    issuer: str,
    sub: str,
    bits: int,
    packed: bytes,
    issued_at: int,
    ttl_s: int = TTL_S,
    validity_s: int = VALIDITY_S,
) -> str:
    """A signed Status List Token (EdDSA) for the list at `sub`."""
    header = {"alg": "EdDSA", "typ": TYP, "kid": kid}
    payload = {
        "iss": issuer,
        "sub": sub,
        "iat": issued_at,
        "exp": issued_at + validity_s,
        "ttl": ttl_s,
        "status_list": {"bits": bits, "lst": compress(packed)},
    }
    signing_input = f"{_b64(_json(header))}.{_b64(_json(payload))}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode('ascii')))}"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class StatusListToken:
    header: dict[str, Any]
    issuer: str | None
    sub: str
    issued_at: int
    expires_at: int | None
    ttl_s: int | None
    bits: int
    packed: bytes

    def status(self, index: int) -> int | None:
        return entry(self.packed, self.bits, index)


def parse_token(token: str) -> tuple[StatusListToken, bytes, bytes]:
    """The token's claims, checked for shape, with its signing input and signature."""
    try:
        header_b64, payload_b64, signature_b64 = token.strip().split(".")
        header = json.loads(_unb64(header_b64))
        payload = json.loads(_unb64(payload_b64))
        signature = _unb64(signature_b64)
    except (ValueError, RecursionError) as error:
        raise StatusTokenRejected("malformed", f"not a compact JWS: {error}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise StatusTokenRejected("malformed", "header and payload must be JSON objects")
    if header.get("typ") != TYP:
        raise StatusTokenRejected("malformed", f"typ must be {TYP}, not {header.get('typ')!r}")
    body = payload.get("status_list")
    sub, issued_at = payload.get("sub"), payload.get("iat")
    if not isinstance(sub, str) or type(issued_at) is not int or not isinstance(body, dict):
        raise StatusTokenRejected("malformed", "sub, iat and status_list are required")
    bits, lst = body.get("bits"), body.get("lst")
    if bits not in BITS or not isinstance(lst, str):
        raise StatusTokenRejected("malformed", "status_list needs bits (1, 2, 4, 8) and lst")
    expires_at, ttl = payload.get("exp"), payload.get("ttl")
    if (expires_at is not None and type(expires_at) is not int) or (
        ttl is not None and type(ttl) is not int
    ):
        raise StatusTokenRejected("malformed", "exp and ttl must be integers")
    issuer = payload.get("iss")
    parsed = StatusListToken(
        header,
        issuer if isinstance(issuer, str) else None,
        sub,
        issued_at,
        expires_at,
        ttl,
        bits,
        decompress(lst),
    )
    return parsed, f"{header_b64}.{payload_b64}".encode("ascii"), signature


def verify_token(token: str, uri: str, keys: Iterable[bytes], now: int) -> StatusListToken:
    """A token for `uri`, signed by one of `keys` (Ed25519), not expired at `now`."""
    parsed, signing_input, signature = parse_token(token)
    if parsed.header.get("alg") != "EdDSA" or not any(
        verify(key, signing_input, signature) for key in keys
    ):
        raise StatusTokenRejected("bad_signature", "not signed by a key the status issuer lists")
    if parsed.sub != uri:
        raise StatusTokenRejected(
            "wrong_sub", f"the token is for {parsed.sub!r}, the credential names {uri!r}"
        )
    if parsed.expires_at is not None and now >= parsed.expires_at:
        raise StatusTokenRejected("expired", "the Status List Token has expired")
    return parsed


def okp_keys(jwks: Any) -> list[bytes]:
    """The Ed25519 keys of a JWK Set (other keys are ignored); [] if it is not one."""
    keys = []
    try:
        for jwk in jwks["keys"]:
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
                raw = _unb64(jwk["x"])
                if len(raw) == 32:
                    keys.append(raw)
    except (KeyError, TypeError, AttributeError, ValueError):
        return []
    return keys


def okp_jwk(key: bytes) -> dict[str, str]:
    """An Ed25519 public key as a JWK, with its Urbis key id (the first 16 hex digits)."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(key), "kid": key.hex()[:16], "alg": "EdDSA"}
