"""Data streams on a solo node (a real `urbis node` process, real HTTP and WebSocket):

    python bench/data.py [--records 60000] [--latency-seconds 10] [--subscribers 1000]

1. ingest: 1 KB records sealed (XChaCha20-Poly1305) into one internal stream, anchored
   in batches; records/s from the first hand-in until the last batch is anchored;
2. latency: publishing at 5,000 records/s, time from sealing a record to a subscriber
   holding it decrypted (WebSocket, SDK), p50 and p99;
3. fan-out: N concurrent WebSocket subscribers on one public stream, each must receive
   every record, none lost.
Printed beside the same run's baseline: the AEAD's own rate on 1 KB records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import websockets
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.modules.data.sdk import DataSession, Producer, Reader, new_data_key, public_bytes
from urbis.node.home import Home, NodeConfig

RECORD_BYTES = 1024
BATCH = 800
"""Records per anchor: 800 sealed 1 KB records stay under the node's 1 MB request limit."""
SCHEMA = json.dumps({"type": "object"})


def aead_rate(seconds: float = 1.0) -> float:
    key, nonce, payload = os.urandom(32), os.urandom(24), os.urandom(RECORD_BYTES)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(1000):
            crypto_aead_xchacha20poly1305_ietf_encrypt(payload, b"aad-of-sixty-bytes", nonce, key)
        count += 1000
    return count / (time.perf_counter() - started)


def found_city(folder: Path, port: int, interval_ms: int) -> dict[str, PrivateKey]:
    keys = {name: PrivateKey.generate() for name in ("transport", "police", "validator")}
    ids = {name: AccountId.from_key(k.public_key.raw) for name, k in keys.items()}
    genesis = Genesis(
        chain_id="bench-data",
        name="Bench",
        time_ms=time.time_ns() // 1_000_000,
        accounts=tuple(
            GenesisAccount(n, (GenesisKey(keys[n].public_key.raw),))
            for n in ("transport", "police")
        ),
        departments=(
            GenesisDepartment("transport", "Transport", ids["transport"]),
            GenesisDepartment("police", "Police", ids["police"]),
        ),
        council_members=(ids["transport"],),
        council_threshold=1,
        validators=(GenesisValidator("v", keys["validator"].public_key.raw, 10),),
        roles=(("transport.data", ids["transport"]), ("police.data", ids["police"])),
    )
    home = Home(folder)
    home.ensure_dirs()
    genesis.save(home.genesis_path)
    home.write_validator_key(keys["validator"])
    home.save_config(NodeConfig(block_interval_ms=interval_ms, api_port=port, max_block_txs=10_000))
    return keys


