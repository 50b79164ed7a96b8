"""`urbis contract` as real processes: the council approves the three process contracts,
then a parcel is sold, a meter reading becomes a paid bill, and a licence lives and dies."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers.contracts import CONTRACTS
from tests.helpers.process import dev_city
from tests.test_pay_cli import mint_eur, ok, urbis_env

pytestmark = pytest.mark.slow


def h(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()


def test_three_processes_from_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "city"
    with dev_city(home) as api:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return urbis_env(home, api, *args)

        who = {}
        for name in ("finance", "land", "utilities"):
            who[name] = ok(run("keys", "show", name, "--json"))["account"]
        for name in ("alice", "bob", "registrar", "reader", "officer", "licensing"):
            assert run("keys", "new", name).returncode == 0
            who[name] = _create(run, name)

        def council(title: str, action: str, args: dict) -> None:
            submitted = ok(
                run(
                    "proposal",
                    "submit",
                    "--title",
                    title,
                    "--action",
                    action,
                    "--args",
                    json.dumps(args),
                    "--from",
                    "mayor",
                    "--json",
                )
            )
            ok(run("proposal", "approve", str(submitted["id"]), "--from", "councillor-a", "--json"))

        council(
            "Euro",
            "payments.create_asset",
            {"code": "EUR", "decimals": 2, "issuer": who["finance"]},
        )
        council(
            "Licensing office",
            "governance.add_department",
            {"id": "licensing", "name": "Licensing Office", "admin": who["licensing"]},
        )
        for resident in ("alice", "bob"):
            ok(run(*mint_eur(resident)))

        deployments = {
            "land-registry": ("land_registry.vy", ["EUR", "200", who["finance"]]),
            "utility-billing": (
                "utility_billing.vy",
                ["utilities", "EUR", "[[100, 20], [300, 30], [1000000, 50]]"],
            ),
            "licensing": ("licensing.vy", ["licensing", "EUR", "5000", "365"]),
        }
        address = {}
        for name, (file, args) in deployments.items():
            flags = [x for a in args for x in ("--arg", a)]
            proposed = ok(
                run(
                    "contract",
                    "propose",
                    str(CONTRACTS / file),
                    "--name",
                    name,
                    *flags,
                    "--from",
                    "mayor",
                    "--json",
                )
            )
            assert proposed["deployed"] is None  # one approval of two
            ok(run("proposal", "approve", str(proposed["proposal"]), "--from", "councillor-a"))
            shown = ok(run("contract", "show", name, "--json"))
            assert shown["compiler"] == "vyper-0.4.3"
            assert shown["bytecode_hash"] == proposed["bytecode_hash"]
            address[name] = shown["address"]

        ok(run("role", "grant", "land.registrar", who["registrar"], "--from", "land"))
        ok(run("role", "grant", "utilities.meter_reader", who["reader"], "--from", "utilities"))
        ok(
            run(
                "role",
                "grant",
                "utilities.billing",
                address["utility-billing"],
                "--from",
                "utilities",
            )
        )
        ok(run("role", "grant", "licensing.billing", address["licensing"], "--from", "licensing"))
        ok(run("role", "grant", "licensing.officer", who["officer"], "--from", "licensing"))

        # Land: register, list, fund an escrow, the registrar's approval settles it.
        parcel, escrow = h("parcel-12"), "ab" * 32

        def land(*args: str, sender: str) -> subprocess.CompletedProcess[str]:
            return run("contract", "call", "land-registry", *args, "--from", sender, "--json")

        ok(land("register", parcel, who["alice"], h("deed-12"), sender="registrar"))
        ok(land("list_for_sale", parcel, who["bob"], "50000", sender="alice"))
        ok(
            run(
                "pay",
                "escrow",
                "open",
                address["land-registry"],
                "--asset",
                "EUR",
                "--amount",
                "50000",
                "--approvers",
                address["land-registry"],
                "--id",
                escrow,
                "--from",
                "bob",
            )
        )
        ok(land("fund", parcel, "0x" + escrow, sender="bob"))
        refused = land("approve_sale", parcel, sender="bob")
        assert refused.returncode == 1 and "only a land registrar" in refused.stderr
        sold = ok(land("approve_sale", parcel, sender="registrar"))
        assert any(e["attrs"].get("event") == "Sold" for e in sold["events"])
        owner = ok(run("contract", "call", "land-registry", "parcels", parcel, "--json"))
        assert owner["result"][0][0] == who["bob"]
        proven_owner = ok(
            run(
                "contract",
                "storage",
                "land-registry",
                "parcels",
                parcel,
                "--field",
                "owner",
                "--json",
            )
        )
        assert proven_owner["as_account"] == who["bob"] and proven_owner["verified"]
        alice = ok(run("pay", "balance", "alice", "--asset", "EUR", "--json"))
        assert alice["balance_minor"] == 100_000 + 49_000

        # Utility: a reading becomes an invoice collected under alice's mandate.
        ok(
            run(
                "pay",
                "mandate",
                "set",
                "--department",
                "utilities",
                "--asset",
                "EUR",
                "--per-invoice",
                "10000",
                "--per-month",
                "50000",
                "--from",
                "alice",
            )
        )
        meter = h("meter-3")
        ok(
            run(
                "contract",
                "call",
                "utility-billing",
                "register_meter",
                meter,
                who["alice"],
                "1000",
                "--from",
                "reader",
            )
        )
        billed = ok(
            run(
                "contract",
                "call",
                "utility-billing",
                "submit_reading",
                meter,
                "1",
                "1250",
                "--from",
                "reader",
                "--json",
            )
        )
        (bill,) = [
            e["attrs"]["args"] for e in billed["events"] if e["attrs"].get("event") == "Billed"
        ]
        assert bill["amount"] == 6_500 and bill["collected"] is True
        receipt = ok(run("pay", "receipt", "verify", bill["invoice"].removeprefix("0x"), "--json"))
        assert receipt["status"] == "paid"  # checked against a state proof

        # Licensing: apply, pay the fee, approve, revoke; the status entry follows.
        licence = h("food-truck-7")
        applied = ok(
            run(
                "contract",
                "call",
                "licensing",
                "apply",
                licence,
                "food-truck",
                "--from",
                "alice",
                "--json",
            )
        )
        (application,) = [
            e["attrs"]["args"] for e in applied["events"] if e["attrs"].get("event") == "Applied"
        ]
        fee = application["fee_invoice"].removeprefix("0x")
        ok(run("pay", "invoice", "pay", fee, "--amount", "5000", "--from", "alice"))
        ok(run("contract", "call", "licensing", "decide", licence, "true", "", "--from", "officer"))
        valid = ok(run("contract", "call", "licensing", "is_valid", licence, "--json"))
        assert valid["result"] == [True]
        ok(run("contract", "call", "licensing", "revoke", licence, "hygiene", "--from", "officer"))
        valid = ok(run("contract", "call", "licensing", "is_valid", licence, "--json"))
        assert valid["result"] == [False]
        entry = ok(run("id", "status", address["licensing"], "1", "--index", "0", "--json"))
        assert entry["status"] == 1

        # An outside vendor's Solidity contract goes through the same council path.
        vendor = ok(
            run(
                "contract",
                "propose",
                str(CONTRACTS / "parking_permits.sol"),
                "--name",
                "parking",
                "--arg",
                "transport",
                "--from",
                "mayor",
                "--json",
            )
        )
        ok(run("proposal", "approve", str(vendor["proposal"]), "--from", "councillor-a"))
        assert ok(run("contract", "show", "parking", "--json"))["compiler"] == "solc-0.8.37"

        events = ok(run("contract", "events", "licensing", "--json"))
        assert {"Applied", "Approved", "Revoked"} <= {e["event"] for e in events}
        # Bad input: a clear code on stderr, never a traceback.
        for args, code in (
            (("contract", "show", "no-such-contract"), "query.not_found"),
            (("contract", "call", "land-registry", "nope"), "query.bad_request"),
            (
                ("contract", "call", "land-registry", "register", "0x01", "--from", "registrar"),
                "cli.bad_args",
            ),
            (("contract", "storage", "land-registry", "nothing"), "cli.bad_args"),
        ):
            refused = run(*args)
            assert refused.returncode in (1, 2), (args, refused.stdout)
            assert refused.stderr.startswith(code), (args, refused.stderr)
            assert "Traceback" not in refused.stderr
        meta_key = "contracts/meta/0x" + _raw(address["land-registry"])
        proven = ok(run("state", "get", meta_key, "--prove", "--json"))
        assert proven["verified"]["present"] is True


def _create(run: object, name: str) -> str:
    answer = run("account", "create", "--key", name, "--from", "registry", "--json")  # type: ignore[operator]
    return str(ok(answer)["account"])


def _raw(account: str) -> str:
    from urbis.chain.ids import AccountId

    return AccountId.parse(account).raw.hex()
