"""`urbis testnet`: a real BFT network of department validators on this machine."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from urbis.chain.errors import UrbisError
from urbis.cli.common import JsonOption, emit, fail, stdout
from urbis.node.home import HomeError

app = typer.Typer(
    help="A local CometBFT network, one validator per department", no_args_is_help=True
)
DirOption = Annotated[Path, typer.Option("--dir", help="Folder of the network")]
DEFAULT_DIR = Path("./testnet")
NodeArgument = Annotated[str, typer.Argument(help="Node name (its department) or index")]


def _load(folder: Path) -> Any:
    from urbis.node.testnet import Testnet

    try:
        return Testnet.load(folder)
    except HomeError as error:
        fail("testnet.missing", str(error))


def _show(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        state = "down" if row["pid"] is None else f"pid {row['pid']}"
        if row.get("foreign"):
            stdout.print(f"[bold]{row['name']:<10}[/] {state:<10} [red]{escape(row['foreign'])}[/]")
            continue
        height = "-" if row["height"] is None else row["height"]
        app_hash = (row["app_hash"] or "-")[:16]
        stdout.print(
            f"[bold]{row['name']:<10}[/] {state:<10} height {height!s:<6} "
            f"app {app_hash:<16} peers {row['peers'] if row['peers'] is not None else '-'}"
            f"  {row['api']}"
        )


@app.command("create")
def create(
    validators: Annotated[int, typer.Option(help="Number of validators (departments)")] = 4,
    folder: DirOption = DEFAULT_DIR,
    chain_id: Annotated[str, typer.Option(help="Chain id")] = "urbis-testnet",
    base_port: Annotated[int, typer.Option(help="First CometBFT port (p2p, rpc, abci)")] = 26600,
    api_port: Annotated[int, typer.Option(help="API port of the first node")] = 8080,
    hosts: Annotated[
        str | None,
        typer.Option(help="Comma-separated host of each validator, for a network across machines"),
    ] = None,
    timeout_commit: Annotated[str, typer.Option(help="CometBFT timeout_commit")] = "500ms",
) -> None:
    """Create the node homes of a network without starting it.

    With --hosts, each node listens on all interfaces and dials its peers at
    those hosts: copy DIR/<department> to that machine and run
    `urbis node --home <department>` there.

    Example: urbis testnet create --validators 2 --dir ./net --hosts land.example,fin.example
    """
    from urbis.consensus.cometbft.network import CometBFTMissing
    from urbis.node.testnet import create as create_testnet

    host_list = None if hosts is None else [h.strip() for h in hosts.split(",") if h.strip()]
    try:
        testnet = create_testnet(
            folder.resolve(), validators, chain_id, base_port, api_port, host_list, timeout_commit
        )
    except (HomeError, CometBFTMissing) as error:
        fail("testnet.create_failed", str(error))
    stdout.print(
        f"Created {len(testnet.nodes)} validators in {folder}: "
        + ", ".join(n.name for n in testnet.nodes)
    )


@app.command("up")
def up(
    validators: Annotated[int, typer.Option(help="Number of validators (departments)")] = 4,
    folder: DirOption = DEFAULT_DIR,
    base_port: Annotated[int, typer.Option(help="First CometBFT port")] = 26600,
    api_port: Annotated[int, typer.Option(help="API port of the first node")] = 8080,
    as_json: JsonOption = False,
) -> None:
    """Create (on first use) and start a network of department validators.

    Every port the nodes will bind is checked first; a taken one stops
    everything with `testnet.port_in_use` naming the node and the port.

    Example: urbis testnet up --validators 4 --dir ./net
    """
    from urbis.consensus.cometbft.network import CometBFTMissing
    from urbis.node import testnet as net

    try:
        if not (folder / "testnet.json").exists():
            net.create(folder.resolve(), validators, base_port=base_port, api_port=api_port)
        testnet = net.Testnet.load(folder.resolve())
        stopped = [node for node in testnet.nodes if net.pid_of(node) is None]
        net.check_ports(stopped)
        for node in stopped:
            net.start(node)
        net.wait_ready(testnet.nodes)
    except UrbisError as error:
        fail(error.code, error.message)
    except (HomeError, CometBFTMissing) as error:
        fail("testnet.start_failed", str(error))
    rows = [net.status(n) for n in testnet.nodes]
    foreign = [row["foreign"] for row in rows if row["foreign"]]
    if foreign:
        fail("testnet.foreign_process", "; ".join(foreign))
    emit(rows, as_json, _show)
    if not as_json:
        first = testnet.nodes[0]
        stdout.print(f"Use it: export URBIS_HOME={first.home} URBIS_API={first.api_url}")


@app.command("status")
def status(folder: DirOption = DEFAULT_DIR, as_json: JsonOption = False) -> None:
    """Height, app hash and peers of every node.

    A node's row is shown only from a process that proves to be that node
    (chain id, validator key, CometBFT node id); anything else on its API port
    is reported as "foreign process on port N".

    Example: urbis testnet status --dir ./net
    """
    from urbis.node import testnet as net

    testnet = _load(folder.resolve())
    emit([net.status(n) for n in testnet.nodes], as_json, _show)


@app.command("stop")
def stop(folder: DirOption = DEFAULT_DIR) -> None:
    """Stop every node cleanly (SIGTERM).

    Example: urbis testnet stop --dir ./net
    """
    from urbis.node import testnet as net

    testnet = _load(folder.resolve())
    for node in testnet.nodes:
        if net.signal_node(node, signal.SIGTERM):
            stdout.print(f"stopped {node.name}")


@app.command("kill")
def kill(node: NodeArgument, folder: DirOption = DEFAULT_DIR) -> None:
    """Kill one node hard (SIGKILL to its node and cometbft processes), as a crash would.

    Example: urbis testnet kill finance --dir ./net
    """
    from urbis.node import testnet as net

    testnet = _load(folder.resolve())
    try:
        target = testnet.node(node)
    except HomeError as error:
        fail("testnet.no_node", str(error), 2)
    if not net.signal_node(target, signal.SIGKILL):
        fail("testnet.not_running", f"{target.name} is not running")
    stdout.print(f"killed {target.name}")


@app.command("restart")
def restart(node: NodeArgument, folder: DirOption = DEFAULT_DIR) -> None:
    """Start a node again (stopping it first if it runs); it catches up from its peers.

    Example: urbis testnet restart finance --dir ./net
    """
    from urbis.node import testnet as net

    testnet = _load(folder.resolve())
    try:
        target = testnet.node(node)
    except HomeError as error:
        fail("testnet.no_node", str(error), 2)
    net.signal_node(target, signal.SIGTERM)
    try:
        net.start(target)
    except UrbisError as error:
        fail(error.code, error.message)
    stdout.print(f"restarted {target.name}")
