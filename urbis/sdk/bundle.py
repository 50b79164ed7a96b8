"""Offline verification: a bundle of what a verifier needs, taken from the API.

A bus turnstile has no network. Before going out it exports a bundle:
- trust periods per credential type;
- the issuers' DID documents, with their key history;
- the status lists;
- the height and time the bundle was taken.

Offline, `offline_view` answers from the bundle, and refuses to be trusted
once it is older than the turnstile's maximum staleness.

Given a `get_token`, the bundle also carries each list's Status List Token as the
node signs it; offline, a list with a token is read from the token, after its
signature (by a key its signer's DID document held when the bundle was taken) and
its `sub` are checked, so a turnstile need not trust whoever handed it the bundle.
A token's own `exp` is not applied offline: the bundle's staleness limit is.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from urbis.chain.ids import AccountId
from urbis.crypto.keys import verify
from urbis.sdk.identity_urls import issuer_account, status_target
from urbis.sdk.sdjwt import CredentialRejected, TrustView
from urbis.sdk.statuslist import StatusTokenRejected, parse_token

Get = Callable[[str], Any]
GetToken = Callable[[str], str | None]
"""Path -> the Status List Token the node serves there (Accept: application/statuslist+jwt)."""


def export_bundle(
    get: Get,
    vcts: Iterable[str],
    status_lists: Iterable[tuple[str, int]],
    height: int,
    time_ms: int,
    get_token: GetToken | None = None,
) -> dict[str, Any]:
    """Collect trust, issuer keys and status lists through `get(path)` (the node's API)."""
    status_lists = list(status_lists)
    trust = {vct: get(f"/v1/identity/trust/{vct}") for vct in vcts}
    fetched = (
        {
            f"{issuer}/{list_id}": get_token(f"/identity/status/{issuer}/{list_id}")
            for issuer, list_id in status_lists
        }
        if get_token is not None
        else {}
    )
    tokens = {name: token for name, token in fetched.items() if token is not None}
    signers = {_token_signer(token) for token in tokens.values()} - {None}
    issuers = sorted(
        {row["issuer"] for rows in trust.values() for row in rows}
        | {issuer for issuer, _ in status_lists}
        | {str(signer) for signer in signers}
    )
    dids = {issuer: get(f"/v1/dids/{AccountId.parse(issuer).did}") for issuer in issuers}
    lists = {
        f"{issuer}/{list_id}": get(f"/v1/identity/status/{issuer}/{list_id}")
        for issuer, list_id in status_lists
    }
    bundle = {
        "version": 1,
        "height": height,
        "taken_at_ms": time_ms,
        "trust": trust,
        "dids": dids,
        "status_lists": lists,
    }
    if tokens:
        bundle["status_tokens"] = tokens
    return bundle


def _token_signer(token: str) -> str | None:
    """The account whose issuer URL is a token's `iss` (None: unreadable)."""
    try:
        parsed, _, _ = parse_token(token)
    except StatusTokenRejected:
        return None
    return None if parsed.issuer is None else issuer_account(parsed.issuer)


def _checked_tokens(bundle: dict[str, Any]) -> dict[str, tuple[int, bytes, int]]:
    """Each list's (bits, packed entries, size) from its verified token (`bad_bundle`)."""
    decoded = {}
    taken_at_ms = int(bundle["taken_at_ms"])
    for name, token in bundle.get("status_tokens", {}).items():
        issuer, _, list_id = name.partition("/")
        try:
            parsed, signing_input, signature = parse_token(token)
            signer = None if parsed.issuer is None else issuer_account(parsed.issuer)
            document = bundle["dids"].get(signer or "")
            keys = [] if document is None else keys_in_did_document(document, taken_at_ms)
            if not any(verify(key, signing_input, signature) for key in keys):
                raise StatusTokenRejected("bad_signature", f"{name}: not signed by its issuer")
            if status_target(parsed.sub) != (issuer, int(list_id)):
                raise StatusTokenRejected("wrong_sub", f"{name}: the token is for {parsed.sub}")
        except (StatusTokenRejected, ValueError) as error:
            raise CredentialRejected("bad_bundle", f"status token {name}: {error}") from None
        size = int(bundle["status_lists"].get(name, {}).get("size", len(parsed.packed) * 8))
        decoded[name] = (parsed.bits, parsed.packed, size)
    return decoded


def offline_view(bundle: dict[str, Any], now_ms: int, max_staleness_ms: int) -> TrustView:
    age = now_ms - int(bundle["taken_at_ms"])
    if age > max_staleness_ms:
        raise CredentialRejected(
            "stale_cache",
            f"the offline bundle is {age // 1000} s old; the limit is {max_staleness_ms // 1000} s",
        )
    decoded = {
        name: (
            int(body["bits"]),
            zlib.decompress(base64.urlsafe_b64decode(body["lst"] + "=" * (-len(body["lst"]) % 4))),
            int(body["size"]),
        )
        for name, body in bundle["status_lists"].items()
    }
    decoded.update(_checked_tokens(bundle))  # signed entries win over the unsigned JSON

    def key_at(did: str, time_ms: int) -> list[bytes]:
        account = did.removeprefix("did:urbis:")
        document = bundle["dids"].get(account)
        if document is None:
            return []
        return keys_in_did_document(document, time_ms)

    def trusted_at(vct: str, issuer: str, time_ms: int) -> bool:
        for row in bundle["trust"].get(vct, []):
            if row["issuer"] != issuer:
                continue
            return any(
                int(p["since_ms"]) <= time_ms
                and (int(p["until_ms"]) == 0 or time_ms < int(p["until_ms"]))
                for p in row["periods"]
            )
        return False

    def status_of(issuer: str, list_id: int, index: int) -> int | None:
        entry = decoded.get(f"{issuer}/{list_id}")
        if entry is None:
            return None
        bits, packed, size = entry
        if not 0 <= index < size:
            return None
        position = index * bits
        return (packed[position // 8] >> (position % 8)) & ((1 << bits) - 1)

    return TrustView(key_at=key_at, trusted_at=trusted_at, status_of=status_of)


def keys_in_did_document(document: Any, time_ms: int) -> list[bytes]:
    """The keys a DID document's key history shows in force at `time_ms`; [] if unreadable."""
    held: set[bytes] = set()
    try:
        for change in document["urbis"]["keyHistory"]:
            if int(change["time_ms"]) > time_ms:
                break
            key = bytes.fromhex(change["key"])
            if change["change"] == "added":
                held.add(key)
            else:
                held.discard(key)
    except (KeyError, TypeError, ValueError):
        return []
    return sorted(held)
