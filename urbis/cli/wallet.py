"""`urbis wallet`: a resident's credentials and holder key, and presenting them."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    HomeOption,
    JsonOption,
    client,
    emit,
    fail,
    home_path,
    read_text,
    reported,
    stdout,
)
from urbis.sdk.bundle import keys_in_did_document
from urbis.sdk.credentials import CREDENTIAL_BYTES_MAX, CredentialWallet
from urbis.sdk.sdjwt import CredentialRejected, HolderKey, parse_credential

if TYPE_CHECKING:
    from urbis.sdk.client import Request

app = typer.Typer(help="Your credentials (SD-JWT VC) and holder key", no_args_is_help=True)


def _folder(home: Path) -> Path:
    return home_path(home) / "wallet"


def load_holder(home: Path) -> HolderKey:
    path = _folder(home) / "holder.pem"
    if not path.exists():
        fail("wallet.no_holder_key", f"no holder key in {path.parent}; run `urbis wallet init`")
    password = os.environ.get("URBIS_PASSPHRASE", "").encode() or None
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        fail("wallet.error", f"cannot open the holder key: {error}")
    return HolderKey(private)  # type: ignore[arg-type]


@app.command("init")
def init(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """Create this wallet's holder key (P-256); credentials are bound to it.

    Example: URBIS_PASSPHRASE=… urbis wallet init
    """
    folder = _folder(home)
    path = folder / "holder.pem"
    if path.exists():
        fail("wallet.exists", f"{path} exists already")
    folder.mkdir(parents=True, exist_ok=True)
    holder = HolderKey()
    passphrase = os.environ.get("URBIS_PASSPHRASE", "").encode()
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = holder.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    emit({"jwk": holder.jwk}, as_json, lambda d: stdout.print_json(json.dumps(d["jwk"])))


@app.command("key")
def key(home: HomeOption = DEFAULT_HOME) -> None:
    """Print the holder key (public JWK) to give an issuer.

    Example: urbis wallet key > holder.jwk
    """
    typer.echo(json.dumps(load_holder(home).jwk))


@app.command("add")
def add(
    credential: Annotated[Path, typer.Argument(help="File with the SD-JWT")],
    name: Annotated[str, typer.Option(help="Name to keep it under (letters, digits, _ . -)")],
    replace: Annotated[
        bool, typer.Option(help="Replace the credential kept under this name")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Keep a credential an issuer gave you, once its issuer's signature checks out.

    The issuer's keys come from its DID document on chain (at the time it issued).

    Example: urbis wallet add resident.sdjwt --name resident-id
    """
    text = read_text(credential, "credential", CREDENTIAL_BYTES_MAX)
    node = client(api)

    def issuer_keys(did: str, time_ms: int) -> list[bytes]:
        with reported():
            document = node.send(_request(f"/v1/dids/{did}"))
        return keys_in_did_document(document, time_ms)

    try:
        claims = _wallet(home, with_key=False).add(name, text, issuer_keys, replace)
    except CredentialRejected as error:
        fail(f"wallet.{error.reason}", error.detail, 2 if error.reason == "bad_name" else 1)
    stdout.print(f"kept {name}: disclosable claims {', '.join(claims) or '-'}")


