"""The identity SDK as objects: an Issuer, a resident's CredentialWallet, a Verifier.

Thin shells over `sdjwt` (the format) and `bundle` (offline trust), for code
that keeps state: an issuer's key and DID, a wallet's folder and holder key,
a verifier's audience and the nonces it has seen.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urbis.crypto.keys import PrivateKey
from urbis.sdk.sdjwt import (
    HolderKey,
    StatusReference,
    TrustView,
    Verified,
    disclosures_of,
    issue,
    present,
    unb64url,
    verify_presentation,
)


@dataclass
class Issuer:
    """A department issuing credentials with its account key."""

    key: PrivateKey
    did: str

    def issue(
        self,
        vct: str,
        claims: dict[str, Any],
        disclosable: list[str],
        holder_jwk: dict[str, str],
        issued_at: int,
        valid_for_s: int,
        status: StatusReference | None = None,
    ) -> str:
        return issue(
            self.key,
            self.did,
            vct,
            claims,
            disclosable,
            holder_jwk,
            issued_at,
            issued_at + valid_for_s,
            status,
        )


@dataclass
class CredentialWallet:
    """A resident's credentials in a folder (`<name>.sdjwt`), bound to one holder key."""

    folder: Path
    holder: HolderKey

    def add(self, name: str, sd_jwt: str) -> list[str]:
        path = self.folder / "credentials" / f"{name}.sdjwt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sd_jwt.strip())
        return sorted(disclosures_of(sd_jwt))

    def get(self, name: str) -> str:
        return (self.folder / "credentials" / f"{name}.sdjwt").read_text()

    def list(self) -> list[dict[str, Any]]:
        rows = []
        folder = self.folder / "credentials"
        for path in sorted(folder.glob("*.sdjwt")) if folder.exists() else []:
            text = path.read_text()
            payload = json.loads(unb64url(text.split("~")[0].split(".")[1]))
            rows.append(
                {
                    "name": path.stem,
                    "vct": payload.get("vct"),
                    "issuer": payload.get("iss"),
                    "claims": sorted(disclosures_of(text)),
                }
            )
        return rows

    def present(
        self,
        name: str,
        claims: list[str],
        audience: str,
        nonce: str,
        now: int,
        allowed: list[str] | None = None,
    ) -> str:
        """Only `claims`, for `audience`; refuses what the verifier is not registered for."""
        return present(self.get(name), claims, self.holder, audience, nonce, now, allowed)


@dataclass
class Verifier:
    """A relying party: its audience id, its trust view, the nonces it handed out."""

    audience: str
    view: TrustView
    issued_nonces: set[str] = field(default_factory=set)

    def challenge(self) -> str:
        nonce = secrets.token_urlsafe(16)
        self.issued_nonces.add(nonce)
        return nonce

    def verify(self, presentation: str, nonce: str, now: int) -> Verified:
        return verify_presentation(presentation, self.view, self.audience, nonce, now)
