"""State larger than memory: signed transfers and proofs at 100k, 1M and 10M accounts.

    python bench/state_scale.py [--sizes 100000,1000000,10000000] [--transfers 20000]
        [--proofs 20000] [--signers 2000] [--folder DIR]
    python bench/state_scale.py --engines 3000000   # the storage engine comparison
    python bench/state_scale.py --sizes 100000 --history 300 --keep 50
                                                    # disk per key as history grows

A city with `signers` real accounts (keys, EUR minted to each) is grown to each
size with filler accounts. The fill is a bulk path: each filler block is an
empty block whose state writes also carry 500,000 account records exactly as
`accounts.create` writes them (random public keys, nobody signs for them), and
it runs with a kept window of 2 heights so the fill's own history is pruned as
it goes, and the fill ends once its garbage is compacted (the node is then reopened
with the default window of 1,000).

At each size, in the same run:
- start: a fresh process opens the store and the app and answers a proof
  (wall time from spawn, imports included; the HTTP server is not started);
- transfers/s: signed transfers (signer to a random existing account, checked
  signatures, 5,000 a block) through finalize_block and commit, once the node's
  start-up warm-up (reading the tree's upper levels into their places) has finished:
  the steady rate. The open and warm-up's own time is printed (about 5 s at 10M);
  blocks committed during the warm-up ran about a fifth slower;
- commit µs/key: the tree stage plus the commit, per state key written;
- proofs/s generated and verified, half present keys, half absent;
- RSS of this process and disk bytes per state key (segment files, location
  snapshot, SQLite file and WAL).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import commit_block, proof_rates, rss_mib
from bench.payments import City
from urbis.chain.codec import to_wire
from urbis.chain.collector import settle_for_serving
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import encode_trusted
from urbis.modules import build_application
from urbis.modules.accounts import keys
from urbis.modules.accounts.records import Account, AccountKey, KeyChange
from urbis.sdk.builder import action
from urbis.state import Database

FILL_BLOCK = 500_000
"""Filler accounts per bulk block: 10M in 20 blocks. The fill runs in a forked process
whose RSS is not the one reported."""
RECIPIENTS_KEPT = 200_000
"""Filler accounts remembered as transfer recipients (a sample, not all 10M ids)."""

START_PROBE = """
import sys, time
began = float(sys.argv[2])
from pathlib import Path
from urbis.modules import build_application
from urbis.state import Database
from bench.common import rss_mib
db = Database(Path(sys.argv[1]))
app = build_application(db)
app.info()
app.store.prove(b"probe")
print(f"{time.time() - began:.2f} {rss_mib():.0f} {app.store.node_count}")
db.close()
"""


def filler(count: int, rng: random.Random) -> tuple[dict[bytes, bytes], list[AccountId]]:
    """What `accounts.create` writes for `count` accounts, and their ids."""
    out: dict[bytes, bytes] = {}
    ids = []
    for _ in range(count):
        public = rng.randbytes(32)
        account = AccountId.from_key(public)
        history = [KeyChange(1, 1_700_000_000_000, public, 1, "added")]
        record = Account([AccountKey(public)], 1, 1, history)
        out[keys.account(account)] = encode_trusted(to_wire(record))
        ids.append(account)
    return out, ids


def commit_with(app: Any, city: City, extra: dict[bytes, bytes]) -> None:
    """Commit an empty block whose state writes also carry `extra` (the bulk path)."""
    original = app.store.stage
    app.store.stage = lambda changes, version: original({**changes, **extra}, version)
    try:
        city.height += 1
        city.prev = commit_block(app, city, city.height, [], city.prev)  # type: ignore[arg-type]
    finally:
        del app.store.stage


def start_probe(path: Path) -> tuple[float, float, int]:
    """Seconds from spawning a process to its first proof, its RSS, its node count."""
    root = str(Path(__file__).resolve().parent.parent)
    began = time.time()
    out = subprocess.run(
        [sys.executable, "-c", START_PROBE, str(path), repr(began)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": root},
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def signed_transfers(
    city: City, recipients: list[AccountId], count: int, nth: int, rng: random.Random
) -> list[Any]:
    """`count` signed transfers from the city's signers to random recipients."""
    txs = []
    for n in range(count):
        sender = rng.randrange(len(city.signers))
        recipient = rng.choice(recipients)
        while recipient == city.ids[sender]:
            recipient = rng.choice(recipients)
        txs.append(
            city.tx(
                city.signers[sender],
                action(
                    "payments",
                    "transfer",
                    id=(nth * 10**9 + n).to_bytes(16, "big"),
                    recipient=recipient,
                    asset="EUR",
                    amount_minor=rng.randrange(1, 100),
                ),
            )
        )
    return txs


