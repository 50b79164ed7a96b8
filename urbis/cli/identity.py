"""`urbis id`: the identity registry (trust, status lists, DID documents)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.cli.common import (
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    account_or_key,
    client,
    emit,
    home_path,
    reported,
    require_ok,
    send_actions,
    stdout,
    table,
)
from urbis.sdk.builder import TxBuilder
from urbis.sdk.client import Request

app = typer.Typer(help="Identity registry: trust, status lists, DIDs", no_args_is_help=True)
DEFAULT_HOME = Path("~/.urbis")


def _get(api: str | None, path: str, **params: Any) -> Any:
    http = client(api)
    return http.send(Request("GET", path, params or None))


def _act(home: Path, api: str | None, signer: str, name: str, as_json: bool, **args: Any) -> None:
    def build(builder: TxBuilder) -> None:
        builder.add("identity", name, **args)

    with reported():
        receipt = require_ok(send_actions(api, home_path(home), signer, build))
    emit(
        receipt,
        as_json,
        lambda r: [
            stdout.print(f"[bold]{e['type']}[/] {e['attrs']}", highlight=False) for e in r["events"]
        ],
    )


@app.command("did")
def did(
    account: Annotated[str, typer.Argument(help="DID, account id or wallet key name")],
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
