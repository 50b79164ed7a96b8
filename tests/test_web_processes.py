"""The portal's second pass in Chromium: procedures read from the process contracts' events,
a resident applying for a licence, paying its fee and seeing it approved after an officer
decides it in the console (every transaction signed in the browser), parcels and vehicles in
the resident space, council proposals submitted and approved from the console, and an
election's result with its §6.2 verification report. axe-core scans every new page.

The chain is built fast by the solo driver (contract deployments, a small election with the
toy group), then a real node opens the same database and serves it with the identity module's
OpenID4VP verifier, as `urbis up` would."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers.browser import playwright_sync_api
from tests.helpers.city import (
    CHAIN_ID,
    COUNCIL,
    DEPARTMENTS,
    CityChain,
    account,
    create_eur,
    key,
)
from tests.helpers.contracts import CONTRACTS, call, deploy
from tests.helpers.identity import IdentityCity, define_type
from tests.helpers.process import serving
from tests.helpers.vehicles import vin
from tests.helpers.voting import VOTING_ACCOUNTS, ElectionRun, ok
from tests.test_web import browser as browser  # the same fixture: one Chromium a module
from tests.test_web import keyboard_misses, shoot
from tests.test_web_spaces import axe_violations, credential, run, signed_in, wallet_respond
from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.sdk.builder import action

playwright_api = playwright_sync_api()

PEOPLE = ("alice", "maker")  # the land registrar is the voting helper's `registrar`
PARCEL = hashlib.sha256(b"parcel-7").digest()
DEED = hashlib.sha256(b"deed of parcel 7").digest()
SOLD = hashlib.sha256(b"parcel-8").digest()
ESCROW = hashlib.sha256(b"escrow-8").digest()


def genesis() -> Genesis:
    names = [*DEPARTMENTS, *COUNCIL, *VOTING_ACCOUNTS, *PEOPLE, "transport"]
    return Genesis(
        chain_id=CHAIN_ID,
        name="Test City",
        time_ms=1_700_000_000_000,
        accounts=tuple(GenesisAccount(n, (GenesisKey(key(n).public_key.raw),)) for n in names),
        departments=(
            *(GenesisDepartment(d, d.title(), account(d)) for d in DEPARTMENTS),
            GenesisDepartment("transport", "Transport", account("transport")),
        ),
        council_members=tuple(account(c) for c in COUNCIL),
        council_threshold=2,
        validators=(GenesisValidator("validator", key("validator").public_key.raw, 10),),
        roles=(("transport.registrar", account("transport")),),
    )


def grant(chain: CityChain, department: str, role: str, who: AccountId) -> None:
    assert chain.run(department, action("governance", "grant_role", department=department,
                                        role=role, account=who)).ok


def build(chain: CityChain) -> dict[str, Any]:
    """EUR, a land registry with alice's parcel, a licensing office (finance's), a vehicle of
    alice's and a tallied election."""
    create_eur(chain)
    grant(chain, "land", "registrar", account("registrar"))
    registry = deploy(chain, "land-registry", (CONTRACTS / "land_registry.vy").read_text(),
                      [("string", "EUR"), ("uint256", 200), ("address", account("finance"))])
    assert call(chain, "registrar", registry, "register", PARCEL, account("alice"), DEED).ok
    # a sale: maker's parcel to alice, through an escrow, settled by the registrar
    assert chain.run("finance", action("payments", "mint", asset="EUR",
                                       recipient=account("alice"), amount_minor=100_000)).ok
    assert call(chain, "registrar", registry, "register", SOLD, account("maker"), DEED).ok
    assert call(chain, "maker", registry, "list_for_sale", SOLD, account("alice"), 50_000).ok
    assert chain.run("alice", action("payments", "open_escrow", id=ESCROW, beneficiary=registry,
                                     asset="EUR", amount_minor=50_000, approvers=[registry],
                                     timeout_blocks=100)).ok
    assert call(chain, "alice", registry, "fund", SOLD, ESCROW).ok
    assert call(chain, "registrar", registry, "approve_sale", SOLD).ok
    licensing = deploy(chain, "licensing", (CONTRACTS / "licensing.vy").read_text(),
                       [("string", "finance"), ("string", "EUR"), ("uint256", 5_000),
                        ("uint64", 365)])
    grant(chain, "finance", "billing", licensing)
    grant(chain, "finance", "officer", account("finance"))
    ok(chain.run("transport", action("vehicles", "register_manufacturer",
                                     account=account("maker"), make="Toyota")))
    ok(chain.run("transport", action("vehicles", "register", vin=vin(7), make="Toyota",
                                     model="Corolla", year=2020, type_approval="LTA-TA-2019-0042",
                                     owner=account("alice"))))
    election = ElectionRun(chain, window_blocks=100)
    ok(election.create())
    election.ceremony()
    keys = [election.register(bytes([i]) * 32) for i in range(3)]
    election.wait_until_open()
    for ballot_key, choice in zip(keys, (1, 2, 1), strict=True):
        ok(election.cast(ballot_key, election.encrypt(choice)[0]))
    ok(election.close())
    nonces = election.decrypt([1, 2, 3])
    for index in (1, 2, 3):
        ok(election.post_decryption(index, "response", election.respond(index, nonces[index])))
    ok(election.guardian_step(1, "tally"))
    return {"registry": registry, "licensing": licensing}


