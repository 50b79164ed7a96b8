"""ElectionGuard 2.1 cost in the standard 4096-bit group.

    python bench/voting.py [--tally-ballots 100000] [--sample 200] [--workers 2]

Prints, beside a same-run baseline (plain 4096-bit modexp with a 256-bit exponent):
  1. ballot encryption, one yes/no contest (2 options, limit 1), one core;
  2. ballot verification, every proof and every membership check (decode + verify_ballot),
     on one core and on `workers` processes;
  3. tally + k-of-n decryption (n=5, k=3) of `tally-ballots` ballots;
  4. full verification (§6.2 steps 1-14) of an election of `tally-ballots` ballots, as
     ballots/s: steps 5-8 and 13-14 measured on a sample of real ballots and extrapolated,
     steps 9-11 measured at full size.

The 100,000 ciphertexts of (3) are valid encryptions built cheaply: from one fresh
encryption of 0 per option, (g^x, K^x), ballot i holds (g^(x+i), K^(x+i+vote)), one or two
multiplications each. Building them is not timed; aggregating them is.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gmpy2

from urbis.election import ballot as egballot
from urbis.election import simulate, tally
from urbis.election import verify as egverify
from urbis.election.group import STANDARD
from urbis.election.record import (
    CAST,
    Ciphertext,
    DeviceLog,
    ElectionRecord,
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
)

MANIFEST = json.dumps(
    {
        "label": "Bench referendum",
        "contests": [{"label": "Question", "options": [{"label": "Yes"}, {"label": "No"}]}],
        "ballot_styles": [{"label": "all", "contests": [1]}],
    }
).encode()


def baseline_modexp_ms(rounds: int = 200) -> tuple[float, float]:
    """(wall, CPU) milliseconds per plain modexp: the same-run baseline."""
    group = STANDARD
    base = group.g_pow(123456789)
    exponents = [group.random_exponent() for _ in range(rounds)]
    started, cpu = time.perf_counter(), time.process_time()
    for e in exponents:
        gmpy2.powmod(base, e, group.p)
    return (
        (time.perf_counter() - started) / rounds * 1000,
        (time.process_time() - cpu) / rounds * 1000,
    )


def encryption_ms(
    context: egballot.ElectionContext, rounds: int
) -> tuple[float, float, list[bytes], egballot.Device]:
    """(median wall ms, mean CPU ms) per ballot, the encrypted ballots, and their device."""
    egballot.encrypt_ballot(context, 1, {1: [1, 0]}, egballot.Device.start(context, "warm-up"))
    device = egballot.Device.start(context, "bench-device")
    times = []
    raws = []
    cpu = time.process_time()
    for i in range(rounds):
        started = time.perf_counter()
        ballot, _ = egballot.encrypt_ballot(context, 1, {1: [i % 2, 1 - i % 2]}, device)
        times.append(time.perf_counter() - started)
        raws.append(ballot.to_bytes(context.group))
    cpu_ms = (time.process_time() - cpu) / rounds * 1000
    return statistics.median(times) * 1000, cpu_ms, raws, device


_CONTEXT: egballot.ElectionContext | None = None


def _init(context: egballot.ElectionContext) -> None:
    global _CONTEXT
    _CONTEXT = context


def _verify_raw(raw: bytes) -> bool:
    """What a validator does with a submitted ballot: decode (ranges), then every proof with
    the subgroup membership of alpha, beta and C0 tested in the same pass."""
    assert _CONTEXT is not None
    ballot = EncryptedBallot.from_bytes(_CONTEXT.group, raw, subgroup=False)
    return egballot.verify_ballot(_CONTEXT, ballot).ok


def verification_rate(
    context: egballot.ElectionContext, raws: list[bytes], workers: int
) -> tuple[float, float]:
    """(ballots/s by the wall clock, ballots per CPU-second)."""
    if workers <= 1:
        _init(context)
        _verify_raw(raws[0])
        started, cpu = time.perf_counter(), time.process_time()
        assert all(_verify_raw(raw) for raw in raws)
        return len(raws) / (time.perf_counter() - started), len(raws) / (time.process_time() - cpu)
    pool = multiprocessing.get_context("fork").Pool(workers, _init, (context,))
    pool.map(_verify_raw, raws[: 4 * workers], chunksize=1)  # build the tables in every worker
    before = os.times()
    started = time.perf_counter()
    results = pool.map(_verify_raw, raws, chunksize=8)
    elapsed = time.perf_counter() - started
    pool.close()
    pool.join()
    after = os.times()
    assert all(results)
    children_cpu = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    return len(raws) / elapsed, len(raws) / children_cpu if children_cpu > 0 else float("nan")


def chained_ballots(context: egballot.ElectionContext, count: int) -> list[EncryptedBallot]:
    """`count` cast ballots whose ciphertexts are valid encryptions of their votes: from one
    fresh encryption of (0, 0), ballot i holds (g^(ξ+i), K^(ξ+i+vote)) per option, built with one
    or two multiplications. Proofs are not needed for aggregation; they are copied."""
    group = context.group
    p = group.p
    template, _ = egballot.encrypt_ballot(
        context, 1, {1: [0, 0]}, egballot.Device.start(context, "template")
    )
    key = context.joint_key
    contest = template.contests[0]
    running = [s.ciphertext for s in contest.selections]
    ballots = []
    for i in range(count):
        running = [Ciphertext(ct.alpha * group.g % p, ct.beta * key % p) for ct in running]
        votes = (1, 0) if i % 3 else (0, 1)
        cts = [
            Ciphertext(ct.alpha, ct.beta * key % p) if v else ct
            for ct, v in zip(running, votes, strict=True)
        ]
        selections = tuple(
            EncryptedSelection(s.option, ct, s.proof)
            for s, ct in zip(contest.selections, cts, strict=True)
        )
        ballots.append(
            EncryptedBallot(
                template.id_b,
                template.h_i,
                1,
                (
                    EncryptedContest(
                        contest.contest, selections, contest.limit_proof, contest.contest_hash
                    ),
                ),
                template.ballot_nonce,
                template.device,
                template.chaining_field,
                i.to_bytes(32, "big"),
                CAST,
            )
        )
    return ballots


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tally-ballots", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    group = STANDARD

    print(f"ElectionGuard 2.1, {group.name}, gmpy2 {gmpy2.version()} / GMP {gmpy2.mp_version()}")
    base_ms, base_cpu_ms = baseline_modexp_ms()
    print(
        f"baseline: plain modexp (4096-bit p, 256-bit exponent)  {base_ms:8.2f} ms wall, "
        f"{base_cpu_ms:.2f} ms CPU ({1000 / base_ms:,.0f}/s)"
    )

    started = time.perf_counter()
    guardians = simulate.run_ceremony(group, 5, 3)
    print(
        f"key ceremony, n=5 k=3 (keys, proofs, 20 encrypted shares checked) "
        f"{time.perf_counter() - started:8.2f} s"
    )
    context = egballot.ElectionContext.build(group, 5, 3, MANIFEST, guardians.public)

    enc_ms, enc_cpu_ms, raws, device = encryption_ms(context, args.sample)
    print(
        f"1. ballot encryption, yes/no contest, one core: {enc_ms:.2f} ms wall (median), "
        f"{enc_cpu_ms:.2f} ms CPU = {enc_cpu_ms / base_cpu_ms:.1f} baseline modexps "
        f"(target < 10 ms)"
    )

    one, one_cpu = verification_rate(context, raws, 1)
    many, many_cpu = verification_rate(context, raws, args.workers)
    print(
        f"2. ballot verification (decode + every proof + membership): 1 process {one:.1f}/s "
        f"wall, {one_cpu:.1f} per CPU-second ({1000 / one_cpu:.1f} ms CPU = "
        f"{1000 / one_cpu / base_cpu_ms:.1f} baseline modexps per ballot)"
    )
    print(
        f"   {args.workers} processes: {many:.1f}/s wall, {many_cpu:.1f} per CPU-second each; "
        f"on {args.workers} free cores that is about {args.workers * many_cpu:.0f}/s "
        f"(target >= 100)"
    )

    ballots = chained_ballots(context, args.tally_ballots)
    started = time.perf_counter()
    aggregate = tally.aggregate(context, ballots)
    aggregated = time.perf_counter() - started
    started = time.perf_counter()
    result = tally.decrypt_tally(
        context,
        guardians.public,
        [guardians.shares[i] for i in (0, 2, 4)],
        aggregate,
        args.tally_ballots,
    )
    decrypted = time.perf_counter() - started
    counts = {(o.contest, o.option): o.tally for o in result.options}
    yes = sum(1 for i in range(args.tally_ballots) if i % 3)
    assert counts == {(1, 1): yes, (1, 2): args.tally_ballots - yes}, counts
    print(
        f"3. tally of {args.tally_ballots:,} ballots: aggregate {aggregated:.2f} s + 3-of-5 "
        f"decryption with proofs {decrypted:.2f} s = {aggregated + decrypted:.2f} s "
        f"(target < 30 s); counts {counts}"
    )

    # 4. the verifier: a record of the sample's real ballots, all steps, `workers` processes
    sample = [EncryptedBallot.from_bytes(group, raw) for raw in raws]
    record = ElectionRecord(
        group=group,
        n=5,
        k=3,
        manifest=MANIFEST,
        h_p=context.h_p,
        h_b=context.h_b,
        guardians=list(guardians.public),
        joint_key=context.joint_key,
        joint_data_key=context.joint_data_key,
        h_e=context.h_e,
        ballots=sample,
        devices=[
            DeviceLog(
                device.label,
                device.device_hash,
                device.chaining,
                tuple(device.codes),
                device.close(context),
            )
        ],
        encrypted_tally=tally.aggregate(context, sample),
        tally=tally.decrypt_tally(
            context,
            guardians.public,
            guardians.shares[:3],
            tally.aggregate(context, sample),
            len(sample),
        ),
    )
    started = time.perf_counter()
    report = egverify.verify_record(record, workers=args.workers)
    sampled = time.perf_counter() - started
    assert report.ok, report.to_text()
    cpu = time.process_time()
    egverify.verify_record(record, workers=1)
    sampled_cpu = time.process_time() - cpu
    # steps 9-11 at full size: the aggregation check multiplies every ballot's ciphertexts
    record.ballots = ballots
    record.encrypted_tally = aggregate
    record.tally = result
    started, cpu = time.perf_counter(), time.process_time()
    full = egverify.verify_record(record, only={9, 10, 11})
    fixed, fixed_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert full.ok, full.to_text()
    total = sampled / len(sample) * args.tally_ballots + fixed
    total_cpu = sampled_cpu / len(sample) * args.tally_ballots + fixed_cpu
    free = total_cpu / args.workers
    print(
        f"4. full verification (steps 1-14): {len(sample)} real ballots in {sampled:.2f} s wall on "
        f"{args.workers} processes ({len(sample) / sampled:.1f}/s), "
        f"{sampled_cpu / len(sample) * 1000:.1f} ms CPU per ballot; steps 9-11 over "
        f"{args.tally_ballots:,} ballots {fixed:.2f} s wall, {fixed_cpu:.2f} s CPU"
    )
    print(
        f"   -> a {args.tally_ballots:,}-ballot election (per-ballot steps extrapolated from the "
        f"sample): {total:,.0f} s here = {args.tally_ballots / total:.1f} ballots/s; "
        f"{total_cpu:,.0f} CPU-s, i.e. about {free:,.0f} s = {args.tally_ballots / free:.0f} "
        f"ballots/s on {args.workers} free cores"
    )
    print("machine: shared, 2 cores, other sessions running; wall figures are under contention.")


if __name__ == "__main__":
    main()
