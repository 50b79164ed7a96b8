"""`urbis demo vehicles`: a vehicle's life on a dev city, told step by step.

Runs against a node founded by `urbis up` (its department and council keys are in the
home's key store, with the dev passphrase). Setup steps that an earlier run already
did are recognised by their codes and skipped, so the demo can run again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from urbis.chain.ids import AccountId
from urbis.cli.common import fail, passphrase_for, stdout, trusted_validators
from urbis.cli.money import Assets, money
from urbis.crypto.keys import PrivateKey
from urbis.modules.vehicles.cli import print_history
from urbis.modules.vehicles.records import INSPECTOR_VCT
from urbis.modules.vehicles.verify import verify_history
from urbis.modules.vehicles.vin import with_check_digit
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder, action
from urbis.sdk.client import ApiError, Client, Request
from urbis.sdk.keystore import KeyStore, KeyStoreError

ACTORS = ("alice", "bob", "carol", "bank", "inspector", "workshop", "toyota")
"""Key names get a `demo-` prefix, so the demo never signs with a key of yours."""
STATUS_LIST_ID = 4_242
FLEET = 4
EUR_START_MINOR = 10_000_000
DONE_BEFORE = frozenset(
    {
        "accounts.already_exists",
        "governance.role_already_granted",
        "identity.type_exists",
        "identity.already_trusted",
        "identity.status_list_exists",
        "vehicles.manufacturer_exists",
    }
)
"""Codes that mean an earlier run did this setup step already."""


class Demo:
    def __init__(self, home: Path, node: Client, api: str | None) -> None:
        self.node = node
        self.api = api
        self.keystore = KeyStore(home / "keys")
        status = node.status()
        self.chain_id: str = status["chain_id"]
        self.home = home
        self.keys: dict[str, PrivateKey] = {}
        self.assets = Assets(lambda code: node.call("payments", f"assets/{code}"))

    def key(self, name: str) -> PrivateKey:
        if name not in self.keys:
            try:
                self.keys[name] = passphrase_for(self.keystore, name)
            except KeyStoreError:
                self.keystore.create(name, "")
                self.keys[name] = self.keystore.load(name, "")
        return self.keys[name]

    def account(self, name: str) -> AccountId:
        return AccountId.from_key(self.key(name).public_key.raw)

    def send(self, signer: str, *actions: Any, expect: str = "ok") -> dict[str, Any]:
        """One transaction of `actions`, waited for; an unexpected code ends the demo."""
        builder = TxBuilder(self.chain_id, self.account(signer))
        builder.actions.extend(actions)
        nonce = self.node.next_nonce(self.account(signer).text)
        height = self.node.status()["height"]
        tx = builder.sign([self.key(signer)], nonce, height + EXPIRY_BLOCKS_DEFAULT)
        receipt: dict[str, Any] = self.node.submit(tx, wait=True)["receipt"]
        code = receipt["code"]
        if code != expect and not (expect == "ok" and code in DONE_BEFORE):
            fail(code, f"demo step by {signer} failed: {receipt['message']}")
        return receipt


def _say(text: str) -> None:
    stdout.print(f"[bold cyan]▸[/] {text}", highlight=False)


def _vin(serial: int) -> str:
    return with_check_digit(f"JT2BG22K0{serial % 10**8:08d}")


def run_demo(home: Path, node: Client, api: str | None) -> None:
    demo = Demo(home, node, api)
    actor = {name: f"demo-{name}" for name in ACTORS}
    _say("Setting up: residents, a bank, an inspection centre, a workshop and Toyota")
    for name in ACTORS:
        key = demo.key(actor[name]).public_key.raw
        demo.send("transport", action("accounts", "create", keys=[{"key": key, "weight": 1}]))
    grants = [
        ("registrar", "transport"),
        ("lender", actor["bank"]),
        ("workshop", actor["workshop"]),
    ]
    for role, holder in grants:
        grant = action(
            "governance",
            "grant_role",
            department="transport",
            role=role,
            account=demo.account(holder),
        )
        demo.send("transport", grant)
    _ensure_eur(demo)
    for name in ("alice", "bob", "carol"):
        mint = action(
            "payments",
            "mint",
            asset="EUR",
            recipient=demo.account(actor[name]),
            amount_minor=EUR_START_MINOR,
        )
        demo.send("finance", mint)
    _say(f"The registry issues a {INSPECTOR_VCT} credential; transport accredits the centre")
    trust_admin = action(
        "governance",
        "grant_role",
        department="registry",
        role="trust_admin",
        account=demo.account("registry"),
    )
    demo.send("registry", trust_admin)
    define = action(
        "identity",
        "define_type",
        vct=INSPECTOR_VCT,
        schema_hash=hashlib.sha256(INSPECTOR_VCT.encode()).digest(),
        claims=["centre"],
        disclosable=["centre"],
        validity_days=365,
    )
    demo.send("registry", define)
    trust = action("identity", "trust_issuer", vct=INSPECTOR_VCT, issuer=demo.account("registry"))
    demo.send("registry", trust)
    new_list = action("identity", "create_status_list", list_id=STATUS_LIST_ID, size=4096, bits=1)
    demo.send("registry", new_list)
    accredit = action(
        "vehicles",
        "accredit_inspector",
        account=demo.account(actor["inspector"]),
        issuer=demo.account("registry"),
        list_id=STATUS_LIST_ID,
        index=0,
    )
    demo.send("transport", accredit)
    maker = action(
        "vehicles", "register_manufacturer", account=demo.account(actor["toyota"]), make="Toyota"
    )
    demo.send("transport", maker)

    base = int(node.status()["height"]) * 10
    vins = [_vin(base + n) for n in range(FLEET)]
    _say(f"Transport registers a fleet of {FLEET} Corollas to alice's account")
    for vin in vins:
        register = action(
            "vehicles",
            "register",
            vin=vin,
            make="Toyota",
            model="Corolla",
            year=2021,
            type_approval="LTA-TA-2021-0117",
            owner=demo.account(actor["alice"]),
        )
        demo.send("transport", register)
    car = vins[0]

    _sell(demo, car, actor["alice"], actor["bob"], 1_800_000, 12_000)
    _say("DBS finances bob: a lien of 5,000.00 EUR on the car")
    demo.send(
        actor["bank"],
        action(
            "vehicles",
            "register_lien",
            vin=car,
            id=b"loan-demo-0001",
            asset="EUR",
            amount_minor=500_000,
        ),
    )
    bank_before = _balance(demo, demo.account(actor["bank"]))
    _sell(demo, car, actor["bob"], actor["carol"], 1_650_000, 24_000)
    paid = _balance(demo, demo.account(actor["bank"])) - bank_before
    _say(f"The bank was paid first from the escrow: {money(paid, 2, 'EUR')}; the lien is gone")

    inspect_args = {"vin": car, "passed": True, "defects": [], "next_due_ms": 1_830_000_000_000}
    demo.send(actor["inspector"], action("vehicles", "inspect", odometer_km=30_500, **inspect_args))
    _say("Inspection at 30,500 km passed")
    refused = demo.send(
        actor["inspector"],
        action("vehicles", "inspect", odometer_km=21_000, **inspect_args),
        expect="vehicles.odometer_rollback",
    )
    _say(f"The next reading is 21,000 km: refused ({refused['code']})")
    demo.send(
        actor["inspector"],
        action("vehicles", "inspect", odometer_km=21_000, confirm_rollback=True, **inspect_args),
    )
    _say("The inspector checks the car and confirms: a rollback, flagged in the history forever")

    recall_id = hashlib.sha256(car.encode()).digest()[:12]
    demo.send(
        actor["toyota"],
        action(
            "vehicles",
            "issue_recall",
            id=recall_id,
            make="Toyota",
            model="Corolla",
            year_from=2019,
            year_to=2022,
            vin_from="",
            vin_to="",
            description_hash=hashlib.sha256(b"airbag inflator may rupture").digest(),
        ),
    )
    open_recalls = _get(demo, f"/v1/vehicles/{car}")["open_recalls"]
    _say(
        f"Toyota recalls 2019-2022 Corollas: carol's car shows {len(open_recalls)} open "
        f"recall ({recall_id.hex()})"
    )
    demo.send(
        actor["workshop"],
        action(
            "vehicles",
            "fix_recall",
            vin=car,
            recall_id=recall_id,
            reference=hashlib.sha256(b"job sheet 7781").digest(),
        ),
    )
    _say("An authorised workshop replaces the inflator and records the fix")

    answer = _get(demo, f"/v1/vehicles/{car}/history")
    validators, chain_id, _ = trusted_validators(home, demo.api)
    verified = verify_history(answer, validators, chain_id)
    print_history(verified, answer["open_recalls"], demo.assets)
    stdout.print(
        f"[green]Verified[/]: {len(verified.events)} events against the header at height "
        f"{verified.height}. Check it yourself: urbis vehicle history {car} --verify"
    )


def _ensure_eur(demo: Demo) -> None:
    try:
        demo.node.call("payments", "assets/EUR")
        return
    except ApiError:
        pass
    _say("The council creates EUR, issued by finance")
    create = {
        "module": "payments",
        "name": "create_asset",
        "args": {"code": "EUR", "decimals": 2, "issuer": demo.account("finance").raw},
    }
    receipt = demo.send(
        "mayor", action("governance", "submit_proposal", title="EUR", action=create)
    )
    (proposal,) = [
        e["attrs"]["id"] for e in receipt["events"] if e["type"] == "governance.proposal_submitted"
    ]
    demo.send("councillor-a", action("governance", "approve_proposal", id=proposal))


def _balance(demo: Demo, account: AccountId) -> int:
    answer = demo.node.call("payments", f"balances/{account.text}", asset="EUR")
    return int(answer["balance_minor"] if isinstance(answer, dict) else answer)


def _sell(demo: Demo, vin: str, seller: str, buyer: str, price: int, km: int) -> None:
    short = (seller.removeprefix("demo-"), buyer.removeprefix("demo-"))
    offer = action(
        "vehicles",
        "offer_sale",
        vin=vin,
        buyer=demo.account(buyer),
        asset="EUR",
        price_minor=price,
        odometer_km=km,
        timeout_blocks=1_000,
    )
    demo.send(seller, offer)
    demo.send(buyer, action("vehicles", "pay_sale", vin=vin, price_minor=price))
    _say(
        f"{short[0]} offers {vin} to {short[1]} at {money(price, 2, 'EUR')}, {km:,} km; "
        "the buyer pays into escrow"
    )
    demo.send(seller, action("vehicles", "deliver", vin=vin))
    _say(f"{short[0]} delivers: title to {short[1]} and the escrow paid out, in one transaction")


def _get(demo: Demo, path: str) -> dict[str, Any]:
    answer: dict[str, Any] = demo.node.send(Request("GET", path))
    return answer
