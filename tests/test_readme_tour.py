"""The README's tour of the CLI, run as written against a dev city, so it cannot drift.

Its ```sh block is read from README.md, each command run by bash in a scratch folder;
`<…>` placeholders are filled from what earlier commands printed or wrote (ids,
accounts). A command is expected to succeed unless its comment says it exits 1.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers.process import dev_city
from urbis.sdk.keystore import KeyStore

ROOT = Path(__file__).resolve().parents[1]
PARCEL = "0x" + hashlib.sha256(b"parcel 7, Harbour Street").hexdigest()
DEED = b"%PDF-1.4 deed D-17: parcel 7, Harbour Street\n"


def tour_commands(readme: str) -> list[str]:
    """The tour's commands: continuation lines joined, blank and comment-only lines dropped."""
    section = readme.split("## A tour of the CLI", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands, pending = [], ""
    for line in block.splitlines():
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def expected_status(command: str) -> int:
    return 1 if re.search(r"#.*exits 1", command) else 0


class Tour:
    """Runs tour commands in `work` and remembers what placeholders need."""

    def __init__(self, work: Path, city: Path, api: str) -> None:
        self.work, self.city, self.api = work, city, api
        bin_dir = work / "bin"
        bin_dir.mkdir()
        launcher = bin_dir / "urbis"
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m urbis.cli.main "$@"\n')
        launcher.chmod(0o755)
        self.env = {
            **os.environ,
            "HOME": str(work / "people"),  # `~/alice` stays inside the test's folder
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "URBIS_HOME": str(city),
            "URBIS_API": api,
        }
        self.env.pop("URBIS_PASSPHRASE", None)
        self.invoices: list[str] = []

    def account(self, key: str) -> str:
        return KeyStore(self.city / "keys").info(key).account.text

    def fill(self, command: str) -> str:
        values = {
            "<alice-account>": lambda: self.account("alice"),
            "<finance-account>": lambda: self.account("finance"),
            "<transit-account>": lambda: self.account("transit"),
            "<invoice-id>": lambda: self.invoices[0],
            "<fee-invoice-id>": lambda: self.invoices[1],
            "0x<parcel>": lambda: PARCEL,
            "0x<deed-hash>": lambda: "0x" + hashlib.sha256(DEED).hexdigest(),
            "<tx-id>": self.some_tx_id,
        }
        for placeholder, value in values.items():
            if placeholder in command:
                command = command.replace(placeholder, value())
        left = re.findall(r"<[a-z-]+>", command.split(" #")[0])
        assert not left, f"the tour uses a placeholder this test cannot fill: {left}"
        return command

    def some_tx_id(self) -> str:
        """A transaction of alice's (any command's --json output would show one)."""
        receipts = httpx.get(f"{self.api}/v1/accounts/{self.account('alice')}/txs", timeout=10)
        return str(receipts.json()[0]["tx_id"])

    def run(self, written: str) -> str:
        if written.startswith("export "):
            name, _, value = written.removeprefix("export ").split(" #")[0].strip().partition("=")
            self.env[name] = value
            return ""
        command = self.fill(written)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == expected_status(written), (
            f"tour step failed: {written}\n(ran: {command})\nexit {done.returncode}\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
        )
        self.invoices += re.findall(r"invoice id: ([0-9a-f]+)", done.stdout)
        return done.stdout


def test_readme_tour_extracts_the_whole_block() -> None:
    commands = tour_commands((ROOT / "README.md").read_text())
    assert commands[0].startswith("urbis status ")
    assert any(c.startswith("urbis id define ResidentID --from registry") for c in commands)
    assert any("--args '{" in c for c in commands)  # continuation lines were joined


@pytest.mark.slow
def test_readme_tour_runs_against_a_dev_city(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "permits").mkdir(parents=True)
    (work / "people").mkdir()
    (work / "deed.pdf").write_bytes(DEED)
    (work / "petition.md").write_text("We ask for protected bike lanes on Main Street.\n")
    for number in (1, 2, 3):
        (work / "permits" / f"p{number}.pdf").write_bytes(b"permit %d\n" % number)
    shutil.copytree(ROOT / "contracts", work / "contracts")
    outputs: dict[str, str] = {}
    with dev_city(tmp_path / "city") as api:
        tour = Tour(work, tmp_path / "city", api)
        for command in tour_commands((ROOT / "README.md").read_text()):
            outputs[command] = tour.run(command)

    def output_of(prefix: str) -> str:
        return next(out for command, out in outputs.items() if command.startswith(prefix))

    # people read money in EUR and tables, not minor units and JSON
    assert "467.50 EUR" in output_of("urbis pay balance alice")
    listed = output_of("urbis pay invoice list --payer alice")
    assert "480.00 EUR" in listed and "65.00 EUR" in listed
    revenue = output_of("urbis pay report revenue")
    assert not revenue.lstrip().startswith(("[", "{")) and "EUR" in revenue
    assert "age_over_18" in output_of("urbis id verify presentation.txt")
    assert re.search(r"signatures\W+1\b", output_of("urbis petition show bike-lanes-2027"))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", output_of("urbis block show latest"))
