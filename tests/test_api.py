"""The HTTP API against a running node: submit, wait, read, prove, stream; bad input -> 4xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers.city import (
    CHAIN_ID,
    account,
    anchor,
    asset_proposal,
    billing_grant,
    city_home,
    doc_hash,
    key,
)
from urbis.api.server import create_api
from urbis.chain.tx import TxBody, sign_tx
from urbis.node.runner import Node
from urbis.sdk.verify import ProofError, verify_state_proof


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = Node(city_home(tmp_path))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def api(node: Node) -> Iterator[TestClient]:
    with TestClient(create_api(node)) as client:
        yield client


def signed(sender: str, label: str, nonce: int) -> str:
    body = TxBody(CHAIN_ID, account(sender), nonce, (anchor(sender, label),), 1000, "")
    return base64.b64encode(sign_tx(body, [key(sender).signer()]).raw).decode()


class Sender:
    """Signs and commits one action at a time through the API, keeping each key's nonce."""

    def __init__(self, api: TestClient) -> None:
        self.api = api
        self.nonces: dict[str, int] = {}

    def __call__(self, sender: str, module: str, name: str, **args: object) -> dict:
        from urbis.sdk.builder import TxBuilder

        nonce = self.nonces.get(sender, 0)
        self.nonces[sender] = nonce + 1
        tx = TxBuilder(CHAIN_ID).add(module, name, **args).sign([key(sender)], nonce, 1000)
        answer = self.api.post(
            "/v1/txs?wait=commit", json={"tx": base64.b64encode(tx.raw).decode()}
        ).json()
        assert answer["receipt"]["ok"], answer
        return answer


def test_status_and_openapi(api: TestClient) -> None:
    status = api.get("/v1/status").json()
    assert status["chain_id"] == CHAIN_ID and status["height"] == 0
    schema = api.get("/openapi.json").json()
    assert "/v1/txs" in schema["paths"] and "/v1/state/{key}" in schema["paths"]
    assert api.get("/docs").status_code == 200


def test_submit_wait_commit_then_read_tx_block_and_account(api: TestClient) -> None:
    answer = api.post("/v1/txs?wait=commit", json={"tx": signed("land", "deed", 0)}).json()
    assert answer["status"] == "committed" and answer["receipt"]["ok"]
    tx_id, height = answer["tx_id"], answer["receipt"]["height"]
    assert api.get(f"/v1/txs/{tx_id}").json()["tx"]["sender"] == account("land").text
    block = api.get(f"/v1/blocks/{height}").json()
    assert [t["tx_id"] for t in block["txs"]] == [tx_id]
    assert api.get("/v1/blocks/latest").json()["header"]["height"] >= height
    history = api.get(f"/v1/accounts/{account('land').text}/txs").json()
    assert history[0]["tx_id"] == tx_id
    assert api.get(f"/v1/accounts/{account('land').text}").json()["nonce"] == 1


def test_raw_cbor_body_is_accepted(api: TestClient) -> None:
    raw = base64.b64decode(signed("land", "deed", 0))
    response = api.post(
        "/v1/txs?wait=commit", content=raw, headers={"content-type": "application/cbor"}
    )
    assert response.json()["receipt"]["ok"]


def test_batch_reports_each_item(api: TestClient) -> None:
    txs = [signed("land", f"d{i}", i) for i in range(5)] + ["%%%", signed("land", "d0", 0)]
    answer = api.post("/v1/txs/batch", json={"txs": txs}).json()
    assert answer["accepted"] == 5 and answer["rejected"] == 2
    assert answer["results"][5]["code"] == "tx.malformed"
    assert answer["results"][6]["code"] in {"tx.duplicate", "tx.nonce_used"}