def start_node(folder: Path, port: int) -> subprocess.Popen[bytes]:
    log = (folder / "node.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "urbis.cli.main",
            "node",
            "--home",
            str(folder),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("node did not start")


def wait_anchored(session: DataSession, stream: str, head: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while session.stream(stream)["anchored_head"] < head:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{stream} not anchored to {head}")
        time.sleep(0.02)


def bench_ingest(transport: DataSession, data_key: Any, records: int) -> float:
    transport.act(
        "register_stream",
        id="bench.ingest",
        department="transport",
        schema=SCHEMA,
        classification="internal",
        retention_blocks=1000,
        purpose="bench",
    )
    producer = Producer(transport, "bench.ingest", data_key)
    body = {"sensor": "s", "pad": "x" * (RECORD_BYTES - 30)}
    payload = json.dumps(body).encode()[:RECORD_BYTES]
    started = time.perf_counter()
    producer.publish_many([payload] * records, BATCH)
    wait_anchored(transport, "bench.ingest", producer.next_seq)
    return producer.next_seq / (time.perf_counter() - started)


def bench_latency(
    transport: DataSession, police: DataSession, keys: dict[str, Any], seconds: int, rate: int
) -> list[float]:
    transport.act(
        "register_stream",
        id="bench.latency",
        department="transport",
        schema=SCHEMA,
        classification="internal",
        retention_blocks=1000,
        purpose="bench",
    )
    producer = Producer(transport, "bench.latency", keys["transport"])
    height = int(transport.get("/v1/status")["height"])
    producer.grant("police", "bench", height + 100_000)
    latencies: list[float] = []
    total = seconds * rate
    ready = threading.Event()

    async def follow() -> None:
        reader = Reader(police, "bench.latency", keys["police"])
        reader.load_keys()
        ready.set()
        async for record in reader.follow(0):
            latencies.append(time.time() - record.record["t"])
            if len(latencies) >= total:
                return

    thread = threading.Thread(target=lambda: asyncio.run(follow()), daemon=True)
    thread.start()
    ready.wait(30)
    time.sleep(0.5)
    tick = 0.05
    per_tick = int(rate * tick)
    started = time.monotonic()
    sent = 0
    pad = "x" * (RECORD_BYTES - 40)
    while sent < total:
        due = started + sent / rate
        time.sleep(max(0.0, due - time.monotonic()))
        producer.publish([{"t": time.time(), "pad": pad} for _ in range(per_tick)])
        sent += per_tick
    thread.join(60)
    return latencies


async def fan_out(
    api: str, stream: str, subscribers: int, expected: int, producer: Producer
) -> list[int]:
    counts = [0] * subscribers
    url = api.replace("http", "ws", 1) + f"/v1/data/streams/{stream}/records?from=0"
    sockets = []
    for _ in range(subscribers):
        sockets.append(await websockets.connect(url, max_size=2**22, open_timeout=60))

    async def drain(index: int, ws: Any) -> None:
        async for _ in ws:
            counts[index] += 1
            if counts[index] >= expected:
                break

    tasks = [asyncio.ensure_future(drain(i, ws)) for i, ws in enumerate(sockets)]
    pad = "x" * 200
    for _ in range(expected // 100):
        await asyncio.to_thread(producer.publish, [{"pad": pad}] * 100)
        await asyncio.sleep(0.1)
    await asyncio.wait(tasks, timeout=120)
    for ws in sockets:
        await ws.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--latency-seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--subscribers", type=int, default=1_000)
    parser.add_argument("--fanout-records", type=int, default=1_000)
    args = parser.parse_args()

    baseline = aead_rate()
    print(f"baseline: XChaCha20-Poly1305 seals {baseline:,.0f} 1 KB records/s (one core)")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        port = 18_000 + os.getpid() % 1000
        keys = found_city(folder, port, interval_ms=100)
        node = start_node(folder, port)
        api = f"http://127.0.0.1:{port}"
        try:
            sessions = {
                n: DataSession(api, keys[n], AccountId.from_key(keys[n].public_key.raw))
                for n in ("transport", "police")
            }
            data_keys = {n: new_data_key() for n in ("transport", "police")}
            for name, own in sessions.items():
                own.act("register_key", department=name, public_key=public_bytes(data_keys[name]))

            rate = bench_ingest(sessions["transport"], data_keys["transport"], args.records)
            print(
                f"ingest: {rate:,.0f} records/s of 1 KB into one encrypted, anchored stream "
                f"({args.records:,} records, {BATCH} per anchor; target >= 20,000/s)"
            )

            latencies = bench_latency(
                sessions["transport"],
                sessions["police"],
                data_keys,
                args.latency_seconds,
                args.rate,
            )
            if latencies:
                ordered = sorted(latencies)
                p50 = statistics.median(ordered) * 1000
                p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
                print(
                    f"latency at {args.rate:,}/s: publish -> decrypted at the subscriber "
                    f"p50 {p50:,.0f} ms, p99 {p99:,.0f} ms over {len(latencies):,} records "
                    f"(targets 300 ms / 1 s)"
                )
            else:
                print("latency: the subscriber received nothing")

            sessions["transport"].act(
                "register_stream",
                id="bench.fanout",
                department="transport",
                schema=SCHEMA,
                classification="public",
                retention_blocks=1000,
                purpose="bench",
            )
            producer = Producer(sessions["transport"], "bench.fanout", data_keys["transport"])
            started = time.perf_counter()
            counts = asyncio.run(
                fan_out(api, "bench.fanout", args.subscribers, args.fanout_records, producer)
            )
            whole = sum(1 for c in counts if c == args.fanout_records)
            print(
                f"fan-out: {whole:,} of {args.subscribers:,} WebSocket subscribers received "
                f"all {args.fanout_records:,} records ({sum(counts):,} messages in "
                f"{time.perf_counter() - started:.1f} s; lost: "
                f"{args.subscribers * args.fanout_records - sum(counts):,})"
            )
        finally:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()


if __name__ == "__main__":
    main()
