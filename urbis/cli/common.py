"""What every CLI command shares: where the node and keys are, output, errors, signing."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table

from urbis.chain.genesis import Genesis, GenesisError
from urbis.chain.ids import AccountId
from urbis.crypto.jsonshape import nests_deeper_than
from urbis.crypto.keys import PrivateKey
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder
from urbis.sdk.client import ApiError, Client, default_api
from urbis.sdk.keystore import KeyStore, KeyStoreError
from urbis.sdk.verify import ProofError

DEFAULT_HOME = Path("~/.urbis")
"""Where the node and its keys live unless --home or URBIS_HOME says otherwise."""

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

ApiOption = Annotated[
    str | None,
    typer.Option("--api", envvar="URBIS_API", help="Node API URL [default: http://127.0.0.1:8080]"),
]
HomeOption = Annotated[
    Path,
    typer.Option("--home", envvar="URBIS_HOME", help="Node home and key folder", show_default=True),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]
FromOption = Annotated[
    str, typer.Option("--from", help="Name of the signing key in the home's key store")
]

T = TypeVar("T")

INPUT_BYTES_MAX = 16 * 1024 * 1024
"""Files the CLI reads whole (manifests, presentations, sources, bundles): far above any
real one, low enough that a mistaken path to a disk image fails at once."""
JSON_DEPTH_MAX = 64
"""Nesting deeper than any Urbis file; deeper input is refused before the parser recurses."""


def home_path(home: Path | None) -> Path:
    if home is not None:
        return home.expanduser()
    return Path(os.environ.get("URBIS_HOME") or DEFAULT_HOME).expanduser()


def fail(code: str, message: str, exit_code: int = 1) -> NoReturn:
    """A rejected action prints `code: message` on stderr and exits 1 (misuse: 2)."""
    stderr.print(f"[bold red]{code}[/]: {message}", highlight=False)
    raise typer.Exit(exit_code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn the SDK's exceptions into `code: message` and an exit status, never a traceback."""
    try:
        yield
    except ApiError as error:
        fail(error.code, error.detail)
    except KeyStoreError as error:
        fail(error.code, str(error))
    except ProofError as error:
        fail("proof.invalid", str(error))
    except GenesisError as error:
        fail("genesis.invalid", str(error))
    except OSError as error:
        fail("io.error", _os_message(error))


def _os_message(error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror or error}{where}"


def guarded(command: Callable[..., T]) -> Callable[..., T]:
    """Run a whole command under `reported()`: what the SDK and the OS raise becomes a code.

    Only expected kinds are translated (the node's answers, key files, the disk); a bug
    elsewhere still reaches `run()` as `internal:` so it is noticed, not hidden.
    """

    @functools.wraps(command)
    def run_reported(*args: Any, **kwargs: Any) -> T:
        with reported():
            return command(*args, **kwargs)
        raise AssertionError("reported() exits on every error")  # pragma: no cover

    return run_reported


