"""`urbis data` and `urbis demo traffic` as a person runs them, against a real dev city."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.process import dev_city, urbis
from urbis.cli.main import app


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("data-cli")
    with dev_city(home) as api:
        yield home, api


@pytest.mark.slow
def test_demo_then_commands_on_what_it_made(city: tuple[Path, str], tmp_path: Path) -> None:
    home, api = city
    demo = urbis(home, api, "demo", "traffic", "--seconds", "2", "--rate", "500")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "police received 1000 records" in demo.stdout
    assert "data.no_grant" in demo.stdout  # planning's live feed closed at revocation
    stream = next(w for w in demo.stdout.split() if w.startswith("traffic.demo-"))
    dataset = "traffic-daily-" + stream.rsplit("-", 1)[1]

    runner = CliRunner()
    env = {"URBIS_HOME": str(home), "URBIS_API": api}

    def run(*args: str) -> object:
        return runner.invoke(app, list(args), env=env)

    shown = run("data", "show", stream, "--json")
    assert json.loads(shown.stdout)["epoch"] == 2
    read = urbis(
        home,
        api,
        "data",
        "read",
        stream,
        "--as",
        "police",
        "--department",
        "police",
        "--start",
        "995",
        "--limit",
        "5",
    )
    assert read.returncode == 0, read.stderr
    assert [json.loads(line)["seq"] for line in read.stdout.splitlines()] == list(range(995, 1000))
    refused = urbis(
        home, api, "data", "read", stream, "--as", "planning", "--department", "planning"
    )
    assert refused.returncode == 1 and "data.no_grant" in refused.stderr

    file = tmp_path / "day.jsonl"
    got = urbis(
        home, api, "data", "dataset", "download", dataset, "--version", "1", "-o", str(file)
    )
    assert got.returncode == 0, got.stderr
    assert (
        urbis(
            home, api, "data", "dataset", "verify", dataset, str(file), "--version", "1"
        ).returncode
        == 0
    )
    file.write_bytes(file.read_bytes().replace(b'"readings"', b'"Readings"', 1))
    tampered = urbis(home, api, "data", "dataset", "verify", dataset, str(file), "--version", "1")
    assert tampered.returncode == 1 and "data.root_mismatch" in tampered.stderr
    shown = urbis(home, api, "data", "dataset", "show", dataset, "--json")
    kinds = {a["kind"]: a["passed"] for a in json.loads(shown.stdout)["attestations"]}
    assert kinds == {"schema": True, "completeness": True, "freshness": True}


def test_commands_explain_themselves_and_refuse_misuse() -> None:
    runner = CliRunner()
    for command in (["data", "publish"], ["data", "grant"], ["data", "dataset", "verify"]):
        shown = runner.invoke(app, [*command, "--help"])
        assert shown.exit_code == 0 and "Example:" in shown.output
    misuse = runner.invoke(app, ["data", "shred", "traffic.live", "--from", "transport"])
    assert misuse.exit_code == 2
