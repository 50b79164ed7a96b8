"""What a transfer costs as the chain's history grows, on one node, without the network.

    python bench/history_growth.py [--accounts 10000] [--windows 8] [--block 1000]

Signed transfers among `accounts` accounts, committed in blocks of `block` through
finalize_block and commit as a validator does (signatures checked), in windows of
ten blocks. Each window prints, per transfer: the process's CPU (all threads: the
tree stage's halves, node indexing, the WAL checkpoint, maintenance), the committing
thread's CPU, the block's wall time (finalize and commit), and the bytes the process wrote to disk
(SQLite's WAL and the node segments). The first window is the baseline: the network
bench's transfer phases run after tens of thousands of earlier transactions, and
this shows what that history alone adds to each one. All transactions are signed
before the first window, so signing is not in the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import commit_block
from bench.payments import City

WINDOW_BLOCKS = 10


def written_bytes() -> int:
    """Bytes this process has caused to be written to storage (Linux /proc)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--block", type=int, default=1_000, help="transfers a block")
    args = parser.parse_args()
    count = args.windows * WINDOW_BLOCKS * args.block
    print(f"preparing {args.accounts:,} accounts and signing {count:,} transfers…", flush=True)
    city = City(args.accounts)
    transfers = city.round_robin_transfers(count)
    with tempfile.TemporaryDirectory() as folder:
        app = city.funded_app(Path(folder))
        print(
            "after transfers   process CPU          block thread CPU"
            "     block wall   written to disk"
        )
        base: tuple[float, float, float, float] | None = None
        done = 0
        for _ in range(args.windows):
            process, thread = time.process_time(), time.thread_time()
            wrote, block_wall = written_bytes(), 0.0
            for _ in range(WINDOW_BLOCKS):
                raws = transfers[done : done + args.block]
                done += len(raws)
                city.height += 1
                began = time.perf_counter()
                city.prev = commit_block(app, city, city.height, raws, city.prev)  # type: ignore[arg-type]
                block_wall += time.perf_counter() - began
            per = WINDOW_BLOCKS * args.block
            row = (
                (time.process_time() - process) / per * 1e6,
                (time.thread_time() - thread) / per * 1e6,
                block_wall / per * 1e6,
                (written_bytes() - wrote) / per / 1024,
            )
            base = base or row
            print(
                f"{done:>15,}   {row[0]:6.0f} µs ({row[0] / base[0]:4.2f}x)"
                f"   {row[1]:6.0f} µs ({row[1] / base[1]:4.2f}x)"
                f"   {row[2]:5.0f} µs   {row[3]:6.1f} KiB ({row[3] / max(base[3], 1e-9):4.1f}x)",
                flush=True,
            )
        app.db.close()


if __name__ == "__main__":
    main()