def personal_reads(city: IdentityCity) -> None:
    """Land keeps a personal stream with a record about alice; finance logs a read of it."""
    from urbis.modules.data.sdk import DataSession, Producer, new_data_key, public_bytes
    from urbis.modules.data.sdk import Reader as DataReader

    data_keys = {d: new_data_key() for d in ("land", "finance")}
    sessions = {}
    for department in ("land", "finance"):
        city.run(department, "governance", "grant_role", department=department, role="data",
                 account=account(department))
        sessions[department] = DataSession(city.url, key(department), account(department),
                                           validators=frozenset({key("validator").public_key.raw}))
        sessions[department].act("register_key", department=department,
                                 public_key=public_bytes(data_keys[department]))
    sessions["land"].act("register_stream", id="health.visits", department="land",
                         schema='{"type": "object"}', classification="personal",
                         retention_blocks=100_000, purpose="home care")
    producer = Producer(sessions["land"], "health.visits", data_keys["land"])
    producer.grant("finance", "billing of care", sessions["land"].height() + 10_000)
    producer.publish([{"visit": 1}, {"visit": 2}], subjects=[account("alice").raw,
                                                             account("land").raw])
    deadline = time.monotonic() + 20
    while sessions["land"].stream("health.visits")["anchored_head"] < 2:
        assert time.monotonic() < deadline, "the records were not anchored"
        time.sleep(0.05)
    DataReader(sessions["finance"], "health.visits", data_keys["finance"]).log_access(0, 1)
    for session in sessions.values():
        session.close()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCity]:
    from urbis.node.home import Home, NodeConfig
    from urbis.node.runner import Node

    home = Home(tmp_path_factory.mktemp("processes"))
    home.ensure_dirs()
    genesis().save(home.genesis_path)
    home.write_validator_key(key("validator"))
    chain = CityChain(home.db_path.parent, genesis())
    build(chain)
    chain.close()
    config = NodeConfig(block_interval_ms=50)
    config.identity_keys = f"{IdentityCity.ISSUER},{IdentityCity.VERIFIER}"
    home.save_config(config)
    for name in (IdentityCity.ISSUER, IdentityCity.VERIFIER):
        home.keystore.create(name, "", key(name))
    node = Node(home)
    node.start()
    try:
        with serving(node) as url:
            node.config.public_url = url
            served = IdentityCity(node, url)
            served.found()
            staff = define_type("StaffID", ["department", "role"])
            served.run("registry", staff.module, staff.name, **staff.args)
            served.run("registry", "identity", "trust_issuer", vct="StaffID",
                       issuer=account("registry"))
            served.run("registry", "identity", "register_verifier", verifier=account("registry"),
                       name="Department console",
                       allowed_claims={"StaffID": ["department", "role"]})
            personal_reads(served)
            yield served
            served.http.close()
    finally:
        node.stop()


