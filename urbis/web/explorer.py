"""The public explorer: home (latest blocks and transactions, live), a block, a transaction,
an account or department, a DID document, a document, money, contracts, and search.

Pages read committed state at one height (the reader's `height`), so every value a
page shows from state can be proven at that same height by verify.js.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from urbis.api.views import header_view, receipt_view, tx_view
from urbis.chain.block import Receipt
from urbis.chain.errors import BadQuery, NotFound, UrbisError
from urbis.chain.ids import DID_PREFIX, AccountId
from urbis.chain.tx import decode_tx
from urbis.crypto.encoding import decode_trusted
from urbis.modules.accounts import keys as account_keys
from urbis.modules.documents import keys as document_keys
from urbis.modules.governance import keys as governance_keys
from urbis.modules.payments import keys as payment_keys
from urbis.modules.payments import reports
from urbis.web.charts import ShowValue, bar_chart
from urbis.web.html import Html, join, tag
from urbis.web.layout import (
    Reader,
    account_link,
    account_text,
    amount,
    block_link,
    facts,
    page,
    proven,
    short,
    table,
    tx_link,
    verify_panel,
    when,
)

LATEST_BLOCKS = 10
LATEST_TXS = 10
LATEST_TXS_BLOCKS_MAX = 200
"""How far back the home page looks for its latest transactions (empty blocks are skipped)."""
ACCOUNT_TXS = 25
ASSETS_MAX = 100
CONTRACTS_MAX = 1000

Page = tuple[Html, int]


# -- home -------------------------------------------------------------------------------------


def home(r: Reader) -> Page:
    t = r.t
    blocks = r.node.app.blocks
    latest = blocks.latest_height()
    headers = [blocks.header(h) for h in range(latest, max(latest - LATEST_BLOCKS, 0), -1)]
    block_rows = [
        [
            block_link(s.header.height),
            when(s.header.time_ms),
            str(blocks_tx_count(r, s.header.height)),
            tag("code", short(s.header.hash.hex())),
        ]
        for s in headers
        if s is not None
    ]
    receipts: list[Receipt] = []
    height = latest
    while height > 0 and len(receipts) < LATEST_TXS and latest - height < LATEST_TXS_BLOCKS_MAX:
        stored = blocks.block_txs(height)
        receipts.extend(s.receipt for s in reversed(stored))
        height -= 1
    validators = r.node.genesis.validators
    body = join(
        [
            facts(
                [
                    (t("Chain"), f"{r.node.genesis.name} ({r.node.genesis.chain_id})"),
                    (t("Height"), tag("span", str(latest), data_live="height")),
                    (
                        t("Validators"),
                        join((tag("code", short(v.key.hex())) for v in validators), ", "),
                    ),
                ]
            ),
            tag("p", t("Live: new blocks appear here as they are committed."), class_="hint"),
            table(
                t("Latest blocks"),
                [t("Height"), t("Time"), t("Transactions"), t("Hash")],
                block_rows,
                id="latest-blocks",
                data_rows=str(LATEST_BLOCKS),
            ),
            table(
                t("Latest transactions"),
                [t("Transaction"), t("Block"), t("Sender"), t("Actions"), t("Status")],
                [receipt_row(r, receipt) for receipt in receipts[:LATEST_TXS]],
                id="latest-txs",
                data_rows=str(LATEST_TXS),
            ),
        ]
    )
    return page(r, t("Explorer"), body, scripts=["live.js"])


def blocks_tx_count(r: Reader, height: int) -> int:
    return len(r.node.app.blocks.block_txs(height))


def receipt_row(r: Reader, receipt: Receipt) -> list[Any]:
    view = receipt_view(receipt)
    stored = r.node.app.blocks.tx(receipt.tx_id)
    actions = "—"
    if stored is not None:
        try:
            tx = decode_tx(stored.raw)
            actions = ", ".join(f"{a.module}.{a.name}" for a in tx.body.actions)
        except UrbisError:
            actions = "—"
    return [
        tx_link(view["tx_id"]),
        block_link(receipt.height),
        account_link(view["sender"]),
        actions,
        status_text(r, receipt.code),
    ]


def status_text(r: Reader, code: str) -> Html:
    if code == "ok":
        return tag("span", r.t("ok"), class_="ok")
    return tag("span", f"{r.t('failed')}: {code}", class_="failed")


# -- block ------------------------------------------------------------------------------------


def block(r: Reader, height: int) -> Page:
    t = r.t
    blocks = r.node.app.blocks
    signed = blocks.header(height)
    if signed is None:
        raise NotFound(f"no block at height {height} (latest is {blocks.latest_height()})")
    view = header_view(signed)
    stored = blocks.block_txs(height)
    neighbours = []
    if height > 1:
        neighbours.append(tag("a", t("Previous block"), href=f"/blocks/{height - 1}", rel="prev"))
    if height < blocks.latest_height():
        neighbours.append(tag("a", t("Next block"), href=f"/blocks/{height + 1}", rel="next"))
    header_facts = facts(
        [
            (t("Height"), str(height)),
            (t("Time"), when(signed.header.time_ms)),
            (t("Hash"), tag("code", view["hash"])),
            (t("Previous block"), tag("code", view["prev_hash"])),
            (t("Transactions root"), tag("code", view["txs_root"])),
            (t("Results root"), tag("code", view["results_root"])),
            (t("State root (app hash)"), tag("code", view["app_hash"])),
            (t("Proposer"), tag("code", view["proposer"])),
            (t("Signature"), tag("code", view["signature"] or "—")),
        ]
    )
    rows = [receipt_row(r, s.receipt) for s in stored]
    body = join(
        [
            tag("nav", join(neighbours, " · "), class_="pager", aria_label=t("Block")),
            tag("h2", t("Header")),
            header_facts,
            block_evidence(r, height),
            table(
                t("Transactions"),
                [t("Transaction"), t("Block"), t("Sender"), t("Actions"), t("Status")],
                rows,
            )
            if rows
            else tag("p", t("No transactions in this block.")),
        ]
    )
    return page(r, f"{t('Block')} {height}", body, scripts=["verify.js"])


# -- transaction ------------------------------------------------------------------------------


def transaction(r: Reader, tx_id: str) -> Page:
    t = r.t
    raw_id = _hex(tx_id, "transaction id", 32)
    stored = r.node.app.blocks.tx(raw_id)
    if stored is None:
        raise NotFound(f"no committed transaction {tx_id}")
    receipt = receipt_view(stored.receipt)
    try:
        view: dict[str, Any] | None = tx_view(decode_tx(stored.raw))
    except UrbisError:
        view = None
    parts: list[Any] = [
        facts(
            [
                (t("Transaction"), tag("code", tx_id)),
                (t("Block"), block_link(stored.height)),
                (t("Sender"), account_link(receipt["sender"])),
                (t("Status"), status_text(r, stored.receipt.code)),
                (t("Message"), receipt["message"] or "—"),
            ]
            + (
                []
                if view is None
                else [
                    (t("Nonce"), str(view["nonce"])),
                    (t("Expires at height"), str(view["expires_at"])),
                    (t("Memo"), view["memo"] or "—"),
                ]
            )
        )
    ]
    if view is not None:
        parts.append(tag("h2", t("Actions")))
        parts.append(
            tag(
                "ol",
                *(
                    tag(
                        "li",
                        tag("h3", tag("code", f"{a['module']}.{a['name']}")),
                        value_facts(a["args"]),
                    )
                    for a in view["actions"]
                ),
                class_="actions",
            )
        )
    parts.append(tag("h2", t("Events")))
    parts.append(
        tag(
            "ol",
            *(
                tag("li", tag("h3", tag("code", e["type"])), value_facts(e["attrs"]))
                for e in receipt["events"]
            ),
            class_="events",
        )
    )
    parts.append(block_evidence(r, stored.height, tx_id=raw_id.hex()))
    return page(r, f"{t('Transaction')} {short(tx_id)}", join(parts), scripts=["verify.js"])


def block_evidence(r: Reader, height: int, tx_id: str | None = None) -> Html:
    """The signed header and transaction ids of a block, for verify.js to check in the page;
    with `tx_id`, it also checks that this transaction is one of them."""
    signed = r.node.app.blocks.header(height)
    if signed is None:
        raise NotFound(f"no block at height {height}")
    ids = [s.tx_id.hex() for s in r.node.app.blocks.block_txs(height)]
    return join(
        [
            tag(
                "script",
                Html(json.dumps(header_view(signed)).replace("</", "<\\/")),
                type="application/json",
                id="block-header",
            ),
            tag("script", Html(json.dumps(ids)), type="application/json", id="block-tx-ids",
                data_tx=tx_id),
            verify_panel(r),
        ]
    )


ACCOUNT_TEXT = re.compile(r"^urbis1[02-9ac-hj-np-z]{38}$")


def value_facts(values: Any) -> Html:
    """Action arguments or event attributes as a definition list; accounts become links."""
    if not isinstance(values, dict):
        return tag("p", value_text(values))
    return facts((str(k), value_text(v)) for k, v in values.items())


def value_text(value: Any) -> Html:
    if isinstance(value, str) and ACCOUNT_TEXT.match(value):
        return account_link(value)
    if isinstance(value, dict | list):
        return tag("code", json.dumps(value, ensure_ascii=False))
    return tag("code", str(value))


# -- account ----------------------------------------------------------------------------------


def account(r: Reader, account_id: str) -> Page:
    t = r.t
    parsed = _account(account_id)
    store = r.node.app.store
    account_key = account_keys.account(parsed)
    raw = store.get_at(account_key, r.height)
    if raw is None:
        raise NotFound(f"account {parsed.text} does not exist")
    record = decode_trusted(raw)
    nonce_key = account_keys.nonce(parsed)
    nonce_raw = store.get_at(nonce_key, r.height)
    nonce = 0 if nonce_raw is None else int(decode_trusted(nonce_raw))
    parts: list[Any] = [
        facts(
            [
                (t("Account"), tag("code", parsed.text)),
                (t("DID document"), tag("a", parsed.did, href=f"/dids/{parsed.did}")),
                (
                    t("Threshold"),
                    proven(account_key, "threshold", "int", str(record["threshold"])),
                ),
                (
                    t("Nonce"),
                    proven(nonce_key, "", "int", str(nonce)) if nonce_raw else str(nonce),
                ),
                (
                    t("Created at height"),
                    proven(
                        account_key,
                        "created_at_height",
                        "int",
                        str(record["created_at_height"]),
                    ),
                ),
            ]
        )
    ]
    departments = [
        d for d in r.node.app.query("governance", "departments", {}) if d["admin"] == parsed.text
    ]
    for department in departments:
        parts.append(
            tag(
                "p",
                f"{t('Department of')} ",
                tag("strong", department["name"]),
                f" ({department['id']}) · ",
                tag("a", t("Money"), href=f"/money#dept-{department['id']}"),
            )
        )
    roles = _roles_of(r, parsed)
    parts.append(
        tag("p", tag("strong", t("Roles")), ": ", join((tag("code", x) for x in roles), ", "))
        if roles
        else ""
    )
    parts.append(
        table(
            t("Keys"),
            [t("Key"), t("Weight")],
            [
                [
                    tag("code", proven(account_key, f"keys.{i}.key", "hex", k["key"].hex())),
                    proven(account_key, f"keys.{i}.weight", "int", str(k["weight"])),
                ]
                for i, k in enumerate(record["keys"])
            ],
        )
    )
    parts.append(
        table(
            t("Key history"),
            [t("Height"), t("Time"), t("Key"), t("Change")],
            [
                [
                    block_link(c["changed_at_height"]),
                    when(c["time_ms"]),
                    tag("code", short(c["key"].hex())),
                    c["change"],
                ]
                for c in record["key_history"]
            ],
        )
    )
    balance_rows = []
    for code, decimals in _assets(r):
        balance_key = payment_keys.balance(code, parsed)
        balance_raw = store.get_at(balance_key, r.height)
        if balance_raw is None:
            continue
        shown = amount(int(decode_trusted(balance_raw)), decimals, code)
        balance_rows.append(
            [
                code,
                proven(balance_key, "", "money", shown, decimals=str(decimals), asset=code),
            ]
        )
    parts.append(
        table(t("Balances"), [t("Asset"), t("Balance")], balance_rows)
        if balance_rows
        else tag("p", t("No balances."))
    )
    stored = r.node.app.blocks.account_txs(parsed.raw, ACCOUNT_TXS)
    parts.append(
        table(
            t("Transactions"),
            [t("Transaction"), t("Block"), t("Sender"), t("Actions"), t("Status")],
            [receipt_row(r, s.receipt) for s in stored],
        )
        if stored
        else tag("p", t("No transactions."))
    )
    parts.append(verify_panel(r))
    return page(r, f"{t('Account')} {short(parsed.text, 12)}", join(parts), ["verify.js"])


ROLE_PREFIX = governance_keys.role_prefix("")[:-1]
"""`governance/role/`: every grant is `<prefix><role>/<account>` (governance/keys.py)."""
ROLES_MAX = 10_000


def _roles_of(r: Reader, account_id: AccountId) -> list[str]:
    """Roles granted to an account (`land.notary`), from the role keys' layout."""
    found = []
    for key, _ in r.node.app.store.scan_prefix(ROLE_PREFIX, ROLES_MAX):
        if key.endswith(b"/" + account_id.raw):
            found.append(key[len(ROLE_PREFIX) : -21].decode(errors="replace"))
    return sorted(found)


