"""SDK: encrypted key files, the transaction builder, the async client."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
import uvicorn

from tests.helpers.city import CHAIN_ID, anchor, city_home, key
from tests.helpers.process import free_port
from urbis.api.server import create_api
from urbis.node.runner import Node
from urbis.sdk import ApiError, AsyncClient, KeyStore, KeyStoreError, TxBuilder


def test_wallet_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    wallet = KeyStore(tmp_path)
    info = wallet.create("alice", "s3cret", key("alice"))
    assert (info.path.stat().st_mode & 0o777) == 0o600
    assert wallet.load("alice", "s3cret").seed == key("alice").seed
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        wallet.load("alice", "guess")
    assert (
        "seed" not in info.path.read_text() and key("alice").seed.hex() not in info.path.read_text()
    )


def test_relabelled_key_file_fails_to_open(tmp_path: Path) -> None:
    wallet = KeyStore(tmp_path)
    wallet.create("alice", "pw", key("alice"))
    data = json.loads((tmp_path / "alice.json").read_text())
    data["name"] = "mallory"
    (tmp_path / "mallory.json").write_text(json.dumps(data))
    with pytest.raises(KeyStoreError):
        wallet.load("mallory", "pw")


def test_bad_key_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path).create("../escape", "pw")


def test_builder_needs_actions_and_keys() -> None:
    with pytest.raises(ValueError):
        TxBuilder(CHAIN_ID).sign([key("land")], 0, 10)
    with pytest.raises(ValueError):
        TxBuilder(CHAIN_ID).add("documents", "anchor").sign([], 0, 10)


def test_async_client_submits_and_reads(tmp_path: Path) -> None:
    node = Node(city_home(tmp_path))
    node.start()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(node), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    async def scenario() -> None:
        async with AsyncClient(f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    status = await client.status()
                    break
                except ApiError:
                    await asyncio.sleep(0.05)
            tx = TxBuilder(CHAIN_ID).add("documents", "anchor", **anchor("land", "a").args)
            signed = tx.sign([key("land")], 0, status["height"] + 100)
            answer = await client.submit(signed)
            assert answer["receipt"]["ok"]
            with pytest.raises(ApiError) as caught:
                await client.submit(signed)
            assert caught.value.code == "tx.nonce_used"

    try:
        asyncio.run(scenario())
    finally:
        server.should_exit = True
        thread.join(10)
        node.stop()