def steady_history(
    path: Path, city: City, recipients: list[AccountId], blocks: int, keep: int
) -> None:
    """Disk per key while history grows: `blocks` blocks of 1,000 transfers with a kept
    window of `keep` heights. Once the window is full, pruning and compaction must hold
    disk per key flat."""
    db = Database(path)
    app = build_application(db, keep_versions=keep)
    store = app.store
    rng = random.Random(99)
    print(f"steady workload: {blocks} blocks of 1,000 transfers, kept window {keep} heights")
    print(
        "  block height      keys     nodes | state B/key: nodes  tables  total"
        " | MB: blocks etc.   WAL"
    )
    started = time.perf_counter()
    paused = 0.0

    def report(label: str) -> float:
        begun = time.perf_counter()
        use = store.disk_usage()
        nodes = use["segments"] + use["snapshot"]
        keys = len(store)
        print(
            f"  {label:>5} {store.version:6d} {keys:9,} {store.node_count:9,} |"
            f" {nodes / keys:18,.0f} {use['state_tables'] / keys:7,.0f}"
            f" {(nodes + use['state_tables']) / keys:6,.0f}"
            f" | {use['other_sqlite'] / 1e6:14,.1f} {use['wal'] / 1e6:5,.0f}",
            flush=True,
        )
        return time.perf_counter() - begun

    for block in range(1, blocks + 1):
        city.commit(app, signed_transfers(city, recipients, 1_000, 10**3 + block, rng))
        if block % max(blocks // 12, 1) == 0:
            paused += report(str(block))
    rate = blocks * 1000 / (time.perf_counter() - started - paused)
    store.wait_for_maintenance()
    report("idle")
    print(f"  {rate:,.0f} transfers/s overall, signing included")
    db.close()


def measure(
    path: Path, city: City, recipients: list[AccountId], transfers: int, proofs: int, nth: int
) -> dict[str, float]:
    opened = time.perf_counter()
    db = Database(path)
    app = build_application(db)
    app.store.wait_for_warm_up()
    warm_s = time.perf_counter() - opened
    settle_for_serving()  # as `urbis node start` does once its node has started
    rng = random.Random(nth)
    txs = signed_transfers(city, recipients, transfers, nth, rng)
    written = [0]
    commit_seconds = [0.0]
    original_stage, original_commit = app.store.stage, app.commit

    def stage(changes: dict[bytes, bytes | None], version: int) -> bytes:
        begun = time.perf_counter()
        try:
            return original_stage(changes, version)
        finally:
            written[0] += len(changes)
            commit_seconds[0] += time.perf_counter() - begun

    def commit(signed: Any) -> None:
        begun = time.perf_counter()
        try:
            original_commit(signed)
        finally:
            commit_seconds[0] += time.perf_counter() - begun

    app.store.stage, app.commit = stage, commit  # type: ignore[method-assign]
    started = time.perf_counter()
    city.commit(app, txs)
    rate = transfers / (time.perf_counter() - started)
    del app.store.stage, app.commit
    store = app.store
    probe = [keys.account(rng.choice(recipients)) for _ in range(proofs // 2)]
    probe += [os.urandom(20) for _ in range(proofs - len(probe))]
    made, generated, verified = proof_rates(store, probe)
    assert all(p.value is not None for p in made[: proofs // 2])
    figures = {
        "keys": len(store),
        "rss": rss_mib(),
        "disk_per_key": store.disk_bytes() / len(store),
        "rate": rate,
        "commit_us_per_key": commit_seconds[0] / max(written[0], 1) * 1e6,
        "generated": generated,
        "verified": verified,
        "nodes": store.node_count,
        "disk_reads": store.node_reads,
        "warm_s": warm_s,
    }
    db.close()
    # The node settles once; this process measures every size in turn. Frozen, this
    # store's reference cycles (the store and its tree) would never be collected and
    # its native index would stay resident in the next size's RSS.
    gc.unfreeze()
    del app, store
    gc.collect()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--signers", type=int, default=2_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="BLOCKS",
        help="instead: at the first size, BLOCKS blocks of 1,000 transfers, disk per key"
        " printed as history grows (kept window --keep)",
    )
    parser.add_argument("--keep", type=int, default=50)
    parser.add_argument(
        "--engines",
        type=int,
        default=0,
        metavar="NODES",
        help="instead: compare storage engines on NODES random-digest node records",
    )
    args = parser.parse_args()
    if args.engines:
        engine_comparison(args.folder or Path(tempfile.gettempdir()), args.engines, 100_000)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    city = City(args.signers)
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        path = Path(folder) / "urbis.db"
        db = Database(path)
        app = build_application(db)
        app.init_chain(city.genesis)
        city.create_eur(app)
        mints = [
            city.tx(
                city.finance,
                *(
                    action("payments", "mint", asset="EUR", recipient=r, amount_minor=10**9)
                    for r in city.ids[i : i + 32]
                ),
            )
            for i in range(0, len(city.ids), 32)
        ]
        city.commit(app, mints)
        base_keys = len(app.store)
        db.close()
        print(f"city of {args.signers:,} signing accounts: {base_keys:,} state keys", flush=True)
        recipients: list[AccountId] = list(city.ids)
        accounts = args.signers
        rows = []
        for nth, size in enumerate(sizes):
            if size > accounts:
                seconds = fill_in_child(path, city, accounts, size, recipients, nth)
                print(f"  fill to {size:,} accounts: {seconds:.0f} s", flush=True)
                accounts = size
            if args.history:
                steady_history(path, city, recipients, args.history, args.keep)
                return
            start_s, start_rss, _ = start_probe(path)
            figures = measure(path, city, recipients, args.transfers, args.proofs, nth + 1)
            figures |= {"accounts": size, "start_s": start_s, "start_rss": start_rss}
            rows.append(figures)
            print_row(figures, rows[0])
        print()
        print(
            "  accounts       keys        RSS disk/key transfers/s (of first)"
            "  commit/key  proofs gen/verified  start"
        )
        for figures in rows:
            print_row(figures, rows[0])
        print(
            "targets: RSS < 2048 MiB at 10M; transfers/s at 10M >= 50% of 100k; "
            "proofs >= 20,000/s; start < 10 s"
        )


def fill_in_child(
    path: Path, city: City, have: int, target: int, recipients: list[AccountId], seed: int
) -> float:
    """`fill_to` in a forked process, so this one's RSS shows the node as it runs, not
    the bulk blocks' transient hundreds of MiB."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()

    def run() -> None:
        seconds = fill_to(path, city, have, target, recipients, seed)
        child.send((seconds, city.height, city.prev, [a.raw for a in recipients]))

    process = context.Process(target=run)
    process.start()
    seconds, city.height, city.prev, raws = parent.recv()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"the fill failed ({process.exitcode})")
    recipients[:] = [AccountId(raw) for raw in raws]
    # The fill's gigabytes of dirty pages are written back before the clock starts,
    # not by the kernel in the middle of the measured blocks.
    os.sync()
    return seconds


def fill_to(
    path: Path, city: City, have: int, target: int, recipients: list[AccountId], seed: int
) -> float:
    started = time.perf_counter()
    db = Database(path)
    app = build_application(db, keep_versions=2)
    rng = random.Random(1000 + seed)
    while have < target:
        size = min(FILL_BLOCK, target - have)
        records, ids = filler(size, rng)
        commit_with(app, city, records)
        have += size
        for account in rng.sample(ids, min(len(ids), RECIPIENTS_KEPT // 4)):
            if len(recipients) < RECIPIENTS_KEPT:
                recipients.append(account)
            else:
                recipients[rng.randrange(len(recipients))] = account
        print(
            f"    {have:>12,} accounts  {time.perf_counter() - started:6.0f} s"
            f"  RSS {rss_mib():,.0f} MiB",
            flush=True,
        )
    # The bulk blocks' own garbage (each rewrote the tree's upper levels) is compacted
    # here, as part of the fill: left to the measured node, its backlog is what the
    # transfers would be timed against.
    app.store.wait_for_maintenance()
    app.store.checkpoint()
    app.store.wait_for_maintenance()  # what the checkpoint's exact live counts show
    db.close()
    return time.perf_counter() - started


def engine_comparison(folder: Path, nodes: int, batch: int) -> None:
    """Random-digest node records written in fsync'd batches, then read back at random,
    in SQLite (a digest-keyed node table), LMDB (py-lmdb, if installed) and the
    append-only segments the store uses. Keys are digests, so a B-tree places each
    batch's inserts all over the file; segments append them."""
    import hashlib
    import sqlite3

    from urbis._native import NodeIndex

    def records(count: int, rng: random.Random) -> list[tuple[bytes, bytes]]:
        out = []
        for _ in range(count):
            node = b"\x01" + rng.randbytes(64)
            out.append((hashlib.sha256(node).digest(), node))
        return out

    def sqlite_engine(path: Path) -> tuple[Any, Any, Any]:
        conn = sqlite3.connect(path / "nodes.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE n (d BLOB PRIMARY KEY, node BLOB NOT NULL) WITHOUT ROWID")

        def write(rows: list[tuple[bytes, bytes]]) -> None:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO n VALUES (?, ?)", rows)
            conn.execute("COMMIT")

        def read(digest: bytes) -> bytes:
            return conn.execute("SELECT node FROM n WHERE d = ?", (digest,)).fetchone()[0]

        return write, read, conn.close

    def lmdb_engine(path: Path) -> tuple[Any, Any, Any]:
        import lmdb

        env = lmdb.open(str(path / "nodes.lmdb"), map_size=64 << 30, sync=True)

        def write(rows: list[tuple[bytes, bytes]]) -> None:
            with env.begin(write=True) as txn:
                for digest, node in rows:
                    txn.put(digest, node)

        def read(digest: bytes) -> bytes:
            with env.begin() as txn:
                return bytes(txn.get(digest))

        return write, read, env.close

    def segment_engine(path: Path) -> tuple[Any, Any, Any]:
        index = NodeIndex(path / "nodes", 0)

        def write(rows: list[tuple[bytes, bytes]]) -> None:
            index.add_records(b"".join(d + n for d, n in rows), True)
            index.sync_all()

        return write, index.__getitem__, lambda: None

    candidates = {"sqlite": sqlite_engine, "lmdb": lmdb_engine, "segments": segment_engine}
    print(f"{nodes:,} random-digest nodes in fsync'd batches of {batch:,}:")
    print(f"{'engine':>10} {'first batch':>14} {'last batch':>14} {'reads':>12} {'disk/node':>10}")
    for name, make in candidates.items():
        target = Path(tempfile.mkdtemp(dir=folder, prefix=name))
        try:
            write, read, close = make(target)
        except ImportError:
            print(f"{name:>10}  (not installed)")
            continue
        rng = random.Random(5)
        written: list[bytes] = []
        first = last = 0.0
        for n in range(0, nodes, batch):
            rows = records(min(batch, nodes - n), rng)
            begun = time.perf_counter()
            write(rows)
            last = (time.perf_counter() - begun) / len(rows) * 1e6
            first = first or last
            written.extend(rng.sample([d for d, _ in rows], min(len(rows), 2_000)))
        probe = rng.sample(written, min(len(written), 50_000))
        begun = time.perf_counter()
        for digest in probe:
            read(digest)
        reads = len(probe) / (time.perf_counter() - begun)
        close()
        size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        print(
            f"{name:>10} {first:>9.2f} µs/n {last:>9.2f} µs/n {reads:>10,.0f}/s"
            f" {size / nodes:>8.0f} B",
            flush=True,
        )
        import shutil

        shutil.rmtree(target)


def print_row(f: dict[str, float], first: dict[str, float]) -> None:
    share = f["rate"] / first["rate"] * 100
    print(
        f"{f['accounts']:>10,.0f} {f['keys']:>10,.0f} {f['rss']:>7,.0f} MiB"
        f" {f['disk_per_key']:>6,.0f} B {f['rate']:>8,.0f} ({share:3.0f}%)"
        f" {f['commit_us_per_key']:>7.1f} µs {f['generated']:>8,.0f}/{f['verified']:<8,.0f}"
        f" {f['start_s']:>5.1f} s  ({f['nodes']:,.0f} nodes, {f['disk_reads']:,.0f} node reads"
        f" from disk; start RSS {f['start_rss']:,.0f} MiB; open and warm-up {f['warm_s']:.1f} s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
