"""A damaged store is refused or detected, never believed.

A small city runs some blocks and stops. Then, one copy at a time, a bit of
its SQLite file or of its tree-node files is flipped (at random offsets, and
inside stored values, headers, receipts and tree nodes) and the app is opened
on the copy. Each
copy must either refuse to open with StoreCorrupt, or answer every read with
exactly what the undamaged store held (or StoreCorrupt), and execute the next
block to exactly the undamaged app hash (or halt with StoreCorrupt). Anything
else, a wrong value, a different app hash or another exception, fails.

URBIS_FUZZ=long flips thousands of offsets instead of a few hundred.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.city import CityChain, account, anchor, create_eur, key
from urbis.chain.block import BlockHeader, sign_header
from urbis.chain.context import BlockInfo
from urbis.chain.errors import NodeHalted
from urbis.modules import build_application
from urbis.sdk.builder import action
from urbis.state.database import Database
from urbis.state.errors import StoreCorrupt

LONG = os.environ.get("URBIS_FUZZ") == "long"
RANDOM_FLIPS = 3000 if LONG else 150
TARGETED_FLIPS_MAX = 2000 if LONG else 150


@dataclass
class Reference:
    """The undamaged store, what it holds, and what its next block must give."""

    image: bytes
    node_files: dict[str, bytes]
    """The tree's segment files and location snapshot, by name in `urbis.db.nodes`."""
    values: dict[bytes, bytes]
    nodes: list[bytes]
    """Tree node records (digest and node) as stored in the segment files."""
    headers: dict[int, BlockHeader]
    txs: dict[int, list[bytes]]
    next_block: BlockInfo
    next_raws: list[bytes]
    next_app_hash: bytes


def build_reference(folder: Path) -> Reference:
    chain = CityChain(folder)
    create_eur(chain)
    chain.run(
        "finance",
        action("payments", "mint", recipient=account("land"), asset="EUR", amount_minor=100_000),
    )
    for index in range(6):
        chain.submit(chain.sign("land", [anchor("land", f"deed-{index}")]))
        chain.submit(chain.sign("registry", [anchor("registry", f"permit-{index}")]))
        chain.submit(
            chain.sign(
                "land",
                [
                    action(
                        "payments",
                        "transfer",
                        id=bytes([index]) * 16,
                        recipient=account("registry"),
                        asset="EUR",
                        amount_minor=100 + index,
                    )
                ],
            )
        )
        chain.block()
    height = chain.height
    next_raws = [
        chain.sign("land", [anchor("land", "next-deed")]).raw,
        chain.sign(
            "land",
            [
                action(
                    "payments",
                    "transfer",
                    id=b"\x77" * 16,
                    recipient=account("finance"),
                    asset="EUR",
                    amount_minor=250,
                )
            ],
        ).raw,
        chain.sign("registry", [anchor("registry", "next-permit")]).raw,
    ]
    next_block = BlockInfo(
        chain.genesis.chain_id, height + 1, chain.clock + 1000, key("validator").public_key.raw
    )
    headers = {}
    txs = {}
    for h in range(1, height + 1):
        signed = chain.app.blocks.header(h)
        assert signed is not None
        headers[h] = signed.header
        txs[h] = [t.raw for t in chain.app.blocks.block_txs(h)]
    chain.close()
    db_file = folder / "urbis.db"
    assert not Path(f"{db_file}-wal").exists() or Path(f"{db_file}-wal").stat().st_size == 0
    image = db_file.read_bytes()
    node_files = {p.name: p.read_bytes() for p in sorted(Path(f"{db_file}.nodes").iterdir())}
    values = _latest_values(db_file)
    nodes = _node_records(node_files)
    # What the next block gives on the undamaged store.
    copy = folder / "pristine"
    write_copy(copy, image, node_files)
    db = Database(copy / "urbis.db")
    app = build_application(db)
    next_app_hash = app.finalize_block(next_block, next_raws).app_hash
    assert all(r.ok for r in app._pending.result.receipts)  # type: ignore[union-attr]
    app.abandon_block()
    db.close()
    return Reference(
        image, node_files, values, nodes, headers, txs, next_block, next_raws, next_app_hash
    )


