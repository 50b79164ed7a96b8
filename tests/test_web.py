"""The portal in real Chromium (Debian's, driven by Playwright): the explorer, live updates,
verification in the browser (and its failure on a tampered page, a forged proof, a forged
header), documents dropped and hashed in the browser, money, search, languages, an axe-core
WCAG 2.2 AA scan of every page and keyboard-only navigation. Screenshots of each page go to
tests/web/screenshots/ (the folder urbis/web/README.md names).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import missing_tool
from tests.helpers.browser import playwright_sync_api
from tests.helpers.city import CHAIN_ID, account, asset_proposal, city_home, key
from tests.helpers.process import serving
from urbis.chain.block import BlockHeader, sign_header
from urbis.crypto.keys import PrivateKey
from urbis.node.runner import Node
from urbis.sdk.builder import TxBuilder
from urbis.state.proof import key_hash, leaf_node, node_digest, value_hash

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WEB = Path(__file__).parent / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = WEB / "screenshots"
DEED = b"Deed of parcel 7, Zug: sale from the city to a resident.\n"
INVOICE_ID = hashlib.sha256(b"web-test-invoice").digest()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

playwright_api = playwright_sync_api()


@dataclass
class City:
    """A served test city with money, an anchored deed and a paid invoice in it."""

    url: str
    node: Node
    nonces: dict[str, int] = field(default_factory=dict)
    tx_ids: list[str] = field(default_factory=list)
    paid_tx: str = ""

    def run(self, sender: str, module: str, name: str, **args: Any) -> dict[str, Any]:
        nonce = self.nonces.get(sender, 0)
        self.nonces[sender] = nonce + 1
        tx = TxBuilder(CHAIN_ID).add(module, name, **args).sign([key(sender)], nonce, 10_000)
        answer = httpx.post(
            f"{self.url}/v1/txs?wait=commit",
            json={"tx": base64.b64encode(tx.raw).decode()},
            timeout=30,
        ).json()
        assert answer["receipt"]["ok"], answer["receipt"]["message"]
        self.tx_ids.append(answer["tx_id"])
        return dict(answer["receipt"])


def seed(city: City) -> None:
    city.run(
        "land",
        "documents",
        "anchor",
        department="land",
        hash=hashlib.sha256(DEED).digest(),
        doc_type="deed",
        reference="D-17",
    )
    submitted = city.run("mayor", "governance", "submit_proposal", **asset_proposal())
    (event,) = [e for e in submitted["events"] if e["type"] == "governance.proposal_submitted"]
    city.run("councillor_a", "governance", "approve_proposal", id=int(event["attrs"]["id"]))
    city.run(
        "finance",
        "governance",
        "grant_role",
        department="finance",
        role="billing",
        account=account("finance"),
    )
    city.run("finance", "payments", "mint", asset="EUR", recipient=account("registry"),
             amount_minor=100_000)
    city.run(
        "finance",
        "payments",
        "issue_invoice",
        id=INVOICE_ID,
        department="finance",
        payer=account("registry"),
        kind="utility",
        asset="EUR",
        amount_minor=48_000,
        due_at_ms=1_900_000_000_000,
        details_hash=hashlib.sha256(b"lines").digest(),
    )
    paid = city.run("registry", "payments", "pay_invoice", invoice_id=INVOICE_ID,
                    amount_minor=48_000)
    city.paid_tx = paid["tx_id"]
    for role in ("data", "steward"):
        city.run("finance", "governance", "grant_role", department="finance", role=role,
                 account=account("finance"))
    schema = json.dumps({"type": "object", "properties": {"eur": {"type": "integer"}}})
    city.run("finance", "data", "register_stream", id="spending", department="finance",
             schema=schema, classification="public", retention_blocks=100_000,
             purpose="the city's spending, as booked")
    batch = hashlib.sha256(b"spending 0-1199").digest()
    city.run("finance", "data", "anchor", stream="spending", department="finance",
             first_seq=0, count=1200, root=batch, epoch=0)
    source = {"kind": "stream", "ref": "spending", "first_seq": 0, "last_seq": 1199,
              "root": batch}
    city.run("finance", "data", "publish_dataset", id="budget-2026", version=1,
             department="finance", root=hashlib.sha256(b"budget").digest(), records=1200,
             size_bytes=48_000, inputs=[source], transformation="sum by cost centre",
             code_hash=hashlib.sha256(b"code").digest())
    city.run("finance", "data", "attest", dataset="budget-2026", version=1,
             department="finance", kind="completeness", passed=True,
             figures={"rows_expected": 1200, "rows_found": 1200})


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    node = Node(city_home(tmp_path_factory.mktemp("web-city"), block_interval_ms=50))
    node.start()
    try:
        with serving(node) as url:
            served = City(url, node)
            seed(served)
            yield served
    finally:
        node.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (Playwright's sync API allows one driver at a time)."""
    if not os.path.exists(CHROMIUM):
        missing_tool("chromium is missing: run ./scripts/install-browser")
    with playwright_api.sync_playwright() as driver:
        # Debian's chromium, never a browser Playwright downloads for itself
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Zurich")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def verify(page: Any) -> tuple[str, str]:
    """Click the page's verify control; the outcome (`true`/`false`) and the status text."""
    page.click("#verify-button")
    page.wait_for_selector("main[data-verified]")
    return page.get_attribute("main", "data-verified"), page.inner_text("#verify-status")