@app.command("list")
def list_credentials(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """Show your credentials and the claims each can disclose (damaged ones marked).

    Example: urbis wallet list
    """
    rows = _wallet(home, with_key=False).list()

    def human(items: list[dict[str, Any]]) -> None:
        if not items:
            stdout.print("No credentials.")
        for row in items:
            if "damaged" in row:
                stdout.print(f"[bold]{row['name']}[/] [red]damaged[/]: {row['damaged']}")
            else:
                stdout.print(f"[bold]{row['name']}[/] {row['vct']} ({', '.join(row['claims'])})")

    emit(rows, as_json, human)


def _wallet(home: Path, with_key: bool = True) -> CredentialWallet:
    holder = load_holder(home) if with_key else HolderKey()  # listing needs no private key
    return CredentialWallet(_folder(home), holder)


@app.command("present")
def present_command(
    name: Annotated[str, typer.Argument(help="Credential name in the wallet")],
    claims: Annotated[str, typer.Option(help="Comma-separated claims to disclose")],
    audience: Annotated[str, typer.Option(help="The verifier (its account id)")],
    nonce: Annotated[str | None, typer.Option(help="The verifier's nonce")] = None,
    api: ApiOption = None,
    offline: Annotated[
        bool,
        typer.Option(
            help="Skip the registration check (the verifier is offline, e.g. a turnstile)"
        ),
    ] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Present only the chosen claims, bound to the verifier's nonce and audience.

    The wallet refuses claims the verifier is not registered to request.

    Example: urbis wallet present resident-id --claims age_over_18 --audience urbis1… --nonce 8f2c
    """
    import time

    wallet = _wallet(home)
    chosen = [c.strip() for c in claims.split(",") if c.strip()]
    allowed = None
    try:
        vct = parse_credential(wallet.get(name)).issued.vct
        if not offline:
            with reported():
                registration = client(api).send(_request(f"/v1/identity/verifiers/{audience}"))
            allowed = list(registration.get("allowed_claims", {}).get(vct, []))
        shown = wallet.present_copy(
            name,
            chosen,
            audience,
            nonce or secrets.token_hex(8),
            int(time.time()),
            _passphrase(),
            allowed,
        )
    except CredentialRejected as error:
        fail(f"wallet.{error.reason}", error.detail)
    typer.echo(shown)


def _passphrase() -> bytes | None:
    return os.environ.get("URBIS_PASSPHRASE", "").encode() or None


@app.command("receive")
def receive(
    offer: Annotated[str, typer.Argument(help="The openid-credential-offer:// link")],
    name: Annotated[str, typer.Option(help="Name to keep it under (letters, digits, _ . -)")],
    tx_code: Annotated[
        str | None, typer.Option(help="The code the issuer gave you apart from the link")
    ] = None,
    copies: Annotated[
        int,
        typer.Option(
            min=1,
            max=10,
            help="Copies, each bound to its own key, so verifiers cannot link them",
        ),
    ] = 1,
    replace: Annotated[bool, typer.Option(help="Replace credentials kept under NAME")] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Receive a credential over OpenID4VCI (pre-authorised code) and keep it.

    The first copy is bound to this wallet's holder key and kept as NAME; further copies
    get keys of their own and are kept as NAME.2, NAME.3, ...; `urbis wallet respond`
    shows each verifier its own copy.

    Example: urbis wallet receive 'openid-credential-offer://?credential_offer=…'
    --tx-code 493817 --name resident-id --copies 3
    """
    import time

    import httpx

    from urbis.sdk.oid4vc import WalletError, receive_offer

    wallet = _wallet(home)
    names = [name] + [f"{name}.{n}" for n in range(2, copies + 1)]
    for kept in names:
        try:
            exists = wallet.path(kept).exists()
        except CredentialRejected as error:  # a name the wallet cannot keep
            fail(f"wallet.{error.reason}", error.detail, 2)
        if exists and not replace:
            fail("wallet.exists", f"{kept!r} is kept already; add --replace")
    holders = [wallet.holder] + [HolderKey() for _ in names[1:]]
    try:
        with httpx.Client(timeout=60) as http:
            credentials = receive_offer(http, offer, tx_code, holders, int(time.time()))
    except WalletError as error:
        fail(f"wallet.{error.reason}", error.detail, 2 if error.reason == "bad_offer" else 1)
    except CredentialRejected as error:
        fail(f"wallet.{error.reason}", error.detail)
    node = client(api)

    def issuer_keys(did: str, time_ms: int) -> list[bytes]:
        with reported():
            document = node.send(_request(f"/v1/dids/{did}"))
        return keys_in_did_document(document, time_ms)

    for kept, holder, credential in zip(names, holders, credentials, strict=True):
        try:
            claims = wallet.add(kept, credential, issuer_keys, replace=True)
        except CredentialRejected as error:
            fail(f"wallet.{error.reason}", error.detail)
        if holder is not wallet.holder:
            wallet.keep_key(kept, holder, _passphrase())
    stdout.print(f"kept {', '.join(names)}: disclosable claims {', '.join(claims) or '-'}")


@app.command("respond")
def respond_command(
    request: Annotated[str, typer.Argument(help="The openid4vp:// link (or QR payload)")],
    name: Annotated[
        str | None, typer.Option(help="Credential to present [default: one of the asked type]")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Answer a verifier's OpenID4VP request with only the claims it asked for.

    The request must be signed by the verifier and ask only for what the registry lets it
    ask for (else wallet.claim_not_registered). Each verifier is shown its own copy of the
    credential when the wallet holds several.

    Example: urbis wallet respond 'openid4vp://?client_id=…&request=…'
    """
    import time

    import httpx

    from urbis.sdk.oid4vc import WalletError, open_request, respond

    wallet = _wallet(home)
    node = client(api)
    now = int(time.time())

    def did_keys(did: str) -> list[bytes]:
        with reported():
            document = node.send(_request(f"/v1/dids/{did}"))
        return keys_in_did_document(document, now * 1000)

    def registration(verifier: str) -> dict[str, list[str]] | None:
        from urbis.sdk.client import ApiError

        try:
            found = node.send(_request(f"/v1/identity/verifiers/{verifier}"))
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return dict(found.get("allowed_claims", {}))

    try:
        with reported():
            ask = open_request(request, did_keys, registration, now)
        chosen = name or _copy_for(wallet, ask.vct, ask.client_id, home)
        shown = wallet.present_copy(
            chosen, ask.claims, ask.client_id, ask.nonce, now, _passphrase()
        )
        with httpx.Client(timeout=30) as http:
            respond(http, ask, shown)
    except WalletError as error:
        fail(f"wallet.{error.reason}", error.detail)
    except CredentialRejected as error:
        fail(f"wallet.{error.reason}", error.detail)
    stdout.print(f"presented {', '.join(ask.claims)} of {chosen} to {ask.verifier}")


def _copy_for(wallet: CredentialWallet, vct: str, verifier: str, home: Path) -> str:
    """The copy this verifier saw before, else one no verifier has seen, else any."""
    rows = [r for r in wallet.list() if r.get("vct") == vct and "damaged" not in r]
    if not rows:
        raise CredentialRejected("no_credential", f"no {vct} in this wallet")
    record = _folder(home) / "shown.json"
    try:
        shown: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
    except (OSError, ValueError):
        shown = {}
    names = [r["name"] for r in rows]
    chosen = shown.get(verifier)
    if chosen not in names:
        unseen = [n for n in names if n not in shown.values()]
        chosen = (unseen or names)[0]
        shown[verifier] = chosen
        record.write_text(json.dumps(shown, indent=2, sort_keys=True))
    return str(chosen)


def _request(path: str) -> Request:
    from urbis.sdk.client import Request  # here, not at the top: the CLI starts light

    return Request("GET", path)
