"""`urbis vote`: elections from the commission's, a guardian's and a resident's side."""

from __future__ import annotations

import typer

app = typer.Typer(help="Elections: ElectionGuard 2.1 on the ledger", no_args_is_help=True)

COMMANDS = [("vote", app)]
