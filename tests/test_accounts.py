"""Accounts: creation, multisig, rotation and the key history that survives it."""

from __future__ import annotations

from tests.helpers.city import CityChain, account, anchor, key
from urbis.chain.ids import AccountId
from urbis.modules.accounts.records import AccountKey
from urbis.sdk.builder import action


def create(chain: CityChain, name: str, threshold: int = 1, *extra: str) -> str:
    keys = [AccountKey(key(n).public_key.raw, 1) for n in (name, *extra)]
    receipt = chain.run("registry", action("accounts", "create", keys=keys, threshold=threshold))
    return receipt.code


def test_create_account_derives_id_from_first_key(chain: CityChain) -> None:
    assert create(chain, "alice") == "ok"
    view = chain.query("accounts", "account", id=account("alice").text)
    assert view["id"] == AccountId.from_key(key("alice").public_key.raw).text
    assert view["did"] == "did:urbis:" + view["id"]
    assert view["nonce"] == 0 and view["threshold"] == 1


def test_creating_twice_is_accounts_already_exists(chain: CityChain) -> None:
    assert create(chain, "alice") == "ok"
    assert create(chain, "alice") == "accounts.already_exists"


def test_threshold_above_weights_is_accounts_threshold_unreachable(chain: CityChain) -> None:
    assert create(chain, "alice", 2) == "accounts.threshold_unreachable"


def test_duplicate_keys_are_accounts_invalid_keys(chain: CityChain) -> None:
    assert create(chain, "alice", 1, "alice") == "accounts.invalid_keys"


def test_rotated_key_signs_and_old_key_no_longer_does(chain: CityChain) -> None:
    receipt = chain.run(
        "land",
        action(
            "accounts",
            "rotate_key",
            old_key=key("land").public_key.raw,
            new_key=key("land-new").public_key.raw,
        ),
    )
    assert receipt.ok, receipt.message
    old = chain.sign("land", [anchor("land", "x")])
    try:
        chain.submit(old)
        raise AssertionError("old key still accepted")
    except Exception as error:
        assert getattr(error, "code", "") == "tx.unknown_signer"
    new = chain.sign(
        "land",
        [anchor("land", "x")],
        nonce=old.body.nonce,
        signers=["land-new"],
        sender_account=account("land"),
    )
    chain.submit(new)
    _, result = chain.block()
    assert result.receipts[0].ok
    history = chain.query("accounts", "account", id=account("land").text)["key_history"]
    assert [h["change"] for h in history] == ["added", "removed", "added"]
    assert history[-1]["key"] == key("land-new").public_key.raw.hex()


def test_removing_the_last_key_is_refused(chain: CityChain) -> None:
    receipt = chain.run("land", action("accounts", "remove_key", key=key("land").public_key.raw))
    assert receipt.code == "accounts.invalid_keys"