def test_procedures_show_every_step_of_a_land_registration(city: IdentityCity,
                                                           browser: Any) -> None:
    listing = httpx.get(f"{city.url}/procedures")
    assert listing.status_code == 200
    assert PARCEL.hex()[:16] in listing.text
    page_url = f"{city.url}/procedures/land-registry/{PARCEL.hex()}"
    answer = httpx.get(page_url)
    assert answer.status_code == 200
    assert "Registered" in answer.text and DEED.hex() in answer.text
    assert account("registrar").text in answer.text  # who did it
    # bad input is an HTML page with a code, never a traceback
    assert httpx.get(f"{city.url}/procedures/land-registry/zz").status_code == 400
    missing = httpx.get(f"{city.url}/procedures/land-registry/{'00' * 32}")
    assert missing.status_code == 404 and "not_found" in missing.text
    assert httpx.get(f"{city.url}/procedures/nowhere/{PARCEL.hex()}").status_code == 404
    # a sale: every step, each by whoever signed it, and the owner the slot now holds
    sale = httpx.get(f"{city.url}/procedures/land-registry/{SOLD.hex()}").text
    order = [sale.index(f"<td>{step}</td>") for step in ("Registered", "Listed", "Funded",
                                                         "Sold")]
    assert order == sorted(order)
    for signer in ("registrar", "maker", "alice"):
        assert account(signer).text in sale
    assert "&quot;tax&quot;: 1000" in sale  # 2% transfer tax, escaped as every value is
    found = httpx.get(f"{city.url}/search", params={"q": PARCEL.hex()})  # search by parcel
    assert found.headers["location"] == f"/procedures/land-registry/{PARCEL.hex()}"
    context = browser.new_context(locale="de-CH")
    page = context.new_page()
    for path, name in [("/procedures", "procedures"),
                       (f"/procedures/land-registry/{SOLD.hex()}", "procedure")]:
        page.goto(city.url + path)
        assert axe_violations(page) == [], path
        shoot(page, name)
    assert "Verfahren" in page.inner_text("h1")  # German
    # the owner shown is the contract's storage slot, proven against a signed header
    owner = page.locator(".proven[data-format=word-account]")
    assert owner.inner_text() == account("alice").text  # the buyer, after the sale
    page.click("#verify-button")
    page.wait_for_selector("main[data-verified]")
    assert page.get_attribute("main", "data-verified") == "true"
    # a page showing another owner than the slot holds fails, named
    page.evaluate("""() => { const e = document.querySelector('.proven[data-format=word-account]');
        e.textContent = e.textContent.replace(/.$/, c => c === 'q' ? 'p' : 'q'); }""")
    page.click("#verify-button")
    page.wait_for_selector("main[data-verified=false]")
    assert page.locator(".proven.refuted").count() == 1
    for path in ("/procedures", f"/procedures/land-registry/{PARCEL.hex()}",
                 f"/procedures/licensing/{'00' * 32}"):
        assert keyboard_misses(page, city.url + path) == [], path
    context.close()


def test_election_result_and_verification_report(city: IdentityCity, browser: Any) -> None:
    listing = httpx.get(f"{city.url}/elections")
    assert "ref-2027" in listing.text
    shown = httpx.get(f"{city.url}/elections/ref-2027")
    assert shown.status_code == 200
    result = city.node.app.query("voting", "election", {"id": "ref-2027"})
    assert result["phase"] == "tallied"
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(city.url + "/elections/ref-2027")
    counts = [page.inner_text(f"#result tbody tr:nth-child({i}) .count") for i in (1, 2)]
    assert counts == ["2", "1"]  # yes twice, no once
    page.click("#verify-button")  # each count proven from the recorded result in the browser
    page.wait_for_selector("main[data-verified]")
    assert page.get_attribute("main", "data-verified") == "true"
    assert page.locator("#result .proven.verified").count() == 2
    assert axe_violations(page) == []
    shoot(page, "election")
    started = time.monotonic()
    page.goto(city.url + "/elections/ref-2027/verification")
    assert page.inner_text("#report-outcome") == "passed"
    steps = page.locator("#report tbody tr")
    assert steps.count() == 14
    assert "not applicable" in steps.nth(11).inner_text()  # step 12: no contest data
    assert page.locator("#toy-group").count() == 1  # says the toy group is not secure
    assert axe_violations(page) == []
    shoot(page, "election-verification")
    assert time.monotonic() - started < 60
    page.goto(city.url + "/elections")
    assert axe_violations(page) == []
    for path in ("/elections", "/elections/ref-2027", "/elections/ref-2027/verification"):
        assert keyboard_misses(page, city.url + path) == [], path
    assert httpx.get(f"{city.url}/elections/NOPE!").status_code == 400
    assert httpx.get(f"{city.url}/elections/nope").status_code == 404
    context.close()