def write_copy(folder: Path, image: bytes, node_files: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "urbis.db.nodes").mkdir(parents=True)
    (folder / "urbis.db").write_bytes(image)
    for name, data in node_files.items():
        (folder / "urbis.db.nodes" / name).write_bytes(data)


def city_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "city"
    folder.mkdir()
    return folder


def _node_records(node_files: dict[str, bytes]) -> list[bytes]:
    return [
        data[i : i + 97]
        for name, data in node_files.items()
        if name.endswith(".seg")
        for i in range(0, len(data), 97)
    ]


def _latest_values(db_file: Path) -> dict[bytes, bytes]:
    conn = sqlite3.connect(db_file)
    try:
        rows = conn.execute("SELECT key, value FROM state_values").fetchall()
    finally:
        conn.close()
    return {bytes(k): bytes(v) for k, v in rows if v is not None}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return build_reference(tmp_path_factory.mktemp("reference"))


DB = "urbis.db"


def targeted_offsets(reference: Reference, rng: random.Random) -> list[tuple[str, int]]:
    """Offsets inside bytes that matter: stored values, headers, receipts, tree nodes."""
    images = {DB: reference.image} | reference.node_files
    needles = [v for v in reference.values.values() if len(v) >= 8]
    needles += [h.encode() for h in reference.headers.values()]
    needles += [raw for raws in reference.txs.values() for raw in raws]
    needles += rng.sample(reference.nodes, min(60, len(reference.nodes)))
    offsets = []
    for needle in needles:
        for name, image in images.items():
            start = image.find(needle)
            while start >= 0:
                offsets.append((name, start + rng.randrange(len(needle))))
                start = image.find(needle, start + 1)
    rng.shuffle(offsets)
    return offsets[:TARGETED_FLIPS_MAX]


def flip(image: bytes, offset: int, bit: int) -> bytes:
    damaged = bytearray(image)
    damaged[offset] ^= 1 << bit
    return bytes(damaged)


def outcome(reference: Reference, folder: Path, name: str, offset: int, bit: int) -> str:
    """Refused, detected or unharmed; anything else raises (the test fails)."""
    image, node_files = reference.image, dict(reference.node_files)
    if name == DB:
        image = flip(image, offset, bit)
    else:
        node_files[name] = flip(node_files[name], offset, bit)
    write_copy(folder, image, node_files)
    try:
        db = Database(folder / "urbis.db")
    except StoreCorrupt:
        return "refused"
    try:
        try:
            app = build_application(db)
        except StoreCorrupt:
            return "refused"
        try:
            # Proofs first: with the value cache empty they read SQLite, so their own check of
            # each value against its leaf is what stands between a flip and a client.
            for state_key in reference.values:
                proof = app.store.prove(state_key)
                assert proof.value == reference.values[state_key], f"wrong proof {state_key!r}"
            for state_key, value in reference.values.items():
                assert app.store.get(state_key) == value, f"wrong value served for {state_key!r}"
            for height, header in reference.headers.items():
                signed = app.blocks.header(height)
                assert signed is not None and signed.header == header, f"wrong header {height}"
                raws = [t.raw for t in app.blocks.block_txs(height)]
                assert raws == reference.txs[height], f"wrong transactions in block {height}"
            result = app.finalize_block(reference.next_block, reference.next_raws)
            assert result.app_hash == reference.next_app_hash, "built a block on damaged state"
        except StoreCorrupt:
            return "detected"
        except NodeHalted:
            return "detected"
        return "unharmed"
    finally:
        db.close()


def cases(reference: Reference) -> Iterator[tuple[str, int, int]]:
    rng = random.Random(int(os.environ.get("URBIS_FUZZ_SEED", "20261202")))
    for name, offset in targeted_offsets(reference, rng):
        yield name, offset, rng.randrange(8)
    images = {DB: reference.image} | reference.node_files
    sizes = {name: len(image) for name, image in images.items()}
    total = sum(sizes.values())
    for _ in range(RANDOM_FLIPS):
        # Uniform over all the bytes the store keeps, whichever file holds them.
        at = rng.randrange(total)
        for candidate, size in sizes.items():
            if at < size:
                yield candidate, at, rng.randrange(8)
                break
            at -= size


