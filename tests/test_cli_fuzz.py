"""Every command of the `urbis` tree, fed missing, empty and garbage files and arguments,
ends with `code: message` and exit 1, or exit 2 for misuse, never `internal:` or a
traceback.

The tree is read from the Typer app, so a new command is fuzzed without a change here.
No node runs: commands that reach the network must say so with a code too. The default
profile runs a few cases per command; URBIS_FUZZ=long runs many more.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from typer.main import get_command
from typer.testing import CliRunner

from tests.helpers.cli import cli_leaves
from urbis.cli.main import app
from urbis.crypto.keys import PrivateKey
from urbis.sdk.keystore import seal_key

runner = CliRunner()
LONG = os.environ.get("URBIS_FUZZ") == "long"
CASES_PER_COMMAND = 60 if LONG else 4
"""Random cases per command beyond the fixed ones; the long profile is for on-demand runs."""
UNREACHABLE = "http://127.0.0.1:1"
CODE_LINE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+: \S", re.MULTILINE)

STARTS_PROCESSES = {("up",), ("node",), ("testnet", "up"), ("testnet", "create")}
"""Commands that would start a node or found a network on valid input: only their misuse
cases run here (a real `urbis up` runs in the README tour test)."""


@dataclass
class Inputs:
    """Files and words a confused or hostile user hands a command."""

    files: list[str]
    words: list[str]
    numbers: list[str]


def make_inputs(root: Path) -> Inputs:
    garbage = root / "garbage.bin"
    garbage.write_bytes(random.Random(7).randbytes(4096))
    (root / "empty").write_bytes(b"")
    (root / "folder").mkdir()
    (root / "latin1.txt").write_bytes("caf\xe9 \xff\xfe".encode("latin-1"))
    (root / "deep.json").write_text("[" * 100_000)
    (root / "list.json").write_text("[]")
    (root / "object.json").write_text('{"documents": [{"hash": 1, "path": [[true, "zz"]]}]}')
    (root / "jwt.txt").write_text(_unsigned_jwt() + "~")
    (root / "many-a").write_bytes(b"a" * 200_000)
    return Inputs(
        files=[
            str(root / name)
            for name in (
                "missing.file",
                "empty",
                "garbage.bin",
                "folder",
                "latin1.txt",
                "deep.json",
                "list.json",
                "object.json",
                "jwt.txt",
                "many-a",
            )
        ],
        words=[
            "",
            "garbage",
            "../../evil",
            "mayor",
            "urbis1qqqqqqqq",
            "did:urbis:nobody",
            "0x00",
            "ff" * 40,
            "[" * 3000,
            "{}",
            "-1",
            "a.b",
            "ResidentID",
            " ",
        ],
        numbers=["-1", "0", "99999999999999999999999", "x", "", "1.5"],
    )


def _unsigned_jwt() -> str:
    from urbis.sdk.sdjwt import b64url

    header = b64url(json.dumps({"alg": "none", "typ": "dc+sd-jwt"}).encode())
    payload = b64url(json.dumps({"iss": "did:urbis:x"}).encode())
    return f"{header}.{payload}."


def _value(param: Any, inputs: Inputs, pick: random.Random, slot: int) -> str:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", str)
    kind = str(annotation)
    if "Path" in kind:
        pool = inputs.files
    elif "int" in kind:
        pool = inputs.numbers
    else:
        pool = inputs.words + inputs.files[:2]
    return pool[slot % len(pool)] if slot >= 0 else pick.choice(pool)


def arguments(
    command: Any, inputs: Inputs, pick: random.Random, slot: int, optional: bool
) -> list[str]:
    """Values for every required parameter (and, if `optional`, some optional ones)."""
    argv: list[str] = []
    for param in command.params:
        if param.name in ("home", "api", "help") or getattr(param, "is_flag", False):
            continue
        wanted = param.required or (optional and pick.random() < 0.5)
        if not wanted:
            continue
        count = pick.randint(1, 2) if getattr(param, "multiple", False) or param.nargs == -1 else 1
        for _ in range(count):
            value = _value(param, inputs, pick, slot)
            if param.param_type_name == "option":
                argv += [param.opts[0], value]
            else:
                argv.append(value)
    return argv


def cases(path: tuple[str, ...], command: Any, inputs: Inputs) -> Iterator[list[str]]:
    pick = random.Random(" ".join(path))
    if path in STARTS_PROCESSES:
        yield ["--port", "x", "--home", "/nonexistent/urbis"]
        yield ["--validators", "x", "--dir", "/nonexistent/urbis"]
        return
    yield []
    for slot in range(len(inputs.words) if LONG else len(inputs.files)):
        yield arguments(command, inputs, pick, slot, optional=False)
    for _ in range(CASES_PER_COMMAND):
        yield arguments(command, inputs, pick, -1, optional=True)


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose wallet has signing keys, so commands get as far as the network.

    The keys use a cheap scrypt cost: the fuzz tests argument handling, not key stretching.
    """
    home = tmp_path_factory.mktemp("home")
    (home / "keys").mkdir()
    for name in ("mayor", "registry", "land", "finance"):
        sealed = seal_key(name, PrivateKey.generate(), "", n=2**4)
        (home / "keys" / f"{name}.json").write_text(json.dumps(sealed))
    return home


