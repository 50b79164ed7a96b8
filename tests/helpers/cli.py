"""The `urbis` command tree, walked for the help and fuzz tests."""

from __future__ import annotations

from typing import Any

import typer
from typer.main import get_command

from urbis.cli.main import app


def cli_leaves() -> list[tuple[tuple[str, ...], Any]]:
    """(path, command) of every leaf command, in name order. Typer vendors Click, so the
    walk goes by shape, and through Click's API: module groups load lazily."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            context = typer.Context(command)
            for name in sorted(command.list_commands(context)):
                walk(command.get_command(context, name), (*prefix, name))
        else:
            found.append((prefix, command))

    walk(get_command(app), ())
    return found