def test_resident_applies_pays_and_sees_the_licence_the_officer_approves(
    city: IdentityCity, browser: Any
) -> None:
    """The issue's flow: an officer approves a licence; the resident sees it approved."""
    resident_context = browser.new_context(locale="en-GB")
    resident = resident_context.new_page()
    resident.set_default_timeout(30_000)
    issued, holder = credential(city, "ResidentID", {"given_name": "Alice",
                                                     "birthdate": "1990-04-01"})

    def as_alice(device: AccountId) -> None:
        # alice adds this browser's key to her own account; the parcel and car are hers
        key_of_browser = bytes.fromhex(resident.inner_text("#device-public-key"))
        run(city, "alice", "accounts", "add_key", key=key_of_browser, weight=1)
        run(city, "finance", "payments", "mint", asset="EUR", recipient=account("alice"),
            amount_minor=100_000)

    signed_in(city, resident, "/resident",
              lambda link: wallet_respond(city, link, issued, holder), as_alice,
              as_account=account("alice").text)
    parcels = resident.inner_text("#my-parcels")
    assert PARCEL.hex()[:12] in parcels and SOLD.hex()[:12] in parcels  # registered, bought
    assert vin(7) in resident.inner_text("#my-vehicles")
    reads = resident.inner_text("#my-data-reads")
    assert "health.visits" in reads and "billing of care" in reads  # only alice's record, 0
    assert resident.locator("#my-data-reads a[title]").first.get_attribute("title") == \
        account("finance").text
    assert resident.locator("#my-data-reads tbody tr td:nth-child(6)").inner_text() == "0"
    resident.click("#verify-button")  # the vehicle's record is checked in this browser
    resident.wait_for_selector("main[data-verified]")
    assert resident.get_attribute("main", "data-verified") == "true"
    assert resident.locator("#my-vehicles .proven.verified").count() == 6
    resident.fill("#licence-kind", "food-truck")
    resident.click("#licence-form button[type=submit]")
    resident.wait_for_selector("#space-status[data-licence]")
    licence = resident.get_attribute("#space-status", "data-licence")
    assert licence is not None
    resident.reload()
    status = resident.locator(f".licence-status[data-licence='{licence}']")
    assert status.inner_text() == "applied"
    assert axe_violations(resident) == []
    shoot(resident, "resident-licences")
    assert keyboard_misses(resident, resident.url) == []
    # the fee invoice the contract issued: paid from the space, signed in the browser
    resident.click("#my-invoices button.pay")
    resident.wait_for_selector("#my-invoices tr[data-paid=true]")

    officer_context = browser.new_context(locale="en-GB")
    officer = officer_context.new_page()
    officer.set_default_timeout(30_000)
    staff, staff_holder = credential(city, "StaffID", {"department": "finance",
                                                       "role": "officer"})

    def appoint(device: AccountId) -> None:
        key_of_browser = bytes.fromhex(officer.inner_text("#device-public-key"))
        run(city, "finance", "accounts", "add_key", key=key_of_browser, weight=1)

    signed_in(city, officer, "/department",
              lambda link: wallet_respond(city, link, staff, staff_holder), appoint,
              as_account=account("finance").text)
    row = officer.locator(f"#applications tr:has(button[data-licence='{licence}'])")
    assert "food-truck" in row.inner_text()
    assert axe_violations(officer) == []
    shoot(officer, "department-applications")
    assert keyboard_misses(officer, officer.url) == []
    # a refusal without a reason is refused in the page, before anything is signed
    row.locator("button.decide[data-approve=false]").click()
    officer.wait_for_selector("#space-status.failed")
    assert "reason" in officer.inner_text("#space-status")
    row.locator("button.decide[data-approve=true]").click()
    officer.wait_for_selector(f"#space-status[data-decided='{licence}']")
    assert "Approved:" in officer.inner_text("#space-status")
    steps = httpx.get(f"{city.url}/procedures/licensing/{licence}").text
    assert "Applied" in steps and "Approved" in steps
    # the licence's state, read from the contract's storage slot, proven in the browser
    officer.goto(f"{city.url}/procedures/licensing/{licence}")
    assert officer.locator(".proven[data-format=word-int]").inner_text() == "2"  # APPROVED
    officer.click("#verify-button")
    officer.wait_for_selector("main[data-verified]")
    assert officer.get_attribute("main", "data-verified") == "true"

    resident.reload()
    assert resident.locator(f".licence-status[data-licence='{licence}']").inner_text() == \
        "approved"
    # a second application, refused with a reason; the resident sees it refused
    resident.fill("#licence-kind", "kiosk")
    resident.click("#licence-form button[type=submit]")
    resident.wait_for_selector(f"#space-status[data-licence]:not([data-licence='{licence}'])")
    kiosk = resident.get_attribute("#space-status", "data-licence")
    officer.goto(f"{city.url}/department")
    refused = officer.locator(f"#applications tr:has(button[data-licence='{kiosk}'])")
    refused.locator("input.reason").fill("zoning: no kiosks on the square")
    refused.locator("button.decide[data-approve=false]").click()
    officer.wait_for_selector(f"#space-status[data-decided='{kiosk}']")
    assert "Refused:" in officer.inner_text("#space-status")
    resident.reload()
    assert resident.locator(f".licence-status[data-licence='{kiosk}']").inner_text() == "refused"
    assert "zoning: no kiosks" in httpx.get(f"{city.url}/procedures/licensing/{kiosk}").text
    # a resident cannot decide her own application: the contract checks the officer role
    from urbis.modules.contracts import abi

    office = city.node.app.query("contracts", "contract", {"ref": "licensing"})
    resident.fill("#licence-kind", "market-stall")
    resident.click("#licence-form button[type=submit]")
    resident.wait_for_selector(f"#space-status[data-licence]:not([data-licence='{kiosk}'])")
    stall = bytes.fromhex(resident.get_attribute("#space-status", "data-licence") or "")
    refused_call = run(city, key("alice"), "contracts", "call",
                       contract=AccountId.parse(office["address"]),
                       data=abi.encode_call(office["abi"], "decide", [stall, True, ""]),
                       gas_limit=3_000_000)
    assert not refused_call["ok"] and "only a licensing officer" in refused_call["message"]
    resident_context.close()

    # council proposals: the mayor's browser submits, a councillor's browser approves
    officer_context.close()


