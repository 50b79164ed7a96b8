"""State proofs and commit cost with a large state.

    python bench/proofs.py [--accounts 1000000] [--proofs 20000] [--block-keys 1000]

Fills the state with accounts exactly as the accounts module writes them,
then measures, in the same run: the cost to commit a block of `block-keys`
changes as the state grows (it should track the changed keys, not the state
size), proofs generated and verified per second, and the process's RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import proof_rates, rss_mib
from urbis.chain.codec import to_wire
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import encode_trusted
from urbis.modules.accounts import keys
from urbis.modules.accounts.records import Account, AccountKey, KeyChange
from urbis.state import Database, StateStore

CHUNK = 100_000


def account_records(count: int) -> dict[bytes, bytes]:
    """What `accounts.create` writes for `count` accounts (random keys, no signing needed)."""
    out: dict[bytes, bytes] = {}
    for _ in range(count):
        public = os.urandom(32)
        account = AccountId.from_key(public)
        history = [KeyChange(1, 1_700_000_000_000, public, 1, "added")]
        record = Account([AccountKey(public)], 1, 1, history)
        out[keys.account(account)] = encode_trusted(to_wire(record))
    return out


def block_commit_ms(store: StateStore, all_keys: list[bytes], block_keys: int) -> float:
    changes = {k: os.urandom(48) for k in random.sample(all_keys, block_keys)}
    started = time.perf_counter()
    store.commit(changes, store.version + 1)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--block-keys", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(Database(Path(folder) / "state.db"))
        baseline_rss = rss_mib()
        all_keys: list[bytes] = []
        store.commit({b"genesis": b"1"}, 0)
        small = max(args.block_keys // 10, 1)
        print(
            f"{'accounts':>10} {'keys':>10} {'commit ' + str(small) + ' keys':>16}"
            f" {'commit ' + str(args.block_keys) + ' keys':>17} {'per key':>9} {'fill s':>8}"
        )
        added = 0
        next_report = 10_000
        while added < args.accounts:
            size = min(CHUNK, args.accounts - added, max(next_report - added, 1))
            records = account_records(size)
            started = time.perf_counter()
            store.commit(records, store.version + 1)
            fill = time.perf_counter() - started
            all_keys.extend(records)
            added += size
            if added >= next_report or added == args.accounts:
                few = sorted(block_commit_ms(store, all_keys, small) for _ in range(3))[1]
                many = sorted(block_commit_ms(store, all_keys, args.block_keys) for _ in range(3))[
                    1
                ]
                print(
                    f"{added:>10,} {len(store):>10,} {few:>13.1f} ms {many:>14.1f} ms"
                    f" {1000 * many / args.block_keys:>6.0f} µs {fill:>8.1f}"
                )
                next_report *= 10
        rss = rss_mib()
        probe = random.sample(all_keys, args.proofs // 2) + [
            os.urandom(20) for _ in range(args.proofs // 2)
        ]
        proofs, generate, verify = proof_rates(store, probe)
        depth = sum(len(p.siblings) for p in proofs) / len(proofs)
        print(
            f"proofs (half present, half absent) over {len(store):,} keys, mean depth {depth:.1f}:"
        )
        print(
            f"  generated {generate:10,.0f}/s   verified {verify:10,.0f}/s   (target >= 20,000/s)"
        )
        print(
            f"RSS {rss:,.0f} MiB with {added:,} accounts ({len(store):,} keys, "
            f"{store.node_count:,} tree nodes); before filling {baseline_rss:,.0f} MiB"
            f"  (target < 2048 MiB)"
        )


if __name__ == "__main__":
    main()
