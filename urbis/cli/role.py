"""`urbis role`: department admins grant and revoke roles."""

from __future__ import annotations

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
    fail,
    home_path,
    reported,
    require_ok,
    send_actions,
    stdout,
)
from urbis.sdk.builder import TxBuilder

app = typer.Typer(help="Department roles", no_args_is_help=True)
DEFAULT_HOME = Path("~/.urbis")
RoleArgument = Annotated[str, typer.Argument(help="Role as department.role, e.g. land.registrar")]
AccountArgument = Annotated[str, typer.Argument(help="Account id or wallet key name")]


def _split(role: str) -> tuple[str, str]:
    department, dot, name = role.partition(".")
    if not dot or not department or not name:
        fail("cli.bad_role", f"role {role!r} must be department.role", 2)
    return department, name


def _change(
    action: str, role: str, account: str, signer: str, home: Path, api: str | None, as_json: bool
) -> None:
    department, name = _split(role)
    root = home_path(home)
    target = account_or_key(account, root)

    def build(builder: TxBuilder) -> None:
        builder.add("governance", action, department=department, role=name, account=target)

    with reported():
        receipt = require_ok(send_actions(api, root, signer, build))
    verb = "granted to" if action == "grant_role" else "revoked from"
    emit(
        {"role": role, "account": target.text, "tx_id": receipt["tx_id"]},
        as_json,
        lambda d: stdout.print(f"{role} {verb} {target.text}"),
    )


@app.command("grant")
def grant(
    role: RoleArgument,
    account: AccountArgument,
    signer: FromOption,
    home: Annotated[Path, typer.Option("--home", envvar="URBIS_HOME")] = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Grant a role (needs the department's admin key).

    Example: urbis role grant land.registrar urbis1… --from land
    """
    _change("grant_role", role, account, signer, home, api, as_json)


@app.command("revoke")
def revoke(
    role: RoleArgument,
    account: AccountArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a role (needs the department's admin key).

    Example: urbis role revoke land.registrar urbis1… --from land
    """
    _change("revoke_role", role, account, signer, home, api, as_json)


@app.command("list")
def list_holders(role: RoleArgument, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """List the accounts holding a role.

    Example: urbis role list land.notary
    """
    with reported():
        rows = client(api).call("governance", f"roles/{role}")

    def human(items: list[dict[str, Any]]) -> None:
        if not items:
            stdout.print(f"Nobody holds {role}.")
        for item in items:
            stdout.print(f"{item['account']}  (since {item['height']})")

    emit(rows, as_json, human)
