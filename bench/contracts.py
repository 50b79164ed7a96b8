"""Contracts throughput through the app: ERC-20-style token transfers, the land-sale
flow, and the cost of writing contract storage.

    python bench/contracts.py [--accounts 10000] [--transfers 20000] [--sales 500]

Every transaction is signed and checked in finalize_block, as on a validator.
Figures are printed beside baselines measured in the same run: raw Ed25519
verification and native payments transfers (the same work minus the EVM).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import timed
from bench.payments import City
from urbis.chain.genesis import GenesisDepartment
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action
from urbis.crypto.keys import verify_many
from urbis.modules import build_application
from urbis.modules.contracts import abi
from urbis.modules.contracts.compiler import VYPER, compile_source
from urbis.sdk.builder import action
from urbis.state.database import Database

ROOT = Path(__file__).resolve().parent.parent
BATCH = 32

FILL = """
# pragma version 0.4.3
data: HashMap[uint256, uint256]

@external
def fill(n: uint256, seed: uint256):
    for i: uint256 in range(n, bound=4096):
        self.data[seed + i] = seed + i + 1
"""


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


class ContractCity(City):
    """The payments bench city plus a land department whose registrar is finance."""

    def __init__(self, accounts: int) -> None:
        super().__init__(accounts)
        finance = AccountId.from_key(self.finance.public_key.raw)
        self.genesis = dataclasses.replace(
            self.genesis,
            departments=(*self.genesis.departments, GenesisDepartment("land", "Land", finance)),
            roles=(*self.genesis.roles, ("land.registrar", finance)),
        )
        self.proposals = 0
        self.abis: dict[bytes, abi.Abi] = {}

    def deploy(
        self, app: object, name: str, source: str, types: list[str], args: list
    ) -> AccountId:
        compiled = compile_source(VYPER, source)
        deploy = {
            "module": "contracts",
            "name": "deploy",
            "args": {
                "name": name,
                "compiler": VYPER,
                "source": source,
                "bytecode_hash": compiled.bytecode_hash,
                "constructor_args": abi.encode_args(types, args),
                "gas_limit": 10_000_000,
            },
        }
        self.commit(
            app,
            [
                self.tx(
                    self.council, action("governance", "submit_proposal", title=name, action=deploy)
                )
            ],
        )
        self.proposals += 1
        address = app.query("contracts", "contract", {"ref": name})["address"]  # type: ignore[attr-defined]
        contract = AccountId.parse(address)
        self.abis[contract.raw] = compiled.abi
        return contract

    def call(self, contract: AccountId, function: str, *args: object, gas: int = 300_000) -> Action:
        data = abi.encode_call(self.abis[contract.raw], function, list(args))
        return action("contracts", "call", contract=contract, data=data, gas_limit=gas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--sales", type=int, default=500)
    args = parser.parse_args()
    print(f"preparing {args.accounts:,} accounts…", flush=True)
    city = ContractCity(args.accounts)
    finance = AccountId.from_key(city.finance.public_key.raw)
    with tempfile.TemporaryDirectory() as folder:
        app = build_application(Database(Path(folder) / "urbis.db"))
        app.init_chain(city.genesis)
        city.create_eur(app)
        token = city.deploy(
            app, "token", (ROOT / "contracts" / "token.vy").read_text(), ["address"], [finance.raw]
        )
        print("minting tokens and euros…", flush=True)
        mints = []
        for i in range(0, len(city.ids), BATCH):
            batch = city.ids[i : i + BATCH]
            mints.append(
                city.tx(
                    city.finance, *(city.call(token, "mint", r, 10**12, gas=100_000) for r in batch)
                )
            )
            mints.append(
                city.tx(
                    city.finance,
                    *(
                        action("payments", "mint", asset="EUR", recipient=r, amount_minor=10**9)
                        for r in batch
                    ),
                )
            )
        for start in range(0, len(mints), 100):  # mints stay under the block gas limit
            city.commit(app, mints[start : start + 100])

        rng = random.Random(11)
        pairs = []
        for _ in range(args.transfers):
            sender = rng.randrange(len(city.ids))
            pairs.append(
                (
                    sender,
                    (sender + 1 + rng.randrange(len(city.ids) - 1)) % len(city.ids),
                    rng.randrange(1, 10_000),
                )
            )
        native_txs = [
            city.tx(
                city.signers[s],
                action(
                    "payments",
                    "transfer",
                    id=n.to_bytes(16, "big"),
                    recipient=city.ids[r],
                    asset="EUR",
                    amount_minor=a,
                ),
            )
            for n, (s, r, a) in enumerate(pairs)
        ]
        token_txs = [
            city.tx(city.signers[s], city.call(token, "transfer", city.ids[r], amount, gas=100_000))
            for s, r, amount in pairs
        ]
        triples = [
            (t.signatures[0].key, t.signed_message(), t.signatures[0].sig) for t in token_txs
        ]
        verify_2 = len(triples) / timed(lambda: verify_many(triples, threads=2))
        native = len(native_txs) / timed(lambda: city.commit(app, native_txs))
        contract = len(token_txs) / timed(lambda: city.commit(app, token_txs))

        print("land sales…", flush=True)
        land = city.deploy(
            app,
            "land-registry",
            (ROOT / "contracts" / "land_registry.vy").read_text(),
            ["string", "uint256", "address"],
            ["EUR", 200, finance.raw],
        )
        sales = min(args.sales, len(city.ids) // 2)
        parcels = [h(f"parcel-{i}") for i in range(sales)]
        sellers = [2 * i for i in range(sales)]
        buyers = [2 * i + 1 for i in range(sales)]
        registers = [
            city.tx(
                city.finance,
                *(
                    city.call(land, "register", p, city.ids[s], h("deed"))
                    for p, s in zip(parcels[i : i + BATCH], sellers[i : i + BATCH], strict=True)
                ),
            )
            for i in range(0, sales, BATCH)
        ]
        lists = [
            city.tx(city.signers[s], city.call(land, "list_for_sale", p, city.ids[b], 50_000))
            for p, s, b in zip(parcels, sellers, buyers, strict=True)
        ]
        funds = [
            city.tx(
                city.signers[b],
                action(
                    "payments",
                    "open_escrow",
                    id=p,
                    beneficiary=land,
                    asset="EUR",
                    amount_minor=50_000,
                    approvers=[land],
                    timeout_blocks=1_000,
                ),
                city.call(land, "fund", p, p),
            )
            for p, b in zip(parcels, buyers, strict=True)
        ]
        approvals = [
            city.tx(
                city.finance, *(city.call(land, "approve_sale", p) for p in parcels[i : i + BATCH])
            )
            for i in range(0, sales, BATCH)
        ]
        started = time.perf_counter()
        for step in (registers, lists, funds, approvals):
            city.commit(app, step)
        sale_rate = sales / (time.perf_counter() - started)

        print("storage writes…", flush=True)
        filler = city.deploy(app, "fill", FILL, [], [])
        per_call = {}
        for n in (1, 100, 1000):
            calls = [
                city.tx(
                    city.finance, city.call(filler, "fill", n, 10**6 * (k + 1) + n, gas=25_000_000)
                )
                for k in range(8)
            ]
            # One call per block: the block gas limit allows only a few 25M-gas calls.
            elapsed = timed(lambda calls=calls: [city.commit(app, [c]) for c in calls])
            per_call[n] = elapsed / len(calls)
        per_slot_us = (per_call[1000] - per_call[100]) / 900 * 1e6

    print()
    print(f"Ed25519 verify, 2 threads:       {verify_2:>9,.0f} /s")
    print(f"native payments transfers:       {native:>9,.0f} tx/s")
    print(
        f"token transfers via the EVM:     {contract:>9,.0f} tx/s "
        f"({contract / native:.0%} of native, {contract / verify_2:.0%} of 2-core verify; "
        "target 3,000)"
    )
    print(f"land sales (5 txs each):         {sale_rate:>9,.1f} sales/s")
    print(f"contract call writing 1 slot:    {per_call[1] * 1e3:>9.2f} ms")
    print(f"              100 slots:         {per_call[100] * 1e3:>9.2f} ms")
    print(f"             1000 slots:         {per_call[1000] * 1e3:>9.2f} ms")
    print(
        f"state diff write cost:           {per_slot_us:>9.1f} µs per slot (execute+write+commit)"
    )


if __name__ == "__main__":
    main()
