"""The `urbis` command: run a city chain, and use it from a terminal."""

from __future__ import annotations

import json
import logging
import signal
import socket
from pathlib import Path
from typing import Annotated, Any, cast

import typer
import typer.main
from typer.core import TyperGroup

import urbis
from urbis.cli import keys as keys_cli
from urbis.cli import testnet as testnet_cli
from urbis.cli import wallet as wallet_cli
from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    HomeOption,
    JsonOption,
    client,
    emit,
    fail,
    guard_all,
    home_path,
    read_text,
    reported,
    stdout,
    table,
    trusted_validators,
)
from urbis.cli.money import moment
from urbis.modules import CLI_COMMANDS, CLI_DEMOS, module_command, module_demo
from urbis.sdk.verify import verify_state_proof


class _ModuleCommands(TyperGroup):
    """`urbis`'s own commands, and each module's built from its cli.py only when asked
    for (`CLI_COMMANDS`): one command imports one module's CLI, not all ten. Listing,
    as `--help` does, and a name that is no command (for "Did you mean") build them all."""

    lazy: dict[str, str] = CLI_COMMANDS

    # Typer vendors Click: its Context and Command types are Typer's own, hence Any.
    def load(self, name: str) -> Any:
        return _built(name, module_command(name))

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.commands[cmd_name] = self.load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] not in self.lazy:
            for name in self.list_commands(ctx):
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


class _ModuleDemos(_ModuleCommands):
    """`urbis demo NAME`, each demo built from its module's cli.py when asked for."""

    lazy = CLI_DEMOS

    def load(self, name: str) -> Any:
        holder = _holder()
        holder.command(name)(module_demo(name))
        guard_all(holder)
        return typer.main.get_command(holder)


def _holder() -> typer.Typer:
    """A throwaway app to build one lazily loaded command with the root's settings."""
    return typer.Typer(rich_markup_mode="rich", pretty_exceptions_enable=False)


def _built(name: str, module_app: typer.Typer) -> Any:
    """A module's Typer app as the group `urbis NAME`, built as `add_typer` builds it."""
    guard_all(module_app)
    holder = _holder()
    holder.add_typer(module_app, name=name)
    return cast(TyperGroup, typer.main.get_command(holder)).commands[name]


app = typer.Typer(
    name="urbis",
    help="Urbis: a city's permissioned, publicly readable blockchain.\n\n"
    "Start a dev city with `urbis up`, then use the other commands against it.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=_ModuleCommands,
)
app.add_typer(keys_cli.app, name="keys")
app.add_typer(testnet_cli.app, name="testnet")
app.add_typer(wallet_cli.app, name="wallet")
demo_app = typer.Typer(
    help="Guided demos of the city's capabilities, run against a node.\n\n"
    "Example: `urbis demo vehicles` (each module that offers one adds it here).",
    no_args_is_help=True,
    cls=_ModuleDemos,
)
app.add_typer(demo_app, name="demo")


