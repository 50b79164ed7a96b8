"""The `urbis` command: every command documents an example; misuse exits 2; one real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.cli import cli_leaves
from tests.helpers.process import dev_city, urbis
from urbis.cli.main import app

runner = CliRunner()


def all_commands() -> list[list[str]]:
    return [list(path) for path, _ in cli_leaves()]


def test_lazy_command_tables_match_what_the_modules_declare() -> None:
    from urbis.modules import CLI_COMMANDS, CLI_DEMOS, module_commands, module_demos

    assert list(CLI_COMMANDS) == [name for name, _ in module_commands()]
    assert list(CLI_DEMOS) == [name for name, _ in module_demos()]
    for name, module_app in module_commands():
        assert f"urbis.modules.{CLI_COMMANDS[name]}.cli" == module_app.registered_commands[
            0
        ].callback.__module__


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from urbis.cli.main import app\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('urbis.modules.')"
        " and m.endswith('.cli'))\n"
        "print(loaded())\n"
        "assert CliRunner().invoke(app, ['pay', '--help']).exit_code == 0\n"
        "print(loaded())\n"
    )
    lines = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines == ["[]", "['urbis.modules.payments.cli']"]


def test_a_mistyped_command_suggests_a_module_command() -> None:
    result = runner.invoke(app, ["paay", "--help"])
    assert result.exit_code == 2 and "Did you mean 'pay'" in result.output


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_misuse_exits_2() -> None:
    assert runner.invoke(app, ["block", "show", "nope"]).exit_code == 2
    assert runner.invoke(app, ["doc", "anchor"]).exit_code == 2
    assert runner.invoke(app, ["role", "grant", "norole", "x", "--from", "a"]).exit_code == 2


def test_unreachable_node_is_a_one_line_error() -> None:
    result = runner.invoke(app, ["status", "--api", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "client.unreachable" in result.output and "Traceback" not in result.output


def test_keys_new_list_show(tmp_path: Path) -> None:
    env = {"URBIS_PASSPHRASE": "correct horse"}
    made = runner.invoke(app, ["keys", "new", "alice", "--home", str(tmp_path), "--json"], env=env)
    assert made.exit_code == 0, made.output
    info = json.loads(made.output)
    assert info["account"].startswith("urbis1") and info["did"].startswith("did:urbis:")
    listed = json.loads(
        runner.invoke(app, ["keys", "list", "--home", str(tmp_path), "--json"]).output
    )
    assert [k["name"] for k in listed] == ["alice"]
    again = runner.invoke(app, ["keys", "new", "alice", "--home", str(tmp_path)], env=env)
    assert again.exit_code == 1 and "keystore.error" in again.output


@pytest.mark.slow
def test_up_anchor_verify_revoke_end_to_end(tmp_path: Path) -> None:
    """`urbis up` as a real process; the CLI anchors, verifies with a proof, revokes."""
    home = tmp_path / "city"
    with dev_city(home) as api:
        deed = tmp_path / "deed.pdf"
        deed.write_bytes(b"%PDF deed of parcel 17")
        anchored = urbis(
            home,
            api,
            "doc",
            "anchor",
            str(deed),
            "--department",
            "land",
            "--type",
            "deed",
            "--reference",
            "D-17",
            "--from",
            "land",
            "--json",
        )
        assert anchored.returncode == 0, anchored.stderr
        verified = urbis(home, api, "doc", "verify", str(deed), "--json")
        assert verified.returncode == 0, verified.stderr
        answer = json.loads(verified.stdout)
        assert answer["anchored"] and answer["pinned_genesis"]
        assert answer["record"]["reference"] == "D-17"
        stranger = tmp_path / "other.pdf"
        stranger.write_bytes(b"never anchored")
        assert urbis(home, api, "doc", "verify", str(stranger)).returncode == 1
        denied = urbis(
            home,
            api,
            "doc",
            "anchor",
            str(stranger),
            "--department",
            "finance",
            "--type",
            "deed",
            "--from",
            "land",
        )
        assert denied.returncode == 1 and "auth.missing_role" in denied.stderr
        revoked = urbis(
            home,
            api,
            "doc",
            "revoke",
            str(deed),
            "--department",
            "land",
            "--reason",
            "issued in error",
            "--from",
            "land",
        )
        assert revoked.returncode == 0, revoked.stderr
        after = urbis(home, api, "doc", "verify", str(deed), "--json")
        assert after.returncode == 1 and json.loads(after.stdout)["record"]["status"] == "revoked"
        proposal = urbis(
            home,
            api,
            "proposal",
            "submit",
            "--title",
            "Parks",
            "--action",
            "governance.add_department",
            "--args",
            json.dumps(
                {
                    "id": "parks",
                    "name": "Parks",
                    "admin": json.loads(urbis(home, api, "keys", "show", "mayor", "--json").stdout)[
                        "account"
                    ],
                }
            ),
            "--from",
            "mayor",
            "--json",
        )
        assert proposal.returncode == 0, proposal.stderr
        approved = urbis(home, api, "proposal", "approve", "1", "--from", "councillor-a", "--json")
        assert json.loads(approved.stdout)["status"] == "executed"
        state = urbis(home, api, "state", "get", "governance/department/parks", "--prove", "--json")
        assert state.returncode == 0 and json.loads(state.stdout)["verified"]["present"]


CITY_TOML = """
chain_id = "zug-1"
name = "City of Zug"

[[accounts]]
name = "mayor"
generate = true

[[accounts]]
name = "land-admin"
generate = true

[[departments]]
id = "land"
name = "Land Registry"
admin = "land-admin"

[council]
members = ["mayor"]
threshold = 1

[[roles]]
role = "land.notary"
account = "land-admin"

[[validators]]
name = "city-hall"

[node]
api_port = 9123
"""


def test_init_founds_a_city_from_city_toml(tmp_path: Path) -> None:
    city = tmp_path / "city.toml"
    city.write_text(CITY_TOML)
    home = tmp_path / "home"
    result = runner.invoke(
        app, ["init", "--home", str(home), "--config", str(city)], env={"URBIS_PASSPHRASE": "pw"}
    )
    assert result.exit_code == 0, result.output
    from urbis.node.home import Home

    founded = Home(home)
    genesis = founded.load_genesis()
    assert genesis.chain_id == "zug-1" and genesis.departments[0].id == "land"
    assert founded.load_config().api_port == 9123
    assert founded.keystore.load("land-admin", "pw")
    assert genesis.validators[0].key == founded.load_validator_key().public_key.raw
    again = runner.invoke(
        app, ["init", "--home", str(home), "--config", str(city)], env={"URBIS_PASSPHRASE": "pw"}
    )
    assert again.exit_code == 1 and "already holds a node" in again.output


def test_init_with_a_bad_city_is_a_clear_error(tmp_path: Path) -> None:
    city = tmp_path / "city.toml"
    city.write_text(CITY_TOML.replace('admin = "land-admin"', 'admin = "nobody"'))
    result = runner.invoke(
        app,
        ["init", "--home", str(tmp_path / "h"), "--config", str(city)],
        env={"URBIS_PASSPHRASE": "pw"},
    )
    assert result.exit_code == 1 and "node.init_failed" in result.output
    assert "Traceback" not in result.output
