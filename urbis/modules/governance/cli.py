"""`urbis proposal` (the council's m-of-n decisions) and `urbis role` (department admins
grant and revoke roles)."""

from __future__ import annotations

import json
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
from urbis.sdk.builder import TxBuilder

proposal_app = typer.Typer(help="Council proposals", no_args_is_help=True)


def wire_args(value: Any) -> Any:
    """JSON to wire values: `urbis1…` becomes an account id, `0x…` bytes."""
    if isinstance(value, str):
        if value.startswith("urbis1"):
            return AccountId.parse(value).raw
        if value.startswith("0x"):
            return bytes.fromhex(value[2:])
        return value
    if isinstance(value, list):
        return [wire_args(v) for v in value]
    if isinstance(value, dict):
        return {k: wire_args(v) for k, v in value.items()}
    if isinstance(value, float):
        raise ValueError("numbers must be integers")
    return value


@proposal_app.command("submit")
def submit(
    title: Annotated[str, typer.Option(help="What the council decides")],
    action: Annotated[str, typer.Option(help="module.name, e.g. governance.add_department")],
    args: Annotated[str, typer.Option(help="Arguments as JSON (urbis1… ids, 0x… bytes)")],
    signer: FromOption,
    voting_period_blocks: Annotated[
        int, typer.Option(help="Blocks the proposal stays open")
    ] = 10_000,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose a privileged action; your approval counts at once.

    Example: urbis proposal submit --title "Parks department" --action governance.add_department
    --args '{"id": "parks", "name": "Parks", "admin": "urbis1…"}' --from mayor
    """
    module, dot, name = action.partition(".")
    if not dot:
        fail("cli.bad_action", "action must be module.name", 2)
    try:
        parsed = wire_args(json.loads(args))
    except (ValueError, json.JSONDecodeError) as error:
        fail("cli.bad_args", f"--args is not usable JSON: {error}", 2)
    if not isinstance(parsed, dict):
        fail("cli.bad_args", "--args must be a JSON object", 2)

    def build(builder: TxBuilder) -> None:
        builder.add(
            "governance",
            "submit_proposal",
            title=title,
            action={"module": module, "name": name, "args": parsed},
            voting_period_blocks=voting_period_blocks,
        )

    with reported():
        receipt = require_ok(send_actions(api, home_path(home), signer, build))
    proposal_id = next(
        e["attrs"]["id"] for e in receipt["events"] if e["type"] == "governance.proposal_submitted"
    )
    executed = any(e["type"] == "governance.proposal_executed" for e in receipt["events"])
    emit(
        {"id": proposal_id, "executed": executed, "tx_id": receipt["tx_id"]},
        as_json,
        lambda d: stdout.print(
            f"Proposal {d['id']} submitted" + (" and executed" if d["executed"] else "")
        ),
    )


@proposal_app.command("approve")
def approve(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve an open proposal; it executes when approvals reach the threshold.

    Example: urbis proposal approve 1 --from councillor-a
    """

    def build(builder: TxBuilder) -> None:
        builder.add("governance", "approve_proposal", id=proposal_id)

    with reported():
        receipt = require_ok(send_actions(api, home_path(home), signer, build))
        data = client(api).call("governance", f"proposals/{proposal_id}")
    emit(
        data,
        as_json,
        lambda d: stdout.print(
            f"Proposal {d['id']}: {d['status']}"
            + (f" ({d['result_code']}: {d['result_message']})" if d["status"] == "failed" else "")
            + f" — tx {receipt['tx_id'][:16]}…"
        ),
    )


@proposal_app.command("list")
def list_proposals(
    status: Annotated[str | None, typer.Option(help="open, executed, failed or expired")] = None,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """List proposals, newest first.

    Example: urbis proposal list --status open
    """
    with reported():
        params = {} if status is None else {"status": status}
        rows = client(api).call("governance", "proposals", **params)

    def human(items: list[dict[str, Any]]) -> None:
        if not items:
            stdout.print("No proposals.")
        for p in items:
            action = f"{p['action']['module']}.{p['action']['name']}"
            stdout.print(
                f"#{p['id']:<4} {p['status']:<9} {action:<32} "
                f"{len(p['approvals'])} approvals  {p['title']}"
            )

    emit(rows, as_json, human)


@proposal_app.command("show")
def show(proposal_id: int, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show one proposal.

    Example: urbis proposal show 1
    """
    with reported():
        data = client(api).call("governance", f"proposals/{proposal_id}")
    emit(
        data,
        as_json,
        lambda d: table(
            f"Proposal {d['id']}",
            [
                ("title", d["title"]),
                ("status", d["status"]),
                ("action", f"{d['action']['module']}.{d['action']['name']}"),
                ("args", json.dumps(d["action"]["args"])),
                ("approvals", ", ".join(d["approvals"])),
                ("expires at", d["expires_at_height"]),
                ("result", d["result_code"] or "-"),
            ],
        ),
    )


role_app = typer.Typer(help="Department roles", no_args_is_help=True)
RoleArgument = Annotated[str, typer.Argument(help="Role as department.role, e.g. land.registrar")]
AccountArgument = Annotated[str, typer.Argument(help="Account id or key name")]


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


@role_app.command("grant")
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


@role_app.command("revoke")
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


@role_app.command("list")
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
            stdout.print(f"{item['account']}  (since {item['granted_at_height']})")

    emit(rows, as_json, human)


COMMANDS = [("role", role_app), ("proposal", proposal_app)]