def test_council_proposals_are_submitted_and_approved_from_the_console(
    city: IdentityCity, browser: Any
) -> None:
    pages = []
    for member in ("mayor", "councillor_a"):
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(30_000)
        staff, holder = credential(city, "StaffID", {"department": "registry",
                                                     "role": "council"})

        def appoint(device: AccountId, page: Any = page, member: str = member) -> None:
            key_of_browser = bytes.fromhex(page.inner_text("#device-public-key"))
            run(city, member, "accounts", "add_key", key=key_of_browser, weight=1)

        signed_in(city, page, "/department",
                  lambda link, staff=staff, holder=holder: wallet_respond(city, link, staff,
                                                                          holder),
                  appoint, as_account=account(member).text)
        pages.append((context, page))
    (_, mayor), (_, councillor) = pages
    # finance's licence applications (one is pending) are not the registry's to decide
    assert city.node.app.query("governance", "has_role", {
        "account": account("finance").text, "role": "finance.officer"})["has_role"]
    assert councillor.locator("#applications").count() == 0
    assert "No applications waiting" in councillor.inner_text("main")
    mayor.fill("#proposal-title", "A department for parks")
    mayor.fill("#proposal-action", "governance.add_department")
    mayor.fill("#proposal-args", '{"id": "parks", "name": "Parks", "admin": "'
               + account("land").text + '"}')
    mayor.click("#proposal-form button[type=submit]")
    mayor.wait_for_selector("#space-status[data-proposal]")
    proposal = mayor.get_attribute("#space-status", "data-proposal")
    councillor.reload()
    councillor.click(f"button.approve-proposal[data-proposal='{proposal}']")
    councillor.wait_for_selector(f"#space-status[data-approved='{proposal}']")
    departments = [d["id"] for d in city.node.app.query("governance", "departments", {})]
    assert "parks" in departments
    councillor.reload()
    assert councillor.locator("#proposals [data-status=executed]").count() >= 1
    assert axe_violations(councillor) == []
    shoot(councillor, "department-proposals")
    # bad JSON never reaches the chain
    mayor.fill("#proposal-args", "{not json")
    mayor.click("#proposal-form button[type=submit]")
    mayor.wait_for_selector("#space-status.failed")
    assert "not JSON" in mayor.inner_text("#space-status")
    for context, _ in pages:
        context.close()


