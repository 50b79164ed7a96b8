"""`urbis demo vehicles` and `urbis vehicle …` as a person runs them, against a real node."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from tests.helpers.process import dev_city, urbis
from urbis.cli.main import app as cli
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.verify import verify_history
from urbis.sdk.verify import verify_state_proof


def test_bad_vin_is_refused_before_anything_is_sent() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "vehicle",
            "offer",
            "JT2BG22K1Y0123456",
            "--buyer",
            "x",
            "--price",
            "1",
            "--odometer",
            "1",
            "--from",
            "alice",
            "--api",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2 and "vehicles.invalid_vin" in result.output
    shown = CliRunner().invoke(cli, ["vehicle", "history", "--help"])
    assert shown.exit_code == 0 and "Example: urbis vehicle history" in shown.output


def test_demo_runs_and_its_history_verifies_from_the_cli_and_the_api(tmp_path: Path) -> None:
    home = tmp_path / "city"
    with dev_city(home) as api:
        demo = urbis(home, api, "demo", "vehicles")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "vehicles.odometer_rollback" in demo.stdout
        assert "odometer rollbacks flagged: 1" in demo.stdout and "Verified" in demo.stdout
        (vin,) = set(re.findall(r"urbis vehicle history (\w{17}) --verify", demo.stdout))

        history = urbis(home, api, "vehicle", "history", vin, "--verify")
        assert history.returncode == 0, history.stderr
        assert "Verified" in history.stdout and "recall_fixed" in history.stdout

        answer = httpx.get(f"{api}/v1/vehicles/{vin}/history").json()
        genesis = httpx.get(f"{api}/v1/genesis").json()
        validators = [bytes.fromhex(v["key"]) for v in genesis["validators"]]
        verified = verify_history(answer, validators, genesis["chain_id"])
        kinds = [event.kind for event in verified.events]
        assert kinds.count("sold") == 2 and "lien_released" in kinds
        assert verified.vehicle.rollbacks == 1

        shown = httpx.get(f"{api}/v1/vehicles/{vin}", params={"prove": "true"}).json()
        assert shown["open_recalls"] == []  # the workshop fixed the one recall
        proven = verify_state_proof(shown, validators, chain_id=genesis["chain_id"])
        assert proven.key == keys.vehicle(vin) and proven.value is not None

        bad = httpx.get(f"{api}/v1/vehicles/NOT-A-VIN/history")
        assert bad.status_code == 400 and bad.json()["code"] == "query.bad_request"


def test_not_a_bundle_is_cli_bad_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "car.json"
    bundle.write_text('{"vin": "JT2BG22K5Y0123456"}')
    result = CliRunner().invoke(cli, ["vehicle", "import", str(bundle), "--from", "transport"])
    assert result.exit_code == 2 and "cli.bad_bundle" in result.output


def vehicles_home(path: Path, chain_id: str, names: tuple[str, ...]) -> Any:
    from tests.helpers.city import key
    from tests.helpers.vehicles import vehicles_genesis
    from urbis.node.home import Home, NodeConfig

    home = Home(path)
    home.ensure_dirs()
    vehicles_genesis(chain_id).save(home.genesis_path)
    home.write_validator_key(key("validator"))
    home.save_config(NodeConfig(block_interval_ms=50))
    for name in names:
        home.keystore.create(name, "", key=key(name))
    return home


def run(home: Any, api: str, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--home", str(home.path), "--api", api])
    assert result.exit_code == 0, result.output
    return result.output


def test_export_and_import_between_two_cities_through_the_cli(tmp_path: Path) -> None:
    """City A exports a car; city B's council recognises A; B's registrar imports the
    bundle; B's own history links back to A's."""
    from tests.helpers.city import account, key
    from tests.helpers.process import serving
    from tests.helpers.vehicles import vin
    from urbis.node.runner import Node

    car = vin(31)
    home_a = vehicles_home(tmp_path / "a", "city-a", ("transport", "bob"))
    home_b = vehicles_home(tmp_path / "b", "city-b", ("transport", "mayor", "councillor_a"))
    node_a, node_b = Node(home_a), Node(home_b)
    node_a.start()
    node_b.start()
    try:
        with serving(node_a) as api_a, serving(node_b) as api_b:
            run(
                home_a,
                api_a,
                "vehicle",
                "register",
                car,
                "--make",
                "Toyota",
                "--model",
                "Corolla",
                "--year",
                "2020",
                "--type-approval",
                "TA-1",
                "--owner",
                account("bob").text,
                "--from",
                "transport",
            )
            run(
                home_a,
                api_a,
                "vehicle",
                "deregister",
                car,
                "--reason",
                "exported",
                "--to-chain",
                "city-b",
                "--to-owner",
                account("carol").text,
                "--from",
                "bob",
            )
            bundle = tmp_path / "car.json"
            run(home_a, api_a, "vehicle", "export", car, "--out", str(bundle))

            refused = CliRunner().invoke(
                cli,
                [
                    "vehicle",
                    "import",
                    str(bundle),
                    "--from",
                    "transport",
                    "--home",
                    str(home_b.path),
                    "--api",
                    api_b,
                ],
            )
            assert refused.exit_code == 1 and "vehicles.unrecognised_chain" in refused.output

            recognition = json.dumps(
                {"chain_id": "city-a", "validators": ["0x" + key("validator").public_key.raw.hex()]}
            )
            run(
                home_b,
                api_b,
                "proposal",
                "submit",
                "--title",
                "Recognise city A",
                "--action",
                "vehicles.recognise_chain",
                "--args",
                recognition,
                "--from",
                "mayor",
            )
            run(home_b, api_b, "proposal", "approve", "1", "--from", "councillor_a")
            run(home_b, api_b, "vehicle", "import", str(bundle), "--from", "transport")
            shown = run(home_b, api_b, "vehicle", "history", car, "--verify")
            assert "imported" in shown and "Imported from city-a: 2 earlier events" in shown
            linked = run(
                home_b, api_b, "vehicle", "history", car, "--verify", "--origin", str(bundle)
            )
            assert "the history on city-a, which the import links" in linked
            assert "deregistered" in linked and "exported to city-b" in linked
    finally:
        node_a.stop()
        node_b.stop()