def _assets(r: Reader) -> list[tuple[str, int]]:
    rows = r.node.app.store.scan_prefix(payment_keys.ASSET_PREFIX, ASSETS_MAX)
    found = []
    for key, value in rows:
        record = decode_trusted(value)
        found.append((key[len(payment_keys.ASSET_PREFIX) :].decode(), int(record["decimals"])))
    return found


def did(r: Reader, did_text: str) -> Page:
    t = r.t
    document = r.node.app.query("identity", "did", {"did": did_text})
    body = join(
        [
            tag(
                "p",
                tag("a", t("Account"), href=f"/accounts/{quote(did_text[len(DID_PREFIX) :])}"),
            ),
            tag(
                "pre",
                tag("code", json.dumps(document, indent=2, ensure_ascii=False)),
                tabindex="0",
                aria_label=t("DID document"),
            ),
        ]
    )
    return page(r, f"{t('DID document')} {short(did_text, 16)}", body)


# -- documents --------------------------------------------------------------------------------


def documents(r: Reader) -> Page:
    t = r.t
    body = join(
        [
            tag(
                "form",
                tag(
                    "div",
                    tag(
                        "p",
                        t(
                            "Drop a file here, or choose one. Its SHA-256 is computed in your "
                            "browser; the file is never uploaded."
                        ),
                        id="drop-hint",
                    ),
                    tag("label", t("File to verify"), for_="document-file"),
                    tag(
                        "input",
                        type="file",
                        id="document-file",
                        aria_describedby="drop-hint",
                    ),
                    class_="dropzone",
                    id="dropzone",
                ),
                tag("label", t("Or enter a SHA-256 hash"), for_="document-hash"),
                tag(
                    "input",
                    id="document-hash",
                    name="hash",
                    pattern="[0-9a-fA-F]{64}",
                    autocomplete="off",
                    spellcheck="false",
                ),
                tag("button", t("Look up"), type="submit"),
                action="/documents/lookup",
                method="get",
                id="document-form",
            ),
            tag("p", "", id="document-result", role="status", aria_live="polite"),
        ]
    )
    return page(r, t("Verify a document"), body, scripts=["documents.js"])