def _version(value: bool) -> None:
    if value:
        stdout.print(f"urbis {urbis.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """Urbis command line."""


@app.command()
def up(
    home: HomeOption = DEFAULT_HOME,
    port: Annotated[int | None, typer.Option(help="API port [default: 8080]")] = None,
    host: Annotated[str | None, typer.Option(help="API address [default: 127.0.0.1]")] = None,
    chain_id: Annotated[str, typer.Option(help="Chain id of a new dev city")] = "urbis-dev",
    block_interval_ms: Annotated[int | None, typer.Option(help="Block interval")] = None,
    empty_blocks: Annotated[
        bool | None, typer.Option("--empty-blocks/--no-empty-blocks", help="Make empty blocks")
    ] = None,
) -> None:
    """Start a single-node city chain with its API; found a dev city on first run.

    The first run creates HOME with a genesis of five departments (land,
    finance, registry, transport, utilities), a 2-of-3 council (mayor,
    councillor-a, councillor-b) and their keys (empty passphrase: dev only).

    Example: urbis up --home ./city --port 8080
    """
    from urbis.node.home import Home, NodeConfig, create_dev_city

    target = Home(home_path(home))
    created = False
    if not target.is_initialized():
        try:
            create_dev_city(target, chain_id=chain_id, config=NodeConfig())
        except Exception as error:
            fail("node.init_failed", str(error))
        created = True
    _run_node(target, port, host, block_interval_ms, empty_blocks, created)


@app.command()
def node(
    home: HomeOption = DEFAULT_HOME,
    port: Annotated[int | None, typer.Option(help="API port (overrides config.toml)")] = None,
    host: Annotated[str | None, typer.Option(help="API address (overrides config.toml)")] = None,
    consensus: Annotated[
        str | None, typer.Option(help="solo or cometbft (overrides config.toml)")
    ] = None,
) -> None:
    """Run the node of an initialised home (no dev city is created).

    With cometbft, this process serves ABCI and runs the home's cometbft/ node.

    Example: urbis node --home /srv/urbis --consensus cometbft
    """
    from urbis.node.home import Home

    if consensus not in (None, "solo", "cometbft"):
        fail("cli.bad_consensus", f"consensus must be solo or cometbft, not {consensus!r}", 2)
    target = Home(home_path(home))
    if not target.is_initialized():
        fail("node.no_home", f"{target.path} holds no node; run `urbis init` first")
    _run_node(target, port, host, None, None, False, consensus)


@app.command()
def init(
    config: Annotated[Path, typer.Option("--config", help="city.toml describing the city")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Found a city from a city.toml: genesis, validator key, config, generated keys.

    Keys marked `generate = true` are encrypted with URBIS_PASSPHRASE (or a prompt).

    Example: urbis init --home /srv/urbis --config city.toml
    """
    import os
    import sys

    from urbis.node.home import Home, HomeError, init_from_city_file

    passphrase = os.environ.get("URBIS_PASSPHRASE")
    if passphrase is None:
        if not sys.stdin.isatty():
            fail("cli.passphrase_needed", "set URBIS_PASSPHRASE to encrypt generated keys", 2)
        passphrase = typer.prompt(
            "Passphrase for generated keys", hide_input=True, confirmation_prompt=True
        )
    read_text(config, "city file")  # missing, a folder, not text: a coded refusal first
    target = Home(home_path(home))
    try:
        genesis = init_from_city_file(target, config, passphrase)
    except HomeError as error:
        fail("node.init_failed", str(error))
    stdout.print(f"Founded [bold]{genesis.name}[/] ({genesis.chain_id}) in {target.path}")
    stdout.print(f"Start it with: urbis node --home {target.path}")


def _run_node(
    home: Any,
    port: int | None,
    host: str | None,
    block_interval_ms: int | None,
    empty_blocks: bool | None,
    created: bool,
    consensus: str | None = None,
) -> None:
    import uvicorn

    from urbis.api.server import create_api
    from urbis.chain.collector import settle_for_serving
    from urbis.node.home import HomeError
    from urbis.node.runner import Node
    from urbis.state.errors import IncompatibleStore, StoreCorrupt

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = home.load_config()
        if port is not None:
            config.api_port = port
        if host is not None:
            config.api_host = host
        if block_interval_ms is not None:
            config.block_interval_ms = block_interval_ms
        if empty_blocks is not None:
            config.empty_blocks = empty_blocks
        if consensus is not None:
            config.consensus = consensus
        _check_port_free(config.api_host, config.api_port)
        running = Node(home, config)
    except HomeError as error:
        fail("node.bad_home", str(error))
    except (StoreCorrupt, IncompatibleStore) as error:
        fail(error.code, str(error))
    url = f"http://{config.api_host}:{config.api_port}"
    info = running.app.info()
    stdout.print(
        f"[bold green]Urbis[/] {running.genesis.name} ({info.chain_id})"
        f"{' — new dev city' if created else ''}"
    )
    rows = [
        ("home", home.path),
        ("api", url),
        ("docs", f"{url}/docs"),
        ("keys", home.path / "keys"),
        ("data", home.db_path),
        ("height", info.height),
    ]
    table("Node", rows)
    if created:
        stdout.print(
            "Dev keys (empty passphrase): " + ", ".join(k.name for k in home.keystore.list())
        )
    stdout.print(
        f"Use it from another terminal:\n  export URBIS_HOME={home.path} "
        f"URBIS_API={url}\n  urbis status"
    )
    running.start()
    api = create_api(running)
    settle_for_serving()
    server = uvicorn.Server(
        uvicorn.Config(
            api,
            host=config.api_host,
            port=config.api_port,
            log_level="warning",
            # SIGTERM ends the process within a few seconds even while `?wait=commit`
            # requests are held: they are cancelled after this grace period
            timeout_graceful_shutdown=3,
            # clients send nothing on /v1/events; a large frame from one is abuse
            ws_max_size=64 * 1024,
        )
    )
    # uvicorn re-raises SIGTERM/SIGINT after its own shutdown; with the default handler
    # that would kill the process before the node stops (its block, its database).
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, _exit_on_signal)
    try:
        server.run()
    finally:
        # A second signal must not cut the node's own stop short.
        for handled in (signal.SIGINT, signal.SIGTERM):
            signal.signal(handled, signal.SIG_IGN)
        running.stop()
        stdout.print(f"Node stopped at height {running.app.info().height}")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            fail(
                "node.port_in_use",
                f"cannot listen on {host}:{port}: {error.strerror}; choose another with --port",
            )