def registry_page(city: City) -> str:
    return f"{city.url}/accounts/{account('registry').text}"


# -- the explorer ------------------------------------------------------------------------------


def test_home_lists_latest_blocks_and_adds_new_ones_live(city: City, page: Any) -> None:
    page.goto(city.url + "/")
    assert page.locator("h1").inner_text() == "Explorer"
    latest = city.node.app.blocks.latest_height()
    first_row = page.locator("#latest-blocks tbody tr").first
    assert first_row.locator("td").first.inner_text() == str(latest)
    assert page.locator("#latest-txs tbody tr").count() >= 5
    shoot(page, "home")
    receipt = city.run("land", "documents", "anchor", department="land",
                       hash=hashlib.sha256(b"live").digest(), doc_type="deed", reference="L-1")
    # no reload: the WebSocket notice brings the block and its transaction
    page.wait_for_selector(f"#latest-blocks tbody tr[data-height='{receipt['height']}']")
    page.wait_for_selector(f"#latest-txs a[href='/txs/{receipt['tx_id']}']")
    assert page.locator("footer [data-live=height]").inner_text() == str(receipt["height"])


def test_block_page_header_verifies_in_browser_and_matches_python_encoding(
    city: City, page: Any
) -> None:
    height = city.node.app.blocks.latest_height()
    page.goto(f"{city.url}/blocks/{height}")
    outcome, text = verify(page)
    assert outcome == "true", text
    signed = city.node.app.blocks.header(height)
    assert signed is not None
    view = json.loads(page.inner_text("#block-header"))
    encoded = page.evaluate("v => urbisVerify.toHex(urbisVerify.encodeHeader(v))", view)
    assert encoded == signed.header.encode().hex()
    shoot(page, "block")


def test_transaction_page_shows_decoded_actions_receipt_and_events(
    city: City, page: Any
) -> None:
    tx_id = city.paid_tx
    page.goto(f"{city.url}/txs/{tx_id}")
    assert "payments.pay_invoice" in page.inner_text(".actions")
    assert "payments.invoice_paid" in page.inner_text(".events")
    assert page.locator("dl.facts .ok").count() == 1
    outcome, text = verify(page)  # in a block whose header a pinned validator signed
    assert outcome == "true", text
    shoot(page, "transaction")


def test_account_values_verify_in_browser(city: City, page: Any) -> None:
    page.goto(registry_page(city))
    assert "520.00 EUR" in page.inner_text("main")
    assert "registry.notary" in page.inner_text("main")  # roles held
    outcome, text = verify(page)
    assert outcome == "true", text
    assert page.locator(".proven.verified").count() == page.locator(".proven").count() >= 4
    shoot(page, "account")


