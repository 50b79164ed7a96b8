"""`urbis id`: the identity registry (trust, status lists, DID documents)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    account_or_key,
    act,
    client,
    emit,
    fail,
    home_path,
    parse_json,
    read_bytes,
    read_json,
    read_text,
    reported,
    stdout,
    table,
)
from urbis.sdk.client import Request

app = typer.Typer(help="Identity registry: trust, status lists, DIDs", no_args_is_help=True)


def _get(api: str | None, path: str, **params: Any) -> Any:
    http = client(api)
    return http.send(Request("GET", path, params or None))


def _act(
    home: Path, api: str | None, signer: str, action_name: str, as_json: bool, /, **args: Any
) -> dict[str, Any]:
    return act("identity", action_name, home_path(home), api, signer, as_json, **args)


@app.command("did")
def did(
    account: Annotated[str, typer.Argument(help="DID, account id or key name")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an account's DID document (keys as JWK, key history).

    Example: urbis id did did:urbis:urbis1…
    """
    target = account_or_key(account, home_path(home))
    with reported():
        document = _get(api, f"/v1/dids/{target.did}")
    emit(document, as_json, lambda d: stdout.print_json(json.dumps(d)))


@app.command("trust")
def trust(
    vct: str,
    issuer: str,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trust an issuer for a credential type (registry.trust_admin).

    Example: urbis id trust ResidentID registry --from registry
    """
    _act(
        home,
        api,
        signer,
        "trust_issuer",
        as_json,
        vct=vct,
        issuer=account_or_key(issuer, home_path(home)),
    )


@app.command("untrust")
def untrust(
    vct: str,
    issuer: str,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """End an issuer's trust for a credential type (earlier credentials stay judged by it).

    Example: urbis id untrust ResidentID registry --from registry
    """
    _act(
        home,
        api,
        signer,
        "withdraw_issuer",
        as_json,
        vct=vct,
        issuer=account_or_key(issuer, home_path(home)),
    )


@app.command("status")
def status(
    issuer: str,
    list_id: int,
    index: Annotated[int | None, typer.Option(help="One entry's status")] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a status list (size, compressed bytes) or one entry (0 valid, 1 revoked, 2 suspended).

    Example: urbis id status registry 7 --index 777777
    """
    target = account_or_key(issuer, home_path(home))
    params = {} if index is None else {"index": index}
    with reported():
        data = _get(api, f"/v1/identity/status/{target.text}/{list_id}", **params)
    emit(data, as_json, lambda d: table("Status", [(k, v) for k, v in d.items() if k != "lst"]))


@app.command("revoke")
def revoke(
    list_id: int,
    index: int,
    signer: FromOption,
    suspend: Annotated[bool, typer.Option(help="Suspend instead of revoke")] = False,
    reinstate: Annotated[bool, typer.Option(help="Back to valid")] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke (or suspend, or reinstate) one of your credentials by its status index.

    Example: urbis id revoke 7 777777 --from registry
    """
    value = 0 if reinstate else (2 if suspend else 1)
    _act(home, api, signer, "set_status", as_json, list_id=list_id, index=index, status=value)


@app.command("define")
def define(
    vct: str,
    signer: FromOption,
    claims: Annotated[
        str | None,
        typer.Option(help="Comma-separated claim names [default: those of a shipped type]"),
    ] = None,
    disclosable: Annotated[
        str | None, typer.Option(help="Selectively disclosable claims [default: all]")
    ] = None,
    validity_days: Annotated[int, typer.Option(help="Validity of credentials")] = 365,
    schema: Annotated[Path | None, typer.Option(help="JSON schema file")] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Define a credential type (registry.trust_admin); shipped types need no --claims.

    Example: urbis id define TransitPass --claims zone,valid_until,concession --from registry
    """
    import hashlib

    from urbis.modules.identity.types import STANDARD_TYPES

    if claims is None:
        if vct not in STANDARD_TYPES:
            fail(
                "cli.bad_type",
                f"{vct} is not shipped ({', '.join(STANDARD_TYPES)}); give --claims",
                2,
            )
        names = list(STANDARD_TYPES[vct]["claims"])
    else:
        names = [c.strip() for c in claims.split(",") if c.strip()]
    hidden = names if disclosable is None else [c.strip() for c in disclosable.split(",")]
    from urbis.modules.identity.types import schema_bytes

    # without --schema, the JSON schema the type metadata serves (so the two agree)
    schema_text = read_bytes(schema, "schema") if schema else schema_bytes(vct, names)
    digest = hashlib.sha256(schema_text).digest()
    _act(
        home,
        api,
        signer,
        "define_type",
        as_json,
        vct=vct,
        schema_hash=digest,
        claims=names,
        disclosable=hidden,
        validity_days=validity_days,
    )


@app.command("issue")
def issue_command(
    vct: str,
    holder_jwk: Annotated[Path, typer.Option(help="The holder's key (from `urbis wallet key`)")],
    claims: Annotated[str, typer.Option(help="Claims as JSON")],
    signer: FromOption,
    status_list: Annotated[int, typer.Option(help="Your status list id")] = 1,
    index: Annotated[int | None, typer.Option(help="Status index [default: random]")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the SD-JWT")] = Path("credential.sdjwt"),
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Issue an SD-JWT VC signed with your department key, bound to the holder's key.

    The credential names its issuer, type and status list by the city's public URLs
    (what standard wallets and verifiers resolve). Its status index is handed out on
    chain first (`allocate_status`: no claims reach the chain). A wallet can instead
    receive it over OpenID4VCI (`urbis id offer`).

    Example: urbis id issue TransitPass --holder-jwk alice.jwk
    --claims '{"zone": "A"}' --from registry
    """
    import secrets
    import time

    from urbis.cli.common import passphrase_for
    from urbis.sdk.keystore import KeyStore
    from urbis.sdk.sdjwt import StatusReference, issue

    root = home_path(home)
    with reported():
        keystore = KeyStore(root / "keys")
        issuer_key = passphrase_for(keystore, signer)
        issuer = keystore.info(signer).account
        definition = _get(api, f"/v1/identity/types/{vct}")
        listing = _get(api, f"/v1/identity/status/{issuer.text}/{status_list}")
    from datetime import UTC, datetime

    from urbis.modules.identity.types import derive_claims

    given = parse_json(claims, "--claims")
    if not isinstance(given, dict):
        fail("cli.bad_claims", "--claims must be a JSON object of claim names and values", 2)
    holder = read_json(holder_jwk, "holder key")
    if not isinstance(holder, dict) or holder.get("kty") != "EC":
        fail("cli.bad_holder_key", f"{holder_jwk} is not a P-256 JWK (`urbis wallet key`)", 2)
    try:
        derived = derive_claims(vct, given, datetime.now(tz=UTC).date())
    except ValueError as error:
        fail("identity.bad_claim", str(error), 2)
    # derived flags fill only the claims this type defines
    values = {k: v for k, v in derived.items() if k in given or k in definition["claims"]}
    unknown = sorted(set(values) - set(definition["claims"]))
    if unknown:
        fail("identity.unknown_claim", f"{vct} has no claim(s) {', '.join(unknown)}", 2)
    now = int(time.time())
    slot = index if index is not None else secrets.randbelow(int(listing["size"]))
    with reported():
        issuer_id = _get(api, f"/identity/issuers/{issuer.text}")["issuer"]
    base = issuer_id.removesuffix(f"/identity/issuers/{issuer.text}")
    _allocate(root, api, signer, status_list, slot)
    from urbis.sdk.identity_urls import vct_url

    sd_jwt = issue(
        issuer_key,
        issuer_id,
        vct_url(base, vct),
        values,
        definition["disclosable"],
        holder,
        now,
        now + int(definition["validity_days"]) * 86_400,
        StatusReference(issuer.text, status_list, slot, base),
    )
    out.write_text(sd_jwt)
    stdout.print(f"issued {vct} to the holder key in {holder_jwk} → {out} (status index {slot})")


def _allocate(home: Path, api: str | None, signer: str, list_id: int, index: int) -> None:
    """Hand out status entry `index` on chain before the credential that uses it exists."""
    from urbis.cli.common import require_ok, send_actions
    from urbis.sdk.builder import TxBuilder

    def build(builder: TxBuilder) -> None:
        builder.add("identity", "allocate_status", list_id=list_id, indexes=[index])

    with reported():
        require_ok(send_actions(api, home, signer, build))


@app.command("verify")
def verify_command(
    presentation: Annotated[Path, typer.Argument(help="File with the presentation")],
    audience: Annotated[str, typer.Option(help="Your verifier id (the audience)")],
    nonce: Annotated[str, typer.Option(help="The nonce you asked with")],
    bundle: Annotated[Path | None, typer.Option(help="Offline bundle (no network)")] = None,
    max_age: Annotated[int, typer.Option(help="Oldest acceptable bundle, seconds")] = 86_400,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a presentation online (from the chain) or offline (from a bundle).

    Exits 1 with the reason (credential.revoked, .expired, .wrong_nonce, …) when it is
    not valid; 2 (credential.not_a_presentation, cli.no_file, …) when the file is not a
    presentation at all.

    Example: urbis id verify ride.txt --audience turnstile-17 --nonce 8f2c --bundle city.json
    """
    import time

    from urbis.sdk.bundle import export_bundle, offline_view
    from urbis.sdk.sdjwt import CredentialRejected, parse_jwt, verify_presentation

    text = read_text(presentation, "presentation").strip()
    now_ms = int(time.time() * 1000)
    try:
        issued = parse_jwt(text.split("~")[0])
    except CredentialRejected as error:
        fail("credential.not_a_presentation", f"{presentation}: {error.detail}", 2)
    if bundle is not None:
        cached = _bundle(read_json(bundle, "bundle"), bundle)
    else:
        with reported():
            cached = export_bundle(
                lambda path: _get(api, path),
                [issued.vct],
                [issued.status[:2]] if issued.status else [],
                0,
                now_ms,
            )
    try:
        view = offline_view(cached, now_ms, max_age * 1000)  # checks the bundle's tokens
        verified = verify_presentation(text, view, audience, nonce, now_ms // 1000)
    except CredentialRejected as error:
        if error.reason == "malformed":
            fail("credential.not_a_presentation", f"{presentation}: {error.detail}", 2)
        fail(f"credential.{error.reason}", error.detail)
    emit(
        {"issuer": verified.issuer, "vct": verified.vct, "claims": verified.claims},
        as_json,
        lambda d: table(f"Valid {d['vct']} from {d['issuer']}", list(d["claims"].items())),
    )


def _bundle(data: Any, path: Path) -> dict[str, Any]:
    """An offline bundle checked for the shape `offline_view` reads (`credential.bad_bundle`)."""
    import base64
    import binascii
    import zlib

    def bad(why: str) -> NoReturn:
        fail("credential.bad_bundle", f"{path} is not an offline bundle: {why}", 2)

    if not isinstance(data, dict) or type(data.get("taken_at_ms")) is not int:
        bad("no taken_at_ms")
    for name in ("trust", "dids", "status_lists"):
        if not isinstance(data.get(name), dict):
            bad(f"{name} must be an object")
    try:
        for rows in data["trust"].values():
            for row in rows:
                str(row["issuer"])
                for period in row["periods"]:
                    int(period["since_ms"]), int(period["until_ms"])
        for document in data["dids"].values():
            for change in document["urbis"]["keyHistory"]:
                int(change["time_ms"]), bytes.fromhex(change["key"]), str(change["change"])
        for body in data["status_lists"].values():
            int(body["bits"]), int(body["size"])
            zlib.decompress(base64.urlsafe_b64decode(body["lst"] + "=" * (-len(body["lst"]) % 4)))
        for token in data.get("status_tokens", {}).values():
            str.split(token, ".")
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error, zlib.error) as error:
        bad(f"{type(error).__name__}: {error}")
    return data


cache_app = typer.Typer(help="Offline verification bundles", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("export")
@app.command("cache-export", hidden=True)
def cache_export(
    vct: Annotated[list[str], typer.Option("--vct", help="Credential types to accept")],
    status: Annotated[
        list[str],
        typer.Option("--status", help="Status lists as ISSUER/LIST (account id or key name)"),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the bundle")] = Path("bundle.json"),
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Export what an offline verifier needs: trust, issuer keys, status lists.

    Example: urbis id cache export --vct TransitPass --status registry/1 --out turnstile.json
    """
    from urbis.sdk.bundle import export_bundle

    lists = []
    for item in status:
        who, _, list_id = item.partition("/")
        if not who or not list_id.isdigit():
            fail(
                "cli.bad_status_list", f"--status {item!r} must be ISSUER/LIST, e.g. registry/1", 2
            )
        lists.append((account_or_key(who, home_path(home)).text, int(list_id)))
    with reported():
        status_now = _get(api, "/v1/status")
        block = _get(api, "/v1/blocks/latest")["header"]
        data = export_bundle(
            lambda path: _get(api, path),
            vct,
            lists,
            status_now["height"],
            block["time_ms"],
            lambda path: _token(api, path),
        )
    out.write_text(json.dumps(data))
    stdout.print(f"bundle at height {data['height']} → {out}")


def _token(api: str | None, path: str) -> str | None:
    """A Status List Token from the node; None when the node signs none for this list."""
    import httpx

    from urbis.sdk.statuslist import MEDIA_TYPE

    url = _public_base(api) + path
    try:
        answer = httpx.get(url, headers={"Accept": MEDIA_TYPE}, timeout=30)
    except httpx.HTTPError as error:
        fail("node.unreachable", f"cannot reach {url}: {error}")
    if answer.status_code == 200 and answer.headers.get("content-type", "").startswith(MEDIA_TYPE):
        return answer.text
    if answer.status_code == 404:
        return None  # the list's key is not on this node: the bundle keeps the JSON list only
    fail("request.failed", f"no Status List Token at {url} (HTTP {answer.status_code})")


@app.command("status-list")
def status_list_create(
    list_id: int,
    signer: FromOption,
    size: Annotated[int, typer.Option(help="Entries")] = 1_048_576,
    bits: Annotated[int, typer.Option(help="Bits per entry")] = 2,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create one of your status lists.

    Example: urbis id status-list 1 --from registry
    """
    _act(home, api, signer, "create_status_list", as_json, list_id=list_id, size=size, bits=bits)


@app.command("register-verifier")
def register_verifier(
    verifier: str,
    name: str,
    allow: Annotated[list[str], typer.Option("--allow", help="VCT:claim,claim (repeatable)")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Say what a verifier may request (registry.trust_admin).

    Example: urbis id register-verifier transit "City Transit"
    --allow ResidentID:age_over_18 --from registry
    """
    allowed: dict[str, list[str]] = {}
    for item in allow:
        vct, _, claims = item.partition(":")
        allowed[vct] = [c.strip() for c in claims.split(",") if c.strip()]
    _act(
        home,
        api,
        signer,
        "register_verifier",
        as_json,
        verifier=account_or_key(verifier, home_path(home)),
        name=name,
        allowed_claims=allowed,
    )


def _signed_post(
    home: Path, api: str | None, signer: str, endpoint: str, **payload: Any
) -> dict[str, Any]:
    """POST a request signed with the department key (`{"request": JWS}`) to the node."""
    import secrets
    import time

    import httpx

    from urbis.cli.common import passphrase_for
    from urbis.sdk.keystore import KeyStore
    from urbis.sdk.sdjwt import _jws

    with reported():
        key = passphrase_for(KeyStore(home_path(home) / "keys"), signer)
    body = {"aud": endpoint, "iat": int(time.time()), "jti": secrets.token_urlsafe(12), **payload}
    try:
        answer = httpx.post(
            endpoint, json={"request": _jws({"alg": "EdDSA"}, body, key.sign)}, timeout=30
        )
    except httpx.HTTPError as error:
        fail("node.unreachable", f"cannot reach {endpoint}: {error}")
    try:
        data: dict[str, Any] = answer.json()
    except ValueError:
        fail("node.bad_answer", f"{endpoint} answered HTTP {answer.status_code}, not JSON")
    if answer.status_code != 200:
        fail(str(data.get("code", "request.failed")), str(data.get("detail", data)))
    return data


def _draw_qr(link: str) -> None:
    """The link as a QR code in the terminal, for a phone's wallet to scan."""
    import io

    import segno

    drawn = io.StringIO()
    segno.make(link, error="l").terminal(out=drawn, compact=True)
    stdout.print(drawn.getvalue(), highlight=False, markup=False)


def _public_base(api: str | None) -> str:
    """Where this node's public identity endpoints are: its API (the dev city's public_url)."""
    from urbis.sdk.client import default_api

    return (api or default_api()).rstrip("/")


@app.command("offer")
def offer_command(
    vct: Annotated[str, typer.Argument(help="Credential type, e.g. ResidentID")],
    claims: Annotated[str, typer.Option(help="Claims as JSON (age flags are derived)")],
    signer: FromOption,
    status_list: Annotated[int, typer.Option(help="Your status list for the copies")] = 1,
    qr: Annotated[bool, typer.Option(help="Also draw the link as a QR code")] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Offer a credential over OpenID4VCI: prints the offer link and the transaction code.

    Give the resident the link (QR) and, apart from it, the code. The claims stay in the
    node's memory until the wallet redeems the offer (or it expires in 10 minutes); the
    chain records only the status entries handed out.

    Example: urbis id offer ResidentID --claims '{"given_name": "Alice",
    "birthdate": "1990-04-01"}' --from registry
    """
    given = parse_json(claims, "--claims")
    if not isinstance(given, dict):
        fail("cli.bad_claims", "--claims must be a JSON object of claim names and values", 2)
    issuer = account_or_key(signer, home_path(home))
    endpoint = f"{_public_base(api)}/identity/issuers/{issuer.text}/offers"
    made = _signed_post(home, api, signer, endpoint, vct=vct, claims=given, status_list=status_list)

    def human(d: dict[str, Any]) -> None:
        if qr:
            _draw_qr(d["uri"])
        stdout.print(d["uri"], soft_wrap=True)
        stdout.print(f"transaction code (give it apart from the link): {d['tx_code']}")

    emit(made, as_json, human)


@app.command("request")
def request_command(
    vct: Annotated[str, typer.Argument(help="Credential type, e.g. ResidentID")],
    claims: Annotated[str, typer.Option(help="Comma-separated claims to ask for")],
    signer: FromOption,
    wait: Annotated[
        int, typer.Option(help="Seconds to wait for the wallet's answer (0: don't wait)")
    ] = 0,
    qr: Annotated[bool, typer.Option(help="Also draw the link as a QR code")] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """As a registered verifier, ask for claims over OpenID4VP: prints the openid4vp:// link.

    With --wait, waits for the wallet's answer and prints the verified claims, or exits 1
    with the refusal's code (oid4vp.revoked, oid4vp.claim_not_allowed, ...).

    Example: urbis id request ResidentID --claims age_over_18 --from transport --wait 120
    """
    import time

    import httpx

    verifier = account_or_key(signer, home_path(home))
    endpoint = f"{_public_base(api)}/identity/verifiers/{verifier.text}/requests"
    wanted = [c.strip() for c in claims.split(",") if c.strip()]
    made = _signed_post(home, api, signer, endpoint, vct=vct, claims=wanted)
    if qr and not as_json:
        _draw_qr(made["link"])
    if not wait:
        emit(made, as_json, lambda d: stdout.print(d["link"], soft_wrap=True))
        return
    if not as_json:
        stdout.print(made["link"], soft_wrap=True)
    deadline = time.monotonic() + wait
    outcome: dict[str, Any] = {"status": "waiting"}
    while time.monotonic() < deadline:
        try:
            outcome = httpx.get(made["result"], timeout=10).json()
        except (httpx.HTTPError, ValueError) as error:
            fail("node.unreachable", f"cannot read {made['result']}: {error}")
        if outcome.get("status") in ("verified", "refused"):
            break
        time.sleep(0.2)
    if outcome.get("status") == "refused":
        fail(str(outcome.get("code")), str(outcome.get("detail")))
    if outcome.get("status") != "verified":
        fail("oid4vp.no_answer", f"no answer from a wallet within {wait} s")
    emit(
        outcome,
        as_json,
        lambda d: table(f"Verified {d['vct']} from {d['issuer']}", list(d["claims"].items())),
    )


COMMANDS = [("id", app)]
