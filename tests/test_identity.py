"""Identity registry: trust, credential types, status lists, verifiers, DID documents."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.city import CityChain, account, city_genesis, key, role_grant
from tests.helpers.identity import define_type
from urbis.modules.identity.keeper import status_of
from urbis.modules.identity.types import STANDARD_TYPES
from urbis.sdk.builder import action

RESIDENT_CLAIMS = STANDARD_TYPES["ResidentID"]["claims"]


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    chain = CityChain(tmp_path, genesis=city_genesis(extra_accounts=("transit", "alice")))
    assert chain.run(
        "registry",
        role_grant("registry", "trust_admin"),
    ).ok
    assert chain.run("registry", define("ResidentID", RESIDENT_CLAIMS)).ok
    yield chain
    chain.close()


def define(vct: str, claims: list[str]) -> object:
    return define_type(vct, claims)


def trust(vct: str, issuer: str, withdraw: bool = False) -> object:
    return action(
        "identity",
        "withdraw_issuer" if withdraw else "trust_issuer",
        vct=vct,
        issuer=account(issuer),
    )


def test_trust_has_periods_and_answers_for_past_times(city: CityChain) -> None:
    assert city.run("registry", trust("ResidentID", "registry")).ok
    assert city.run("registry", trust("ResidentID", "registry")).code == (
        "identity.already_trusted"
    )
    granted_at = city.clock
    assert city.run("registry", trust("ResidentID", "registry", withdraw=True)).ok
    assert city.run("registry", trust("ResidentID", "registry", withdraw=True)).code == (
        "identity.not_trusted"
    )
    (row,) = city.query("identity", "trust", vct="ResidentID")
    assert row["issuer"] == account("registry").text and not row["current"]
    from urbis.modules.identity.keeper import read_trust

    record = read_trust(city.app.store, "ResidentID", account("registry"))
    assert record.trusted_at(granted_at) and not record.trusted_at(city.clock + 1)
    assert not record.trusted_at(granted_at - 10_000)


def test_registry_actions_need_the_trust_admin_role(city: CityChain) -> None:
    assert city.run("land", trust("ResidentID", "land")).code == "auth.missing_role"
    assert city.run("registry", trust("TransitPass", "transport")).code == "identity.unknown_type"
    assert city.run("registry", define("ResidentID", ["x"])).code == "identity.type_exists"
    bad = define_type("Bad", ["a"], disclosable=["b"], days=1)
    assert city.run("registry", bad).code == "tx.invalid_args"


def test_million_entry_status_list_revokes_one_credential(city: CityChain) -> None:
    size = 1 << 20
    assert city.run(
        "registry", action("identity", "create_status_list", list_id=7, size=size, bits=1)
    ).ok
    revoke = action("identity", "set_status", list_id=7, index=777_777, status=1)
    receipt = city.run("registry", revoke)
    assert receipt.ok and receipt.events[0].type == "identity.status_changed"
    assert status_of(city.app.store, account("registry"), 7, 777_777) == 1
    assert status_of(city.app.store, account("registry"), 7, 777_776) == 0
    published = city.query("identity", "status_list", issuer=account("registry").text, list_id="7")
    packed = zlib.decompress(base64.urlsafe_b64decode(published["lst"] + "=="))
    assert len(packed) == size // 8
    assert (packed[777_777 // 8] >> (777_777 % 8)) & 1 == 1  # LSB first, as the spec says
    assert sum(bin(b).count("1") for b in packed) == 1
    assert published["compressed_bytes"] < 2_000  # a mostly-valid list compresses to ~1 KiB


def test_status_faults_have_codes(city: CityChain) -> None:
    assert city.run(
        "registry", action("identity", "create_status_list", list_id=1, size=4096, bits=2)
    ).ok
    assert (
        city.run(
            "registry", action("identity", "create_status_list", list_id=1, size=4096, bits=2)
        ).code
        == "identity.status_list_exists"
    )
    assert (
        city.run("registry", action("identity", "set_status", list_id=1, index=4096, status=1)).code
        == "identity.index_out_of_range"
    )
    assert (
        city.run("registry", action("identity", "set_status", list_id=1, index=5, status=4)).code
        == "identity.invalid_status"
    )
    assert (
        city.run("land", action("identity", "set_status", list_id=1, index=5, status=1)).code
        == "identity.unknown_status_list"
    )
    suspend = action("identity", "set_status", list_id=1, index=5, status=2)
    assert city.run("registry", suspend).ok
    assert status_of(city.app.store, account("registry"), 1, 5) == 2
    assert status_of(city.app.store, account("registry"), 1, 4) == 0
    assert city.run("registry", action("identity", "set_status", list_id=1, index=5, status=0)).ok
    assert status_of(city.app.store, account("registry"), 1, 5) == 0


def test_verifier_may_only_be_granted_claims_the_type_has(city: CityChain) -> None:
    def transit_may_ask(*claims: str) -> object:
        return action(
            "identity",
            "register_verifier",
            verifier=account("transit"),
            name="City Transit",
            allowed_claims={"ResidentID": list(claims)},
        )

    assert city.run("registry", transit_may_ask("age_over_18")).ok
    view = city.query("identity", "verifier", account=account("transit").text)
    assert view["allowed_claims"] == {"ResidentID": ["age_over_18"]}
    assert city.run("registry", transit_may_ask("shoe_size")).code == "identity.unknown_claim"


def test_did_document_lists_current_keys_and_history(city: CityChain) -> None:
    document = city.query("identity", "did", did=account("alice").did)
    assert document["id"] == account("alice").did
    jwk = document["verificationMethod"][0]["publicKeyJwk"]
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == key("alice").public_key.raw
    rotate = action(
        "accounts",
        "rotate_key",
        old_key=key("alice").public_key.raw,
        new_key=key("alice-2").public_key.raw,
    )
    assert city.run("alice", rotate).ok
    document = city.query("identity", "did", did=account("alice").did)
    assert len(document["verificationMethod"]) == 1
    assert [h["change"] for h in document["urbis"]["keyHistory"]] == ["added", "removed", "added"]


def test_no_personal_data_reaches_the_chain(city: CityChain) -> None:
    assert city.run("registry", trust("ResidentID", "registry")).ok
    rows = city.app.store.scan_prefix(b"identity/", limit=10_000)
    assert rows and all(b"Alice" not in k + v and b"1990-" not in k + v for k, v in rows)


def allocate(list_id: int, *indexes: int) -> object:
    return action("identity", "allocate_status", list_id=list_id, indexes=list(indexes))


def test_allocation_hands_each_index_out_once_and_holds_nothing_else(city: CityChain) -> None:
    from urbis.modules.identity.keeper import allocated

    assert city.run("registry", allocate(1, 3)).code == "identity.unknown_status_list"
    create = action("identity", "create_status_list", list_id=1, size=1024, bits=2)
    assert city.run("registry", create).ok
    receipt = city.run("registry", allocate(1, 3, 700))
    assert receipt.ok
    (event,) = [e for e in receipt.events if e.type == "identity.status_allocated"]
    assert event.attrs["count"] == 2
    assert allocated(city.app.store, account("registry"), 1, 700)
    assert not allocated(city.app.store, account("registry"), 1, 4)
    assert city.run("registry", allocate(1, 700)).code == "identity.index_allocated"
    assert city.run("registry", allocate(1, 1024)).code == "identity.index_out_of_range"
    assert city.run("registry", allocate(1, 5, 5)).code == "tx.invalid_args"
    assert city.run("registry", allocate(1, *range(65))).code == "tx.invalid_args"
    assert status_of(city.app.store, account("registry"), 1, 700) == 0  # allocation is not status
