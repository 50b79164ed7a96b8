"""The documents a standard wallet or verifier fetches, built from committed state.

- JWT VC Issuer Metadata (SD-JWT VC): `{issuer, jwks}`; the keys are the issuing
  account's current keys on chain, so a key rotation shows in the next block.
- a did:web document for the same account (did:urbis stays its alias);
- SD-JWT VC Type Metadata for a `vct` URL: display names and claim labels in two
  locales, and the JSON schema of its claims;
- OpenID4VCI Credential Issuer Metadata and the OAuth Authorization Server
  Metadata of its pre-authorised code flow.

Each function takes committed state and the city's public base URL and returns
plain JSON; the routes only serve them.
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import StateReader, view_of
from urbis.chain.errors import NotFound
from urbis.chain.ids import AccountId
from urbis.modules.identity import keys
from urbis.modules.identity.needs import AccountsView
from urbis.modules.identity.records import CredentialType
from urbis.modules.identity.types import CLAIM_LABELS, LOCALES, TYPE_DISPLAY, json_schema
from urbis.sdk.identity_urls import did_web, issuer_url, vct_url, well_known
from urbis.sdk.statuslist import okp_jwk

PROOF_ALGS = ["ES256"]
"""Holder keys wallets bind: P-256 (what the EUDI wallets use)."""
BATCH_SIZE = 10
"""Copies of one credential a wallet may ask for at once (one per verifier it will meet)."""


def account_keys(state: StateReader, account: AccountId) -> list[bytes]:
    """The account's current keys (raises NotFound for no such account)."""
    record = view_of("accounts", AccountsView, state).account(account)
    if record is None:
        raise NotFound(f"no account {account}")
    return [k.key for k in record.keys]


def jwks(state: StateReader, account: AccountId) -> dict[str, Any]:
    return {"keys": [okp_jwk(key) for key in account_keys(state, account)]}


def jwt_vc_issuer(state: StateReader, base: str, account: AccountId) -> dict[str, Any]:
    """JWT VC Issuer Metadata: the issuer URL and its current keys."""
    return {"issuer": issuer_url(base, account.text), "jwks": jwks(state, account)}


def did_web_document(state: StateReader, base: str, account: AccountId) -> dict[str, Any]:
    url = issuer_url(base, account.text)
    did = did_web(url)
    methods = [
        {
            "id": f"{did}#{jwk['kid']}",
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": {k: v for k, v in jwk.items() if k in ("kty", "crv", "x")},
        }
        for jwk in jwks(state, account)["keys"]
    ]
    ids = [m["id"] for m in methods]
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": [account.did, url],
        "verificationMethod": methods,
        "authentication": ids,
        "assertionMethod": ids,
    }


def credential_type(state: StateReader, name: str) -> CredentialType:
    record = state.get(keys.credential_type(name))
    if record is None:
        raise NotFound(f"no credential type {name!r}")
    from urbis.chain.codec import from_wire
    from urbis.crypto.encoding import decode_trusted

    return from_wire(CredentialType, decode_trusted(record))


def _display(name: str) -> list[dict[str, str]]:
    shown = TYPE_DISPLAY.get(name, {locale: (name, "") for locale in LOCALES})
    return [
        {"locale": locale, "name": title, **({"description": about} if about else {})}
        for locale, (title, about) in shown.items()
    ]


def _claims(record: CredentialType) -> list[dict[str, Any]]:
    return [
        {
            "path": [claim],
            "display": [
                {"locale": locale, "label": CLAIM_LABELS.get(claim, {}).get(locale, claim)}
                for locale in LOCALES
            ],
            "sd": "always" if claim in record.disclosable else "never",
        }
        for claim in record.claims
    ]


def type_metadata(state: StateReader, base: str, name: str) -> dict[str, Any]:
    """SD-JWT VC Type Metadata of a registered type."""
    record = credential_type(state, name)
    english = _display(name)[0]
    return {
        "vct": vct_url(base, name),
        "name": english["name"],
        "description": english.get("description", name),
        "display": _display(name),
        "claims": _claims(record),
        "schema": json_schema(name, list(record.claims)),
        "urbis": {"name": name, "schema_hash": record.schema_hash.hex()},
    }


def configuration_id(name: str) -> str:
    """The OpenID4VCI credential configuration id of a type: its name plus the format."""
    return f"{name}_dc+sd-jwt"


def credential_issuer(
    state: StateReader, base: str, account: AccountId, types: list[str]
) -> dict[str, Any]:
    """OpenID4VCI 1.0 Credential Issuer Metadata for the types this issuer is trusted for."""
    url = issuer_url(base, account.text)
    configurations = {}
    for name in types:
        record = credential_type(state, name)
        configurations[configuration_id(name)] = {
            "format": "dc+sd-jwt",
            "vct": vct_url(base, name),
            "scope": name,
            "cryptographic_binding_methods_supported": ["jwk"],
            "credential_signing_alg_values_supported": ["EdDSA"],
            "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": PROOF_ALGS}},
            "credential_metadata": {
                "display": _display(name),
                "claims": [{"path": c["path"], "display": c["display"]} for c in _claims(record)],
            },
        }
    return {
        "credential_issuer": url,
        "credential_endpoint": f"{url}/credential",
        "nonce_endpoint": f"{url}/nonce",
        "batch_credential_issuance": {"batch_size": BATCH_SIZE},
        "display": [{"locale": locale, "name": url} for locale in LOCALES],
        "credential_configurations_supported": configurations,
    }


def authorization_server(base: str, account: AccountId) -> dict[str, Any]:
    """RFC 8414 metadata of the issuer's own authorisation server (pre-authorised code only)."""
    url = issuer_url(base, account.text)
    return {
        "issuer": url,
        "token_endpoint": f"{url}/token",
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:pre-authorized_code"],
        "pre-authorized_grant_anonymous_access_supported": True,
        "response_types_supported": [],
    }


def metadata_urls(base: str, account: AccountId) -> dict[str, str]:
    url = issuer_url(base, account.text)
    return {
        "jwt_vc_issuer": well_known(url, "jwt-vc-issuer"),
        "openid_credential_issuer": well_known(url, "openid-credential-issuer"),
        "oauth_authorization_server": well_known(url, "oauth-authorization-server"),
        "did_web": did_web(url),
    }
