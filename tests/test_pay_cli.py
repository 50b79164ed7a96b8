"""`urbis pay` as a real process: taxes issued, paid (one by mandate), refunded, reported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers.process import dev_city, urbis

pytestmark = pytest.mark.slow


def ok(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else {}


def test_property_tax_season(tmp_path: Path) -> None:
    home = tmp_path / "city"
    with dev_city(home) as api:
        run = lambda *args: urbis(home, api, *args)  # noqa: E731
        finance = ok(run("keys", "show", "finance", "--json"))["account"]
        ok(
            run(
                "proposal",
                "submit",
                "--title",
                "Euro",
                "--action",
                "payments.create_asset",
                "--args",
                json.dumps({"code": "EUR", "decimals": 2, "issuer": finance}),
                "--from",
                "mayor",
            )
        )
        ok(run("proposal", "approve", "1", "--from", "councillor-a", "--json"))
        ok(run("role", "grant", "finance.billing", "finance", "--from", "finance"))
        for resident in ("alice", "bob"):
            assert urbis_env(home, api, "keys", "new", resident).returncode == 0
            ok(run("account", "create", "--key", resident, "--from", "registry"))
            ok(run(*mint_eur(resident)))
        issued = {}
        for resident in ("alice", "bob"):
            invoice_id = ("a1" if resident == "alice" else "b2") * 8
            ok(
                run(
                    "pay",
                    "invoice",
                    "issue",
                    resident,
                    "--department",
                    "finance",
                    "--asset",
                    "EUR",
                    "--amount",
                    "48000",
                    "--id",
                    invoice_id,
                    "--from",
                    "finance",
                )
            )
            issued[resident] = invoice_id
        ok(run("pay", "invoice", "pay", issued["alice"], "--amount", "48000", "--from", "alice"))
        ok(
            run(
                "pay",
                "mandate",
                "set",
                "--department",
                "finance",
                "--asset",
                "EUR",
                "--per-invoice",
                "50000",
                "--per-month",
                "60000",
                "--from",
                "bob",
            )
        )
        ok(
            run(
                "pay",
                "invoice",
                "collect",
                issued["bob"],
                "--department",
                "finance",
                "--from",
                "finance",
            )
        )
        ok(
            run(
                "pay",
                "refund",
                issued["alice"],
                "--department",
                "finance",
                "--amount",
                "1250",
                "--from",
                "finance",
            )
        )
        denied = run(
            "pay",
            "refund",
            issued["alice"],
            "--department",
            "finance",
            "--amount",
            "48000",
            "--from",
            "finance",
        )
        assert denied.returncode == 1 and "payments.refund_exceeds_paid" in denied.stderr
        report = ok(run("pay", "report", "revenue", "--department", "finance", "--json"))
        assert [
            (r["kind"], r["paid_minor"], r["refunded_minor"], r["net_minor"]) for r in report
        ] == [("tax", 96_000, 1_250, 94_750)]
        csv = run("pay", "report", "revenue", "--department", "finance", "--csv").stdout
        assert csv.splitlines()[0].startswith("month,kind,asset") and ",94750" in csv
        balance = ok(run("pay", "balance", "finance", "--asset", "EUR", "--json"))
        assert balance["balance_minor"] == 94_750  # the report balances to the cent
        receipt = ok(run("pay", "receipt", "verify", issued["alice"], "--json"))
        assert receipt["status"] == "paid" and receipt["refunded_minor"] == 1_250
        assert receipt["pinned_genesis"]


def mint_eur(resident: str, amount_minor: int = 100_000) -> tuple[str, ...]:
    """`urbis pay mint` arguments: finance, the EUR issuer, funds a resident."""
    return (
        "pay",
        "mint",
        resident,
        "--asset",
        "EUR",
        "--amount",
        str(amount_minor),
        "--from",
        "finance",
    )


def urbis_env(home: Path, api: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`urbis` with the empty passphrase of the dev keys and of keys made in the test."""
    return urbis(home, api, *args, passphrase="")
