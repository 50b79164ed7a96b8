"""What every CLI command shares: where the node and keys are, output, errors, signing."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from urbis.chain.genesis import Genesis, GenesisError
from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder
from urbis.sdk.client import ApiError, Client, default_api
from urbis.sdk.verify import ProofError
from urbis.sdk.wallet import Wallet, WalletError

DEFAULT_HOME = "~/.urbis"

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
    str, typer.Option("--from", help="Name of the signing key in the home's wallet")
]

T = TypeVar("T")


def home_path(home: Path | None) -> Path:
    return Path(home or os.environ.get("URBIS_HOME", DEFAULT_HOME)).expanduser()


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
    except WalletError as error:
        fail("wallet.error", str(error))
    except ProofError as error:
        fail("proof.invalid", str(error))
    except GenesisError as error:
        fail("genesis.invalid", str(error))
    except OSError as error:
        fail("io.error", str(error))


def client(api: str | None) -> Client:
    return Client(api or default_api())


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


def passphrase_for(wallet: Wallet, name: str) -> PrivateKey:
    """URBIS_PASSPHRASE, else the empty passphrase (dev keys), else ask on a terminal."""
    candidates = []
    if "URBIS_PASSPHRASE" in os.environ:
        candidates.append(os.environ["URBIS_PASSPHRASE"])
    else:
        candidates.append("")
    for passphrase in candidates:
        try:
            return wallet.load(name, passphrase)
        except WalletError as error:
            if "wrong passphrase" not in str(error):
                raise
    if sys.stdin.isatty():
        return wallet.load(name, typer.prompt(f"Passphrase for {name}", hide_input=True))
    raise WalletError(f"wrong passphrase for key {name!r} (set URBIS_PASSPHRASE)")


def send_actions(
    api: str | None,
    home: Path,
    signer_name: str,
    build: Callable[[TxBuilder], None],
    memo: str = "",
) -> dict[str, Any]:
    """Sign the actions `build` adds with the named key, submit, wait for the receipt."""
    wallet = Wallet(home / "keys")
    key = passphrase_for(wallet, signer_name)
    sender = wallet.info(signer_name).account
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
    """An account id, or the name of a key in the wallet (its account)."""
    if text.startswith(("urbis1", "did:urbis:")):
        return parse_account(text)
    try:
        return Wallet(home / "keys").info(text).account
    except WalletError:
        fail("cli.bad_account", f"{text!r} is neither an account id nor a key name", 2)
