"""The identity SDK as objects: an Issuer, a resident's CredentialWallet, a Verifier.

Thin shells over `sdjwt` (the format) and `bundle` (offline trust), for code
that keeps state: an issuer's key and DID, a wallet's folder and holder key,
a verifier's audience and the nonces it has seen.
"""

from __future__ import annotations

import builtins
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urbis.crypto.keys import PrivateKey
from urbis.sdk.sdjwt import (
    CredentialRejected,
    HolderKey,
    StatusReference,
    TrustView,
    Verified,
    check_issuer_signature,
    issue,
    issued_ms,
    parse_credential,
    present,
    verify_presentation,
)

CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""A plain file name: no separators, no leading dot, so a name cannot leave the folder."""
CREDENTIAL_BYTES_MAX = 64 * 1024
"""An SD-JWT with a few dozen claims is a few KiB; anything near this is not a credential."""

IssuerKeys = Callable[[str, int], list[bytes]]
"""Issuer DID, time in ms -> the Ed25519 keys it held then (from the chain or a bundle)."""


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
    """A resident's credentials in a folder (`<name>.sdjwt`), bound to one holder key.

    Only credentials that parse and carry their issuer's signature are kept, under
    names that stay inside the folder; a name is replaced only when asked.
    """

    folder: Path
    holder: HolderKey

    def path(self, name: str) -> Path:
        if not CREDENTIAL_NAME.match(name):
            raise CredentialRejected(
                "bad_name", f"name {name!r}: letters, digits, '_', '.', '-' (max 64)"
            )
        return self.folder / "credentials" / f"{name}.sdjwt"

    def add(
        self,
        name: str,
        sd_jwt: str,
        issuer_keys: IssuerKeys | None = None,
        replace: bool = False,
    ) -> list[str]:
        """Check `sd_jwt` (shape, disclosures, issuer signature), keep it as `name`; its claims.

        `issuer_keys` looks up the issuer's keys (the CLI asks the chain). Without it the
        signature is not checked: only for a caller that made the credential itself.
        """
        path = self.path(name)
        if len(sd_jwt) > CREDENTIAL_BYTES_MAX:
            raise CredentialRejected(
                "too_large",
                f"{len(sd_jwt)} characters; a credential is under {CREDENTIAL_BYTES_MAX}",
            )
        credential = parse_credential(sd_jwt)
        issued = credential.issued
        if issuer_keys is not None:
            keys = issuer_keys(issued.issuer_did, issued_ms(issued.issued_at))
            check_issuer_signature(issued, keys)
        if path.exists() and not replace:
            raise CredentialRejected("exists", f"{name!r} is kept already; add --replace")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(credential.text)
        os.replace(temporary, path)
        return sorted(credential.disclosures)

    def key_path(self, name: str) -> Path:
        self.path(name)  # the same name rules
        return self.folder / "keys" / f"{name}.pem"

    def keep_key(self, name: str, holder: HolderKey, passphrase: bytes | None) -> None:
        """Keep the holder key of one batch copy (each copy has its own, so verifiers that
        see different copies cannot link them by `cnf`)."""
        from cryptography.hazmat.primitives import serialization

        path = self.key_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        pem = holder.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        temporary = path.with_name(f".{name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, path)

    def holder_for(self, name: str, passphrase: bytes | None) -> HolderKey:
        """The key `name` is bound to: its own (a batch copy) or the wallet's holder key."""
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        path = self.key_path(name)
        if not path.exists():
            return self.holder
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), passphrase)
        except (ValueError, TypeError, UnsupportedAlgorithm, OSError) as error:
            raise CredentialRejected(
                "damaged", f"cannot open the key of {name!r}: {error}"
            ) from None
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise CredentialRejected("damaged", f"the key of {name!r} is not a P-256 key")
        return HolderKey(private)

    def get(self, name: str) -> str:
        path = self.path(name)
        try:
            return path.read_text()
        except FileNotFoundError:
            raise CredentialRejected("no_credential", f"no credential {name!r}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise CredentialRejected("damaged", f"cannot read {name!r}: {error}") from None

    def list(self) -> list[dict[str, Any]]:
        """Every kept credential; one that no longer parses is listed with `damaged`."""
        rows = []
        folder = self.folder / "credentials"
        for path in sorted(folder.glob("*.sdjwt")) if folder.is_dir() else []:
            row: dict[str, Any] = {"name": path.stem, "vct": None, "issuer": None, "claims": []}
            try:
                credential = parse_credential(path.read_text())
            except (CredentialRejected, OSError, UnicodeDecodeError) as error:
                row["damaged"] = str(error)
            else:
                row["vct"] = credential.issued.vct
                row["issuer"] = credential.issued.issuer_did
                row["claims"] = sorted(credential.disclosures)
            rows.append(row)
        return rows

    def present(
        self,
        name: str,
        claims: builtins.list[str],
        audience: str,
        nonce: str,
        now: int,
        allowed: builtins.list[str] | None = None,
    ) -> str:
        """Only `claims`, for `audience`; refuses what the verifier is not registered for."""
        return present(self.get(name), claims, self.holder, audience, nonce, now, allowed)

    def present_copy(
        self,
        name: str,
        claims: builtins.list[str],
        audience: str,
        nonce: str,
        now: int,
        passphrase: bytes | None,
        allowed: builtins.list[str] | None = None,
    ) -> str:
        """As `present`, with the key this copy is bound to."""
        holder = self.holder_for(name, passphrase)
        return present(self.get(name), claims, holder, audience, nonce, now, allowed)


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