def test_tampered_page_fails_verification(city: City, page: Any) -> None:
    """The server (or anyone on the way) shows a balance the chain does not hold."""

    def lie(route: Any) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, body=answer.text().replace("520.00 EUR", "5200.00 EUR"))

    page.route("**/accounts/*", lie)
    page.goto(registry_page(city))
    assert "5200.00 EUR" in page.inner_text("main")
    outcome, text = verify(page)
    assert outcome == "false"
    assert "5200.00 EUR" in text and "520.00 EUR" in text
    assert page.locator(".proven.refuted").count() >= 1
    shoot(page, "tampered")


def _forge_state_answers(page: Any, forge: Any) -> None:
    def handle(route: Any) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, body=json.dumps(forge(answer.json())))

    page.route("**/v1/state/**", handle)


def test_forged_proof_fails_verification(city: City, page: Any) -> None:
    def flip_sibling(answer: dict[str, Any]) -> dict[str, Any]:
        siblings = answer["proof"]["siblings"]
        siblings[0] = ("0" if siblings[0][0] != "0" else "1") + siblings[0][1:]
        return answer

    _forge_state_answers(page, flip_sibling)
    page.goto(registry_page(city))
    outcome, text = verify(page)
    assert outcome == "false" and "state root" in text


def _forged_answer(answer: dict[str, Any], signer: PrivateKey, proposer: bytes) -> dict[str, Any]:
    """A self-consistent lie: a one-leaf state holding a bigger balance, under a header
    signed by `signer` and naming `proposer`."""
    key_bytes = bytes.fromhex(answer["key"])
    value = bytes([0x1A]) + (10**9).to_bytes(4, "big")  # CBOR uint 1,000,000,000
    leaf = (key_hash(key_bytes), value_hash(value))
    root = node_digest(leaf_node(*leaf))
    view = answer["header"]
    header = BlockHeader(
        view["chain_id"], view["height"], view["time_ms"], bytes.fromhex(view["prev_hash"]),
        bytes.fromhex(view["txs_root"]), bytes.fromhex(view["results_root"]), root, proposer,
    )
    signed = sign_header(header, signer.signer())
    answer["header"] = {**view, "app_hash": root.hex(), "proposer": proposer.hex(),
                        "hash": header.hash.hex(), "signature": signed.signature.hex()}
    answer["proof"] = {**answer["proof"], "value": value.hex(), "siblings": [],
                       "leaf": [leaf[0].hex(), leaf[1].hex()], "root": root.hex()}
    return answer


def test_header_from_a_key_not_pinned_fails_verification(city: City, page: Any) -> None:
    page.goto(registry_page(city))
    assert verify(page)[0] == "true"  # pins the genesis validator in this browser
    attacker = PrivateKey(hashlib.sha256(b"attacker").digest())
    _forge_state_answers(
        page, lambda a: _forged_answer(a, attacker, attacker.public_key.raw)
    )
    page.reload()
    outcome, text = verify(page)
    assert outcome == "false" and "not a pinned validator" in text


def test_header_with_a_forged_signature_fails_verification(city: City, page: Any) -> None:
    attacker = PrivateKey(hashlib.sha256(b"attacker").digest())
    validator = key("validator").public_key.raw
    _forge_state_answers(page, lambda a: _forged_answer(a, attacker, validator))
    page.goto(registry_page(city))
    outcome, text = verify(page)
    assert outcome == "false" and "signature does not verify" in text


# -- documents, money, contracts, search --------------------------------------------------------


def test_dropped_document_is_hashed_in_the_browser_and_verified(
    city: City, page: Any, tmp_path: Path
) -> None:
    sent: list[bytes] = []
    page.on("request", lambda request: sent.append(request.post_data_buffer or b""))
    deed = tmp_path / "deed.txt"
    deed.write_bytes(DEED)
    page.goto(city.url + "/documents")
    shoot(page, "documents")
    page.set_input_files("#document-file", str(deed))
    digest = hashlib.sha256(DEED).hexdigest()
    page.wait_for_url(f"**/documents/{digest}")
    assert "D-17" in page.inner_text("main")
    outcome, text = verify(page)
    assert outcome == "true", text
    assert all(DEED not in body for body in sent)  # the file never left the browser
    shoot(page, "document")
    forged = tmp_path / "forged.txt"
    forged.write_bytes(DEED.replace(b"city", b"mayor"))
    page.goto(city.url + "/documents")
    page.set_input_files("#document-file", str(forged))
    page.wait_for_url(f"**/documents/{hashlib.sha256(forged.read_bytes()).hexdigest()}")
    assert page.locator("main .failed").inner_text() == "No document with this hash is anchored."