def document(r: Reader, digest: str) -> Page:
    t = r.t
    raw_digest = _hex(digest, "hash", 32)
    key = document_keys.document(raw_digest)
    raw = r.node.app.store.get_at(key, r.height)
    if raw is None:
        body = join(
            [
                tag("p", t("No document with this hash is anchored."), class_="failed"),
                facts([(t("Hash"), tag("code", digest.lower()))]),
                tag("p", tag("a", t("Verify a document"), href="/documents")),
            ]
        )
        return page(r, t("Document"), body, status=404)
    record = decode_trusted(raw)
    body = join(
        [
            facts(
                [
                    (t("Hash"), tag("code", proven(key, "hash", "hex", record["hash"].hex()))),
                    (t("Status"), proven(key, "status", "text", record["status"])),
                    (t("Department"), proven(key, "department", "text", record["department"])),
                    (t("Type"), proven(key, "doc_type", "text", record["doc_type"])),
                    (t("Reference"), proven(key, "reference", "text", record["reference"])),
                    (
                        t("Anchored by"),
                        proven(key, "anchored_by", "account", account_text(record["anchored_by"])),
                    ),
                    (
                        t("Anchored at height"),
                        proven(key, "anchored_at_height", "int", str(record["anchored_at_height"])),
                    ),
                    (t("Time"), when(record["time_ms"])),
                    (t("Transaction"), tx_link(record["tx_id"].hex())),
                ]
            ),
            verify_panel(r),
        ]
    )
    return page(r, f"{t('Document')} {short(digest)}", body, scripts=["verify.js"])


