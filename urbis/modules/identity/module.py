"""Identity: the city's registry for resident digital IDs (the Zug case).

Credentials (SD-JWT VC) live in residents' wallets. The chain holds only what
verifiers need to trust them:
- which issuer may issue which type, and since when;
- what each type contains;
- which credentials are revoked or suspended (Token Status List pages);
- what each verifier may ask for;
- every account's DID document, with its key history.

I1  no state key or value of this module contains personal data
I2  trust is never rewritten, only ended: trusted_at(t) answers for any past t
I3  a status list's size and bits never change; only its entries do
I4  a handed-out status index stays handed out

Issuing leaves one trace here: `allocate_status`, the indexes handed out. The
standard protocols around the registry (Status List Tokens, issuer and type
metadata, OpenID4VCI, OpenID4VP) run in the API process: see the README.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.context import StateReader, view_of
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.ids import AccountId
from urbis.chain.module import ActionSpec, Module
from urbis.crypto.encoding import decode_trusted
from urbis.modules.identity import handlers, keys
from urbis.modules.identity.keeper import (
    IdentityKeeper,
    IdentityView,
    entries_per_page,
    read_list,
    read_page,
    status_of,
)
from urbis.modules.identity.needs import AccountsView
from urbis.modules.identity.records import (
    AllocateStatus,
    CreateStatusList,
    CredentialType,
    DefineType,
    RegisterVerifier,
    SetStatus,
    TrustIssuer,
    TrustRecord,
    VerifierRegistration,
    WithdrawIssuer,
)

TRUST_ADMIN = "registry.trust_admin"


def _account(params: dict[str, str], name: str) -> AccountId:
    try:
        return AccountId.parse(params.get(name, ""))
    except ValueError as error:
        raise BadQuery(str(error)) from None


def _int(params: dict[str, str], name: str) -> int:
    try:
        return int(params.get(name, ""))
    except ValueError:
        raise BadQuery(f"{name} must be a number") from None


def query_did(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    """The DID document of an account: its current keys (JWK) and key history."""
    account_id = _account(params, "did")
    account = view_of("accounts", AccountsView, state).account(account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    did = account_id.did
    methods = [
        {
            "id": f"{did}#{k.key.hex()[:16]}",
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": base64.urlsafe_b64encode(k.key).rstrip(b"=").decode(),
            },
        }
        for k in account.keys
    ]
    ids = [m["id"] for m in methods]
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": methods,
        "authentication": ids,
        "assertionMethod": ids,
        "urbis": {
            "threshold": account.threshold,
            "keyHistory": [
                {
                    "key": c.key.hex(),
                    "change": c.change,
                    "changed_at_height": c.changed_at_height,
                    "time_ms": c.time_ms,
                }
                for c in account.key_history
            ],
        },
    }


def query_type(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    raw = state.get(keys.credential_type(params.get("vct", "")))
    if raw is None:
        raise NotFound(f"no credential type {params.get('vct')!r}")
    record = from_wire(CredentialType, decode_trusted(raw))
    return jsonable({k: getattr(record, k) for k in record.__slots__})


def query_trust(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    vct = params.get("vct", "")
    out = []
    for key, raw in state.scan_prefix(keys.trust_prefix(vct)):
        record = from_wire(TrustRecord, decode_trusted(raw))
        out.append(
            {
                "issuer": AccountId(key[-20:]).text,
                "current": record.current,
                "periods": jsonable(
                    [{k: getattr(p, k) for k in p.__slots__} for p in record.periods]
                ),
            }
        )
    return out


def packed_list(state: StateReader, issuer: AccountId, list_id: int) -> tuple[int, bytes]:
    """A status list's bits per entry and its packed entries (NotFound if there is none)."""
    status_list = read_list(state, issuer, list_id)
    if status_list is None:
        raise NotFound(f"{issuer} has no status list {list_id}")
    per_page = entries_per_page(status_list.bits)
    pages = -(-status_list.size // per_page)
    packed = b"".join(read_page(state, issuer, list_id, p) for p in range(pages))
    return status_list.bits, packed[: -(-status_list.size * status_list.bits // 8)]


def query_status_list(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    """A status list as the Token Status List publishes it: bits, lst (DEFLATE, base64url)."""
    issuer, list_id = _account(params, "issuer"), _int(params, "list_id")
    status_list = read_list(state, issuer, list_id)
    if status_list is None:
        raise NotFound(f"{issuer} has no status list {list_id}")
    _, packed = packed_list(state, issuer, list_id)
    compressed = zlib.compress(packed, 9)
    return {
        "issuer": issuer.text,
        "list_id": list_id,
        "size": status_list.size,
        "bits": status_list.bits,
        "updated_at_height": status_list.updated_at_height,
        "lst": base64.urlsafe_b64encode(compressed).rstrip(b"=").decode(),
        "compressed_bytes": len(compressed),
    }


def query_status(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    issuer, list_id, index = (
        _account(params, "issuer"),
        _int(params, "list_id"),
        _int(params, "index"),
    )
    status = status_of(state, issuer, list_id, index)
    if status is None:
        raise NotFound(f"no entry {index} in {issuer}'s status list {list_id}")
    return {"issuer": issuer.text, "list_id": list_id, "index": index, "status": status}


def query_verifier(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    account = _account(params, "account")
    raw = state.get(keys.verifier(account))
    if raw is None:
        raise NotFound(f"{account} is not a registered verifier")
    record = from_wire(VerifierRegistration, decode_trusted(raw))
    return {
        "account": account.text,
        "name": record.name,
        "allowed_claims": record.allowed_claims,
        "registered_at_height": record.registered_at_height,
    }


module = Module(
    name="identity",
    actions={
        "define_type": ActionSpec(
            DefineType, handlers.define_type, TRUST_ADMIN, "Define a credential type"
        ),
        "trust_issuer": ActionSpec(
            TrustIssuer, handlers.trust_issuer, TRUST_ADMIN, "Trust an issuer for a credential type"
        ),
        "withdraw_issuer": ActionSpec(
            WithdrawIssuer,
            handlers.withdraw_issuer,
            TRUST_ADMIN,
            "End an issuer's trust for a type",
        ),
        "create_status_list": ActionSpec(
            CreateStatusList, handlers.create_status_list, None, "Create a status list of your own"
        ),
        "set_status": ActionSpec(
            SetStatus,
            handlers.set_status,
            None,
            "Revoke, suspend or reinstate one of your credentials",
        ),
        "allocate_status": ActionSpec(
            AllocateStatus,
            handlers.allocate_status,
            None,
            "Hand out status entries of your list to credentials being issued",
        ),
        "register_verifier": ActionSpec(
            RegisterVerifier,
            handlers.register_verifier,
            TRUST_ADMIN,
            "Say what a verifier may request",
        ),
    },
    queries={
        "did": query_did,
        "type": query_type,
        "trust": query_trust,
        "status_list": query_status_list,
        "status": query_status,
        "verifier": query_verifier,
    },
    keeper=IdentityKeeper,
    view=IdentityView,
    prefix=keys.PREFIX,
)