def test_bit_flips_are_refused_or_detected_never_served(
    reference: Reference, tmp_path: Path
) -> None:
    seen = {"refused": 0, "detected": 0, "unharmed": 0}
    by_file = {"db": 0, "nodes": 0}
    for name, offset, bit in cases(reference):
        by_file["db" if name == DB else "nodes"] += 1
        try:
            seen[outcome(reference, tmp_path / "copy", name, offset, bit)] += 1
        except AssertionError as error:
            if isinstance(error, StoreCorrupt):
                raise
            raise AssertionError(f"flip in {name} at {offset} bit {bit}: {error}") from error
        except Exception as error:
            raise AssertionError(
                f"flip in {name} at {offset} bit {bit}: {type(error).__name__}: {error}"
            ) from error
    sizes = len(reference.image) + sum(map(len, reference.node_files.values()))
    print(f"storage faults: {seen} over {by_file} flips of {sizes} bytes")
    # Values, headers, receipts and tree nodes were hit on purpose: some must be caught.
    assert seen["refused"] + seen["detected"] > 0
    assert by_file["nodes"] > 0


def test_flipped_nonce_is_store_corrupt_and_no_replay(tmp_path: Path) -> None:
    """The issue's case: a committed nonce damaged on disk must not let a replay in."""
    chain = CityChain(city_folder(tmp_path))
    first = chain.sign("land", [anchor("land", "once")])
    chain.submit(first)
    chain.block()
    chain.close()
    db_file = tmp_path / "city" / "urbis.db"
    image = db_file.read_bytes()
    from urbis.crypto.encoding import encode_trusted
    from urbis.modules.accounts import keys as account_keys

    nonce_key = account_keys.nonce(account("land"))
    stored = _latest_values(db_file)[nonce_key]
    assert stored == encode_trusted(1)
    # The nonce row is the key followed by its version and value: find the key, then the value.
    at = image.find(nonce_key)
    assert at >= 0
    value_at = image.find(stored, at + len(nonce_key))
    db_file.write_bytes(flip(image, value_at, 0))  # nonce 1 becomes 0
    db = Database(db_file)
    app = build_application(db)
    try:
        with pytest.raises(StoreCorrupt) as caught:
            app.check_tx(first.raw)
        assert caught.value.code == "store.corrupt" and "restore" in str(caught.value)
        assert repr(nonce_key) in caught.value.what  # the damaged value, named
        with pytest.raises(NodeHalted):  # the node stops admitting: it cannot judge nonces
            app.check_tx(first.raw)
        with pytest.raises(NodeHalted):
            app.finalize_block(
                BlockInfo(app.chain_id, app.info().height + 1, 2_000_000_000_000, b"\x00" * 32),
                [first.raw],
            )
    finally:
        db.close()


def test_broken_chain_link_is_refused_on_start(tmp_path: Path) -> None:
    chain = CityChain(city_folder(tmp_path))
    for index in range(3):
        chain.run("land", anchor("land", f"d{index}"))
    chain.close()
    db_file = tmp_path / "city" / "urbis.db"
    conn = sqlite3.connect(db_file)
    # A forged header 2, re-signed and with a consistent stored hash: only the link breaks.
    (raw,) = conn.execute("SELECT header FROM blocks WHERE height = 2").fetchone()
    from urbis.crypto.encoding import decode_trusted

    header = BlockHeader.from_wire(decode_trusted(bytes(raw)))
    forged = BlockHeader(**{**header.to_wire(), "prev_hash": b"\x01" * 32})
    signed = sign_header(forged, key("validator").signer())
    conn.execute(
        "UPDATE blocks SET hash = ?, header = ?, signature = ? WHERE height = 2",
        (forged.hash, forged.encode(), signed.signature),
    )
    conn.commit()
    conn.close()
    db = Database(db_file)
    try:
        with pytest.raises(StoreCorrupt, match=r"does not link|app hash"):
            build_application(db)
    finally:
        db.close()


