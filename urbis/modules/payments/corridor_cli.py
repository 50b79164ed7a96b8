"""`urbis pay corridor`: a swap of Urbis money against an ERC-20 token on an Ethereum chain.

Each command is one party's step (urbis/modules/payments/corridor.py does the work; the
README's "Cross-border corridor" section gives the protocol). Ethereum keys never go on
the command line: URBIS_ETH_KEY holds one as hex, or --eth-key-file names a file with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.chain.errors import UrbisError
from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    HomeOption,
    JsonOption,
    account_or_key,
    client,
    emit,
    fail,
    home_path,
    passphrase_for,
    read_text,
    stdout,
    table,
)
from urbis.cli.money import Assets, moment, money
from urbis.modules.payments import corridor
from urbis.modules.payments.corridor import EthereumLeg, LegLock, Terms, UrbisLeg
from urbis.sdk.keystore import KeyStore

corridor_app = typer.Typer(
    help="Cross-border corridor: swap Urbis money for an ERC-20 token on an Ethereum chain",
    no_args_is_help=True,
)

EthRpc = Annotated[
    str,
    typer.Option("--eth-rpc", envvar="URBIS_ETH_RPC", help="Ethereum node JSON-RPC URL"),
]
HtlcAddress = Annotated[
    str,
    typer.Option("--htlc", envvar="URBIS_CORRIDOR_HTLC", help="HashTimeLock contract address"),
]
MaybeEthRpc = Annotated[
    str | None,
    typer.Option("--eth-rpc", envvar="URBIS_ETH_RPC", help="Ethereum node JSON-RPC URL"),
]
MaybeHtlcAddress = Annotated[
    str | None,
    typer.Option("--htlc", envvar="URBIS_CORRIDOR_HTLC", help="HashTimeLock contract address"),
]
EthKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--eth-key-file", help="File holding the Ethereum private key (hex); else URBIS_ETH_KEY"
    ),
]
SwapId = Annotated[str, typer.Argument(help="The swap id (64 hex digits), the same on both chains")]
Hashlock = Annotated[str, typer.Option("--hashlock", help="SHA-256 of the secret, hex")]
Timeout = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        help="How long the lock lives: 90s, 30m, 2h, 1d [default: 4h; with --answering, "
        "until a --margin before the other lock]",
    ),
]
Margin = Annotated[
    str,
    typer.Option(
        "--margin", help="How much earlier the second leg closes than the first (e.g. 1h)"
    ),
]
Answering = Annotated[
    bool,
    typer.Option(
        "--answering",
        help="Second leg: check the other chain's lock (same id) first, close a margin earlier",
    ),
]
Leg = Annotated[str, typer.Option("--on", help="Which leg: urbis or ethereum")]
Confirmations = Annotated[
    int,
    typer.Option(
        "--confirmations",
        min=0,
        help="Blocks that must follow the Ethereum lock before it is trusted (0: a dev node)",
    ),
]
SignerOption = Annotated[
    str | None, typer.Option("--from", help="Your Urbis key name (the Urbis leg, or your account)")
]

FIRST_LEG_TIMEOUT_MS = 4 * 3_600_000
"""A first leg's default life: room for the answer to close the default margin (an hour)
before it and still leave the initiator hours to claim."""
DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """A refusal on either chain prints its code (payments.*), never a traceback."""
    from urbis.modules.contracts.compiler import CompilerUnavailable

    try:
        yield
    except UrbisError as error:
        fail(error.code, error.message)
    except CompilerUnavailable as error:
        fail("contracts.compiler_unavailable", str(error))


def _duration_ms(text: str, what: str) -> int:
    found = DURATION.match(text.strip())
    if found is None:
        fail("cli.bad_duration", f"{what} must be like 90s, 30m, 2h or 1d, not {text[:40]!r}", 2)
    return int(found.group(1)) * UNIT_MS[found.group(2)]


def _timeout_ms(text: str | None) -> int | None:
    return None if text is None else _duration_ms(text, "--timeout")


def _hex(text: str, what: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        fail("cli.bad_hex", f"{what} must be hex, not {text[:80]!r}", 2)
    if size is not None and len(raw) != size:
        fail("cli.bad_hex", f"{what} must be {size} bytes, not {len(raw)}", 2)
    return raw


def _eth_key(key_file: Path | None) -> str:
    if key_file is not None:
        return read_text(key_file, "--eth-key-file").strip()
    key = os.environ.get("URBIS_ETH_KEY", "")
    if not key:
        fail("cli.no_eth_key", "set URBIS_ETH_KEY or pass --eth-key-file for the Ethereum leg", 2)
    return key


def _ethereum(
    rpc: str, htlc: str, key_file: Path | None, signing: bool, confirmations: int = 0
) -> EthereumLeg:
    return EthereumLeg(rpc, htlc, _eth_key(key_file) if signing else None, confirmations)


def _urbis(home: Path, api: str | None, signer: str | None) -> UrbisLeg:
    if signer is None:
        return UrbisLeg(client(api))
    keystore = KeyStore(home_path(home) / "keys")
    return UrbisLeg(client(api), passphrase_for(keystore, signer), keystore.info(signer).account)


def _lock_json(lock: LegLock | None) -> dict[str, Any] | None:
    if lock is None:
        return None
    return {
        "chain": lock.chain,
        "id": lock.id.hex(),
        "sender": lock.sender,
        "recipient": lock.recipient,
        "asset": lock.asset,
        "amount_minor": lock.amount_minor,
        "hashlock": lock.hashlock.hex(),
        "deadline_ms": lock.deadline_ms,
        "status": lock.status,
        "preimage": lock.preimage.hex(),
    }


def _show(lock: LegLock, amount: str) -> None:
    table(
        f"{lock.chain} leg",
        [
            ("status", lock.status),
            ("amount", amount),
            ("from", lock.sender),
            ("to", lock.recipient),
            ("claimable until", moment(lock.deadline_ms)),
            ("hashlock", lock.hashlock.hex()),
            *([("preimage", lock.preimage.hex())] if lock.preimage else []),
        ],
    )


def _token_amount(leg: EthereumLeg, lock: LegLock) -> str:
    token = leg.token(lock.asset).functions
    try:
        decimals, symbol = int(token.decimals().call()), str(token.symbol().call())
    except Exception:  # a token without the optional ERC-20 metadata: minor units then
        return f"{lock.amount_minor} (minor units of {lock.asset})"
    return money(lock.amount_minor, decimals, symbol)


def _print_lock(leg: UrbisLeg | EthereumLeg, lock: LegLock, as_json: bool) -> None:
    def human(_: Any) -> None:
        if isinstance(leg, EthereumLeg):
            _show(lock, _token_amount(leg, lock))
        else:
            _show(
                lock,
                Assets(lambda code: leg.node.call("payments", f"assets/{code}")).show(
                    lock.amount_minor, lock.asset
                ),
            )

    emit(_lock_json(lock), as_json, human)


@corridor_app.command("deploy")
def deploy(
    eth_rpc: EthRpc,
    eth_key_file: EthKeyFile = None,
    test_token: Annotated[
        str | None,
        typer.Option(help="Also deploy a test ERC-20 with this symbol (dev nodes only)"),
    ] = None,
    mint: Annotated[int, typer.Option(help="Test tokens (minor units) minted to you")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Deploy the HashTimeLock contract (compiled by the pinned solc) on an Ethereum node.

    Example: urbis pay corridor deploy --eth-rpc http://127.0.0.1:8545 --test-token PXD \\
      --mint 100000000   (with URBIS_ETH_KEY set)
    """
    with _reported():
        key = _eth_key(eth_key_file)
        addresses = {"htlc": corridor.deploy(eth_rpc, key, "HashTimeLock")}
        if test_token is not None:
            token = corridor.deploy(
                eth_rpc, key, "TestToken", f"{test_token} test token", test_token, 6
            )
            addresses["token"] = token
            if mint:
                leg = EthereumLeg(eth_rpc, addresses["htlc"], key)
                leg._send(leg.token(token).functions.mint(leg.address, mint))
    emit(addresses, as_json, lambda _: table("deployed", list(addresses.items())))


