"""Identity figures: offline verification, issuance, a million-entry status list.

    python bench/identity.py [--presentations 2000] [--issue 2000]

Offline verification is the turnstile's path: signature, disclosures, key
binding and status, from an exported bundle, on one core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.sdk.sdjwt import HolderKey, StatusReference, TrustView, issue, present
from urbis.sdk.sdjwt import verify_presentation as verify

CLAIMS = {"zone": "A", "valid_until": "2027-01-31", "concession": "student"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presentations", type=int, default=2000)
    parser.add_argument("--issue", type=int, default=2000)
    args = parser.parse_args()
    issuer_key = PrivateKey.generate()
    issuer = AccountId.from_key(issuer_key.public_key.raw)
    holder = HolderKey()
    view = TrustView(
        key_at=lambda did, t: [issuer_key.public_key.raw],
        trusted_at=lambda vct, who, t: True,
        status_of=lambda who, list_id, index: 0,
    )
    started = time.perf_counter()
    credentials = [
        issue(
            issuer_key,
            issuer.did,
            "TransitPass",
            CLAIMS,
            ["zone", "concession"],
            holder.jwk,
            1_800_000_000,
            1_900_000_000,
            StatusReference(issuer.text, 1, i),
        )
        for i in range(args.issue)
    ]
    issue_rate = args.issue / (time.perf_counter() - started)
    presentations = [
        present(
            credentials[i % len(credentials)], ["zone"], holder, "turnstile", f"n{i}", 1_800_000_100
        )
        for i in range(args.presentations)
    ]
    timings = []
    for i, shown in enumerate(presentations):
        started = time.perf_counter()
        verify(shown, view, "turnstile", f"n{i}", 1_800_000_100)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        f"offline verification: median {statistics.median(timings):.3f} ms, "
        f"p99 {timings[int(len(timings) * 0.99)]:.3f} ms  (target median < 2 ms, one core)"
    )
    print(f"issuance: {issue_rate:,.0f} credentials/s  (target >= 500/s)")
    status_list_figures()


def status_list_figures() -> None:
    """A 1,048,576-entry list: what the chain publishes, and what one revocation costs."""
    from tests.helpers.city import CityChain, account
    from urbis.sdk.builder import action

    with tempfile.TemporaryDirectory() as folder:
        chain = CityChain(Path(folder))
        assert chain.run(
            "registry", action("identity", "create_status_list", list_id=1, size=1 << 20, bits=1)
        ).ok
        for index in range(0, 1 << 20, 1 << 14):  # 64 revocations across the list
            chain.submit(
                chain.sign(
                    "registry", [action("identity", "set_status", list_id=1, index=index, status=1)]
                )
            )
        chain.block()
        costs = []
        for index in range(7, 7 + 50):
            started = time.perf_counter()
            receipt = chain.run(
                "registry", action("identity", "set_status", list_id=1, index=index * 997, status=1)
            )
            costs.append((time.perf_counter() - started) * 1000)
            assert receipt.ok
        published = chain.query(
            "identity", "status_list", issuer=account("registry").text, list_id="1"
        )
        print(
            f"status list of 1,048,576 entries (114 revoked): published lst "
            f"{published['compressed_bytes']:,} bytes compressed (131,072 raw); "
            f"one update = one tx rewriting one 4 KiB page: median "
            f"{statistics.median(costs):.1f} ms per block with it (sign, check, "
            f"execute, commit)"
        )
        chain.close()


if __name__ == "__main__":
    main()