def test_money_page_checks_supply_and_draws_revenue(city: City, page: Any) -> None:
    page.goto(city.url + "/money")
    checks = page.locator("table").first
    assert "1000.00 EUR" in checks.inner_text() and "balanced" in checks.inner_text()
    assert page.locator("#dept-finance ~ figure svg rect").count() >= 1
    assert "480.00 EUR" in page.inner_text("main")
    outcome, text = verify(page)
    assert outcome == "true", text
    shoot(page, "money")


def test_dataset_page_shows_attestations_and_verifies(city: City, page: Any) -> None:
    page.goto(city.url + "/datasets")
    page.click("text=budget-2026")
    page.wait_for_url("**/datasets/budget-2026/1")
    assert "sum by cost centre" in page.inner_text("main")
    assert "rows_found 1200" in page.inner_text("main")
    outcome, text = verify(page)
    assert outcome == "true", text


def test_invoice_page_verifies(city: City, page: Any) -> None:
    page.goto(f"{city.url}/invoices/{INVOICE_ID.hex()}")
    assert "paid" in page.inner_text("main")
    assert verify(page)[0] == "true"


def test_search_finds_each_kind_of_identifier(city: City, page: Any) -> None:
    targets = {
        "1": "/blocks/1",
        city.tx_ids[0]: f"/txs/{city.tx_ids[0]}",
        account("land").text: f"/accounts/{account('land').text}",
        account("land").did: f"/dids/{account('land').did}",
        hashlib.sha256(DEED).hexdigest(): f"/documents/{hashlib.sha256(DEED).hexdigest()}",
        INVOICE_ID.hex(): f"/invoices/{INVOICE_ID.hex()}",
    }
    for query, path in targets.items():
        page.goto(city.url + "/")
        page.fill("#search-q", query)
        page.press("#search-q", "Enter")
        page.wait_for_url("**" + path)
        assert page.locator("h1").count() == 1
    page.fill("#search-q", "no such thing")
    page.press("#search-q", "Enter")
    page.wait_for_selector("text=Nothing matches this search.")


def test_language_switch_and_browser_preference(city: City, browser: Any) -> None:
    context = browser.new_context(locale="de-CH")
    page = context.new_page()
    page.goto(city.url + "/")
    assert page.get_attribute("html", "lang") == "de"
    assert page.locator("#latest-blocks caption").inner_text() == "Neueste Blöcke"
    page.click("text=English")
    assert page.get_attribute("html", "lang") == "en"
    page.goto(city.url + "/money")  # the choice is remembered (cookie)
    assert page.locator("h1").inner_text() == "Money"
    context.close()


def test_bad_input_is_an_html_page_with_its_code(city: City) -> None:
    for path, status, code in [
        ("/txs/zz", 400, "query.bad"),
        ("/txs/" + "ab" * 32, 404, "not_found"),
        ("/accounts/urbis1nope", 400, "query.bad"),
        ("/blocks/99999999", 404, "not_found"),
        ("/documents/123", 400, "query.bad"),
    ]:
        answer = httpx.get(city.url + path)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html")
        assert code in answer.text and "Traceback" not in answer.text


def test_shown_values_are_escaped(city: City) -> None:
    marker = "<script>alert(1)</script>"
    city.run("land", "documents", "anchor", department="land",
             hash=hashlib.sha256(b"xss").digest(), doc_type="deed", reference=marker)
    answer = httpx.get(f"{city.url}/documents/{hashlib.sha256(b'xss').hexdigest()}")
    assert marker not in answer.text and "&lt;script&gt;" in answer.text


# -- accessibility ------------------------------------------------------------------------------