# -- money ------------------------------------------------------------------------------------


def money_page(r: Reader) -> Page:
    t = r.t
    store = r.node.app.store
    parts: list[Any] = []
    check_rows = []
    for code, decimals in _assets(r):
        asset_key = payment_keys.asset(code)
        asset_raw = store.get_at(asset_key, r.height)
        if asset_raw is None:
            continue
        asset = decode_trusted(asset_raw)
        balances = sum(
            int(decode_trusted(v))
            for _, v in store.scan_prefix(payment_keys.balance_prefix(code), 10_000_000)
        )
        outstanding = asset["minted_minor"] - asset["burned_minor"]
        balanced = outstanding == balances + asset["pending_minor"]

        def shown(
            field: str,
            asset_key: bytes = asset_key,
            decimals: int = decimals,
            code: str = code,
            asset: dict[str, Any] = asset,
        ) -> Html:
            return proven(
                asset_key,
                field,
                "money",
                amount(asset[field], decimals, code),
                decimals=str(decimals),
                asset=code,
            )

        check_rows.append(
            [
                code,
                shown("minted_minor"),
                shown("burned_minor"),
                shown("pending_minor"),
                amount(balances, decimals, code),
                tag("span", t("balanced"), class_="ok")
                if balanced
                else tag("span", t("does not add up"), class_="failed"),
            ]
        )
    parts.append(
        table(
            t("Supply check per asset"),
            [t("Asset"), t("Minted"), t("Burned"), t("Pending"), t("Sum of balances"), t("Check")],
            check_rows,
        )
        if check_rows
        else tag("p", t("No assets yet."))
    )
    decimals_of = dict(_assets(r))
    for department in r.node.app.query("governance", "departments", {}):
        payee = AccountId.parse(department["admin"])
        rows = reports.revenue(store, r.node.app.blocks, department["id"], payee)
        section: list[Any] = [
            tag(
                "h2",
                f"{department['name']} · {t('Revenue by month')}",
                id=f"dept-{department['id']}",
            )
        ]
        if not rows:
            section.append(tag("p", t("No revenue yet.")))
        for code in sorted({row["asset"] for row in rows}):
            mine = [row for row in rows if row["asset"] == code]
            months = sorted({row["month"] for row in mine})
            kinds = sorted({row["kind"] for row in mine})
            net = {(row["month"], row["kind"]): row["net_minor"] for row in mine}
            show = ShowValue(decimals_of.get(code, 0), code)
            section.append(
                bar_chart(
                    f"{department['name']} {t('Revenue by month')} ({code})",
                    months,
                    [(kind, [net.get((m, kind), 0) for m in months]) for kind in kinds],
                    show,
                )
            )
            section.append(
                table(
                    f"{t('Revenue by month')} ({code})",
                    [t("Month"), t("Kind"), t("Payments"), t("Net")],
                    [
                        [row["month"], row["kind"], str(row["payments"]), show(row["net_minor"])]
                        for row in mine
                    ],
                )
            )
        section.append(tag("p", t("Account"), ": ", account_link(department["admin"])))
        parts.append(tag("section", *section, aria_labelledby=f"dept-{department['id']}"))
    parts.append(verify_panel(r))
    return page(r, t("Money"), join(parts), scripts=["verify.js"])


