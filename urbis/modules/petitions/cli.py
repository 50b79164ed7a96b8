"""`urbis petition`: open a petition to a department, sign it, show its count."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    act,
    client,
    emit,
    fail,
    home_path,
    read_bytes,
    reported,
    table,
)
from urbis.sdk.client import Request

app = typer.Typer(help="Petitions to departments", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(help="Petition id: 8 to 32 bytes as hex, or text")]


def _petition_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = text.encode()
    if not 8 <= len(raw) <= 32:
        fail("cli.bad_id", f"a petition id is 8 to 32 bytes; {text!r} is {len(raw)}", 2)
    return raw


@app.command("open")
def open_petition(
    petition: IdArgument,
    text: Annotated[Path, typer.Option("--text", help="The petition's full text (kept off chain)")],
    department: Annotated[str, typer.Option("--department", help="Who it asks")],
    title: Annotated[str, typer.Option("--title", help="One line, public")],
    signer: FromOption,
    open_blocks: Annotated[int, typer.Option(help="How many blocks it stays open")] = 100_000,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open a petition; its text is named on chain by its SHA-256 only.

    Example: urbis petition open bike-lanes-2027 --text petition.md --department transport
    --title "Protected bike lanes on Main St" --from alice
    """
    digest = hashlib.sha256(read_bytes(text, "petition text")).digest()
    act(
        "petitions",
        "open",
        home_path(home),
        api,
        signer,
        as_json,
        id=_petition_id(petition),
        department=department,
        title=title,
        text_hash=digest,
        open_blocks=open_blocks,
    )


@app.command("sign")
def sign(
    petition: IdArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a petition (once per account, while it is open).

    Example: urbis petition sign bike-lanes-2027 --from bob
    """
    act("petitions", "sign", home_path(home), api, signer, as_json, id=_petition_id(petition))


@app.command("show")
def show(petition: IdArgument, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show a petition and how many have signed it.

    Example: urbis petition show bike-lanes-2027
    """
    petition_id = _petition_id(petition)
    with reported():
        answer = client(api).send(Request("GET", f"/v1/petitions/{petition_id.hex()}"))
    record: dict[str, Any] = answer["record"]

    def human(_: Any) -> None:
        table(
            "Petition",
            [
                ("id", record["id"]),
                ("title", record["title"]),
                ("department", record["department"]),
                ("signatures", record["signatures"]),
                ("opened by", record["opened_by"]),
                ("open until block", record["closes_at_height"]),
            ],
        )

    emit(record, as_json, human)


COMMANDS = [("petition", app)]
