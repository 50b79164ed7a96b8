"""Data streams end to end on a real node (in process, real HTTP and WebSocket): publish,
anchor, read with proofs, live push, grants with HPKE-wrapped epoch keys, revocation,
shredding, personal streams' access log, datasets; and every bad input by its code."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.helpers.city import account, city_home, key, role_grant
from tests.helpers.process import serving
from urbis.modules.data import crypto
from urbis.modules.data.sdk import DataSession, Producer, Reader, new_data_key, public_bytes
from urbis.node.runner import Node
from urbis.sdk.client import ApiError, Client

SCHEMA = json.dumps(
    {
        "type": "object",
        "required": ["sensor", "speed_kmh"],
        "properties": {
            "sensor": {"type": "string"},
            "speed_kmh": {"type": "integer", "minimum": 0},
        },
    }
)
DATA_KEYS = {d: new_data_key() for d in ("land", "finance")}


class City:
    def __init__(self, api: str, node: Node) -> None:
        self.api = api
        self.node = node
        self.sessions: dict[str, DataSession] = {}

    def session(self, name: str) -> DataSession:
        if name not in self.sessions:
            self.sessions[name] = DataSession(
                self.api,
                key(name),
                account(name),
                validators=frozenset({key("validator").public_key.raw}),
            )
        return self.sessions[name]

    def height(self) -> int:
        return int(Client(self.api).status()["height"])


def _governance(api: str, department: str, *actions: Any) -> None:
    from urbis.sdk.builder import TxBuilder

    with Client(api) as client:
        status = client.status()
        builder = TxBuilder(status["chain_id"], account(department))
        builder.actions.extend(actions)
        tx = builder.sign(
            [key(department)], client.next_nonce(account(department).text), status["height"] + 100
        )
        receipt = client.submit(tx)["receipt"]
        assert receipt["ok"], receipt


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    home = city_home(tmp_path_factory.mktemp("data-city"), block_interval_ms=50)
    node = Node(home)
    node.start()
    try:
        with serving(node) as api:
            for department in ("land", "finance"):
                _governance(api, department, role_grant(department, "data"))
            city = City(api, node)
            for department in ("land", "finance"):
                city.session(department).act(
                    "register_key",
                    department=department,
                    public_key=public_bytes(DATA_KEYS[department]),
                )
            yield city
    finally:
        node.stop()


def register(city: City, stream_id: str, classification: str, owner: str = "land") -> None:
    city.session(owner).act(
        "register_stream",
        id=stream_id,
        department=owner,
        schema=SCHEMA,
        classification=classification,
        retention_blocks=100_000,
        purpose="traffic management",
    )


def reading(n: int, sensor: str = "s1") -> dict[str, Any]:
    return {"sensor": sensor, "speed_kmh": n}


def wait_anchored(city: City, stream_id: str, head: int, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if city.session("land").stream(stream_id)["anchored_head"] >= head:
            return
        time.sleep(0.05)
    raise AssertionError(f"{stream_id} not anchored to {head}")


def test_public_stream_publish_anchor_read_with_proof_and_live(city: City) -> None:
    register(city, "traffic.public", "public")
    producer = Producer(city.session("land"), "traffic.public", DATA_KEYS["land"])
    producer.publish([reading(i) for i in range(10)])
    wait_anchored(city, "traffic.public", 10)
    anyone = DataSession(city.api, validators=frozenset({key("validator").public_key.raw}))
    records = Reader(anyone, "traffic.public").read(0, 100)
    assert [r.record["speed_kmh"] for r in records] == list(range(10))
    anchors = city.node.app.query("data", "anchors", {"id": "traffic.public"})
    assert anchors[0]["count"] == 10 and anchors[0]["first_seq"] == 0

    async def follow() -> list[int]:
        url = city.api.replace("http", "ws") + "/v1/data/streams/traffic.public/records?from=7"
        seqs = []
        async with websockets.connect(url) as ws:
            await asyncio.to_thread(producer.publish, [reading(i) for i in range(10, 13)])
            while len(seqs) < 6:
                seqs.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["seq"])
        return seqs

    assert asyncio.run(follow()) == [7, 8, 9, 10, 11, 12]

    # the same over Server-Sent Events, resuming from 11
    seqs = []
    with httpx.stream(
        "GET", f"{city.api}/v1/data/streams/traffic.public/sse", params={"from": 11}, timeout=10
    ) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                seqs.append(json.loads(line[6:])["seq"])
            if len(seqs) == 2:
                break
    assert seqs == [11, 12]


def test_schema_versions_are_kept_and_named_by_records(city: City) -> None:
    register(city, "traffic.versioned", "public")
    land = city.session("land")
    v2 = json.dumps({"type": "object", "required": ["sensor", "lane"]})
    land.act("add_schema", stream="traffic.versioned", department="land", schema=v2)
    old = Producer(land, "traffic.versioned", DATA_KEYS["land"], schema_version=1)
    old.publish([reading(1)])  # still valid under version 1
    new = Producer(land, "traffic.versioned", DATA_KEYS["land"])
    assert new.schema_version == 2
    assert code_of(lambda: new.publish([reading(2)])) == "data.schema_violation"
    new.publish([{"sensor": "s1", "lane": 2}])
    wait_anchored(city, "traffic.versioned", 2)
    versions = [
        crypto.decode_envelope(raw).schema_version
        for _, raw, _ in Reader(land, "traffic.versioned").verify(
            Reader(land, "traffic.versioned").fetch(0, 10, prove=False)
        )
    ]
    assert versions == [1, 2]
    ghost = Producer(land, "traffic.versioned", DATA_KEYS["land"], schema_version=9)
    assert code_of(lambda: ghost.publish([reading(3)])) == "data.unknown_schema_version"


def code_of(call: Any) -> str:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.code


def test_grant_wraps_epoch_key_and_revocation_rotates_it(city: City) -> None:
    register(city, "traffic.internal", "internal")
    producer = Producer(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    producer.grant("finance", "fare planning", city.height() + 10_000)
    producer.publish([reading(i) for i in range(5)])
    wait_anchored(city, "traffic.internal", 5)
    finance = Reader(city.session("finance"), "traffic.internal", DATA_KEYS["finance"])
    assert [r.record["speed_kmh"] for r in finance.read(0, 10)] == [0, 1, 2, 3, 4]
    # the node holds only ciphertext: no plaintext field appears in what it serves
    served = finance.fetch(0, 10, prove=False)
    assert all(b"speed_kmh" not in base64.b64decode(r["envelope"]) for r in served["records"])

    producer.revoke("finance")
    assert producer.epoch == 2
    producer.publish([reading(i) for i in range(5, 8)])
    wait_anchored(city, "traffic.internal", 8)
    assert code_of(lambda: finance.read(0, 10)) == "data.no_grant"
    # even holding every envelope, the new epoch's key was never wrapped for finance
    keys_left = city.node  # the owner's view: epoch 2 is wrapped for land only
    del keys_left
    owner = Reader(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    assert [r.record["speed_kmh"] for r in owner.read(0, 10)] == list(range(8))
    epochs = city.session("land").stream("traffic.internal")["epochs"]
    assert epochs[1]["grantees"] == ["land"]


def test_tampered_ciphertext_and_root_are_refused(city: City) -> None:
    owner = Reader(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    answer = owner.fetch(0, 3, prove=True)
    raw = bytearray(base64.b64decode(answer["records"][0]["envelope"]))
    raw[-1] ^= 1
    with pytest.raises(crypto.EnvelopeError):  # the tag no longer matches
        owner.open(bytes(raw))
    answer["records"][0]["envelope"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(crypto.EnvelopeError, match="not under its anchored root"):
        owner.verify(answer)
    answer = owner.fetch(0, 3, prove=True)
    answer["batches"][0]["root"] = "00" * 32
    with pytest.raises(crypto.EnvelopeError):
        owner.verify(answer)
    producer = Producer(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    envelopes = producer.seal([reading(1)])
    raw_tx = producer.session.signed_tx(
        "data",
        "anchor",
        stream="traffic.internal",
        department="land",
        first_seq=producer.next_seq,
        count=1,
        root=bytes(32),
        epoch=producer.epoch,
    )
    producer.session.forget_nonce()
    import cbor2

    body = cbor2.dumps({"tx": raw_tx, "envelopes": envelopes})
    assert (
        code_of(
            lambda: producer.session.request(
                "POST",
                "/v1/data/streams/traffic.internal/batches",
                body=body,
                content_type="application/cbor",
                signed=False,
            )
        )
        == "data.root_mismatch"
    )


def test_replayed_and_skipped_sequence_numbers(city: City) -> None:
    producer = Producer(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    envelopes = producer.seal([reading(1)])
    assert code_of(lambda: producer.hand_in(envelopes, first_seq=0)) == "data.bad_envelope"
    replay = Producer(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    replay.next_seq = 0
    assert code_of(lambda: replay.publish([reading(1)])) == "data.sequence_replayed"
    skip = Producer(city.session("land"), "traffic.internal", DATA_KEYS["land"])
    skip.next_seq += 5
    assert code_of(lambda: skip.publish([reading(1)])) == "data.sequence_skipped"


def test_bad_input_codes(city: City) -> None:
    register(city, "traffic.checked", "public")
    producer = Producer(city.session("land"), "traffic.checked", DATA_KEYS["land"])
    assert code_of(lambda: producer.publish([{"sensor": "s1", "speed_kmh": -3}])) == (
        "data.schema_violation"
    )
    assert city.session("land").stream("traffic.checked")["stored_head"] == 0  # nothing stored
    # finance holds finance.data, but the stream is land's
    register(city, "fares.internal", "internal", owner="finance")
    land = city.session("land")
    assert code_of(
        lambda: land.act(
            "anchor",
            stream="fares.internal",
            department="land",
            first_seq=0,
            count=1,
            root=bytes(32),
            epoch=1,
        )
    ) == ("data.not_owner")
    height = city.height()
    assert (
        code_of(
            lambda: land.act(
                "grant",
                stream="traffic.internal",
                department="land",
                grantee="parks",
                role="data",
                purpose="x",
                expires_at_height=height + 100,
                projection=[],
            )
        )
        == "data.unknown_department"
    )
    assert code_of(
        lambda: land.act(
            "grant",
            stream="traffic.internal",
            department="land",
            grantee="registry",
            role="data",
            purpose="x",
            expires_at_height=height + 100,
            projection=[],
        )
    ) == ("data.no_data_key")
    # reading without a grant: registry's admin signs, holds no role a grant names
    stranger = Reader(city.session("registry"), "traffic.internal", DATA_KEYS["finance"])
    assert code_of(lambda: stranger.read(0, 1)) == "data.no_grant"

    async def too_far() -> int:
        url = city.api.replace("http", "ws") + "/v1/data/streams/traffic.public/records?from=999"
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.reason.startswith("data.not_yet")
        return closed.value.rcvd.code

    assert asyncio.run(too_far()) == 4004


def test_grant_expiry_stops_reads(city: City) -> None:
    register(city, "traffic.short", "internal")
    producer = Producer(city.session("land"), "traffic.short", DATA_KEYS["land"])
    producer.grant("finance", "one incident", city.height() + 3)
    producer.publish([reading(1)])
    wait_anchored(city, "traffic.short", 1)
    finance = Reader(city.session("finance"), "traffic.short", DATA_KEYS["finance"])
    assert len(finance.read(0, 1)) == 1
    expires = producer.session.stream("traffic.short")["grants"][0]["expires_at_height"]
    while city.height() < expires:  # each anchor is a block (the solo node cuts no empty ones)
        producer.publish([reading(0)])
        wait_anchored(city, "traffic.short", producer.next_seq)
    assert code_of(lambda: finance.read(0, 1)) == "data.grant_expired"


def test_shredding_an_epoch_or_a_subject_keeps_every_root_verifying(city: City) -> None:
    register(city, "health.cases", "personal")
    producer = Producer(city.session("land"), "health.cases", DATA_KEYS["land"])
    producer.grant("finance", "billing of care", city.height() + 10_000)
    alice, bob = account("mayor").raw, account("councillor_a").raw
    producer.publish([reading(1), reading(2), reading(3)], subjects=[alice, bob, alice])
    wait_anchored(city, "health.cases", 3)
    finance = Reader(city.session("finance"), "health.cases", DATA_KEYS["finance"])
    # personal: a grantee must log the read on chain first
    assert code_of(lambda: finance.read(0, 3)) == "data.no_grant"
    finance.log_access(0, 2)
    assert [r.record["speed_kmh"] for r in finance.read(0, 3)] == [1, 2, 3]
    log = city.node.app.query("data", "access_log", {"id": "health.cases"})
    assert log[0]["reader"] == account("finance").text and log[0]["purpose"] == "billing of care"
    # alice (the subject) sees the accesses to records about her, and only hers
    mine = city.session("mayor").get("/v1/data/streams/health.cases/my-accesses")
    assert mine["records"] == [0, 2] and mine["accesses"][0]["records"] == [0, 2]

    land = city.session("land")
    land.act(
        "shred_subject",
        stream="health.cases",
        department="land",
        pseudonym=crypto.pseudonym("health.cases", alice),
    )
    fresh = Reader(city.session("finance"), "health.cases", DATA_KEYS["finance"])
    answer = fresh.fetch(0, 3, prove=True)
    verified = fresh.verify(answer)  # every root and proof still verifies
    assert len(verified) == 3
    assert fresh.open(verified[1][1]).record["speed_kmh"] == 2
    for index in (0, 2):
        with pytest.raises(crypto.EnvelopeError, match="shredded"):
            fresh.open(verified[index][1])

    land.act("shred_epoch", stream="health.cases", department="land", epoch=1)
    gone = Reader(city.session("land"), "health.cases", DATA_KEYS["land"])
    verified = gone.verify(gone.fetch(0, 3, prove=True))
    assert len(verified) == 3
    with pytest.raises(crypto.EnvelopeError, match="no key for epoch 1"):
        gone.open(verified[1][1])
    assert code_of(lambda: producer.publish([reading(4)], subjects=[bob])) == "data.shredded"


def test_a_stalled_subscriber_is_told_where_to_resume_and_slows_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import threading
    import time

    from websockets.sync.client import connect

    from urbis.modules.data import routes

    monkeypatch.setattr(routes, "LIVE_LAG_MAX", 1_000)
    node = Node(city_home(tmp_path / "home", block_interval_ms=20))
    node.start()
    # accepted sockets inherit the listener's small send buffer: a client that stops
    # reading stalls its sender after a few KiB, as over a slow network
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    total = 2_400
    try:
        with serving(node, listener) as api:
            _governance(api, "land", role_grant("land", "data"))
            land = DataSession(api, key("land"), account("land"))
            land.act(
                "register_stream",
                id="traffic.bulk",
                department="land",
                schema=SCHEMA,
                classification="public",
                retention_blocks=1000,
                purpose="load",
            )
            producer = Producer(land, "traffic.bulk", DATA_KEYS["land"])
            url = api.replace("http", "ws") + "/v1/data/streams/traffic.bulk/records?from=0"
            stalled = _stalled_client(api, "/v1/data/streams/traffic.bulk/records?from=0")
            fast_seqs: list[int] = []
            with connect(url, open_timeout=10) as fast:

                def read_fast() -> None:
                    while len(fast_seqs) < total:
                        fast_seqs.append(json.loads(fast.recv(timeout=20))["seq"])

                reader = threading.Thread(target=read_fast)
                reader.start()
                pad = "x" * 300
                for start in range(0, total, 200):
                    producer.publish(
                        [
                            {"sensor": f"s{i}", "speed_kmh": i, "pad": pad}
                            for i in range(start, start + 200)
                        ]
                    )
                    time.sleep(0.15)  # ~1,300/s: the reading subscriber (sharing this
                    # process's GIL with the node) keeps up; the stalled one cannot
                reader.join(60)
            assert fast_seqs == list(range(total))  # the other subscriber lost nothing
            # now read what the stalled one was sent: some records, then the close frame
            match = _read_until_close(stalled)
            stalled.close()
            assert match is not None, "the stalled subscriber was not closed with 4008"
            close_code, reason = match
            assert close_code == 4008
            assert reason.startswith("data.behind: reconnect with from="), reason
            resume = int(reason.rsplit("=", 1)[1])
            assert 0 < resume < total
            resumed = url.replace("from=0", f"from={resume}")
            # close_timeout: the node may still be writing the frames after these 100
            with connect(resumed, open_timeout=10, close_timeout=1) as again:
                rest = [json.loads(again.recv(timeout=20))["seq"] for _ in range(100)]
            assert rest == list(range(resume, resume + 100))  # resumes with no gap
            land.close()
    finally:
        listener.close()
        node.stop()


def _stalled_client(api: str, target: str) -> Any:
    """A WebSocket client that shakes hands and then never reads (a 4 KiB receive buffer)."""
    import socket

    host, port = api.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.sendall(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


def _read_until_close(raw: Any, timeout: float = 30) -> tuple[int, str] | None:
    """Read frames (unmasked, from the server) until a close frame; its code and reason."""
    import struct
    import time

    raw.settimeout(timeout)
    buffer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(buffer) >= 2:
            opcode, size = buffer[0] & 0x0F, buffer[1] & 0x7F
            at = 2
            if size == 126:
                if len(buffer) < 4:
                    break
                size, at = struct.unpack(">H", buffer[2:4])[0], 4
            elif size == 127:
                if len(buffer) < 10:
                    break
                size, at = struct.unpack(">Q", buffer[2:10])[0], 10
            if len(buffer) < at + size:
                break
            payload, buffer = buffer[at : at + size], buffer[at + size :]
            if opcode == 0x8:
                return struct.unpack(">H", payload[:2])[0], payload[2:].decode()
        chunk = raw.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    return None


def test_records_past_retention_leave_the_datastore_but_not_the_chain(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urbis.modules.data import service

    monkeypatch.setattr(service, "PRUNE_EVERY_BLOCKS", 1)
    land = city.session("land")
    land.act(
        "register_stream",
        id="traffic.brief",
        department="land",
        schema=SCHEMA,
        classification="public",
        retention_blocks=2,
        purpose="short-lived",
    )
    producer = Producer(land, "traffic.brief", DATA_KEYS["land"])
    producer.publish([reading(0)])
    wait_anchored(city, "traffic.brief", 1)
    for n in range(1, 5):  # each anchor is a block
        producer.publish([reading(n)])
        wait_anchored(city, "traffic.brief", n + 1)
    answer = Reader(DataSession(city.api), "traffic.brief").fetch(0, 10, prove=False)
    assert answer["first_held"] > 0 and answer["records"][-1]["seq"] == 4
    anchors = city.node.app.query("data", "anchors", {"id": "traffic.brief"})
    assert [a["first_seq"] for a in anchors] == [0, 1, 2, 3, 4]  # the chain keeps them all


def test_a_projection_is_enforced_by_keys_not_by_the_client(city: City) -> None:
    register(city, "traffic.projected", "internal")
    land = city.session("land")
    producer = Producer(land, "traffic.projected", DATA_KEYS["land"])
    producer.grant("finance", "fares", city.height() + 10_000, projection=["speed_kmh"])
    producer.publish([{"sensor": f"s{n}", "speed_kmh": n} for n in range(4)])
    wait_anchored(city, "traffic.projected", 4)
    finance = Reader(city.session("finance"), "traffic.projected", DATA_KEYS["finance"])
    records = finance.read(0, 10)  # checked against the view roots the anchors carry
    assert [r.record for r in records] == [{"speed_kmh": n} for n in range(4)]
    assert finance.view == "finance"
    # finance holds no key that opens a whole record: the epoch key was never wrapped for it
    info = land.stream("traffic.projected")
    assert info["epochs"][0]["grantees"] == ["land"] and info["viewers"] == ["finance"]
    whole = Reader(land, "traffic.projected", DATA_KEYS["land"]).fetch(0, 1, prove=False)
    with pytest.raises(crypto.EnvelopeError):
        finance.open(base64.b64decode(whole["records"][0]["envelope"]))
    anchors = city.node.app.query("data", "anchors", {"id": "traffic.projected"})
    assert list(anchors[0]["views"]) == ["finance"]
    # a batch without finance's copies is refused, on the node and on chain
    bare = Producer(land, "traffic.projected", DATA_KEYS["land"])
    bare.viewers = {}
    assert code_of(lambda: bare.publish([reading(9)])) == "data.missing_view"
    assert (
        code_of(
            lambda: land.act(
                "anchor",
                stream="traffic.projected",
                department="land",
                first_seq=4,
                count=1,
                root=bytes(32),
                epoch=1,
            )
        )
        == "data.missing_view"
    )
    # and none on personal streams, where a copy would escape the subjects' keys
    register(city, "health.projected", "personal")
    assert (
        code_of(
            lambda: land.act(
                "grant",
                stream="health.projected",
                department="land",
                grantee="finance",
                role="data",
                purpose="x",
                expires_at_height=city.height() + 100,
                projection=["speed_kmh"],
            )
        )
        == "data.projection_refused"
    )