@pytest.fixture(autouse=True)
def built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typer rebuilds the whole command tree on every invoke; build it once for the fuzz."""
    built = get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: built)


COMMANDS = cli_leaves()


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_never_reaches_internal(
    path: tuple[str, ...],
    command: Any,
    fuzz_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # commands with default output files write here
    inputs = make_inputs(tmp_path)
    env = {"URBIS_HOME": str(fuzz_home), "URBIS_API": UNREACHABLE, "URBIS_PASSPHRASE": ""}
    for argv in cases(path, command, inputs):
        result = runner.invoke(app, [*path, *argv], env=env)
        check(result, [*path, *argv])


def check(result: Any, argv: list[str]) -> None:
    shown = f"urbis {' '.join(argv)[:300]!r} exited {result.exit_code}:\n{result.output[-2000:]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raised = repr(result.exception)[:300]
        raise AssertionError(f"{shown}\nraised {raised}") from result.exception
    assert "internal:" not in result.output and "Traceback" not in result.output, shown
    assert result.exit_code in (0, 1, 2), shown
    if result.exit_code == 1:
        assert CODE_LINE.search(result.stderr), shown


def test_every_group_is_fuzzed() -> None:
    """The walk reaches the sub-apps (a broken walk would make the fuzz test vacuous)."""
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {
        "wallet add",
        "id verify",
        "doc verify",
        "contract propose",
        "pay invoice list",
    } <= names
    assert len(names) >= 50


def test_bad_api_url_is_cli_bad_api_url(fuzz_home: Path) -> None:
    env = {"URBIS_HOME": str(fuzz_home), "URBIS_API": "http://[::1"}
    for argv in (["status"], ["pay", "balance", "mayor", "--asset", "EUR"], ["block", "show"]):
        result = runner.invoke(app, argv, env=env)
        assert result.exit_code == 2, result.output
        assert "cli.bad_api_url" in result.stderr


def test_unreachable_node_is_client_unreachable(fuzz_home: Path) -> None:
    env = {"URBIS_HOME": str(fuzz_home), "URBIS_API": UNREACHABLE, "URBIS_PASSPHRASE": ""}
    argv = ["pay", "transfer", "land", "--asset", "EUR", "--amount", "1", "--from", "mayor"]
    result = runner.invoke(app, argv, env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("client.unreachable: ")


def test_key_file_asking_2_pow_30_is_wallet_bad_kdf(tmp_path: Path) -> None:
    """A tampered key file cannot make the CLI allocate gigabytes (it used to MemoryError)."""
    data = seal_key("greedy", PrivateKey.generate(), "", n=2**4)
    data["kdf"]["n"] = 2**30
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "greedy.json").write_text(json.dumps(data))
    argv = ["role", "grant", "land.registrar", "greedy", "--from", "greedy"]
    result = runner.invoke(app, argv, env={"URBIS_HOME": str(tmp_path), "URBIS_API": UNREACHABLE})
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("keystore.bad_kdf: ")


@pytest.mark.parametrize(
    "kdf",
    [{"n": 3}, {"n": 2**21}, {"r": 0}, {"r": 10**6}, {"p": 99}, {"n": "x"}, {"n": 2**20, "r": 32}],
)
def test_kdf_parameters_out_of_bounds_are_wallet_bad_kdf(kdf: dict[str, Any]) -> None:
    from urbis.sdk.keystore import KeyStoreError, open_key

    data = seal_key("k", PrivateKey.generate(), "", n=2**4)
    data["kdf"].update(kdf)
    with pytest.raises(KeyStoreError) as caught:
        open_key(data, "")
    assert caught.value.code == "keystore.bad_kdf"


def test_real_process_bad_input_is_one_coded_line(tmp_path: Path) -> None:
    """The console entry point, not just CliRunner: codes, exit statuses, no traceback."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(2048))
    env = {**os.environ, "URBIS_HOME": str(tmp_path), "URBIS_API": UNREACHABLE}
    runs = [
        (["id", "verify", str(garbage), "--audience", "a", "--nonce", "n"], 2, "cli.not_utf8"),
        (["contract", "propose", str(garbage), "--name", "x", "--from", "m"], 2, "cli.not_utf8"),
        (["doc", "verify", str(garbage), "--manifest", str(garbage)], 2, "cli.not_utf8"),
    ]
    for argv, status, code in runs:
        done = subprocess.run(
            [sys.executable, "-m", "urbis.cli.main", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == status, (argv, done.stderr)
        assert done.stderr.startswith(f"{code}: "), (argv, done.stderr)
        assert "Traceback" not in done.stderr


def _file(tmp_path: Path, name: str, content: bytes | str | None) -> str:
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


NO_VCT = f"{_unsigned_jwt().replace('none', 'EdDSA')}~"


@pytest.mark.parametrize(
    "content,code",
    [
        ("", "credential.not_a_presentation"),
        (bytes(range(256)) * 4, "cli.not_utf8"),
        ("random words, not a JWT", "credential.not_a_presentation"),
        (None, "cli.not_a_file"),
        (NO_VCT, "credential.not_a_presentation"),
    ],
    ids=["empty", "random-bytes", "text", "directory", "jwt-without-vct"],
)
def test_id_verify_on_what_is_no_presentation_exits_2(
    tmp_path: Path, content: bytes | str | None, code: str
) -> None:
    file = _file(tmp_path, "presentation", content)
    argv = ["id", "verify", file, "--audience", "a", "--nonce", "n", "--api", UNREACHABLE]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{code}: ")


def test_id_verify_missing_file_is_cli_no_file(tmp_path: Path) -> None:
    argv = ["id", "verify", str(tmp_path / "nope"), "--audience", "a", "--nonce", "n"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2 and result.stderr.startswith("cli.no_file: ")


@pytest.mark.parametrize(
    "bundle",
    ["[]", "{}", '{"taken_at_ms": 1, "trust": [], "dids": {}, "status_lists": {}}', "[" * 5000],
)
def test_id_verify_malformed_bundle_exits_2(tmp_path: Path, bundle: str) -> None:
    from urbis.sdk.sdjwt import HolderKey, issue

    signed = issue(
        PrivateKey.generate(), "did:urbis:x", "ResidentID", {}, [], HolderKey().jwk, 1, 2
    )
    presentation = _file(tmp_path, "p.txt", signed + "e30.e30.")
    argv = ["id", "verify", presentation, "--audience", "a", "--nonce", "n", "--bundle"]
    result = runner.invoke(app, [*argv, _file(tmp_path, "bundle.json", bundle)])
    assert result.exit_code == 2, result.output
    assert result.stderr.split(":")[0] in ("credential.bad_bundle", "cli.bad_json")


@pytest.mark.parametrize(
    "manifest",
    [
        "[]",
        "[" * 100_000,
        '{"root": "00"}',
        '{"documents": [], "root": "' + "0" * 64 + '"}',
        '{"documents": [{"hash": "HASH"}], "root": "' + "0" * 64 + '"}',
        '{"documents": [{"hash": "HASH", "path": [[true, "zz"]]}], "root": "' + "0" * 64 + '"}',
    ],
    ids=["list", "deep", "no-documents", "not-listed", "no-path", "non-hex-sibling"],
)
def test_doc_verify_malformed_manifest_is_coded(tmp_path: Path, manifest: str) -> None:
    import hashlib

    document = tmp_path / "deed.pdf"
    document.write_bytes(b"deed")
    manifest = manifest.replace("HASH", hashlib.sha256(b"deed").hexdigest())
    argv = ["doc", "verify", str(document), "--manifest", _file(tmp_path, "m.json", manifest)]
    result = runner.invoke(app, [*argv, "--api", UNREACHABLE])
    code = result.stderr.split(":")[0]
    if code == "documents.not_in_batch":
        assert result.exit_code == 1
    else:
        assert result.exit_code == 2, result.output
        assert code in ("cli.bad_manifest", "cli.bad_json")


def test_contract_propose_non_utf8_source_is_cli_not_utf8(tmp_path: Path) -> None:
    source = _file(tmp_path, "land.vy", "# caf\xe9\n".encode("latin-1"))
    result = runner.invoke(app, ["contract", "propose", source, "--name", "x", "--from", "m"])
    assert result.exit_code == 2 and result.stderr.startswith("cli.not_utf8: ")
