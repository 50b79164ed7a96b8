"""The HTTP(S) identifiers a wallet or verifier dereferences, all under a city's `public_url`.

One place spells the layout, for the node that serves them and the wallet and
verifier that read them:

    {base}/identity/issuers/{account}            issuer id (`iss`, `credential_issuer`)
    {base}/identity/issuers/{account}/did.json   its did:web document
    {base}/identity/status/{account}/{list}      a Status List Token (or ?prove=true JSON)
    {base}/identity/types/{name}                 SD-JWT VC Type Metadata (`vct`)
    {origin}/.well-known/{kind}{path}            metadata of a URL `{origin}{path}`

`did:urbis:<account>` stays an alias of an issuer URL: both name one account.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

ISSUERS = "/identity/issuers/"
STATUS = "/identity/status/"
TYPES = "/identity/types/"
DID_URBIS = "did:urbis:"


def normalise_base(url: str) -> str:
    """A public base URL as stored: http(s), a host, no query, no trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"public_url {url!r} must be an http(s) URL with a host")
    if parts.query or parts.fragment:
        raise ValueError(f"public_url {url!r} must have no query or fragment")
    return url.rstrip("/")


def issuer_url(base: str, account: str) -> str:
    return f"{base}{ISSUERS}{account}"


def status_url(base: str, account: str, list_id: int) -> str:
    return f"{base}{STATUS}{account}/{list_id}"


def vct_url(base: str, name: str) -> str:
    return f"{base}{TYPES}{quote(name, safe='')}"


def well_known(url: str, kind: str) -> str:
    """Where metadata of `url` lives (RFC 8615 / RFC 8414 style: inserted after the host)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{kind}{path}"


def did_web(url: str) -> str:
    """The did:web DID of an https URL with a path (port's colon percent-encoded)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return ":".join(["did:web", quote(parts.netloc, safe=""), *segments])


def _tail(url: str, marker: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment:
        return None
    at = parts.path.rfind(marker)
    return None if at < 0 else parts.path[at + len(marker) :]


def issuer_account(iss: str) -> str | None:
    """The account an issuer id names (`did:urbis:X` or `…/identity/issuers/X`), or None."""
    if iss.startswith(DID_URBIS):
        return iss.removeprefix(DID_URBIS) or None
    tail = _tail(iss, ISSUERS)
    return tail if tail and "/" not in tail else None


def status_target(uri: str) -> tuple[str, int] | None:
    """The (account, list id) a status URI names, `urbis:status/X/N` or `…/identity/status/X/N`."""
    tail = uri.removeprefix("urbis:status/") if uri.startswith("urbis:status/") else None
    if tail is None:
        tail = _tail(uri, STATUS)
    if tail is None:
        return None
    account, _, list_id = tail.partition("/")
    if not account or not (list_id.isascii() and list_id.isdigit() and len(list_id) <= 10):
        return None
    return account, int(list_id)


def vct_name(vct: str) -> str:
    """The registry's name of a credential type: the last part of a type URL, else as is."""
    tail = _tail(vct, TYPES)
    return unquote(tail) if tail else vct