# -- contracts --------------------------------------------------------------------------------


def contracts(r: Reader) -> Page:
    t = r.t
    from urbis.modules.contracts import keys as contract_keys

    prefix = contract_keys.name("")
    rows = []
    for key, _ in r.node.app.store.scan_prefix(prefix, CONTRACTS_MAX):
        name = key[len(prefix) :].decode()
        found = r.node.app.query("contracts", "contract", {"ref": name})
        rows.append(
            [
                tag("a", name, href=f"/contracts/{quote(name)}"),
                account_link(found.get("address")),
                str(len(found.get("versions", []))),
            ]
        )
    body = (
        table(t("Contracts"), [t("Contract"), t("Account"), t("Versions")], rows)
        if rows
        else tag("p", t("No contracts deployed."))
    )
    return page(r, t("Contracts"), body)


def contract(r: Reader, ref: str) -> Page:
    t = r.t
    found = r.node.app.query("contracts", "contract", {"ref": ref})
    abi = found.get("abi") or []
    functions = [f for f in abi if f.get("type") == "function"]
    readable = [f["name"] for f in functions if f.get("stateMutability") in ("view", "pure")]
    versions = found.get("versions", [])
    body = join(
        [
            facts(
                [
                    (t("Contract"), found.get("name", ref)),
                    (t("Account"), account_link(found.get("address"))),
                    (t("Versions"), str(len(versions))),
                ]
            ),
            tag("h2", t("Versions")),
            tag(
                "pre",
                tag("code", json.dumps(versions, indent=2, ensure_ascii=False)),
                tabindex="0",
                aria_label=t("Versions"),
            ),
            tag("h2", t("Call (read-only)")),
            tag(
                "form",
                tag("label", t("Function"), for_="call-function"),
                tag(
                    "select",
                    *(tag("option", name, value=name) for name in readable),
                    id="call-function",
                    name="function",
                ),
                tag("label", t("Arguments (JSON list)"), for_="call-args"),
                tag("input", id="call-args", name="args", value="[]", autocomplete="off"),
                tag("button", t("Call"), type="submit"),
                id="call-form",
                data_ref=found.get("name", ref),
            ),
            tag("output", "", id="call-result", for_="call-function", aria_live="polite"),
            tag("h2", "ABI"),
            tag(
                "pre",
                tag("code", json.dumps(abi, indent=2)),
                tabindex="0",
                aria_label="ABI",
            ),
            tag("h2", t("Source")),
            tag("pre", tag("code", found.get("source", "")), tabindex="0", aria_label=t("Source")),
        ]
    )
    return page(r, f"{t('Contract')} {found.get('name', ref)}", body, scripts=["contracts.js"])


