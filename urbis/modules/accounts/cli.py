"""`urbis account`: create accounts, show them, rotate their keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.chain.ids import AccountId
from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    account_or_key,
    client,
    emit,
    fail,
    home_path,
    reported,
    require_ok,
    send_actions,
    stdout,
    table,
)
from urbis.modules.accounts.records import AccountKey
from urbis.sdk.builder import TxBuilder
from urbis.sdk.keystore import KeyStore

app = typer.Typer(help="Accounts", no_args_is_help=True)


@app.command("create")
def create(
    key: Annotated[str, typer.Option("--key", help="KeyStore key name or hex public key")],
    signer: FromOption,
    threshold: Annotated[int, typer.Option(help="Signature threshold")] = 1,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an account for a key (signed by an existing account, e.g. the registry).

    Example: urbis account create --key alice --from registry
    """
    root = home_path(home)
    with reported():
        public = _public_key(key, root)
        account = AccountId.from_key(public)

        def build(builder: TxBuilder) -> None:
            builder.add("accounts", "create", keys=[AccountKey(public, 1)], threshold=threshold)

        answer = send_actions(api, root, signer, build)
    receipt = require_ok(answer)
    emit(
        {
            "account": account.text,
            "did": account.did,
            "tx_id": receipt["tx_id"],
            "height": receipt["height"],
        },
        as_json,
        lambda d: stdout.print(f"Created {d['account']} at height {d['height']}"),
    )


@app.command("show")
def show(
    account: Annotated[str, typer.Argument(help="Account id, DID or key name")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an account's keys, threshold, nonce and key history.

    Example: urbis account show urbis1…
    """
    account_id = account_or_key(account, home_path(home))
    with reported():
        data = client(api).call("account", account_id.text)

    def human(d: dict[str, Any]) -> None:
        keys = "\n".join(f"{k['key']} (weight {k['weight']})" for k in d["keys"])
        table(
            f"Account {d['id']}",
            [
                ("did", d["did"]),
                ("keys", keys),
                ("threshold", d["threshold"]),
                ("nonce", d["nonce"]),
                ("created at", d["created_at_height"]),
                ("key changes", len(d["key_history"])),
            ],
        )

    emit(data, as_json, human)


@app.command("rotate-key")
def rotate_key(
    signer: FromOption,
    new_key: Annotated[str, typer.Option("--new-key", help="KeyStore key that replaces --from")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the signing key of your account by another key (same weight, same account id).

    Afterwards the new key signs for the account: `--from NEW` works at once.

    Example: urbis account rotate-key --from alice --new-key alice-phone
    """
    root = home_path(home)
    keystore = KeyStore(root / "keys")
    with reported():
        old = keystore.info(signer)
        new_public = _public_key(new_key, root)
        if new_public == old.public_key:
            fail("cli.same_key", "the new key is the key being replaced", 2)

        def build(builder: TxBuilder) -> None:
            builder.add("accounts", "rotate_key", old_key=old.public_key, new_key=new_public)

        answer = send_actions(api, root, signer, build)
        receipt = require_ok(answer)
        keystore.set_account(new_key, old.account)
    emit(
        {"account": old.account.text, "tx_id": receipt["tx_id"], "new_key": new_public.hex()},
        as_json,
        lambda d: stdout.print(f"{d['account']} now signs with {new_key}"),
    )


def _public_key(text: str, home: Path) -> bytes:
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower()):
        return bytes.fromhex(text)
    return KeyStore(home / "keys").info(text).public_key


COMMANDS = [("account", app)]
