"""A turnstile with no network: verify from an exported bundle; refresh to see revocations."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers.city import CHAIN_ID, account, city_home, key
from urbis.api.server import create_api
from urbis.node.runner import Node
from urbis.sdk.builder import TxBuilder
from urbis.sdk.bundle import export_bundle, offline_view
from urbis.sdk.sdjwt import CredentialRejected, HolderKey, StatusReference, issue, present
from urbis.sdk.sdjwt import verify_presentation as verify

DAY_MS = 86_400_000


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    node = Node(city_home(tmp_path))
    node.start()
    with TestClient(create_api(node)) as client:
        yield client
    node.stop()


def send(api: TestClient, nonce: int, module: str, name: str, **args: object) -> None:
    tx = TxBuilder(CHAIN_ID).add(module, name, **args).sign([key("registry")], nonce, 1000)
    answer = api.post("/v1/txs?wait=commit", json={"tx": base64.b64encode(tx.raw).decode()})
    assert answer.json()["receipt"]["ok"], answer.json()


def bundle(api: TestClient) -> dict:
    status = api.get("/v1/status").json()
    block = api.get("/v1/blocks/latest").json()["header"]
    return export_bundle(
        lambda path: api.get(path).json(),
        ["TransitPass"],
        [(account("registry").text, 2)],
        status["height"],
        block["time_ms"],
    )


def test_turnstile_verifies_offline_and_sees_revocation_after_refresh(api: TestClient) -> None:
    registry = account("registry")
    send(
        api,
        0,
        "governance",
        "grant_role",
        department="registry",
        role="trust_admin",
        account=registry,
    )
    send(
        api,
        1,
        "identity",
        "define_type",
        vct="TransitPass",
        schema_hash=hashlib.sha256(b"transit").digest(),
        claims=["zone", "valid_until", "concession"],
        disclosable=["zone", "concession"],
        validity_days=30,
    )
    send(api, 2, "identity", "trust_issuer", vct="TransitPass", issuer=registry)
    send(api, 3, "identity", "create_status_list", list_id=2, size=8192, bits=1)
    taken = bundle(api)
    issued_at = taken["taken_at_ms"] // 1000 + 1
    holder = HolderKey()
    sd_jwt = issue(
        key("registry"),
        registry.did,
        "TransitPass",
        {"zone": "A", "valid_until": "2027-01-31", "concession": "student"},
        ["zone", "concession"],
        holder.jwk,
        issued_at,
        issued_at + 30 * 86_400,
        StatusReference(registry.text, 2, 123),
    )
    now_ms = (issued_at + 60) * 1000
    turnstile = offline_view(taken, now_ms, max_staleness_ms=DAY_MS)
    ride = present(sd_jwt, ["zone"], holder, "turnstile-17", "tap-1", now_ms // 1000)
    assert verify(ride, turnstile, "turnstile-17", "tap-1", now_ms // 1000).claims == {
        "zone": "A",
        "valid_until": "2027-01-31",
    }

    send(api, 4, "identity", "set_status", list_id=2, index=123, status=1)
    ride2 = present(sd_jwt, ["zone"], holder, "turnstile-17", "tap-2", now_ms // 1000)
    assert verify(ride2, turnstile, "turnstile-17", "tap-2", now_ms // 1000)  # old bundle
    refreshed = offline_view(bundle(api), now_ms, max_staleness_ms=DAY_MS)
    ride3 = present(sd_jwt, ["zone"], holder, "turnstile-17", "tap-3", now_ms // 1000)
    with pytest.raises(CredentialRejected) as caught:
        verify(ride3, refreshed, "turnstile-17", "tap-3", now_ms // 1000)
    assert caught.value.reason == "revoked"

    with pytest.raises(CredentialRejected) as stale:
        offline_view(taken, taken["taken_at_ms"] + 2 * DAY_MS, max_staleness_ms=DAY_MS)
    assert stale.value.reason == "stale_cache"
