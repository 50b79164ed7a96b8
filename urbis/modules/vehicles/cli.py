"""`urbis vehicle`: register, sell, inspect, recall, export and prove a vehicle's history."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Vehicles: registration, sales, liens, inspections, recalls", no_args_is_help=True
)

COMMANDS = [("vehicle", app)]
