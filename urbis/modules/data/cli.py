"""`urbis data`: streams, records, grants, access log, datasets."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Data streams shared between departments, and open datasets", no_args_is_help=True
)

COMMANDS = [("data", app)]