def test_browser_abi_encoding_agrees_with_python(city: IdentityCity, browser: Any) -> None:
    """space.js signs contract calls whose arguments verify.js encodes: the bytes must be
    the ones Python's encoder (and so the contract's ABI decoder) expects, for any text."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from urbis.modules.contracts import abi

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{city.url}/procedures/land-registry/{PARCEL.hex()}")  # loads verify.js
    decide = {"name": "decide", "type": "function", "inputs": [
        {"name": "licence", "type": "bytes32"}, {"name": "approve", "type": "bool"},
        {"name": "reason", "type": "string"}]}

    @settings(max_examples=60, deadline=None)
    @given(licence=st.binary(min_size=32, max_size=32), approve=st.booleans(),
           reason=st.text(max_size=80))
    def agree(licence: bytes, approve: bool, reason: str) -> None:
        selector = abi.selector(abi.signature(decide)).hex()
        encoded = page.evaluate(
            """([selector, licence, approve, reason]) => urbisVerify.toHex(urbisVerify.abiCall(
                 selector, [["bytes32", urbisVerify.fromHex(licence)], ["bool", approve],
                            ["string", reason]]))""",
            [selector, licence.hex(), approve, reason],
        )
        assert encoded == abi.encode_call([decide], "decide", [licence, approve, reason]).hex()

    agree()
    # bad input is refused in the page, before anything could be signed
    for args in ('[["bytes32", new Uint8Array(31)]]', '[["uint256", 1n]]'):
        with pytest.raises(Exception, match=r"bytes32 takes 32 bytes|unsupported ABI type"):
            page.evaluate(f"() => urbisVerify.abiCall('00000000', {args})")
    with pytest.raises(Exception, match="a selector is 4 bytes"):
        page.evaluate("() => urbisVerify.abiCall('00', [])")
    context.close()


def test_vyper_struct_member_offsets() -> None:
    """Where a struct member sits decides which slot a procedure page proves: bounded
    strings take a length slot plus their words; unknown layouts are refused, not guessed."""
    from urbis.web.processes import vyper_member_offset

    source = (CONTRACTS / "licensing.vy").read_text()
    # applicant (1) + kind: String[32] (1 + 1) + fee_invoice (1)
    assert vyper_member_offset(source, "Licence", "state") == 4
    assert vyper_member_offset(source, "Licence", "applicant") == 0
    assert vyper_member_offset("struct S:\n    a: String[33]\n    b: bool\n", "S", "b") == 3
    assert vyper_member_offset("struct S:\n    a: Bytes[64]\n    b: uint8\n", "S", "b") == 3
    with pytest.raises(ValueError, match="cannot place"):
        vyper_member_offset("struct S:\n    a: DynArray[uint8, 3]\n    b: bool\n", "S", "b")
    with pytest.raises(ValueError, match="no member"):
        vyper_member_offset(source, "Licence", "nothing")
    with pytest.raises(ValueError, match="no member"):  # a member of another struct
        vyper_member_offset("struct T:\n    b: bool\nstruct S:\n    a: bool\n", "S", "b")