@app.command()
def status(api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show the chain: id, height, app hash, validators, mempool.

    Example: urbis status --json
    """
    with reported():
        data = client(api).status()

    def human(d: dict[str, Any]) -> None:
        table(
            f"{d['name']} ({d['chain_id']})",
            [
                ("height", d["height"]),
                ("app hash", d["app_hash"]),
                ("consensus", d["consensus"]),
                ("validators", len(d["validators"])),
                ("mempool", d["mempool_txs"]),
                ("state keys", d["state_keys"]),
                ("halted", d["halted"] or "no"),
                ("version", d["version"]),
            ],
        )

    emit(data, as_json, human)


tx_app = typer.Typer(help="Transactions", no_args_is_help=True)
block_app = typer.Typer(help="Blocks", no_args_is_help=True)
state_app = typer.Typer(help="Raw state with proofs", no_args_is_help=True)
app.add_typer(tx_app, name="tx")
app.add_typer(block_app, name="block")
app.add_typer(state_app, name="state")


@tx_app.command("show")
def tx_show(tx_id: str, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show a committed transaction and its receipt.

    Example: urbis tx show 3f9a…
    """
    with reported():
        data = client(api).call("tx", tx_id)

    def human(d: dict[str, Any]) -> None:
        tx, receipt = d["tx"], d["receipt"]
        table(
            f"Transaction {tx['id']}",
            [
                ("sender", tx["sender"]),
                ("nonce", tx["nonce"]),
                ("height", receipt["height"]),
                ("result", "ok" if receipt["ok"] else f"{receipt['code']}: {receipt['message']}"),
                ("actions", ", ".join(f"{a['module']}.{a['name']}" for a in tx["actions"])),
                ("events", ", ".join(e["type"] for e in receipt["events"]) or "-"),
                ("memo", tx["memo"] or "-"),
            ],
        )

    emit(data, as_json, human)


@block_app.command("show")
def block_show(
    height: Annotated[str, typer.Argument(help="Height or 'latest'")] = "latest",
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a block's signed header and its transactions' results.

    Example: urbis block show 42
    """
    if height != "latest" and not height.isdigit():
        fail("cli.bad_height", "height must be a number or 'latest'", 2)
    with reported():
        data = client(api).call("block", height)

    def human(d: dict[str, Any]) -> None:
        h = d["header"]
        table(
            f"Block {h['height']}",
            [
                ("hash", h["hash"]),
                ("time", moment(h["time_ms"])),
                ("app hash", h["app_hash"]),
                ("txs root", h["txs_root"]),
                ("results root", h["results_root"]),
                ("proposer", h["proposer"]),
                ("txs", len(d["txs"])),
                ("failed", sum(1 for t in d["txs"] if not t["ok"])),
            ],
        )

    emit(data, as_json, human)


@state_app.command("get")
def state_get(
    key: Annotated[str, typer.Argument(help="State key, e.g. documents/doc/0x<sha256>")],
    height: Annotated[int | None, typer.Option(help="Height to read at")] = None,
    prove: Annotated[bool, typer.Option("--prove", help="Verify a proof client-side")] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read one state key; with --prove, check its proof against a signed header.

    Example: urbis state get governance/council --prove
    """
    with reported():
        data = client(api).call("state", key, height, prove)
        if prove:
            validators, chain_id, pinned = trusted_validators(home_path(home), api)
            verified = verify_state_proof(data, validators, chain_id=chain_id)
            data["verified"] = {
                "height": verified.height,
                "pinned_genesis": pinned,
                "present": verified.value is not None,
            }

    def human(d: dict[str, Any]) -> None:
        rows = [
            ("key", d["key"]),
            ("height", d["height"]),
            ("value", json.dumps(d["decoded"]) if d["decoded"] is not None else d["value"]),
        ]
        if "verified" in d:
            rows.append(
                (
                    "proof",
                    "verified against header signed by a known validator"
                    + (
                        ""
                        if d["verified"]["pinned_genesis"]
                        else " (validator keys taken from the node: no local genesis)"
                    ),
                )
            )
        table("State", rows)

    emit(data, as_json, human)


guard_all(app)  # last: every command above and in the sub-apps is registered by now


def run() -> None:
    """Console entry point: an unexpected error is one line, not a traceback."""
    import os
    import sys

    try:
        app()
    except Exception as error:
        if os.environ.get("URBIS_DEBUG"):
            raise
        sys.stderr.write(
            f"internal: {type(error).__name__}: {error} (set URBIS_DEBUG=1 to see where)\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    run()