def guard_all(app: typer.Typer) -> None:
    """Wrap every command of `app` and its sub-apps with `guarded` (before Click sees them)."""
    for info in app.registered_commands:
        if info.callback is not None and not hasattr(info.callback, "__wrapped__"):
            info.callback = guarded(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_all(group.typer_instance)


def client(api: str | None) -> Client:
    """The node's client; a URL that cannot be one is misuse (exit 2), not a crash."""
    url = api or default_api()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        fail("cli.bad_api_url", f"{url!r} is not a URL: {error}", 2)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        fail("cli.bad_api_url", f"{url!r} is not an http(s) URL with a host", 2)
    return Client(url)


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        human(data)


def table(title: str, rows: list[tuple[str, Any]]) -> None:
    grid = Table(title=title, show_header=False, title_justify="left")
    grid.add_column(style="bold cyan")
    grid.add_column(overflow="fold")
    for name, value in rows:
        grid.add_row(name, "" if value is None else str(value))
    stdout.print(grid)


PIPE_WIDTH = 200
"""Width of tables written to a file or pipe: wide enough that ids are never folded."""


def print_grid(grid: Table) -> None:
    """A table on a terminal fits the terminal; into a pipe it keeps each row on one line."""
    stdout.print(grid, width=None if stdout.is_terminal else PIPE_WIDTH)


def passphrase_for(keystore: KeyStore, name: str) -> PrivateKey:
    """URBIS_PASSPHRASE, then the empty passphrase (dev keys), else ask on a terminal.

    Both are tried so one shell can sign with its own keys and a dev city's keys.
    """
    candidates = [os.environ.get("URBIS_PASSPHRASE", "")]
    if candidates[0]:
        candidates.append("")
    for passphrase in candidates:
        try:
            return keystore.load(name, passphrase)
        except KeyStoreError as error:
            if error.code != "keystore.wrong_passphrase":
                raise
    if sys.stdin.isatty():
        return keystore.load(name, typer.prompt(f"Passphrase for {name}", hide_input=True))
    raise KeyStoreError(
        f"wrong passphrase for key {name!r} (set URBIS_PASSPHRASE)", "keystore.wrong_passphrase"
    )


def send_actions(
    api: str | None,
    home: Path,
    signer_name: str,
    build: Callable[[TxBuilder], None],
    memo: str = "",
) -> dict[str, Any]:
    """Sign the actions `build` adds with the named key, submit, wait for the receipt."""
    keystore = KeyStore(home / "keys")
    key = passphrase_for(keystore, signer_name)
    sender = keystore.info(signer_name).account
    node = client(api)
    status = node.status()
    builder = TxBuilder(status["chain_id"], sender).with_memo(memo)
    build(builder)
    nonce = node.next_nonce(sender.text)
    tx = builder.sign([key], nonce, status["height"] + EXPIRY_BLOCKS_DEFAULT)
    answer: dict[str, Any] = node.submit(tx, wait=True)
    return answer


def act(
    module: str,
    action_name: str,
    home: Path,
    api: str | None,
    signer: str,
    as_json: bool,
    /,
    **args: Any,
) -> dict[str, Any]:
    """Send one action signed by `signer`, wait for it, print its events (or the receipt)."""

    def build(builder: TxBuilder) -> None:
        builder.add(module, action_name, **args)

    with reported():
        receipt = require_ok(send_actions(api, home, signer, build))
    if as_json:
        emit(receipt, True, lambda _: None)
    else:
        for event in receipt["events"]:
            attrs = ", ".join(f"{k}={v}" for k, v in event["attrs"].items())
            stdout.print(f"[bold]{event['type']}[/] {attrs}", highlight=False)
    return receipt


def require_ok(answer: dict[str, Any]) -> dict[str, Any]:
    """Exit 1 with the receipt's code when the committed transaction failed."""
    receipt = answer.get("receipt")
    if receipt is None:
        fail(
            "tx.pending",
            f"transaction {answer['tx_id']} is not committed yet; "
            f"check later with `urbis tx show {answer['tx_id']}`",
        )
    if not receipt["ok"]:
        fail(receipt["code"], receipt["message"])
    return receipt


def trusted_validators(home: Path, api: str | None) -> tuple[dict[bytes, int], str, bool]:
    """Validators {key: power} to check headers against: the home's genesis, else the node's."""
    genesis_path = home / "genesis.json"
    if genesis_path.exists():
        genesis = Genesis.load(genesis_path)
        return {v.key: v.power for v in genesis.validators}, genesis.chain_id, True
    data = client(api).call("genesis")
    validators = {bytes.fromhex(v["key"]): int(v["power"]) for v in data["validators"]}
    return validators, data["chain_id"], False


def parse_account(text: str) -> AccountId:
    try:
        return AccountId.parse(text)
    except ValueError as error:
        fail("cli.bad_account", str(error), 2)


def account_or_key(text: str, home: Path) -> AccountId:
    """An account id, or the name of a key in the key store (its account)."""
    if text.startswith(("urbis1", "did:urbis:")):
        return parse_account(text)
    try:
        return KeyStore(home / "keys").info(text).account
    except KeyStoreError:
        fail("cli.bad_account", f"{text!r} is neither an account id nor a key name", 2)


def read_bytes(path: Path, what: str, limit: int = INPUT_BYTES_MAX) -> bytes:
    """A file the user named, whole; each way it can be unusable has its own code (exit 2)."""
    try:
        if path.is_dir():
            fail("cli.not_a_file", f"{what} {path} is a directory", 2)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        fail("cli.no_file", f"{what} {path} does not exist", 2)
    except OSError as error:
        fail("io.error", f"cannot read {what} {path}: {_os_message(error)}")
    if len(data) > limit:
        fail("cli.file_too_large", f"{what} {path} is larger than {limit} bytes", 2)
    return data


def read_text(path: Path, what: str, limit: int = INPUT_BYTES_MAX) -> str:
    try:
        return read_bytes(path, what, limit).decode("utf-8")
    except UnicodeDecodeError as error:
        fail("cli.not_utf8", f"{what} {path} is not UTF-8 text (byte {error.start})", 2)


def parse_json(text: str, what: str) -> Any:
    """JSON from the user, refused (exit 2) when malformed or nested beyond JSON_DEPTH_MAX."""
    if nests_deeper_than(text, JSON_DEPTH_MAX):
        fail("cli.bad_json", f"{what} nests deeper than {JSON_DEPTH_MAX} levels", 2)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        fail("cli.bad_json", f"{what} is not JSON: {error}", 2)


def read_json(path: Path, what: str, limit: int = INPUT_BYTES_MAX) -> Any:
    return parse_json(read_text(path, what, limit), what)
