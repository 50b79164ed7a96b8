"""`urbis pay corridor` parsing and faults without any node: misuse exits 2, an
unreachable node is one line with its code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers.process import free_port
from urbis.cli.main import app

runner = CliRunner()
SWAP_ID = "ab" * 32
HASHLOCK = "cd" * 32
DEAD_RPC = f"http://127.0.0.1:{free_port()}"
HTLC = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def corridor(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["pay", "corridor", *args], env=env)
    return result.exit_code, result.output


def test_secret_draws_a_secret_whose_sha256_is_the_hashlock() -> None:
    import hashlib

    code, output = corridor("secret", "--json")
    assert code == 0
    drawn = json.loads(output)
    assert hashlib.sha256(bytes.fromhex(drawn["secret"])).hexdigest() == drawn["hashlock"]
    assert len(bytes.fromhex(drawn["id"])) == 32


def test_a_bad_duration_is_misuse(tmp_path: Path) -> None:
    code, output = corridor(
        "lock-urbis", SWAP_ID, "--to", "bob", "--asset", "EUR", "--amount", "1",
        "--hashlock", HASHLOCK, "--timeout", "soon", "--from", "alice", "--home", str(tmp_path),
        "--api", DEAD_RPC,
    )  # fmt: skip
    assert code == 2 and "cli.bad_duration" in output


def test_a_short_hashlock_is_misuse() -> None:
    code, output = corridor(
        "lock-ethereum", SWAP_ID, "--to", HTLC, "--token", HTLC, "--amount", "1",
        "--hashlock", "cd" * 31, "--eth-rpc", DEAD_RPC, "--htlc", HTLC,
    )  # fmt: skip
    assert code == 2 and "cli.bad_hex" in output


def test_the_ethereum_leg_needs_a_key() -> None:
    code, output = corridor(
        "refund", SWAP_ID, "--on", "ethereum", "--eth-rpc", DEAD_RPC, "--htlc", HTLC,
        env={"URBIS_ETH_KEY": ""},
    )  # fmt: skip
    assert code == 2 and "cli.no_eth_key" in output


def test_an_unknown_leg_is_misuse() -> None:
    code, output = corridor("refund", SWAP_ID, "--on", "bitcoin", "--from", "alice")
    assert code == 2 and "cli.bad_leg" in output


def test_an_unreachable_ethereum_node_is_payments_corridor_unreachable() -> None:
    key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
    code, output = corridor(
        "refund", SWAP_ID, "--on", "ethereum", "--eth-rpc", DEAD_RPC, "--htlc", HTLC,
        env={"URBIS_ETH_KEY": key},
    )  # fmt: skip
    assert code == 1, output
    assert "payments.corridor_unreachable" in output and "Traceback" not in output


def test_an_unreachable_urbis_node_is_payments_corridor_unreachable() -> None:
    code, output = corridor(
        "status", SWAP_ID, "--eth-rpc", DEAD_RPC, "--htlc", HTLC, "--api", DEAD_RPC
    )
    assert code == 1, output
    assert "payments.corridor_unreachable" in output and "Traceback" not in output
