"""A revocation made by a contract shows in the next Status List Token: the licensing
contract (a keyless account) revokes a licence, and the token of its list, signed by the
licensing department as the node's `status_signers` says, reads revoked."""

from __future__ import annotations

import hashlib
import time

from tests.helpers.city import CityChain, account, key
from tests.helpers.contracts import call
from tests.test_contract_processes import city, licensing  # noqa: F401 (fixtures)
from urbis.chain.ids import AccountId
from urbis.modules.identity.service import status_list_token
from urbis.sdk.builder import action
from urbis.sdk.identity_urls import issuer_url, status_url
from urbis.sdk.statuslist import StatusListToken, verify_token

BASE = "https://id.city.example"


def test_a_contract_revocation_shows_in_the_next_token(
    city: CityChain,  # noqa: F811
    licensing: AccountId,  # noqa: F811
) -> None:
    licence = hashlib.sha256(b"food-truck-7").digest()
    applied = call(city, "alice", licensing, "apply", licence, "food-truck")
    (info,) = [e.attrs["args"] for e in applied.events if e.attrs.get("event") == "Applied"]
    pay = action("payments", "pay_invoice", invoice_id=info["fee_invoice"], amount_minor=5_000)
    assert city.run("alice", pay).ok
    approved = call(city, "officer", licensing, "decide", licence, True, "")
    (ok,) = [e.attrs["args"] for e in approved.events if e.attrs.get("event") == "Approved"]
    index = ok["status_index"]
    uri = status_url(BASE, licensing.text, 1)
    signer = key("licensing")

    def token_now() -> StatusListToken:
        now = int(time.time())
        token = status_list_token(
            city.app.store, BASE, licensing, 1, account("licensing"), signer, now
        )
        return verify_token(token, uri, [signer.public_key.raw], now)

    before = token_now()
    assert before.issuer == issuer_url(BASE, account("licensing").text)
    assert before.status(index) == 0
    assert call(city, "officer", licensing, "revoke", licence, "hygiene violation").ok
    assert token_now().status(index) == 1
