"""One validator's app through its ABCI calls, in one process: what a transfer costs each.

    python bench/validator_calls.py [--accounts 10000] [--block 1500] [--blocks 20]
    python bench/validator_calls.py --instructions        # needs valgrind (Debian: valgrind)
    python bench/validator_calls.py --instructions --keep /tmp/calls   # then callgrind_annotate

Blocks of signed transfers among `accounts` funded accounts go through the calls a
validator answers, framed and parsed as CometBFT sends them: CheckTx in bursts of
`--burst` (answered in slices of 32, the burst's signatures proven ahead, as the ABCI
server does), then PrepareProposal, ProcessProposal, FinalizeBlock and Commit. After
`--warm` blocks, each call's CPU on the answering thread is printed per transfer, with
the other threads' (signatures, the tree's second half, node indexing, the WAL
checkpoint) beside them.

On this kind of virtual machine the CPU's speed drifts by 10-30% between minutes, so a
change of a few percent cannot be seen in times. `--instructions` runs the same blocks
under callgrind and counts the instructions of each call instead: the same code gives
the same count within about 0.1% (PYTHONHASHSEED is fixed), so two commits compare
exactly. Under valgrind the crypto takes its portable paths (no SHA-NI, no AVX-512), so
hashing and signatures weigh more than on the real CPU; differences still hold.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine_speed
from bench.payments import City
from urbis.chain.collector import settle_for_serving
from urbis.consensus.cometbft.abci import (
    AbciApplication,
    AbciServer,
    read_uvarint_prefix,
    split_requests,
)
from urbis.consensus.cometbft.proto import abci
from urbis.crypto.encoding import uvarint

CALLS = ("check_tx", "prepare_proposal", "process_proposal", "finalize_block", "commit")
COLLECTING = "URBIS_BENCH_CALLGRIND"
"""Set in the child valgrind runs: toggle counting around the measured blocks."""


def frame(request: abci.Request) -> bytes:
    body = request.SerializeToString()
    return uvarint(len(body)) + body


def answer_body(out: bytes) -> bytes:
    prefix = read_uvarint_prefix(out[:10])
    assert prefix is not None
    size, used = prefix
    return out[used : used + size]


def callgrind(command: str) -> None:
    """Tell the valgrind this process runs under to start, stop or dump its count."""
    if os.environ.get(COLLECTING):
        subprocess.run(
            ["callgrind_control", command, str(os.getpid())], check=True, capture_output=True
        )


def run(args: argparse.Namespace) -> None:
    count = (args.warm + args.blocks) * args.block
    if not os.environ.get(COLLECTING):  # under callgrind a time says nothing
        print(f"machine: {machine_speed().line()}", flush=True)
    print(f"signing {count:,} transfers among {args.accounts:,} accounts…", flush=True)
    city = City(args.accounts)
    raws = city.round_robin_transfers(count)
    # Framed as CometBFT sends them, before any counting: the node only parses them.
    bursts = [
        [
            b"".join(
                frame(abci.Request(check_tx=abci.RequestCheckTx(tx=raw, type=abci.NEW)))
                for raw in raws[first : min(first + args.burst, start + args.block)]
            )
            for first in range(start, start + args.block, args.burst)
        ]
        for start in range(0, count, args.block)
    ]
    with tempfile.TemporaryDirectory() as folder:
        app = city.funded_app(Path(folder))
        server = AbciServer(AbciApplication(app, city.genesis, max_block_txs=args.block), "")
        settle_for_serving()
        proposer = city.validator.public_key.raw[:20]
        spent = dict.fromkeys(CALLS, 0.0)
        process_started = 0.0
        for number in range(args.warm + args.blocks):
            if number == args.warm:
                callgrind("--instr=on")
                spent = dict.fromkeys(CALLS, 0.0)
                process_started = time.process_time()
                kernel_started = _kernel()
            block = raws[number * args.block : (number + 1) * args.block]
            height = city.height = city.height + 1
            started = time.thread_time()
            for burst in bursts[number]:
                requests, _ = split_requests(burst)
                for start in range(0, len(requests), 32):
                    server._answer(requests[start : start + 32], requests if start == 0 else None)
            requests = [
                abci.Request(
                    prepare_proposal=abci.RequestPrepareProposal(
                        txs=block, height=height, max_tx_bytes=1 << 30
                    )
                ),
                abci.Request(
                    process_proposal=abci.RequestProcessProposal(txs=block, height=height)
                ),
                abci.Request(
                    finalize_block=abci.RequestFinalizeBlock(
                        txs=block, height=height, proposer_address=proposer
                    )
                ),
                abci.Request(commit=abci.RequestCommit()),
            ]
            requests[2].finalize_block.time.seconds = city.genesis.time_ms // 1000 + height
            for call, request in zip(CALLS, [None, *requests], strict=True):
                if request is not None:
                    out = server._answer([request], None)
                    if call == "finalize_block":
                        response = abci.Response.FromString(answer_body(out))
                        failed = [r for r in response.finalize_block.tx_results if r.code]
                        assert not failed, f"{len(failed)} transfers failed: {failed[0].log}"
                now = time.thread_time()
                spent[call] += now - started
                started = now
                if number >= args.warm:
                    callgrind(f"--dump={call}")
        callgrind("--instr=off")
        measured = args.blocks * args.block
        total = time.process_time() - process_started
        own = sum(spent.values())
        ended = _kernel()
        kernel = [(ended[i] - kernel_started[i]) / measured for i in range(3)]
        print(
            "µs of CPU a transfer: "
            + ", ".join(f"{call} {spent[call] / measured * 1e6:.1f}" for call in CALLS)
            + f"; other threads {(total - own) / measured * 1e6:.1f}"
            + f"; all {total / measured * 1e6:.1f}"
        )
        print(
            f"of which in the kernel {kernel[0] * 1e6:.1f} µs; a transfer also took "
            f"{kernel[1]:.2f} fresh pages (minor faults) and wrote {kernel[2] / 1024:.1f} KiB"
        )
        app.db.close()


def _kernel() -> tuple[float, int, int]:
    """The process's kernel CPU, minor page faults and bytes written so far: what
    callgrind does not count (it sees a system call, not the kernel's work for it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    written = 0
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                written = int(line.split()[1])
    return usage.ru_stime, usage.ru_minflt, written


def count_instructions(args: argparse.Namespace) -> None:
    """Run this script under callgrind and add up each call's dumps."""
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (Debian: apt install valgrind)")
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or temporary
        Path(folder).mkdir(parents=True, exist_ok=True)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={folder}/calls.%p",
            os.path.realpath(sys.executable),  # a pyenv shim would be traced, not Python
            __file__,
            *(f"--{name.replace('_', '-')}={value}" for name, value in _forwarded(args)),
        ]
        environment = {**os.environ, COLLECTING: "1", "PYTHONHASHSEED": "0"}
        print("running under callgrind (some 50 times slower while counting)…", flush=True)
        done = subprocess.run(command, env=environment, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"valgrind failed:\n{done.stderr[-2000:]}")
        counts = dict.fromkeys(CALLS, 0)
        for dump in Path(folder).glob("calls.*"):
            text = dump.read_text(errors="replace")
            trigger = re.search(r"^desc: Trigger: (?:Client Request: )?dump (\w+)", text, re.M)
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if trigger and total and trigger.group(1) in counts:
                counts[trigger.group(1)] += int(total.group(1))
    measured = args.blocks * args.block
    print(
        "thousand instructions a transfer (all threads): "
        + ", ".join(f"{call} {counts[call] / measured / 1000:.1f}" for call in CALLS)
        + f"; all {sum(counts.values()) / measured / 1000:.1f}"
    )


def _forwarded(args: argparse.Namespace) -> list[tuple[str, object]]:
    names = ("accounts", "block", "blocks", "warm", "burst")
    return [(name, getattr(args, name)) for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--block", type=int, default=1_500, help="transfers a block")
    parser.add_argument("--blocks", type=int, default=20, help="blocks measured")
    parser.add_argument("--warm", type=int, default=6, help="blocks before measuring")
    parser.add_argument("--burst", type=int, default=200, help="CheckTx requests read at once")
    parser.add_argument(
        "--keep", help="with --instructions: keep callgrind's files here (callgrind_annotate)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind instead of timing (use --blocks 2)",
    )
    args = parser.parse_args()
    if args.instructions:
        count_instructions(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
