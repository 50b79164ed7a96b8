"""`urbis wallet add` keeps only real credentials, under names that stay in the folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import urbis.cli.wallet as wallet_cli
from urbis.chain.ids import AccountId
from urbis.cli.main import app
from urbis.crypto.keys import PrivateKey
from urbis.sdk.credentials import CredentialWallet
from urbis.sdk.sdjwt import CredentialRejected, HolderKey, b64url, issue

runner = CliRunner()
ISSUER = PrivateKey.generate()
ISSUER_ACCOUNT = AccountId.from_key(ISSUER.public_key.raw)


def credential(signer: PrivateKey = ISSUER) -> str:
    return issue(
        signer,
        ISSUER_ACCOUNT.did,
        "ResidentID",
        {"age_over_18": True, "given_name": "Ada"},
        ["age_over_18", "given_name"],
        HolderKey().jwk,
        1_700_000_000,
        1_900_000_000,
    )


def did_document() -> dict[str, Any]:
    """What `GET /v1/dids/{did}` answers: the issuer's key since before it issued."""
    key = {"time_ms": 0, "key": ISSUER.public_key.raw.hex(), "change": "added"}
    return {"id": ISSUER_ACCOUNT.did, "urbis": {"keyHistory": [key]}}


class FakeNode:
    def send(self, request: Any) -> Any:
        assert request.path == f"/v1/dids/{ISSUER_ACCOUNT.did}"
        return did_document()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(wallet_cli, "client", lambda api: FakeNode())
    return tmp_path / "alice"


def add(home: Path, file: Path, *args: str) -> Any:
    return runner.invoke(app, ["wallet", "add", str(file), "--home", str(home), *args])


def test_name_leaving_the_folder_is_wallet_bad_name(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.sdjwt"
    good.write_text(credential())
    for name in ("../../evil", "", "a/b", ".hidden", "x" * 65):
        result = add(home, good, "--name", name)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("wallet.bad_name: ")
    assert not (tmp_path / "evil.sdjwt").exists()
    assert list(tmp_path.rglob("*.sdjwt")) == [good]


def test_empty_file_is_wallet_malformed(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.sdjwt"
    empty.write_text("")
    result = add(home, empty, "--name", "resident")
    assert result.exit_code == 1 and result.stderr.startswith("wallet.malformed: ")
    assert not (home / "wallet" / "credentials" / "resident.sdjwt").exists()


def test_ten_megabytes_of_a_is_cli_file_too_large(home: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.sdjwt"
    big.write_bytes(b"a" * 10_000_000)
    result = add(home, big, "--name", "resident")
    assert result.exit_code == 2 and result.stderr.startswith("cli.file_too_large: ")


def test_unsigned_fake_jwt_is_wallet_malformed(home: Path, tmp_path: Path) -> None:
    header = b64url(json.dumps({"alg": "none", "typ": "dc+sd-jwt"}).encode())
    payload = b64url(json.dumps({"iss": ISSUER_ACCOUNT.did, "vct": "ResidentID"}).encode())
    fake = tmp_path / "fake.sdjwt"
    fake.write_text(f"{header}.{payload}.~")
    result = add(home, fake, "--name", "resident")
    assert result.exit_code == 1 and result.stderr.startswith("wallet.malformed: ")


def test_credential_signed_by_another_key_is_wallet_bad_issuer_signature(
    home: Path, tmp_path: Path
) -> None:
    forged = tmp_path / "forged.sdjwt"
    forged.write_text(credential(PrivateKey.generate()))
    result = add(home, forged, "--name", "resident")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("wallet.bad_issuer_signature: ")
    assert not (home / "wallet" / "credentials" / "resident.sdjwt").exists()


def test_overwriting_a_name_is_wallet_exists_unless_replace(home: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.sdjwt", tmp_path / "second.sdjwt"
    first.write_text(credential())
    second.write_text(credential())
    assert add(home, first, "--name", "resident").exit_code == 0
    again = add(home, second, "--name", "resident")
    assert again.exit_code == 1 and again.stderr.startswith("wallet.exists: ")
    kept = home / "wallet" / "credentials" / "resident.sdjwt"
    assert kept.read_text() == first.read_text().strip()
    assert add(home, second, "--name", "resident", "--replace").exit_code == 0
    assert kept.read_text() == second.read_text().strip()


def test_list_shows_a_damaged_file_instead_of_failing(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.sdjwt"
    good.write_text(credential())
    assert add(home, good, "--name", "resident").exit_code == 0
    (home / "wallet" / "credentials" / "broken.sdjwt").write_text("not a credential")
    listed = runner.invoke(app, ["wallet", "list", "--home", str(home), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["resident"]["vct"] == "ResidentID"
    assert rows["resident"]["claims"] == ["age_over_18", "given_name"]
    assert "malformed" in rows["broken"]["damaged"]
    human = runner.invoke(app, ["wallet", "list", "--home", str(home)])
    assert human.exit_code == 0 and "broken damaged" in human.stdout


def test_sdk_wallet_checks_the_signature_with_the_keys_given(tmp_path: Path) -> None:
    wallet = CredentialWallet(tmp_path, HolderKey())
    with pytest.raises(CredentialRejected) as caught:
        wallet.add("resident", credential(), lambda did, ms: [PrivateKey.generate().public_key.raw])
    assert caught.value.reason == "bad_issuer_signature"
    claims = wallet.add("resident", credential(), lambda did, ms: [ISSUER.public_key.raw])
    assert claims == ["age_over_18", "given_name"]
