"""`urbis demo traffic`: sensors publish to a transport stream; police and planning watch
live; planning's grant is revoked mid-stream and it stops receiving; a daily open dataset
with quality attestations is published from the stream.

Runs against a dev city (`urbis up`): it adds the police and planning departments by a
council proposal if they are missing, and keeps data keys in HOME/data-keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.modules.accounts.records import AccountKey
from urbis.modules.data import crypto
from urbis.modules.data.sdk import (
    DataSession,
    Producer,
    Reader,
    load_data_key,
    measure_quality,
    new_data_key,
    public_bytes,
    publish_dataset,
    range_root,
    save_data_key,
    verify_dataset,
)
from urbis.sdk.client import ApiError
from urbis.sdk.keystore import KeyStore, KeyStoreError

READING_SCHEMA = {
    "type": "object",
    "required": ["sensor", "at_ms", "vehicles", "speed_kmh"],
    "properties": {
        "sensor": {"type": "string"},
        "at_ms": {"type": "integer"},
        "vehicles": {"type": "integer", "minimum": 0},
        "speed_kmh": {"type": "integer", "minimum": 0, "maximum": 250},
    },
}
SENSORS = 40
WATCHERS = ("police", "planning")


def run_demo(
    home: Path, api: str, seconds: int, rate: int, say: Callable[[str], None] = print
) -> dict[str, Any]:
    keystore = KeyStore(home / "keys")
    sessions = {}

    def session(name: str) -> DataSession:
        if name not in sessions:
            key = _key(keystore, name)
            sessions[name] = DataSession(api, key, AccountId.from_key(key.public_key.raw))
        return sessions[name]

    for department in WATCHERS:
        _ensure_department(session, keystore, department)
    data_keys = {}
    for department in ("transport", *WATCHERS):
        _try(
            lambda d=department: session(d).act(  # type: ignore[misc]
                "grant_role",
                module="governance",
                department=d,
                role="data",
                account=session(d).account,
            )
        )
        path = home / "data-keys" / f"{department}.key"
        data_keys[department] = load_data_key(path) if path.exists() else new_data_key()
        save_data_key(data_keys[department], path)
        session(department).act(
            "register_key", department=department, public_key=public_bytes(data_keys[department])
        )
    _try(
        lambda: session("planning").act(
            "grant_role",
            module="governance",
            department="planning",
            role="steward",
            account=session("planning").account,
        )
    )
    stream = f"traffic.demo-{int(time.time())}"
    transport = session("transport")
    transport.act(
        "register_stream",
        id=stream,
        department="transport",
        schema=json.dumps(READING_SCHEMA),
        classification="internal",
        retention_blocks=2_592_000,
        purpose="congestion management",
    )
    say(f"stream {stream} registered by transport (internal: sealed per epoch)")
    producer = Producer(transport, stream, data_keys["transport"])
    height = int(transport.get("/v1/status")["height"])
    for department, purpose in (("police", "incident response"), ("planning", "road planning")):
        producer.grant(department, purpose, height + 100_000)
        say(f"granted {department} ({purpose}); epoch key wrapped for its data key (HPKE)")

    received: dict[str, list[int]] = {d: [] for d in WATCHERS}
    closed: dict[str, str] = {}
    ready = threading.Barrier(len(WATCHERS) + 1)
    watchers = [
        threading.Thread(
            target=_watch,
            args=(session(d), stream, data_keys[d], received[d], closed, d, ready),
            daemon=True,
        )
        for d in WATCHERS
    ]
    for thread in watchers:
        thread.start()
    ready.wait(30)
    time.sleep(0.3)

    total = seconds * rate
    batch = max(rate // 4, 1)
    revoke_at = total // 2
    revoked_seq = None
    started = time.monotonic()
    rng = random.Random(7)
    while producer.next_seq < total:
        due = started + producer.next_seq / rate
        time.sleep(max(0.0, due - time.monotonic()))
        now_ms = time.time_ns() // 1_000_000
        records = [
            {
                "sensor": f"s{rng.randrange(SENSORS):02d}",
                "at_ms": now_ms,
                "vehicles": rng.randrange(0, 40),
                "speed_kmh": rng.randrange(5, 70),
            }
            for _ in range(min(batch, total - producer.next_seq))
        ]
        producer.publish(records)
        if revoked_seq is None and producer.next_seq >= revoke_at:
            producer.revoke("planning")
            revoked_seq = producer.next_seq
            say(
                f"planning revoked at sequence {revoked_seq}: new epoch {producer.epoch}, "
                f"wrapped for transport and police only"
            )
    elapsed = time.monotonic() - started
    say(f"published {total} readings in {elapsed:.1f} s ({total / elapsed:,.0f}/s)")
    deadline = time.monotonic() + 15
    while len(received["police"]) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    say(f"police received {len(received['police'])} records live (decrypted by its SDK)")
    say(
        f"planning received {len(received['planning'])} records, then: "
        f"{closed.get('planning', 'still open')}"
    )

    owner = Reader(transport, stream, data_keys["transport"])
    rows: list[dict[str, Any]] = []
    cursor = 0
    while cursor < total:
        page = owner.read(cursor, 4_096)
        rows.extend(r.record for r in page)
        cursor = page[-1].seq + 1
    daily = _aggregate(rows)
    content = b"".join(json.dumps(row, sort_keys=True).encode() + b"\n" for row in daily)
    inputs = [
        {
            "kind": "stream",
            "ref": stream,
            "first_seq": 0,
            "last_seq": total - 1,
            "root": range_root(transport, stream, 0, total - 1),
        }
    ]
    dataset_id = f"traffic-daily-{stream.rsplit('-', 1)[1]}"
    publish_dataset(
        transport,
        dataset_id,
        1,
        "transport",
        content,
        inputs,
        "per-sensor count and mean speed over the day",
        inspect.getsource(_aggregate).encode(),
    )
    say(
        f"open dataset {dataset_id} v1 published: {len(daily)} rows, root "
        f"{crypto.dataset_root(content).hex()[:16]}…"
    )
    steward = session("planning")
    figures = measure_quality(
        content,
        {"type": "object", "required": ["sensor", "mean_kmh"]},
        SENSORS,
        "last_ms",
        time.time_ns() // 1_000_000,
    )
    for kind, values in figures.items():
        passed = {
            "schema": values.get("invalid", 1) == 0,
            "completeness": values.get("permille", 0) >= 990,
            "freshness": values.get("age_ms", 1 << 62) <= 86_400_000,
        }[kind]
        steward.act(
            "attest",
            dataset=dataset_id,
            version=1,
            department="planning",
            kind=kind,
            passed=passed,
            figures=values,
        )
        say(f"planning's steward attests {kind}: {'passed' if passed else 'failed'} {values}")
    anyone = DataSession(api)
    report = verify_dataset(
        anyone,
        dataset_id,
        1,
        anyone.request("GET", f"/v1/data/datasets/{dataset_id}/1/file", signed=False),
    )
    say(f"anyone downloads and verifies it: root {report['root'][:16]}… matches the chain")
    say("next, try:")
    for line in (
        f"urbis data show {stream}",
        f"urbis data read {stream} --as police --department police --start 0 --limit 5",
        f"urbis data read {stream} --as planning --department planning   (data.no_grant)",
        f"urbis data dataset show {dataset_id}",
        f"urbis data dataset download {dataset_id} --version 1 -o day.jsonl",
        f"urbis data dataset verify {dataset_id} day.jsonl --version 1",
    ):
        say(f"  {line}")
    return {
        "stream": stream,
        "published": total,
        "revoked_at": revoked_seq,
        "police": len(received["police"]),
        "planning": len(received["planning"]),
        "planning_closed": closed.get("planning"),
        "dataset": dataset_id,
    }


def _aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_sensor: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_sensor.setdefault(row["sensor"], []).append(row)
    return [
        {
            "sensor": sensor,
            "readings": len(items),
            "vehicles": sum(r["vehicles"] for r in items),
            "mean_kmh": sum(r["speed_kmh"] for r in items) // len(items),
            "last_ms": max(r["at_ms"] for r in items),
        }
        for sensor, items in sorted(by_sensor.items())
    ]


def _watch(
    session: DataSession,
    stream: str,
    key: Any,
    into: list[int],
    closed: dict[str, str],
    name: str,
    ready: threading.Barrier,
) -> None:
    import websockets

    async def run() -> None:
        reader = Reader(session, stream, key)
        ready.wait(30)
        try:
            async for record in reader.follow(0):
                into.append(record.seq)
        except websockets.ConnectionClosed as error:
            closed[name] = f"closed by the node: {error.rcvd.reason if error.rcvd else error}"
        except crypto.EnvelopeError as error:
            closed[name] = f"cannot decrypt: {error}"

    asyncio.run(run())


def _key(keystore: KeyStore, name: str) -> PrivateKey:
    try:
        return keystore.load(name, "")
    except KeyStoreError:
        keystore.create(name, "")
        return keystore.load(name, "")


def _try(step: Callable[[], Any]) -> None:
    try:
        step()
    except ApiError as error:
        if "exists" not in error.code and "already" not in error.code:
            raise


def _ensure_department(
    session: Callable[[str], DataSession], keystore: KeyStore, department: str
) -> None:
    mayor = session("mayor")
    if _exists(mayor, f"/v1/governance/departments/{department}"):
        return
    own = _key(keystore, department)
    account = AccountId.from_key(own.public_key.raw)
    if not _exists(mayor, f"/v1/accounts/{account.text}"):
        mayor.act("create", module="accounts", keys=[AccountKey(own.public_key.raw)], threshold=1)
    receipt = mayor.act(
        "submit_proposal",
        module="governance",
        title=f"add {department}",
        action={
            "module": "governance",
            "name": "add_department",
            "args": {"id": department, "name": department.title(), "admin": account.raw},
        },
    )
    (proposal,) = [
        e["attrs"]["id"] for e in receipt["events"] if e["type"] == "governance.proposal_submitted"
    ]
    session("councillor-a").act("approve_proposal", module="governance", id=proposal)


def _exists(session: DataSession, path: str) -> bool:
    try:
        session.get(path)
        return True
    except ApiError as error:
        if error.status == 404:
            return False
        raise


def code_hash() -> str:
    return hashlib.sha256(inspect.getsource(_aggregate).encode()).hexdigest()
