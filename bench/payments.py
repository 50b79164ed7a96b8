"""Payments throughput through the app: transfers among many accounts, invoice payments.

    python bench/payments.py [--accounts 100000] [--transfers 20000] [--invoices 10000]

Every transaction is signed and its signature checked in finalize_block, as
on a validator; figures are printed beside the raw Ed25519 verify rate
measured in the same run (the chain's native checks, and libsodium's for
reference).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CHAIN_ID, commit_block, libsodium_rate, timed
from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.chain.tx import Transaction, TxBody, sign_tx
from urbis.crypto.keys import PrivateKey, verify_many
from urbis.modules import build_application
from urbis.sdk.builder import action
from urbis.state.database import Database

BLOCK = 5_000


class City:
    def __init__(self, accounts: int) -> None:
        self.keys = [PrivateKey.generate() for _ in range(accounts)]
        self.signers = [k.signer() for k in self.keys]
        self.ids = [AccountId.from_key(s.public_key.raw) for s in self.signers]
        self.finance = PrivateKey.generate().signer()
        self.council = PrivateKey.generate().signer()
        self.validator = PrivateKey.generate()
        finance_id = AccountId.from_key(self.finance.public_key.raw)
        council_id = AccountId.from_key(self.council.public_key.raw)
        self.genesis = Genesis(
            chain_id=CHAIN_ID,
            name="Bench City",
            time_ms=1_700_000_000_000,
            accounts=(
                GenesisAccount("finance", (GenesisKey(self.finance.public_key.raw),)),
                GenesisAccount("council", (GenesisKey(self.council.public_key.raw),)),
                *(
                    GenesisAccount(f"r{i}", (GenesisKey(s.public_key.raw),))
                    for i, s in enumerate(self.signers)
                ),
            ),
            departments=(GenesisDepartment("finance", "Finance", finance_id),),
            council_members=(council_id,),
            council_threshold=1,
            validators=(GenesisValidator("v", self.validator.public_key.raw, 10),),
            roles=(("finance.billing", finance_id),),
        )
        self.nonces: dict[bytes, int] = {}
        self.height = 0
        self.prev = b"\0" * 32

    def tx(self, signer: object, *actions: object) -> Transaction:
        sender = AccountId.from_key(signer.public_key.raw)  # type: ignore[attr-defined]
        nonce = self.nonces.get(sender.raw, 0)
        self.nonces[sender.raw] = nonce + 1
        body = TxBody(CHAIN_ID, sender, nonce, tuple(actions), 90_000, "")  # type: ignore[arg-type]
        return sign_tx(body, [signer])  # type: ignore[list-item]

    def round_robin_transfers(self, count: int, seed: int = 7) -> list[bytes]:
        """`count` signed EUR transfers, senders in turn, each to a random other account
        (a sender's nonces in order, so any block of them executes)."""
        rng = random.Random(seed)
        accounts = len(self.ids)
        raws = []
        for n in range(count):
            sender = n % accounts
            recipient = (sender + 1 + rng.randrange(accounts - 1)) % accounts
            transfer = action(
                "payments",
                "transfer",
                id=n.to_bytes(16, "big"),
                recipient=self.ids[recipient],
                asset="EUR",
                amount_minor=rng.randrange(1, 100),
            )
            raws.append(self.tx(self.signers[sender], transfer).raw)
        return raws

    def create_eur(self, app: object) -> None:
        """The council (threshold 1) creates EUR with finance as its issuer."""
        eur = {
            "code": "EUR",
            "decimals": 2,
            "issuer": AccountId.from_key(self.finance.public_key.raw).raw,
        }
        proposal = action(
            "governance",
            "submit_proposal",
            title="EUR",
            action={"module": "payments", "name": "create_asset", "args": eur},
        )
        self.commit(app, [self.tx(self.council, proposal)])

    def funded_app(self, folder: Path) -> Any:
        """A fresh app in `folder`: genesis, EUR, and 10,000.00 EUR minted to every account."""
        app = build_application(Database(folder / "urbis.db"))
        app.init_chain(self.genesis)
        self.create_eur(app)
        mints = [
            self.tx(
                self.finance,
                *(
                    action("payments", "mint", asset="EUR", recipient=r, amount_minor=1_000_000)
                    for r in self.ids[i : i + 32]
                ),
            )
            for i in range(0, len(self.ids), 32)
        ]
        self.commit(app, mints)
        return app

    def commit(self, app: object, txs: list[Transaction]) -> None:
        for start in range(0, len(txs), BLOCK):
            self.height += 1
            self.prev = commit_block(
                app,
                self,  # type: ignore[arg-type]  # a City has what commit_block reads
                self.height,
                [t.raw for t in txs[start : start + BLOCK]],
                self.prev,
            )


class Phases:
    """Time finalize_block, the tree stage and commit while a run goes through the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seconds = {"finalize": 0.0, "stage": 0.0, "commit": 0.0}
        self._wrap(app, "finalize_block", "finalize")
        self._wrap(app, "commit", "commit")
        self._wrap(app.store, "stage", "stage")

    def _wrap(self, owner: Any, method: str, phase: str) -> None:
        original = getattr(owner, method)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - begun

        setattr(owner, method, timed_call)

    def per_item(self, count: int) -> dict[str, float]:
        return {phase: seconds / count * 1e6 for phase, seconds in self.seconds.items()}

    def remove(self) -> None:
        for owner, method in (
            (self.app, "finalize_block"),
            (self.app, "commit"),
            (self.app.store, "stage"),
        ):
            delattr(owner, method)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--invoices", type=int, default=10_000)
    args = parser.parse_args()
    print(f"preparing {args.accounts:,} accounts…", flush=True)
    city = City(args.accounts)
    with tempfile.TemporaryDirectory() as folder:
        app = city.funded_app(Path(folder))

        rng = random.Random(7)
        transfers = []
        for n in range(args.transfers):
            sender = rng.randrange(len(city.ids))
            recipient = (sender + 1 + rng.randrange(len(city.ids) - 1)) % len(city.ids)
            transfers.append(
                city.tx(
                    city.signers[sender],
                    action(
                        "payments",
                        "transfer",
                        id=n.to_bytes(16, "big"),
                        recipient=city.ids[recipient],
                        asset="EUR",
                        amount_minor=rng.randrange(1, 10_000),
                    ),
                )
            )
        triples = [
            (t.signatures[0].key, t.signed_message(), t.signatures[0].sig) for t in transfers
        ]
        one = len(triples) / timed(lambda: verify_many(triples, threads=1))
        two = len(triples) / timed(lambda: verify_many(triples, threads=2))
        sodium = libsodium_rate(triples)
        phases = Phases(app)
        started = time.perf_counter()
        city.commit(app, transfers)
        transfer_rate = len(transfers) / (time.perf_counter() - started)
        split = phases.per_item(len(transfers))
        phases.remove()

        issue = [
            city.tx(
                city.finance,
                *(
                    action(
                        "payments",
                        "issue_invoice",
                        id=(1_000_000 + i + j).to_bytes(16, "big"),
                        department="finance",
                        payer=city.ids[i + j],
                        kind="tax",
                        asset="EUR",
                        amount_minor=48_000,
                        due_at_ms=2_000_000_000_000,
                        details_hash=hashlib.sha256(os.urandom(8)).digest(),
                    )
                    for j in range(min(32, args.invoices - i))
                ),
            )
            for i in range(0, args.invoices, 32)
        ]
        city.commit(app, issue)
        payments = [
            city.tx(
                city.signers[i],
                action(
                    "payments",
                    "pay_invoice",
                    invoice_id=(1_000_000 + i).to_bytes(16, "big"),
                    amount_minor=48_000,
                ),
            )
            for i in range(args.invoices)
        ]
        started = time.perf_counter()
        city.commit(app, payments)
        pay_rate = len(payments) / (time.perf_counter() - started)
        from urbis.modules.payments.keeper import check_supply

        problems = check_supply(app.store)
    print(f"raw Ed25519 verify   1 core: {one:8.0f}/s   2 cores: {two:8.0f}/s   (the chain's)")
    print(f"  libsodium (PyNaCl) 1 core: {sodium:8.0f}/s")
    print(
        f"transfers among {args.accounts:,} accounts: {transfer_rate:7.0f} tx/s = "
        f"{transfer_rate / two:5.1%} of 2-core verify   (target >= 5000 tx/s)"
    )
    print(
        f"invoice payments:                  {pay_rate:7.0f} tx/s = "
        f"{pay_rate / two:5.1%} of 2-core verify   (target >= 2000 tx/s)"
    )
    print(
        "  per transfer: finalize {finalize:.0f} µs (of which tree stage {stage:.0f} µs), "
        "commit {commit:.0f} µs".format(**split)
    )
    print(f"books balance after the run: {problems if problems else 'yes'}")


if __name__ == "__main__":
    main()