def test_state_behind_blocks_is_refused_on_start(tmp_path: Path) -> None:
    chain = CityChain(city_folder(tmp_path))
    chain.run("land", anchor("land", "d"))
    chain.close()
    db_file = tmp_path / "city" / "urbis.db"
    conn = sqlite3.connect(db_file)
    conn.execute("DELETE FROM blocks WHERE height = 1")
    conn.commit()
    conn.close()
    db = Database(db_file)
    try:
        with pytest.raises(StoreCorrupt, match="latest block is 0"):
            build_application(db)
    finally:
        db.close()


# -- the same through a real node process -----------------------------------------------


def _stopped_node_with_one_block(tmp_path: Path) -> tuple[Path, int, bytes]:
    """A node home whose chain committed one anchor by land; returns (home, port, raw tx)."""
    import base64
    import signal as signals

    import httpx

    from tests.helpers.city import city_home
    from tests.helpers.process import free_port, start_node

    (tmp_path / "signer").mkdir()
    chain = CityChain(tmp_path / "signer")  # only to sign: same keys and chain id
    tx = chain.sign("land", [anchor("land", "committed")], nonce=0, expires_at=1000)
    chain.close()
    port = free_port()
    home = city_home(tmp_path / "home", block_interval_ms=50, api_port=port)
    process = start_node(home.path, port, tmp_path / "node.log")
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/txs?wait=commit",
            json={"tx": base64.b64encode(tx.raw).decode()},
            timeout=30,
        ).json()
        assert answer["status"] == "committed", answer
    finally:
        process.send_signal(signals.SIGTERM)
        process.wait(30)
    return home.path, port, tx.raw