def test_state_proof_verifies_against_signed_header(api: TestClient, node: Node) -> None:
    api.post("/v1/txs?wait=commit", json={"tx": signed("land", "deed", 0)})
    key_text = "documents/doc/0x" + doc_hash("deed").hex()
    answer = api.get(f"/v1/state/{key_text}", params={"prove": "true"}).json()
    verified = verify_state_proof(answer, node.validator_keys, chain_id=CHAIN_ID)
    assert verified.value is not None
    absent = api.get("/v1/state/documents/doc/0x" + "00" * 32, params={"prove": "true"}).json()
    assert verify_state_proof(absent, node.validator_keys).value is None
    with pytest.raises(ProofError, match="trusted validator"):
        verify_state_proof(answer, {key("impostor").public_key.raw})
    forged = dict(answer, header=dict(answer["header"], app_hash="11" * 32))
    with pytest.raises(ProofError):
        verify_state_proof(forged, node.validator_keys)
    document = api.get(f"/v1/documents/{doc_hash('deed').hex()}").json()
    assert document["record"]["department"] == "land"
    assert verify_state_proof(document, node.validator_keys).value is not None


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/v1/txs", b"not json", 400, "tx.malformed"),
        ("post", "/v1/txs", b'{"nope": 1}', 400, "tx.malformed"),
        ("post", "/v1/txs", b'{"tx": "!!"}', 400, "tx.malformed"),
        ("post", "/v1/txs", b'{"tx": "AAAA"}', 400, "tx.malformed"),
        ("post", "/v1/txs/batch", b"[]", 422, "request.invalid"),
        ("post", "/v1/txs/batch", b"{", 422, "request.invalid"),
        ("get", "/v1/txs/zz", None, 400, "query.bad_request"),
        ("get", "/v1/txs/" + "00" * 32, None, 404, "query.not_found"),
        ("get", "/v1/blocks/999", None, 404, "query.not_found"),
        ("get", "/v1/accounts/urbis1xyz", None, 400, "query.bad_request"),
        ("get", "/v1/state/governance/council?height=99", None, 404, "query.unknown_height"),
        ("get", "/v1/documents/abcd", None, 400, "query.bad_request"),
        ("get", "/v1/governance/proposals/7", None, 404, "query.not_found"),
        ("get", "/v1/nowhere", None, 404, "request.not_found"),
    ],
)
def test_bad_requests_are_problem_json(
    api: TestClient, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    response = api.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_rejected_tx_is_problem_with_its_code(api: TestClient) -> None:
    far = api.post("/v1/txs", json={"tx": signed("finance", "x", 10**6)})
    assert far.status_code == 409 and far.json()["code"] == "tx.nonce_out_of_window"
    assert far.json()["next"] == 0
    raw = bytearray(base64.b64decode(signed("land", "x", 0)))
    raw[-1] ^= 1  # last byte of the signature
    forged = api.post("/v1/txs", json={"tx": base64.b64encode(bytes(raw)).decode()})
    assert forged.status_code == 401 and forged.json()["code"] == "tx.bad_signature"
    missing_role = api.post("/v1/txs?wait=commit", json={"tx": signed_as("land", "finance")})
    assert missing_role.json()["receipt"]["code"] == "auth.missing_role"


def signed_as(sender: str, department: str) -> str:
    body = TxBody(CHAIN_ID, account(sender), 0, (anchor(department, "y"),), 1000, "")
    return base64.b64encode(sign_tx(body, [key(sender).signer()]).raw).decode()


def test_websocket_streams_filtered_events(api: TestClient) -> None:
    with api.websocket_connect(
        f"/v1/events?type=documents.anchored&account={account('land').text}"
    ) as ws:
        api.post("/v1/txs?wait=commit", json={"tx": signed("finance", "f", 0)})
        api.post("/v1/txs?wait=commit", json={"tx": signed("land", "deed", 0)})
        message = ws.receive_json()
    assert message["type"] == "documents.anchored"
    assert message["attrs"]["department"] == "land"


def test_metrics_are_prometheus_text(api: TestClient) -> None:
    api.post("/v1/txs?wait=commit", json={"tx": signed("land", "deed", 0)})
    text = api.get("/metrics").text
    assert "urbis_height 1" in text and "urbis_txs_total 1" in text
    assert "urbis_mempool_txs 0" in text


def test_governance_reads(api: TestClient) -> None:
    departments = api.get("/v1/governance/departments").json()
    assert {d["id"] for d in departments} == {"land", "finance", "registry"}
    holders = api.get("/v1/governance/roles/land.notary").json()
    assert holders[0]["account"] == account("land").text
    assert api.get("/v1/governance/council").json()["threshold"] == 2


def test_halted_node_refuses_new_txs_with_node_halted(api: TestClient, node: Node) -> None:
    from urbis.chain.errors import InvariantBroken

    def broken(*args: object) -> None:
        raise InvariantBroken("simulated bug")

    node.app.finalize_block = broken  # type: ignore[method-assign]
    api.post("/v1/txs", json={"tx": signed("land", "a", 0)})
    for _ in range(100):
        if node.driver.halted is not None:
            break
        import time

        time.sleep(0.02)
    assert api.get("/v1/status").json()["halted"] == "simulated bug"
    refused = api.post("/v1/txs", json={"tx": signed("land", "b", 1)})
    assert refused.status_code == 503 and refused.json()["code"] == "node.halted"
    assert "urbis_halted 1" in api.get("/metrics").text


def test_payments_routes_prove_and_report(api: TestClient, node: Node) -> None:
    """The council creates EUR, finance bills land, land pays; the API proves and reports it."""
    from urbis.sdk.verify import verify_state_proof

    send = Sender(api)

    send("mayor", "governance", "submit_proposal", **asset_proposal("EUR"))
    send("councillor_a", "governance", "approve_proposal", id=1)
    grant = billing_grant()
    send("finance", grant.module, grant.name, **grant.args)
    send("finance", "payments", "mint", asset="EUR", recipient=account("land"), amount_minor=10_000)
    send(
        "finance",
        "payments",
        "issue_invoice",
        id=b"api-invoice-1",
        department="finance",
        payer=account("land"),
        kind="fee",
        asset="EUR",
        amount_minor=2_500,
        due_at_ms=2_000_000_000_000,
        details_hash=b"\x07" * 32,
    )
    send("land", "payments", "pay_invoice", invoice_id=b"api-invoice-1", amount_minor=2_500)

    invoice = api.get(f"/v1/payments/invoices/{b'api-invoice-1'.hex()}").json()
    assert invoice["record"]["status"] == "paid"
    assert verify_state_proof(invoice, node.validator_keys).value is not None
    balance = api.get(
        f"/v1/payments/balances/{account('land').text}", params={"asset": "EUR"}
    ).json()
    assert balance["balance_minor"] == 7_500
    revenue = api.get("/v1/payments/reports/revenue", params={"department": "finance"}).json()
    assert [(r["kind"], r["net_minor"]) for r in revenue] == [("fee", 2_500)]
    csv = api.get(
        "/v1/payments/reports/statement/" + account("land").text, params={"format": "csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv") and b"api-invoice-1".hex() in csv.text
    missing = api.get("/v1/payments/invoices/" + "00" * 16)
    assert missing.status_code == 404 and missing.json()["code"] == "query.not_found"
    assert api.get("/v1/payments/assets/XYZ").json()["code"] == "query.not_found"

    # Transfers (read by sender and id), escrows and HTLCs: each route reads its record.
    send(
        "land",
        "payments",
        "transfer",
        id=b"api-transfer-1",
        recipient=account("registry"),
        asset="EUR",
        amount_minor=100,
    )
    send(
        "land",
        "payments",
        "open_escrow",
        id=b"api-escrow-1",
        beneficiary=account("registry"),
        asset="EUR",
        amount_minor=200,
        approvers=[account("finance")],
        timeout_blocks=100,
    )
    send(
        "land",
        "payments",
        "lock_htlc",
        id=b"api-htlc-1",
        recipient=account("registry"),
        asset="EUR",
        amount_minor=300,
        hashlock=b"\x05" * 32,
        timeout_blocks=100,
    )
    sent = api.get(f"/v1/payments/transfers/{account('land').text}/{b'api-transfer-1'.hex()}")
    assert sent.status_code == 200 and sent.json()["amount_minor"] == 100
    elsewhere = api.get(
        f"/v1/payments/transfers/{account('registry').text}/{b'api-transfer-1'.hex()}"
    )
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "query.not_found"
    escrow = api.get(f"/v1/payments/escrows/{b'api-escrow-1'.hex()}")
    assert escrow.status_code == 200 and escrow.json()["status"] == "open"
    assert escrow.json()["beneficiary"] == account("registry").text
    htlc = api.get(f"/v1/payments/htlcs/{b'api-htlc-1'.hex()}")
    assert htlc.status_code == 200 and htlc.json()["status"] == "locked"
    assert htlc.json()["amount_minor"] == 300
    for kind in ("escrows", "htlcs"):
        absent = api.get(f"/v1/payments/{kind}/" + "00" * 16)
        assert absent.status_code == 404 and absent.json()["code"] == "query.not_found"


def test_identity_routes_serve_did_documents_and_status_lists(api: TestClient) -> None:
    from urbis.sdk.builder import TxBuilder

    document = api.get(f"/v1/dids/{account('land').did}").json()
    assert document["id"] == account("land").did
    assert document["verificationMethod"][0]["publicKeyJwk"]["crv"] == "Ed25519"
    for nonce, (name, args) in enumerate(
        [
            ("create_status_list", {"list_id": 3, "size": 2048, "bits": 1}),
            ("set_status", {"list_id": 3, "index": 42, "status": 1}),
        ]
    ):
        tx = TxBuilder(CHAIN_ID).add("identity", name, **args).sign([key("land")], nonce, 1000)
        answer = api.post(
            "/v1/txs?wait=commit", json={"tx": base64.b64encode(tx.raw).decode()}
        ).json()
        assert answer["receipt"]["ok"], answer
    entry = api.get(f"/v1/identity/status/{account('land').text}/3", params={"index": 42})
    assert entry.json()["status"] == 1
    whole = api.get(f"/v1/identity/status/{account('land').text}/3").json()
    assert whole["size"] == 2048 and whole["bits"] == 1 and whole["lst"]
    missing = api.get(f"/v1/identity/status/{account('land').text}/9")
    assert missing.status_code == 404 and missing.json()["code"] == "query.not_found"
    assert api.get("/v1/dids/did:urbis:nonsense").json()["code"] == "query.bad_request"


def test_contract_routes_show_call_and_stream_events(api: TestClient) -> None:
    """The council deploys a token; the API serves its source, calls views, lists events."""
    from tests.helpers.contracts import CONTRACTS
    from urbis.modules.contracts import abi
    from urbis.modules.contracts.compiler import VYPER, compile_source

    send = Sender(api)

    source = (CONTRACTS / "token.vy").read_text()
    compiled = compile_source(VYPER, source)
    deploy = {
        "name": "token",
        "compiler": VYPER,
        "source": source,
        "bytecode_hash": compiled.bytecode_hash,
        "constructor_args": abi.encode_args(["address"], [account("finance").raw]),
    }
    send(
        "mayor",
        "governance",
        "submit_proposal",
        title="token",
        action={"module": "contracts", "name": "deploy", "args": deploy},
    )
    send("councillor_a", "governance", "approve_proposal", id=1)
    shown = api.get("/v1/contracts/token").json()
    assert shown["source"] == source and shown["compiler"] == VYPER
    assert api.get("/v1/contracts").json()[0]["name"] == "token"
    token = shown["address"]

    with api.websocket_connect("/v1/events?type=contracts.event") as ws:
        data = abi.encode_call(shown["abi"], "mint", [account("land"), 500])
        send("finance", "contracts", "call", contract=account("finance").parse(token), data=data)
        message = ws.receive_json()
    assert message["attrs"]["event"] == "Transfer"
    assert message["attrs"]["args"]["receiver"] == account("land").text

    called = api.post(
        f"/v1/contracts/{token}/call",
        json={"function": "balanceOf", "args": [account("land").text]},
    ).json()
    assert called["result"] == [500]
    viewed = api.get("/v1/contracts/token/call/totalSupply").json()
    assert viewed["result"] == [500]
    events = api.get("/v1/contracts/token/events").json()
    assert events[0]["event"] == "Transfer"
    bad = api.post(f"/v1/contracts/{token}/call", json={"function": "nope", "args": []})
    assert bad.status_code == 400 and bad.json()["code"] == "query.bad_request"
    missing = api.get("/v1/contracts/no-such-contract")
    assert missing.status_code == 404
