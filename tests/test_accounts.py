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


def recovery_setup(chain: CityChain) -> None:
    assert create(chain, "alice") == "ok"
    for helper in ("bob", "carol"):
        assert create(chain, helper) == "ok"
    guardians = action(
        "accounts",
        "set_guardians",
        guardians=[account("registry"), account("bob"), account("carol")],
        threshold=2,
        delay_blocks=10,
    )
    assert chain.run("alice", guardians).ok


def propose(new_key: str) -> object:
    return action(
        "accounts",
        "propose_recovery",
        account=account("alice"),
        new_keys=[AccountKey(key(new_key).public_key.raw, 1)],
        new_threshold=1,
    )


def test_guardians_recover_a_lost_account_after_the_delay(chain: CityChain) -> None:
    recovery_setup(chain)
    assert chain.run("land", propose("alice-new")).code == "accounts.not_guardian"
    assert chain.run("bob", propose("alice-new")).ok
    assert chain.run("bob", propose("alice-new")).code == "accounts.recovery_exists"
    execute = action("accounts", "execute_recovery", account=account("alice"))
    assert chain.run("land", execute).code == "accounts.recovery_not_ready"  # 1 of 2
    approve = action("accounts", "approve_recovery", account=account("alice"))
    assert chain.run("bob", approve).code == "accounts.already_approved"
    assert chain.run("registry", approve).ok
    assert chain.run("land", execute).code == "accounts.recovery_not_ready"  # delay
    for _ in range(10):
        chain.block()
    receipt = chain.run("land", execute)
    assert receipt.ok and "accounts.recovered" in [e.type for e in receipt.events]
    new = chain.sign(
        "alice", [anchor_free()], signers=["alice-new"], sender_account=account("alice")
    )
    chain.submit(new)
    old = chain.sign("alice", [anchor_free()], nonce=new.body.nonce + 1)
    try:
        chain.submit(old)
        raise AssertionError("the lost key still signs")
    except Exception as error:
        assert getattr(error, "code", "") == "tx.unknown_signer"
    history = chain.query("accounts", "account", id=account("alice").text)["key_history"]
    assert [h["change"] for h in history][-2:] == ["removed", "added"]


def anchor_free() -> object:
    return action("accounts", "add_key", key=key("alice-extra").public_key.raw, weight=1)


def test_owner_cancels_a_recovery_during_the_delay(chain: CityChain) -> None:
    recovery_setup(chain)
    assert chain.run("bob", propose("attacker")).ok
    assert chain.run("carol", action("accounts", "approve_recovery", account=account("alice"))).ok
    assert chain.run("alice", action("accounts", "cancel_recovery")).ok
    for _ in range(10):
        chain.block()
    execute = action("accounts", "execute_recovery", account=account("alice"))
    assert chain.run("bob", execute).code == "accounts.no_recovery"


def test_recovery_needs_guardians(chain: CityChain) -> None:
    assert create(chain, "alice") == "ok"
    assert chain.run("registry", propose("x")).code == "accounts.no_guardians"