@corridor_app.command("secret")
def secret(as_json: JsonOption = False) -> None:
    """Draw a secret, its hash lock and a swap id: the initiator's first step.

    Keep the secret to yourself until you claim; give the counterparty the hash lock and
    the id.

    Example: urbis pay corridor secret --json > swap.json
    """
    value, hashlock = corridor.new_secret()
    drawn = {"id": corridor.new_swap_id().hex(), "hashlock": hashlock.hex(), "secret": value.hex()}
    emit(drawn, as_json, lambda _: table("swap", list(drawn.items())))


@corridor_app.command("lock-urbis")
def lock_urbis(
    swap_id: SwapId,
    recipient: Annotated[str, typer.Option("--to", help="The counterparty's Urbis account")],
    asset: Annotated[str, typer.Option("--asset", help="Asset code, e.g. EUR")],
    amount: Annotated[int, typer.Option("--amount", help="Amount in minor units (cents)")],
    hashlock: Hashlock,
    signer: Annotated[str, typer.Option("--from", help="Your Urbis key name")],
    timeout: Timeout = None,
    answering: Answering = False,
    expect_token: Annotated[str | None, typer.Option(help="--answering: the token address")] = None,
    expect_amount: Annotated[
        int | None, typer.Option(help="--answering: tokens, minor units")
    ] = None,
    expect_sender: Annotated[str | None, typer.Option(help="--answering: their address")] = None,
    margin: Margin = "1h",
    confirmations: Confirmations = 0,
    eth_rpc: MaybeEthRpc = None,
    htlc: MaybeHtlcAddress = None,
    eth_key_file: EthKeyFile = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lock Urbis money for the counterparty under the hash lock (the Urbis leg).

    It is claimable until a deadline by block time. With --answering (you did not draw the
    secret), the Ethereum lock with the same id is checked first and this one closes a
    --margin earlier.

    Example: urbis pay corridor lock-urbis 5f1c… --to bob --asset EUR --amount 1000 \\
      --hashlock 9a0e… --timeout 4h --from alice
    """
    lock_bytes, swap = _hex(hashlock, "--hashlock", 32), _hex(swap_id, "id", 32)
    timeout_ms, margin_ms = _timeout_ms(timeout), _duration_ms(margin, "--margin")
    with _reported():
        leg = _urbis(home, api, signer)
        if answering:
            if None in (eth_rpc, htlc, expect_token, expect_amount, expect_sender):
                fail(
                    "cli.missing_option",
                    "--answering needs --eth-rpc, --htlc, --expect-token, --expect-amount "
                    "and --expect-sender",
                    2,
                )
            assert eth_rpc and htlc and expect_token and expect_sender and expect_amount
            foreign = _ethereum(eth_rpc, htlc, eth_key_file, True, confirmations)
            terms = Terms(expect_sender, foreign.address, expect_token, expect_amount, lock_bytes)
            first = corridor.check_terms(foreign.settled(swap), terms)
            now = leg.now_ms()
            wanted = first.deadline_ms if timeout_ms is None else now + timeout_ms
            timeout_ms = corridor.second_deadline_ms(first, now, wanted, margin_ms) - now
        to = account_or_key(recipient, home_path(home))
        timeout_ms = FIRST_LEG_TIMEOUT_MS if timeout_ms is None else timeout_ms
        locked = leg.lock(swap, to, asset, amount, lock_bytes, timeout_ms)
        _print_lock(leg, locked, as_json)


@corridor_app.command("lock-ethereum")
def lock_ethereum(
    swap_id: SwapId,
    recipient: Annotated[str, typer.Option("--to", help="The counterparty's Ethereum address")],
    token: Annotated[str, typer.Option("--token", help="The ERC-20 token's address")],
    amount: Annotated[int, typer.Option("--amount", help="Tokens, in the token's minor units")],
    hashlock: Hashlock,
    eth_rpc: EthRpc,
    htlc: HtlcAddress,
    eth_key_file: EthKeyFile = None,
    timeout: Timeout = None,
    answering: Answering = False,
    expect_asset: Annotated[str | None, typer.Option(help="--answering: asset code")] = None,
    expect_amount: Annotated[int | None, typer.Option(help="--answering: minor units")] = None,
    expect_sender: Annotated[str | None, typer.Option(help="--answering: their account")] = None,
    signer: SignerOption = None,
    margin: Margin = "1h",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lock ERC-20 tokens for the counterparty in the HashTimeLock contract (the Ethereum leg).

    The contract is approved for the amount first if needed. With --answering, the Urbis
    lock with the same id is checked first (it must pay your account, --from) and this one
    closes a --margin earlier.

    Example: urbis pay corridor lock-ethereum 5f1c… --to 0x7099… --token 0xe7f1… \\
      --amount 7500000 --hashlock 9a0e… --answering --expect-asset EUR \\
      --expect-amount 1000 --expect-sender alice --from bob
    """
    lock_bytes, swap = _hex(hashlock, "--hashlock", 32), _hex(swap_id, "id", 32)
    timeout_ms, margin_ms = _timeout_ms(timeout), _duration_ms(margin, "--margin")
    with _reported():
        foreign = _ethereum(eth_rpc, htlc, eth_key_file, signing=True)
        now = foreign.now_ms()
        deadline = now + (FIRST_LEG_TIMEOUT_MS if timeout_ms is None else timeout_ms)
        if answering:
            if None in (expect_asset, expect_amount, expect_sender, signer):
                fail(
                    "cli.missing_option",
                    "--answering needs --expect-asset, --expect-amount, --expect-sender "
                    "and --from (your Urbis key, to know your account)",
                    2,
                )
            assert expect_asset and expect_amount and expect_sender and signer
            city = _urbis(home, api, signer)
            assert city.account is not None
            sender = account_or_key(expect_sender, home_path(home)).text
            terms = Terms(sender, city.account.text, expect_asset, expect_amount, lock_bytes)
            first = corridor.check_terms(city.show(swap), terms)
            wanted = first.deadline_ms if timeout_ms is None else now + timeout_ms
            deadline = corridor.second_deadline_ms(first, now, wanted, margin_ms)
        locked = foreign.lock(swap, recipient, token, amount, lock_bytes, deadline)
        _print_lock(foreign, locked, as_json)


@corridor_app.command("claim")
def claim(
    swap_id: SwapId,
    on: Leg,
    preimage: Annotated[
        str | None,
        typer.Option(help="Your secret (hex); without it, read from the other leg's claim"),
    ] = None,
    expect_asset: Annotated[
        str | None, typer.Option(help="With --preimage: the asset code or token address")
    ] = None,
    expect_amount: Annotated[
        int | None, typer.Option(help="With --preimage: the amount, in minor units")
    ] = None,
    signer: SignerOption = None,
    margin: Margin = "1h",
    confirmations: Confirmations = 0,
    eth_rpc: MaybeEthRpc = None,
    htlc: MaybeHtlcAddress = None,
    eth_key_file: EthKeyFile = None,
    wait: Annotated[str, typer.Option(help="How long to wait for the other leg's claim")] = "0s",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Claim a leg with the secret, which makes it public on that chain.

    The initiator gives --preimage, and what it expects: the leg must pay it
    --expect-amount of --expect-asset, and its own (first) leg must outlive this one by
    --margin, else revealing the secret could cost the counterparty. The responder gives
    none: the preimage is read from the other leg's claim (--wait for it).

    Example: urbis pay corridor claim 5f1c… --on ethereum --preimage 2699… \\
      --expect-asset 0xe7f1… --expect-amount 7500000
    """
    if on not in ("urbis", "ethereum"):
        fail("cli.bad_leg", f"--on must be urbis or ethereum, not {on[:20]!r}", 2)
    if eth_rpc is None or htlc is None:
        fail("cli.missing_option", "both legs are read: pass --eth-rpc and --htlc", 2)
    swap = _hex(swap_id, "id", 32)
    secret_bytes = None if preimage is None else _hex(preimage, "--preimage")
    if secret_bytes is not None and (expect_asset is None or expect_amount is None):
        fail("cli.missing_option", "--preimage needs --expect-asset and --expect-amount", 2)
    margin_ms, wait_ms = _duration_ms(margin, "--margin"), _duration_ms(wait, "--wait")
    with _reported():
        foreign = _ethereum(eth_rpc, htlc, eth_key_file, on == "ethereum", confirmations)
        city = _urbis(home, api, signer if on == "urbis" else None)
        this, other = (city, foreign) if on == "urbis" else (foreign, city)
        if secret_bytes is not None:
            mine, theirs = this.settled(swap), other.settled(swap)
            if mine is None or theirs is None:
                fail("payments.htlc_not_found", "both legs must be locked before the secret is out")
            if hashlib.sha256(secret_bytes).digest() != mine.hashlock:
                fail("payments.wrong_preimage", "the preimage does not hash to the lock")
            assert expect_asset is not None and expect_amount is not None
            me = city.account.text if city.account else foreign.address
            terms = Terms(mine.sender, me, expect_asset, expect_amount, mine.hashlock)
            corridor.check_terms(mine, terms)
            corridor.check_second_leg(mine, theirs.deadline_ms, this.now_ms(), margin_ms)
        else:
            secret_bytes = corridor.wait_for_preimage(other, swap, wait_ms / 1000)
        claimed = this.claim(swap, secret_bytes)
        _print_lock(this, claimed, as_json)


@corridor_app.command("refund")
def refund(
    swap_id: SwapId,
    on: Leg,
    signer: SignerOption = None,
    eth_rpc: MaybeEthRpc = None,
    htlc: MaybeHtlcAddress = None,
    eth_key_file: EthKeyFile = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take your lock back after its deadline, when the counterparty never claimed it.

    Example: urbis pay corridor refund 5f1c… --on urbis --from alice
    """
    swap = _hex(swap_id, "id", 32)
    with _reported():
        leg: UrbisLeg | EthereumLeg
        if on == "urbis":
            if signer is None:
                fail("cli.missing_option", "--on urbis needs --from (your Urbis key)", 2)
            leg = _urbis(home, api, signer)
        elif on == "ethereum":
            if eth_rpc is None or htlc is None:
                fail("cli.missing_option", "--on ethereum needs --eth-rpc and --htlc", 2)
            leg = _ethereum(eth_rpc, htlc, eth_key_file, signing=True)
        else:
            fail("cli.bad_leg", f"--on must be urbis or ethereum, not {on[:20]!r}", 2)
        _print_lock(leg, leg.refund(swap), as_json)


@corridor_app.command("status")
def status(
    swap_id: SwapId,
    eth_rpc: EthRpc,
    htlc: HtlcAddress,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Both legs of a swap as their chains show them: amounts, deadlines, who claimed.

    Example: urbis pay corridor status 5f1c… --eth-rpc http://127.0.0.1:8545 --htlc 0x5FbD…
    """
    swap = _hex(swap_id, "id", 32)
    with _reported():
        city, foreign = UrbisLeg(client(api)), EthereumLeg(eth_rpc, htlc)
        legs = {"urbis": city.show(swap), "ethereum": foreign.show(swap)}
        if as_json:
            stdout.print_json(json.dumps({k: _lock_json(v) for k, v in legs.items()}))
            return
        for leg, lock in ((city, legs["urbis"]), (foreign, legs["ethereum"])):
            if lock is None:
                stdout.print(f"{leg.chain} leg: not locked")
            else:
                _print_lock(leg, lock, False)