# -- open datasets ----------------------------------------------------------------------------

DATASETS_MAX = 1000


def datasets(r: Reader) -> Page:
    """Every open dataset version the departments published (data module)."""
    t = r.t
    from urbis.modules.data import keys as data_keys

    prefix = data_keys.dataset_prefix("")[:-1]
    rows = []
    for _, value in r.node.app.store.scan_prefix(prefix, DATASETS_MAX):
        record = decode_trusted(value)
        rows.append(
            [
                tag("a", record["id"], href=f"/datasets/{quote(record['id'])}/{record['version']}"),
                str(record["version"]),
                record["department"],
                str(record["records"]),
                block_link(record["published_at_height"]),
            ]
        )
    body = (
        table(t("Open datasets"), [t("Dataset"), t("Version"), t("Department"), t("Records"),
                                   t("Published at height")], rows)
        if rows
        else tag("p", t("No datasets published."))
    )
    return page(r, t("Open datasets"), body)


def dataset(r: Reader, dataset_id: str, version: int) -> Page:
    t = r.t
    from urbis.modules.data import keys as data_keys

    found = r.node.app.query("data", "dataset", {"id": dataset_id, "version": str(version)})
    key = data_keys.dataset(dataset_id, version)
    raw = r.node.app.store.get_at(key, r.height)
    if raw is None:
        raise NotFound(f"no dataset {dataset_id} version {version} at height {r.height}")
    record = decode_trusted(raw)
    attestations = [
        [
            a["kind"],
            tag("span", t("passed"), class_="ok") if a["passed"] else tag("span", t("failed"),
                                                                           class_="failed"),
            ", ".join(f"{k} {v}" for k, v in sorted(a["figures"].items())),
            account_link(a["steward"]),
            block_link(a["attested_at_height"]),
        ]
        for a in found.get("attestations", [])
    ]
    body = join(
        [
            facts(
                [
                    (t("Dataset"), proven(key, "id", "text", record["id"])),
                    (t("Version"), proven(key, "version", "int", str(record["version"]))),
                    (t("Department"), proven(key, "department", "text", record["department"])),
                    (t("Records"), proven(key, "records", "int", str(record["records"]))),
                    (t("Size (bytes)"), proven(key, "size_bytes", "int",
                                               str(record["size_bytes"]))),
                    (t("Merkle root of the file"),
                     tag("code", proven(key, "root", "hex", record["root"].hex()))),
                    (t("Transformation"), proven(key, "transformation", "text",
                                                 record["transformation"])),
                    (t("Code hash"), tag("code", proven(key, "code_hash", "hex",
                                                        record["code_hash"].hex()))),
                    (t("Publisher"), proven(key, "publisher", "account",
                                            account_text(record["publisher"]))),
                    (t("Published at height"), proven(key, "published_at_height", "int",
                                                      str(record["published_at_height"]))),
                ]
            ),
            tag("h2", t("Inputs")),
            tag("pre", tag("code", json.dumps(found.get("inputs", []), indent=2)), tabindex="0",
                aria_label=t("Inputs")),
            table(t("Attestations"), [t("Kind"), t("Result"), t("Figures"), t("Steward"),
                                      t("Height")], attestations)
            if attestations
            else tag("p", t("No attestations yet.")),
            verify_panel(r),
        ]
    )
    return page(r, f"{t('Dataset')} {dataset_id} v{version}", body, scripts=["verify.js"])


