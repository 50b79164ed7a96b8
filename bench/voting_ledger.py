"""What a ballot costs the ledger, in the standard 4096-bit group.

    python bench/voting_ledger.py [--ballots 100]

On an in-process chain (no network, no API) with an election after its key ceremony
(5 guardians, quorum 3) and `ballots` registered ballot keys, prints beside a same-run
baseline (one plain 4096-bit modexp with a 256-bit exponent, one Ed25519 verification):
  1. ballot encryption on the voter's side (one yes/no contest);
  2. CheckTx: everything `admit` checks per ballot (window, phase, the registrar's RSA
     signature on the ballot key, the ballot key's Ed25519 signature, every proof);
  3. execution: one block of all the ballots (the same checks again, plus the aggregate);
  4. the record export and the §6.2 verification of that election (all ballots).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gmpy2

from tests.helpers.city import account
from tests.helpers.voting import ElectionRun, ok, voting_chain
from urbis.crypto.keys import PrivateKey
from urbis.crypto.keys import verify as ed25519_verify
from urbis.election.group import STANDARD
from urbis.election.record import ElectionRecord
from urbis.election.verify import verify_record
from urbis.modules.voting.export import record_files, write_files


def per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:8.1f}/s  ({1000 * seconds / count:7.2f} ms each)"


def line(label: str, count: int, seconds: float) -> None:
    print(f"{label:<50}{per_second(count, seconds)}")


def baseline() -> None:
    base = STANDARD.g_pow(987654321)
    exponent = int(STANDARD.q) - 12345
    rounds = 50
    start = time.perf_counter()
    for _ in range(rounds):
        gmpy2.powmod(base, exponent, STANDARD.p)
    line("baseline  4096-bit modexp (256-bit exponent)", rounds, time.perf_counter() - start)
    key = PrivateKey.generate()
    message, signature = b"m" * 64, key.sign(b"m" * 64)
    start = time.perf_counter()
    for _ in range(1000):
        ed25519_verify(key.public_key.raw, message, signature)
    line("baseline  Ed25519 verification", 1000, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballots", type=int, default=100)
    count = parser.parse_args().ballots
    baseline()
    with tempfile.TemporaryDirectory() as folder:
        chain = voting_chain(Path(folder))
        run = ElectionRun(chain, group=STANDARD.name, window_blocks=count + 100)
        start = time.perf_counter()
        ok(run.create())
        run.ceremony()
        print(
            f"setup     key ceremony (5 guardians, 4096-bit): {time.perf_counter() - start:.1f} s"
        )
        keys = [run.register(i.to_bytes(4, "big") * 8) for i in range(count)]
        run.wait_until_open()
        start = time.perf_counter()
        ballots = [run.encrypt(1 + i % 2)[0] for i in range(count)]
        line("1 encrypt a ballot (voter's device, one core)", count, time.perf_counter() - start)
        relay = account("relay").raw
        nonce = chain.app.next_nonce(relay)
        txs = [
            chain.sign("relay", [run.cast_action(key, ballot)], nonce=nonce + i)
            for i, (key, ballot) in enumerate(zip(keys, ballots, strict=True))
        ]
        start = time.perf_counter()
        for tx in txs:
            chain.app.check_tx(tx.raw)
        line("2 CheckTx (every proof, RSA, Ed25519)", count, time.perf_counter() - start)
        start = time.perf_counter()
        result = chain.execute_raw([tx.raw for tx in txs])
        assert all(r.ok for r in result.receipts), [r.message for r in result.receipts][:3]
        line(f"3 execution (one block of {count})", count, time.perf_counter() - start)
        start = time.perf_counter()
        files = record_files(chain.app.store, run.election())
        write_files(files, Path(folder) / "record")
        record = ElectionRecord.from_dir(Path(folder) / "record")
        exported = time.perf_counter() - start
        start = time.perf_counter()
        report = verify_record(record)
        verified = time.perf_counter() - start
        assert report.ok or report.failed_steps == [9, 10, 11], report.failed_steps
        line("4 record export from chain state", count, exported)
        line("4 §6.2 verification of that record (1 core)", count, verified)
        chain.close()


if __name__ == "__main__":
    main()
