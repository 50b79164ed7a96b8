"""City capabilities, one folder each, wired in by one line of `MODULES`.

The application takes each folder's `module.py`, the API its `routes.py`
(`router()`), the CLI its `cli.py` (`COMMANDS`, named in `CLI_COMMANDS` so that it is
imported only when used), all in this order.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from urbis.chain.app import Application
from urbis.chain.module import Module
from urbis.state.database import Database
from urbis.state.store import KEEP_VERSIONS_DEFAULT, NODE_CACHE_BYTES_DEFAULT

if TYPE_CHECKING:
    from fastapi import APIRouter

MODULES = (
    "accounts",
    "governance",
    "documents",
    "payments",
    "identity",
    "contracts",
    "petitions",
    "vehicles",
    "voting",
    "data",
)
"""The order is part of consensus: genesis is written and end-of-block hooks run in it.
Accounts come first (every other genesis step names accounts), governance second
(departments and roles that later modules check), then each capability after the
ones it uses: payments before contracts, whose bridges move money."""


def _part(name: str, part: str) -> Any:
    return import_module(f"urbis.modules.{name}.{part}")


def default_modules() -> list[Module]:
    return [_part(name, "module").module for name in MODULES]


def module_routers() -> list[APIRouter]:
    return [_part(name, "routes").router() for name in MODULES]


CLI_COMMANDS = {
    "account": "accounts",
    "role": "governance",
    "proposal": "governance",
    "doc": "documents",
    "pay": "payments",
    "id": "identity",
    "contract": "contracts",
    "petition": "petitions",
    "vehicle": "vehicles",
    "vote": "voting",
    "data": "data",
}
"""`urbis` command -> the module whose cli.py defines it (in its `COMMANDS`). The `urbis`
command imports a module's CLI only when one of its commands runs: importing all ten
took 0.4-0.6 s of every call. tests/test_cli.py holds this table to the cli.py files."""

CLI_DEMOS = {"vehicles": "vehicles", "referendum": "voting", "traffic": "data"}
"""`urbis demo NAME` -> the module whose cli.py offers it (in its `DEMOS`)."""


def module_commands() -> list[tuple[str, Any]]:
    """(command name, Typer app) every module's cli.py declares (imports them all; the
    `urbis` command goes through `CLI_COMMANDS`, which tests hold equal to this)."""
    return [command for name in MODULES for command in _part(name, "cli").COMMANDS]


def module_command(command: str) -> Any:
    """The Typer app of one `urbis` command a module defines (imports that module only)."""
    return dict(_part(CLI_COMMANDS[command], "cli").COMMANDS)[command]


def module_demos() -> list[tuple[str, Any]]:
    """(demo name, Typer command function) of every module that offers `urbis demo NAME`
    (imports them all; `urbis demo` goes through `CLI_DEMOS`).

    A module's cli.py may set `DEMOS = [("vehicles", run_vehicles_demo)]`; the function is
    an ordinary Typer command (its parameters become the demo's options)."""
    return [demo for name in MODULES for demo in getattr(_part(name, "cli"), "DEMOS", [])]


def module_demo(demo: str) -> Any:
    """The command function of one `urbis demo NAME` (imports that module only)."""
    return dict(_part(CLI_DEMOS[demo], "cli").DEMOS)[demo]


def build_application(
    db: Database,
    keep_versions: int = KEEP_VERSIONS_DEFAULT,
    node_cache_bytes: int = NODE_CACHE_BYTES_DEFAULT,
) -> Application:
    from urbis.modules.accounts.keeper import AccountsAuthenticator
    from urbis.modules.governance.keeper import GovernanceRoles

    return Application(
        db,
        default_modules(),
        authenticator=AccountsAuthenticator(),
        roles=GovernanceRoles(),
        keep_versions=keep_versions,
        node_cache_bytes=node_cache_bytes,
    )