def pages(city: City) -> dict[str, str]:
    digest = hashlib.sha256(DEED).hexdigest()
    return {
        "home": "/",
        "block": "/blocks/1",
        "transaction": f"/txs/{city.tx_ids[0]}",
        "account": f"/accounts/{account('registry').text}",
        "department": f"/accounts/{account('finance').text}",
        "did": f"/dids/{account('land').did}",
        "documents": "/documents",
        "document": f"/documents/{digest}",
        "invoice": f"/invoices/{INVOICE_ID.hex()}",
        "money": "/money",
        "contracts": "/contracts",
        "datasets": "/datasets",
        "dataset": "/datasets/budget-2026/1",
        "procedures": "/procedures",
        "elections": "/elections",
        "home-de": "/?lang=de",
    }


def test_axe_finds_no_wcag_22_aa_violation_on_any_page(city: City, page: Any) -> None:
    axe = AXE.read_text()
    found = {}
    for name, path in pages(city).items():
        page.goto(city.url + path)
        page.evaluate(axe + ";0")
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
        )
        assert len(result["passes"]) > 10, name  # axe did run its rules here
        bad = [
            (v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
        ]
        if bad:
            found[name] = bad
        shoot(page, f"page-{name}")
    assert found == {}


def test_keyboard_alone_reaches_every_control(city: City, page: Any) -> None:
    for name, path in pages(city).items():
        assert keyboard_misses(page, city.url + path) == [], name


def keyboard_misses(page: Any, url: str) -> list[str]:
    """The controls of the page at `url` that Tab alone does not reach (first three); also
    checks that the first Tab lands on the skip link and that it moves focus to the content."""
    page.goto(url)
    controls = page.evaluate(
        """() => { window.reached = [];
           document.addEventListener('focusin', e => window.reached.push(e.target.outerHTML));
           return Array.from(document.querySelectorAll(
             'a[href], button, input, select, textarea, [tabindex="0"]'))
           .filter(e => !e.disabled
                        && (e.offsetParent !== null || e.classList.contains('skip')))
           .map(e => e.outerHTML); }"""
    )
    # a date input takes three Tabs (day, month, year) but is one control
    dates = page.locator("input[type=date]").count()
    for _ in range(len(controls) + 2 + 2 * dates):
        page.keyboard.press("Tab")
    reached = page.evaluate("() => window.reached")
    missing = [c for c in controls if c not in reached]
    extra = [c for c in reached if c not in controls]
    assert extra == [], ("focus stops that are not controls", extra[:3])
    page.goto(url)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    return list(missing[:3])


# -- the browser's codecs against Python's ------------------------------------------------------


def test_browser_codecs_agree_with_python(city: City, page: Any) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from urbis.chain.ids import AccountId
    from urbis.crypto.encoding import encode

    page.goto(registry_page(city))
    leaves = (
        st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.text(max_size=20)
        | st.binary(max_size=40)
        | st.booleans()
        | st.none()
    )
    values = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"bytes": value.hex()}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"int": str(value)}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    to_plain = """function plain(v) {
        if (v instanceof Uint8Array) return {bytes: urbisVerify.toHex(v)};
        if (typeof v === 'bigint') return {int: v.toString()};
        if (Array.isArray(v)) return v.map(plain);
        if (v !== null && typeof v === 'object') {
          const o = {}; for (const k of Object.keys(v)) o[k] = plain(v[k]); return o; }
        return v; }"""

    @settings(max_examples=60, deadline=None)
    @given(value=values, raw=st.binary(min_size=20, max_size=20))
    def agree(value: Any, raw: bytes) -> None:
        decoded = page.evaluate(
            f"([hex]) => {{ {to_plain}; return plain(urbisVerify.decodeCbor("
            "urbisVerify.fromHex(hex))); }",
            [encode(value).hex()],
        )
        assert decoded == plain(value)
        assert page.evaluate("h => urbisVerify.bech32m('urbis', urbisVerify.fromHex(h))",
                             raw.hex()) == AccountId(raw).text

    agree()
    assert page.evaluate("() => urbisVerify.money(-123456n, 2, 'EUR')") == "-1234.56 EUR"


def test_screenshots_folder_is_written(city: City) -> None:
    time.sleep(0)  # the folder fills as the tests above run; this names it for the reader
    assert SCREENSHOTS.name == "screenshots"
