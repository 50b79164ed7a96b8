"""`urbis demo vehicles` and `urbis vehicle …` as a person runs them, against a real node."""

from __future__ import annotations

import re
from pathlib import Path

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
