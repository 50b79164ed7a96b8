"""`urbis keys`: the home's key store, each key encrypted with a passphrase."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from urbis.cli.common import (
    DEFAULT_HOME,
    HomeOption,
    JsonOption,
    emit,
    fail,
    home_path,
    reported,
    stdout,
    table,
)
from urbis.sdk.keystore import KeyInfo, KeyStore

app = typer.Typer(help="Signing keys in the key store (HOME/keys)", no_args_is_help=True)


def _view(info: KeyInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "account": info.account.text,
        "did": info.account.did,
        "public_key": info.public_key.hex(),
        "path": str(info.path),
    }


@app.command("new")
def new(name: str, home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """Create a key; its account id is derived from it. Passphrase: URBIS_PASSPHRASE or prompt.

    Example: URBIS_PASSPHRASE=… urbis keys new alice
    """
    passphrase = os.environ.get("URBIS_PASSPHRASE")
    if passphrase is None:
        if not sys.stdin.isatty():
            fail("cli.passphrase_needed", "set URBIS_PASSPHRASE or run in a terminal", 2)
        passphrase = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    with reported():
        info = KeyStore(home_path(home) / "keys").create(name, passphrase)
    emit(_view(info), as_json, lambda d: table(f"Key {d['name']}", list(d.items())))


@app.command("list")
def list_keys(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """List the key store's keys (no passphrase needed).

    Example: urbis keys list --json
    """
    infos = [_view(i) for i in KeyStore(home_path(home) / "keys").list()]

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            stdout.print("No keys. Create one with `urbis keys new NAME`.")
        for row in rows:
            stdout.print(f"[bold]{row['name']:<16}[/] {row['account']}")

    emit(infos, as_json, human)


@app.command("show")
def show(name: str, home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """Show a key's account id, DID and public key.

    Example: urbis keys show land
    """
    with reported():
        info = KeyStore(home_path(home) / "keys").info(name)
    emit(_view(info), as_json, lambda d: table(f"Key {d['name']}", list(d.items())))