# -- invoices ---------------------------------------------------------------------------------


def invoice(r: Reader, invoice_id: str) -> Page:
    t = r.t
    raw_id = _hex(invoice_id, "invoice id", 32)
    key = payment_keys.invoice(raw_id)
    raw = r.node.app.store.get_at(key, r.height)
    if raw is None:
        raise NotFound(f"no invoice {invoice_id}")
    record = decode_trusted(raw)
    decimals = dict(_assets(r)).get(record["asset"], 0)

    def shown(field: str) -> Html:
        return proven(
            key,
            field,
            "money",
            amount(record[field], decimals, record["asset"]),
            decimals=str(decimals),
            asset=record["asset"],
        )

    body = join(
        [
            facts(
                [
                    (t("Department"), proven(key, "department", "text", record["department"])),
                    (t("Kind"), proven(key, "kind", "text", record["kind"])),
                    (
                        t("Payer"),
                        proven(key, "payer", "account", account_text(record["payer"])),
                    ),
                    (t("Amount"), shown("amount_minor")),
                    (t("Paid"), shown("paid_minor")),
                    (t("Status"), proven(key, "status", "text", record["status"])),
                    (t("Due"), when(record["due_at_ms"])),
                ]
            ),
            verify_panel(r),
        ]
    )
    return page(r, f"{t('Invoice')} {short(invoice_id)}", body, scripts=["verify.js"])


# -- search -----------------------------------------------------------------------------------

HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def search_target(r: Reader, query: str) -> str | None:
    """Where a search goes: a block, a transaction, an account, a DID, a document, an
    invoice, a parcel or a licence; None when nothing matches."""
    text = query.strip()
    if text.isdigit():
        height = int(text)
        return f"/blocks/{height}" if 0 < height <= r.node.app.blocks.latest_height() else None
    if text.startswith(DID_PREFIX):
        return f"/dids/{quote(text, safe=':')}"
    if text.startswith("urbis1"):
        try:
            return f"/accounts/{AccountId.parse(text).text}"
        except ValueError:
            return None
    if HEX64.match(text):
        digest = bytes.fromhex(text.removeprefix("0x"))
        if r.node.app.blocks.tx(digest) is not None:
            return f"/txs/{digest.hex()}"
        if r.node.app.store.get(document_keys.document(digest)) is not None:
            return f"/documents/{digest.hex()}"
        if r.node.app.store.get(payment_keys.invoice(digest)) is not None:
            return f"/invoices/{digest.hex()}"
        from urbis.web.processes import process_contracts, steps_of

        for contract in process_contracts(r):  # a parcel or a licence
            if digest.hex() in steps_of(r, contract):
                return f"/procedures/{quote(contract.name)}/{digest.hex()}"
    return None


def no_match(r: Reader, query: str) -> Page:
    t = r.t
    body = tag("p", t("Nothing matches this search."), ": ", tag("code", query))
    return page(r, t("Search"), body, status=404)


def error_page(r: Reader, error: UrbisError, status: int) -> Page:
    body = facts([(r.t("Code"), tag("code", error.code)), (r.t("Message"), error.message)])
    title = r.t("Not found") if status == 404 else r.t("Error")
    return page(r, title, body, status=status)


def _hex(text: str, what: str, size: int) -> bytes:
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise BadQuery(f"{what} must be hex") from None
    if len(value) != size:
        raise BadQuery(f"{what} must be {size} bytes ({2 * size} hex digits)")
    return value


def _account(text: str) -> AccountId:
    try:
        return AccountId.parse(text)
    except ValueError as error:
        raise BadQuery(str(error)) from None