@pytest.mark.slow
def test_node_refuses_to_start_on_a_damaged_root_with_store_corrupt(tmp_path: Path) -> None:
    import subprocess
    import sys

    home, port, _ = _stopped_node_with_one_block(tmp_path)
    conn = sqlite3.connect(home / "data" / "urbis.db")
    (root,) = conn.execute("SELECT root FROM state_roots ORDER BY version DESC LIMIT 1").fetchone()
    damaged = bytes([root[0] ^ 0x10]) + bytes(root[1:])
    conn.execute("UPDATE state_roots SET root = ? WHERE root = ?", (damaged, root))
    conn.commit()
    conn.close()
    started = subprocess.run(
        [sys.executable, "-m", "urbis.cli.main", "node", "--home", str(home), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1, started.stdout + started.stderr
    assert "store.corrupt:" in started.stderr and "restore" in started.stderr
    assert "Traceback" not in started.stderr and "internal" not in started.stderr


@pytest.mark.slow
def test_node_with_a_damaged_nonce_refuses_the_replay_and_halts(tmp_path: Path) -> None:
    """The issue's case, end to end: the replay is refused with store.corrupt, not accepted."""
    import base64
    import signal as signals

    import httpx

    from tests.helpers.process import start_node
    from urbis.crypto.encoding import encode_trusted
    from urbis.modules.accounts import keys as account_keys

    home, port, raw = _stopped_node_with_one_block(tmp_path)
    conn = sqlite3.connect(home / "data" / "urbis.db")
    nonce_key = account_keys.nonce(account("land"))
    updated = conn.execute(
        "UPDATE state_values SET value = ? WHERE key = ? AND value = ?",
        (encode_trusted(0), nonce_key, encode_trusted(1)),
    ).rowcount
    conn.commit()
    conn.close()
    assert updated == 1
    process = start_node(home, port, tmp_path / "node2.log")
    api = f"http://127.0.0.1:{port}"
    try:
        replay = httpx.post(f"{api}/v1/txs", json={"tx": base64.b64encode(raw).decode()})
        assert replay.status_code == 500 and replay.json()["code"] == "store.corrupt"
        assert "accounts/nonce" in replay.json()["detail"]
        status = httpx.get(f"{api}/v1/status").json()
        assert status["halted"] and "StoreCorrupt" in status["halted"]
        again = httpx.post(f"{api}/v1/txs", json={"tx": base64.b64encode(raw).decode()})
        assert again.status_code == 503 and again.json()["code"] == "node.halted"
        assert status["height"] == 1  # nothing was built on the damaged value
    finally:
        process.send_signal(signals.SIGTERM)
        process.wait(30)


def test_blocks_holding_refused_transactions_read_back_as_sound(tmp_path: Path) -> None:
    """Transactions refused before their signatures were checked keep signatures that do
    not verify; reading their block back must not call that damage (and the set of such
    codes must match the order in which the app checks)."""
    from urbis.chain.errors import REFUSED_BEFORE_SIGNATURES
    from urbis.chain.tx import TxBody

    chain = CityChain(city_folder(tmp_path))

    def unsigned(body: TxBody) -> bytes:
        from urbis.crypto.encoding import encode

        signer = key("land").public_key.raw
        return encode({"body": body.to_wire(), "signatures": [{"key": signer, "sig": bytes(64)}]})

    height = chain.height
    raws = [
        b"\xa1\x00garbage",
        unsigned(TxBody("other-city", account("land"), 0, (anchor("land", "w"),), height + 9, "")),
        unsigned(TxBody(chain.genesis.chain_id, account("land"), 0, (anchor("land", "e"),), 0, "")),
        unsigned(
            TxBody(
                chain.genesis.chain_id, account("land"), 0, (anchor("land", "s"),), height + 9, ""
            )
        ),
        chain.sign("land", [anchor("land", "ok")]).raw,
    ]
    result = chain.execute_raw(raws)
    codes = [r.code for r in result.receipts]
    assert codes[:4] == ["tx.malformed", "tx.wrong_chain", "tx.expired", "tx.bad_signature"]
    assert set(codes[:4]) <= REFUSED_BEFORE_SIGNATURES and codes[4] == "ok"
    chain.close()
    reopened = CityChain(tmp_path / "city")
    try:
        assert [t.raw for t in reopened.app.blocks.block_txs(reopened.height)] == raws
    finally:
        reopened.close()


def test_data_of_another_app_version_is_refused_with_store_incompatible(tmp_path: Path) -> None:
    """A data folder from before a format change is refused by name, never misread."""
    from urbis.chain.app import APP_VERSION_KEY
    from urbis.state.errors import IncompatibleStore

    chain = CityChain(city_folder(tmp_path))
    chain.close()
    db = Database(tmp_path / "city" / "urbis.db")
    app = build_application(db)
    app.store.commit({APP_VERSION_KEY: None}, 1)  # as written by version 1, which had no key
    db.close()
    db = Database(tmp_path / "city" / "urbis.db")
    try:
        with pytest.raises(IncompatibleStore, match="app version 1") as caught:
            build_application(db)
        assert caught.value.code == "store.incompatible"
    finally:
        db.close()


def test_a_damaged_record_of_the_node_files_end_is_refused_not_obeyed(tmp_path: Path) -> None:
    """On open the segment files are cut back to the end recorded with the last block;
    a damaged record of that end must be refused, never cut committed nodes away."""
    from urbis.state import StateStore

    db = Database(tmp_path / "s.db")
    store = StateStore(db)
    for version in range(3):
        store.commit({b"k%d" % i: b"%d" % version for i in range(version, 200, 3)}, version)
    db.close()
    size = sum(p.stat().st_size for p in (tmp_path / "s.db.nodes").glob("*.seg"))
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE state_meta SET value = value - 7 WHERE name = 'node_tail'")
    conn.commit()
    conn.close()
    db = Database(tmp_path / "s.db")
    try:
        with pytest.raises(StoreCorrupt, match="recorded end"):
            StateStore(db)
    finally:
        db.close()
    assert sum(p.stat().st_size for p in (tmp_path / "s.db.nodes").glob("*.seg")) == size
