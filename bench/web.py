"""The portal's speed on a big chain: server time of every explorer page, and first
contentful paint in Chromium over loopback.

The chain (100,000 blocks, 1,000,000 transactions by default) is built for real and kept
in --dir for the next run: ten notaries' signed document anchors, ten a block, executed
by the application and committed with signed headers exactly as the solo driver does,
with no API, mempool or block interval in the way. The first blocks also create EUR, mint,
issue and pay an invoice, so the money pages have something to add up.

Figures printed beside the same run's baseline: the JSON API's own answers for the same
objects (what the page must at least do).

Building the full chain took 41 minutes on the shared 2-core machine (403 tx/s with the
load average near 10) and left 37 GB in --dir (blocks, and the state store's versioned
tree nodes): delete the folder when done.

    python3 bench/web.py                      # build (once, ~40 min, ~37 GB), then measure
    python3 bench/web.py --blocks 2000        # a small chain, for a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CHAIN_ID, timed
from urbis.chain.block import BlockHeader, sign_header
from urbis.chain.context import BlockInfo
from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.chain.tx import TxBody, sign_tx
from urbis.crypto.hashing import EMPTY_HASH
from urbis.crypto.keys import PrivateKey
from urbis.sdk.builder import action

NOTARIES = 10
RUNS = 30
CHROMIUM = "/usr/bin/chromium"
FCP_BUDGET_MS = 1000
SERVER_BUDGET_MS = 100


def seeded(name: str) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"urbis-bench-web/" + name.encode()).digest())


def genesis() -> Genesis:
    names = ["land", "finance", "council", "resident"] + [f"notary{i}" for i in range(NOTARIES)]
    ids = {n: AccountId.from_key(seeded(n).public_key.raw) for n in names}
    return Genesis(
        chain_id=CHAIN_ID,
        name="Bench City",
        time_ms=1_700_000_000_000,
        accounts=tuple(GenesisAccount(n, (GenesisKey(seeded(n).public_key.raw),)) for n in names),
        departments=(
            GenesisDepartment("land", "Land", ids["land"]),
            GenesisDepartment("finance", "Finance", ids["finance"]),
        ),
        council_members=(ids["council"],),
        council_threshold=1,
        validators=(GenesisValidator("v", seeded("validator").public_key.raw, 10),),
        roles=(
            *(("land.notary", ids[f"notary{i}"]) for i in range(NOTARIES)),
            ("finance.billing", ids["finance"]),
        ),
    )


class Builder:
    """Executes and commits blocks straight through the application (as the solo driver)."""

    def __init__(self, home: Any) -> None:
        from urbis.modules import build_application
        from urbis.state.database import Database

        self.app = build_application(Database(home.db_path))
        if self.app.info().height < 0:
            self.app.init_chain(home.load_genesis())
        self.validator = seeded("validator")
        self.nonces: dict[str, int] = {}
        latest = self.app.blocks.header(self.app.info().height)
        self.prev = EMPTY_HASH if latest is None else latest.header.hash

    def tx(self, sender: str, *actions: Any) -> bytes:
        signer = seeded(sender)
        nonce = self.nonces.get(sender, 0)
        self.nonces[sender] = nonce + 1
        expires_at = self.app.info().height + 1000
        body = TxBody(
            CHAIN_ID,
            AccountId.from_key(signer.public_key.raw),
            nonce,
            tuple(actions),
            expires_at,
            "",
        )
        return sign_tx(body, [signer.signer()]).raw

    def commit(self, raws: list[bytes]) -> list[Any]:
        height = self.app.info().height + 1
        info = BlockInfo(
            CHAIN_ID, height, 1_700_000_000_000 + height * 1000, self.validator.public_key.raw
        )
        result = self.app.finalize_block(info, raws)
        failed = [r for r in result.receipts if not r.ok]
        assert not failed, f"{failed[0].code}: {failed[0].message}"
        header = BlockHeader(
            CHAIN_ID,
            height,
            info.time_ms,
            self.prev,
            result.txs_root,
            result.results_root,
            result.app_hash,
            info.proposer,
        )
        self.app.commit(sign_header(header, self.validator.signer()))
        self.prev = header.hash
        return list(result.receipts)


def build(home: Any, blocks: int, per_block: int) -> None:
    builder = Builder(home)
    start = builder.app.info().height
    if start >= blocks:
        return
    ids = {n: AccountId.from_key(seeded(n).public_key.raw) for n in ("finance", "resident")}
    if start == 0:
        create = {
            "module": "payments",
            "name": "create_asset",
            "args": {"code": "EUR", "decimals": 2, "issuer": ids["finance"].raw},
        }
        (receipt,) = builder.commit(
            [
                builder.tx(
                    "council", action("governance", "submit_proposal", title="EUR", action=create)
                )
            ]
        )
        if not any(e.type == "payments.asset_created" for e in receipt.events):
            (event,) = [e for e in receipt.events if e.type == "governance.proposal_submitted"]
            builder.commit(
                [
                    builder.tx(
                        "council", action("governance", "approve_proposal", id=event.attrs["id"])
                    )
                ]
            )
        invoice = hashlib.sha256(b"bench-invoice").digest()
        builder.commit(
            [
                builder.tx(
                    "finance",
                    action(
                        "payments",
                        "mint",
                        asset="EUR",
                        recipient=ids["resident"],
                        amount_minor=100_000,
                    ),
                ),
                builder.tx(
                    "finance",
                    action(
                        "payments",
                        "issue_invoice",
                        id=invoice,
                        department="finance",
                        payer=ids["resident"],
                        kind="tax",
                        asset="EUR",
                        amount_minor=48_000,
                        due_at_ms=1_900_000_000_000,
                        details_hash=hashlib.sha256(b"lines").digest(),
                    ),
                ),
            ]
        )
        builder.commit(
            [
                builder.tx(
                    "resident",
                    action("payments", "pay_invoice", invoice_id=invoice, amount_minor=48_000),
                )
            ]
        )
    else:
        for i in range(NOTARIES):
            builder.nonces[f"notary{i}"] = builder.app.next_nonce(
                AccountId.from_key(seeded(f"notary{i}").public_key.raw).raw
            )
    counter = builder.app.info().height * per_block
    began = time.perf_counter()
    first = builder.app.info().height
    while builder.app.info().height < blocks:
        raws = []
        for _ in range(per_block):
            counter += 1
            raws.append(
                builder.tx(
                    f"notary{counter % NOTARIES}",
                    action(
                        "documents",
                        "anchor",
                        department="land",
                        hash=hashlib.sha256(counter.to_bytes(8, "big")).digest(),
                        doc_type="deed",
                        reference=f"D-{counter}",
                    ),
                )
            )
        builder.commit(raws)
        height = builder.app.info().height
        if height % 2000 == 0:
            rate = (height - first) / (time.perf_counter() - began)
            print(
                f"  built {height:,} of {blocks:,} blocks ({rate:,.0f} blocks/s, "
                f"{rate * per_block:,.0f} tx/s)",
                flush=True,
            )


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):7.2f} ms  p95 {p95:7.2f} ms"


def measure(name: str, run: Callable[[], object]) -> tuple[float, list[float]]:
    cold = timed(run) * 1000
    samples = [timed(run) * 1000 for _ in range(RUNS)]
    return cold, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/urbis-bench-web", help="where the chain is kept")
    parser.add_argument("--blocks", type=int, default=100_000)
    parser.add_argument("--per-block", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true", help="skip first contentful paint")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from urbis.api.server import create_api
    from urbis.node.home import Home, NodeConfig
    from urbis.node.runner import Node
    from urbis.web import elections, explorer, processes
    from urbis.web.i18n import translator
    from urbis.web.layout import Reader

    home = Home(Path(args.dir))
    if not home.is_initialized():
        home.ensure_dirs()
        genesis().save(home.genesis_path)
        home.write_validator_key(seeded("validator"))
        home.save_config(NodeConfig(block_interval_ms=3_600_000, empty_blocks=False))
    print(f"== chain: {args.blocks:,} blocks x {args.per_block} anchors in {args.dir}")
    took = timed(lambda: build(home, args.blocks, args.per_block))
    node = Node(home)
    print(
        f"   height {node.app.info().height:,}, {node.app.blocks.tx_count():,} transactions, "
        f"{len(node.app.store):,} state keys (built or opened in {took:,.0f} s)"
    )

    latest = node.app.blocks.latest_height()
    middle = node.app.blocks.block_txs(latest // 2)[0]
    notary = AccountId.from_key(seeded("notary3").public_key.raw)
    resident = AccountId.from_key(seeded("resident").public_key.raw)
    document = hashlib.sha256((latest * args.per_block // 2).to_bytes(8, "big")).hexdigest()
    invoice = hashlib.sha256(b"bench-invoice").hexdigest()

    def reader(path: str) -> Reader:
        return Reader(node, "en", translator("en"), path, node.provable_height())

    pages: list[tuple[str, Callable[[], object], str]] = [
        ("home", lambda: explorer.home(reader("/")), "/"),
        ("block", lambda: explorer.block(reader("/b"), latest // 2), f"/blocks/{latest // 2}"),
        (
            "transaction",
            lambda: explorer.transaction(reader("/t"), middle.tx_id.hex()),
            f"/txs/{middle.tx_id.hex()}",
        ),
        (
            "account (notary, 100k txs)",
            lambda: explorer.account(reader("/a"), notary.text),
            f"/accounts/{notary.text}",
        ),
        (
            "account (resident)",
            lambda: explorer.account(reader("/a"), resident.text),
            f"/accounts/{resident.text}",
        ),
        ("DID document", lambda: explorer.did(reader("/d"), notary.did), f"/dids/{notary.did}"),
        ("document", lambda: explorer.document(reader("/doc"), document), f"/documents/{document}"),
        ("invoice", lambda: explorer.invoice(reader("/i"), invoice), f"/invoices/{invoice}"),
        ("money", lambda: explorer.money_page(reader("/money")), "/money"),
        ("contracts", lambda: explorer.contracts(reader("/contracts")), "/contracts"),
        ("procedures", lambda: processes.procedures(reader("/procedures")), "/procedures"),
        ("elections", lambda: elections.elections(reader("/elections")), "/elections"),
        (
            "search (no match)",
            lambda: explorer.search_target(reader("/s"), "ab" * 32),
            f"/search?q={'ab' * 32}",
        ),
        (
            "search (tx id)",
            lambda: explorer.search_target(reader("/s"), middle.tx_id.hex()),
            f"/search?q={middle.tx_id.hex()}",
        ),
    ]
    baselines = [
        ("JSON /v1/blocks/{h}", f"/v1/blocks/{latest // 2}"),
        ("JSON /v1/txs/{id}", f"/v1/txs/{middle.tx_id.hex()}"),
        ("JSON /v1/accounts/{id}/txs", f"/v1/accounts/{notary.text}/txs?limit=25"),
        ("JSON /v1/state (proved)", f"/v1/state/{('documents/doc/0x' + document)}?prove=true"),
    ]
    print(
        f"\n== server time: render only (cold first call, then {RUNS} runs); "
        f"budget {SERVER_BUDGET_MS} ms"
    )
    worst = 0.0
    for name, run, _ in pages:
        cold, samples = measure(name, run)
        worst = max(worst, statistics.median(samples))
        print(f"   {name:28s} cold {cold:7.2f} ms  {percentiles(samples)}")
    with TestClient(create_api(node)) as client:
        print("\n== through the API process (ASGI, no socket): the page vs the JSON baseline")
        for name, _, path in pages:
            _, samples = measure(name, lambda path=path: client.get(path))
            print(f"   page {name:23s} {percentiles(samples)}")
        for name, path in baselines:
            _, samples = measure(name, lambda path=path: client.get(path))
            print(f"   {name:28s} {percentiles(samples)}")
    verdict = "within" if worst < SERVER_BUDGET_MS else "OVER"
    print(f"   slowest page median {worst:.2f} ms: {verdict} the {SERVER_BUDGET_MS} ms budget")

    if not args.no_browser and Path(CHROMIUM).exists():
        first_paint(node, [(name, path) for name, _, path in pages[:-1]])
    node.stop()


def first_paint(node: Any, pages: list[tuple[str, str]]) -> None:
    from playwright.sync_api import sync_playwright

    from tests.helpers.process import serving  # the tests' in-process server, on loopback

    print(f"\n== first contentful paint in Chromium over loopback; budget {FCP_BUDGET_MS} ms")
    observe = """() => new Promise(done => new PerformanceObserver((list, obs) => {
        const e = list.getEntriesByName('first-contentful-paint')[0];
        if (e) { obs.disconnect(); done(e.startTime); } })
        .observe({type: 'paint', buffered: true}))"""
    with serving(node) as url, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page()
        page.goto(url + "/")  # warm the browser itself (process start, fonts)
        for name, path in pages:
            paints = []
            for _ in range(5):
                page.goto(url + path)
                paints.append(page.evaluate(observe))
            print(
                f"   {name:28s} median {statistics.median(paints):7.1f} ms  (max {max(paints):.1f})"
            )
        browser.close()


if __name__ == "__main__":
    main()
