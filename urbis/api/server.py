"""The node's HTTP API: one router per concern, problem+json for every error.

Reads come from committed state; writes are transactions, admitted by
`check_tx` and committed by the consensus driver. `?wait=commit` holds the
request until the block with the transaction is committed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import urbis
from urbis.api.events import (
    CLOSE_BAD_REQUEST,
    CLOSE_BEHIND,
    CLOSE_HALTED,
    CLOSE_RESUME_TOO_OLD,
    REPLAY_BLOCKS_MAX,
    EventHub,
    events_endpoint,
)
from urbis.api.limits import ApiCounters, BodyLimits, UnhandledErrors, loads_bounded
from urbis.api.models import (
    BatchItemOut,
    BatchOut,
    BlockOut,
    ContractCallIn,
    DocumentOut,
    HeaderOut,
    ProofOut,
    ReceiptOut,
    StateOut,
    StatusOut,
    SubmitBatch,
    SubmitOut,
    SubmitTx,
    TxOut,
)
from urbis.api.views import header_view, jsonable, receipt_view, tx_view, value_view
from urbis.chain.block import BlockResult, Receipt, SignedHeader
from urbis.chain.errors import BadQuery, MalformedTx, NotFound, UrbisError
from urbis.chain.ids import AccountId
from urbis.chain.tx import decode_tx
from urbis.node.runner import Node
from urbis.state.errors import StoreCorrupt
from urbis.state.store import UnknownHeight

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://urbis.example/errors/"
COMMIT_WAIT_MAX_S = 60.0
HALT_POLL_S = 0.5
"""How often the API looks whether the node halted, to tell its event subscribers."""
HEIGHT_MAX = 2**63 - 1
"""SQLite's largest integer: heights are stored as SQLite integers."""
U64_MAX = 2**64 - 1
"""Proposal ids are 8-byte keys."""
U32_MAX = 2**32 - 1
"""Status list ids and indexes are 4-byte keys."""

Height = Annotated[int, Path(ge=0, le=HEIGHT_MAX, description="A block height")]
HeightQuery = Annotated[int | None, Query(ge=0, le=HEIGHT_MAX)]


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class CommitWaiters:
    """Futures for `?wait=commit` requests, resolved from the block thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[bytes, list[asyncio.Future[Receipt]]] = {}

    def register(self, tx_id: bytes) -> asyncio.Future[Receipt]:
        future: asyncio.Future[Receipt] = self.loop.create_future()
        self.waiting.setdefault(tx_id, []).append(future)
        return future

    def forget(self, tx_id: bytes, future: asyncio.Future[Receipt]) -> None:
        futures = self.waiting.get(tx_id, [])
        if future in futures:
            futures.remove(future)
        if not futures:
            self.waiting.pop(tx_id, None)

    def resolve(self, receipts: list[Receipt]) -> None:
        for receipt in receipts:
            for future in self.waiting.pop(receipt.tx_id, []):
                if not future.done():
                    future.set_result(receipt)


EVENTS_DESCRIPTION = f"""
**Live events** (WebSocket `/v1/events`). Filters: `module`, `type`, `account`;
`blocks=true` adds a notice per block. Each message is one JSON text frame:
`{{"kind": "block", "height", "hash", "txs"}}` or
`{{"kind": "event", "height", "tx_id", "sender", "type", "attrs"}}`.

Every subscriber has a bounded backlog. One that falls behind (it reads more
slowly than blocks come) is closed with code **{CLOSE_BEHIND}** and a reason such as
`events.behind: delivered through height 41; reconnect with from_height=42`.
Reconnect with `from_height=N` to replay committed blocks' notices and transaction
events from height N (at most {REPLAY_BLOCKS_MAX} blocks back), then continue live
with no gap. Messages at or after `from_height` that arrived before the close are sent
again by the replay: drop them (a block may have been cut off mid-way). End-of-block
events are live only; their effects are
in state. A `from_height` further back is closed with **{CLOSE_RESUME_TOO_OLD}**
(read `/v1/blocks/{{height}}` instead); a malformed one with **{CLOSE_BAD_REQUEST}**.
A node shutting down closes with 1012; a node that halted (see `halted` in
`/v1/status`) closes with **{CLOSE_HALTED}**, reason `node.halted: …`, and refuses new
subscriptions the same way.

**Limits.** Request bodies over the node's limit (`api_body_max_bytes`, and
`api_batch_body_max_bytes` for `/v1/txs/batch`) are refused with 413
`request.too_large` before they are read. JSON nested deeper than 32 levels is
refused with `request.too_deep`, a number of more than 100 digits with
`request.number_too_long`. Heights, ids and indexes are bounded as each
parameter's schema states.
"""


def create_api(node: Node) -> FastAPI:
    counters = ApiCounters()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        waiters = CommitWaiters(loop)
        hub = EventHub()
        app.state.waiters = waiters
        app.state.hub = hub
        serving = True

        def on_block(signed: SignedHeader, result: BlockResult) -> None:
            if not serving:
                return  # the loop may be closed; the node can outlive its API
            loop.call_soon_threadsafe(waiters.resolve, result.receipts)
            loop.call_soon_threadsafe(hub.publish, signed, result)

        async def watch_halt() -> None:
            # The block thread halts without knowing about the API: look every
            # half second, and tell subscribers once.
            while node.halted is None:
                await asyncio.sleep(HALT_POLL_S)
            hub.halt(node.halted)

        node.on_block(on_block)
        watcher = asyncio.ensure_future(watch_halt())
        try:
            yield
        finally:
            serving = False
            watcher.cancel()

    api = FastAPI(
        title="Urbis node API",
        version=urbis.__version__,
        description=(
            "A city's permissioned, publicly readable ledger. Writes are signed "
            "transactions (deterministic CBOR, base64 in JSON). Reads come from committed "
            "state; `prove=true` adds a Merkle proof and the signed header it leads to. "
            "Errors are RFC 9457 problem+json with a stable `code`.\n" + EVENTS_DESCRIPTION
        ),
        lifespan=lifespan,
    )
    api.state.node = node
    api.state.counters = counters
    _install_error_handlers(api)
    api.include_router(_chain_router())
    api.include_router(_accounts_router())
    api.include_router(_state_router())
    api.include_router(_documents_router())
    api.include_router(_governance_router())
    api.include_router(_payments_router())
    api.include_router(_identity_router())
    api.include_router(_contracts_router())
    api.add_api_route(
        "/metrics",
        _metrics,
        methods=["GET"],
        response_class=PlainTextResponse,
        tags=["node"],
        summary="Prometheus metrics",
    )
    api.add_api_websocket_route("/v1/events", events_endpoint)
    # added last = outermost: the error net wraps the body limits and the app
    api.add_middleware(
        BodyLimits,
        counters=counters,
        body_max_bytes=node.config.api_body_max_bytes,
        batch_body_max_bytes=node.config.api_batch_body_max_bytes,
    )
    api.add_middleware(UnhandledErrors, counters=counters)
    return api


HTTP_CODES = {
    400: "request.malformed",
    404: "request.not_found",
    405: "request.method_not_allowed",
    413: "request.too_large",
}
"""Codes for the errors the framework raises itself (before a route runs)."""


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(UrbisError)
    async def urbis_error(request: Request, error: UrbisError) -> JSONResponse:
        return problem(
            error.http_status, error.code, error.title, error.message, **jsonable(error.details)
        )

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in error.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem(422, "request.invalid", "Invalid request", detail, errors=errors)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(error.status_code, f"http.{error.status_code}")
        return problem(error.status_code, code, str(error.detail), str(error.detail))

    async def coerced(request: Request, error: Exception) -> JSONResponse:
        # A value the parameter schemas should have refused reached the code: answer
        # 400 so the client's connection survives, but count it so tests notice.
        counters: ApiCounters = request.app.state.counters
        counters.coerced_errors += 1
        log.warning(
            "%s reached a handler on %s", type(error).__name__, request.url.path, exc_info=error
        )
        return problem(400, "request.out_of_range", "Value out of range", str(error)[:200])

    for kind in (OverflowError, RecursionError, ValueError):
        api.add_exception_handler(kind, coerced)

    @api.exception_handler(UnknownHeight)
    async def unknown_height(request: Request, error: UnknownHeight) -> JSONResponse:
        return problem(404, "query.unknown_height", "Unknown height", str(error))

    @api.exception_handler(StoreCorrupt)
    async def store_corrupt(request: Request, error: StoreCorrupt) -> JSONResponse:
        # What was read does not match what the chain committed to: say so, and stop
        # the node from producing blocks until its operator has restored the store.
        node: Node = request.app.state.node
        node.app.halt(f"StoreCorrupt: {error}")
        log.critical("store corrupt: %s", error)
        return problem(500, error.code, error.title, str(error))

    @api.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        return problem(500, "internal", "Internal error", "the node failed to answer; see its log")


# -- chain: status, transactions, blocks -------------------------------------------------


def _chain_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["chain"])

    @router.get("/status", summary="Chain and node status")
    def status(node: NodeDep) -> StatusOut:
        info = node.app.info()
        latest = node.app.blocks.header(info.height) if info.height > 0 else None
        return StatusOut(
            chain_id=info.chain_id,
            name=node.genesis.name,
            height=info.height,
            app_hash=info.app_hash.hex(),
            latest_block_time_ms=None if latest is None else latest.header.time_ms,
            consensus=node.config.consensus,
            consensus_status=node.driver.status(),
            validator=node.driver.validator_key.hex(),
            validators=node.app.query("governance", "validators", {}),
            mempool_txs=node.driver.pending_txs(),
            state_keys=len(node.app.store),
            version=urbis.__version__,
            halted=node.halted,
        )

    @router.get("/genesis", summary="The genesis document (validator keys to pin)")
    def genesis(node: NodeDep) -> dict[str, Any]:
        return node.genesis.to_json()

    @router.post(
        "/txs",
        summary="Submit one signed transaction",
        description='Body: JSON `{"tx": base64}` or the raw CBOR with '
        "`Content-Type: application/cbor`. `wait=commit` returns the receipt.",
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/json": {"schema": SubmitTx.model_json_schema()},
                    "application/cbor": {"schema": {"type": "string", "format": "binary"}},
                },
                "required": True,
            }
        },
    )
    async def submit(
        request: Request,
        node: NodeDep,
        wait: Annotated[str, Query(pattern="^(none|commit)$")] = "none",
        timeout: Annotated[float, Query(gt=0, le=COMMIT_WAIT_MAX_S)] = 30.0,
    ) -> SubmitOut:
        raw = await _raw_tx(request)
        tx = node.app.decode(raw)  # remembered: check_tx finds it decoded
        waiters: CommitWaiters = request.app.state.waiters
        future = waiters.register(tx.id) if wait == "commit" else None
        try:
            await run_in_threadpool(node.submit, raw)
        except BaseException:
            if future is not None:
                waiters.forget(tx.id, future)
            raise
        if future is None:
            return SubmitOut(tx_id=tx.id.hex(), status="pending")
        try:
            receipt = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            waiters.forget(tx.id, future)
            return SubmitOut(tx_id=tx.id.hex(), status="pending")
        return SubmitOut(
            tx_id=tx.id.hex(), status="committed", receipt=ReceiptOut(**receipt_view(receipt))
        )

    @router.post("/txs/batch", summary="Submit many signed transactions at once")
    async def submit_batch(body: SubmitBatch, node: NodeDep) -> BatchOut:
        raws: list[bytes | None] = [_b64(item) for item in body.txs]
        valid = [r for r in raws if r is not None]
        submissions = iter(await run_in_threadpool(node.submit_many, valid))
        results = []
        for index, raw in enumerate(raws):
            if raw is None:
                results.append(
                    BatchItemOut(
                        index=index,
                        accepted=False,
                        tx_id=None,
                        code=MalformedTx.code,
                        message="not base64",
                    )
                )
                continue
            sub = next(submissions)
            results.append(
                BatchItemOut(
                    index=index,
                    accepted=sub.error is None,
                    tx_id=sub.tx_id.hex() or None,
                    code=None if sub.error is None else sub.error.code,
                    message=None if sub.error is None else sub.error.message,
                )
            )
        accepted = sum(1 for r in results if r.accepted)
        return BatchOut(accepted=accepted, rejected=len(results) - accepted, results=results)

    @router.get("/txs/{tx_id}", summary="A committed transaction and its receipt")
    def get_tx(tx_id: str, node: NodeDep) -> TxOut:
        stored = node.app.blocks.tx(_hex(tx_id, "transaction id", 32))
        if stored is None:
            raise NotFound(f"no committed transaction {tx_id}")
        return TxOut(
            tx=tx_view(decode_tx(stored.raw)), receipt=ReceiptOut(**receipt_view(stored.receipt))
        )

    @router.get("/blocks/latest", summary="The latest block")
    def latest_block(node: NodeDep) -> BlockOut:
        return _block(node, node.app.blocks.latest_height())

    @router.get("/blocks/{height}", summary="A block by height")
    def block(height: Height, node: NodeDep) -> BlockOut:
        return _block(node, height)

    return router


def _block(node: Node, height: int) -> BlockOut:
    signed = node.app.blocks.header(height)
    if signed is None:
        raise NotFound(f"no block at height {height} (latest is {node.app.blocks.latest_height()})")
    txs = node.app.blocks.block_txs(height)
    return BlockOut(
        header=HeaderOut(**header_view(signed)),
        txs=[ReceiptOut(**receipt_view(t.receipt)) for t in txs],
    )


async def _raw_tx(request: Request) -> bytes:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/cbor"):
        return body
    try:
        data = json.loads(body)  # depth and digits were bounded by the BodyLimits middleware
    except (ValueError, RecursionError):  # includes JSONDecodeError and UnicodeDecodeError
        raise MalformedTx('body is not JSON; send {"tx": base64} or application/cbor') from None
    if not isinstance(data, dict) or not isinstance(data.get("tx"), str):
        raise MalformedTx('body must be {"tx": "<base64 of the signed transaction>"}')
    raw = _b64(data["tx"])
    if raw is None:
        raise MalformedTx("tx is not valid base64")
    return raw


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _hex(text: str, what: str, size: int | None = None) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise BadQuery(f"{what} must be hex") from None
    if size is not None and len(value) != size:
        raise BadQuery(f"{what} must be {size} bytes ({2 * size} hex digits)")
    return value


# -- accounts --------------------------------------------------------------------------


def _accounts_router() -> APIRouter:
    router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

    @router.get("/{account_id}", summary="An account: keys, threshold, nonce, key history")
    def account(account_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = node.app.query("accounts", "account", {"id": account_id})
        return result

    @router.get("/{account_id}/txs", summary="Transactions sent by or naming an account")
    def account_txs(
        account_id: str,
        node: NodeDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before_height: HeightQuery = None,
    ) -> list[ReceiptOut]:
        try:
            parsed = AccountId.parse(account_id)
        except ValueError as error:
            raise BadQuery(str(error)) from None
        stored = node.app.blocks.account_txs(parsed.raw, limit, before_height)
        return [ReceiptOut(**receipt_view(s.receipt)) for s in stored]

    return router


# -- state and proofs -------------------------------------------------------------------


def _state_router() -> APIRouter:
    router = APIRouter(prefix="/v1/state", tags=["state"])

    @router.get(
        "/{key:path}",
        summary="A state value at a height, with an inclusion or absence proof",
        description="`key` is the state key as text with `0x`-prefixed hex for binary parts "
        "(e.g. `documents/doc/0x<sha256>`), or all hex with `encoding=hex`.",
    )
    def state(
        key: str,
        node: NodeDep,
        height: HeightQuery = None,
        prove: bool = False,
        encoding: Annotated[str, Query(pattern="^(text|hex)$")] = "text",
    ) -> StateOut:
        raw_key = _hex(key, "key") if encoding == "hex" else parse_state_key(key)
        return state_answer(node, raw_key, height, prove)

    return router


def parse_state_key(text: str) -> bytes:
    """`documents/doc/0xab12…` -> b"documents/doc/" + bytes.fromhex("ab12…")."""
    out = b""
    for index, part in enumerate(text.split("/")):
        if index:
            out += b"/"
        out += _hex(part[2:], "key part") if part.startswith("0x") else part.encode()
    return out


def state_answer(node: Node, key: bytes, height: int | None, prove: bool) -> StateOut:
    store = node.app.store
    with node.driver.block_lock:
        at = (node.provable_height() if prove else store.version) if height is None else height
        if prove:
            proof = store.prove(key, at)
            value = proof.value
        else:
            value = store.get_at(key, at)
    header = None
    proof_out = None
    consensus = None
    if prove:
        proof_out = ProofOut(**proof.to_json())
        signed = node.app.blocks.header(at)
        header = None if signed is None else HeaderOut(**header_view(signed))
        if node.config.consensus == "cometbft":
            consensus = node.driver.signed_header(at + 1)
            if consensus is None:
                raise UnknownHeight(
                    f"height {at + 1} is not committed yet; its header vouches "
                    f"for the state after {at}: ask again in a moment"
                )
    return StateOut(
        key=key.hex(),
        height=at,
        value=None if value is None else value.hex(),
        decoded=value_view(value),
        proof=proof_out,
        header=header,
        cometbft=None if consensus is None else {"signed_header": consensus},
    )


# -- documents --------------------------------------------------------------------------


def _documents_router() -> APIRouter:
    router = APIRouter(prefix="/v1/documents", tags=["documents"])

    @router.get("/{digest}", summary="A document's record by SHA-256, with a proof")
    def document(digest: str, node: NodeDep, prove: bool = True) -> DocumentOut:
        record = node.app.query("documents", "document", {"hash": digest})
        if not prove:
            return DocumentOut(record=record)
        answer = state_answer(node, b"documents/doc/" + _hex(digest, "hash", 32), None, True)
        return DocumentOut(
            record=record, proof=answer.proof, header=answer.header, cometbft=answer.cometbft
        )

    return router


# -- governance -------------------------------------------------------------------------


def _governance_router() -> APIRouter:
    router = APIRouter(prefix="/v1/governance", tags=["governance"])

    def query(node: Node, name: str, **params: str) -> Any:
        return node.app.query("governance", name, params)

    @router.get("/departments", summary="All departments")
    def departments(node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "departments")
        return result

    @router.get("/departments/{department_id}", summary="One department")
    def department(department_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "department", id=department_id)
        return result

    @router.get("/roles/{role}", summary="Accounts holding a role (`dept.role`)")
    def role_holders(role: str, node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "role_holders", role=role)
        return result

    @router.get("/council", summary="Council members and threshold")
    def council(node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "council")
        return result

    @router.get("/validators", summary="The validator set")
    def validators(node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "validators")
        return result

    @router.get("/proposals", summary="Proposals, newest first")
    def proposals(
        node: NodeDep,
        status: Annotated[str | None, Query(pattern="^(open|executed|failed|expired)$")] = None,
    ) -> list[dict[str, Any]]:
        params = {} if status is None else {"status": status}
        result: list[dict[str, Any]] = node.app.query("governance", "proposals", params)
        return result

    @router.get("/proposals/{proposal_id}", summary="One proposal")
    def proposal(
        proposal_id: Annotated[int, Path(ge=0, le=U64_MAX)], node: NodeDep
    ) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "proposal", id=str(proposal_id))
        return result

    return router


# -- identity -----------------------------------------------------------------------------


def _identity_router() -> APIRouter:
    router = APIRouter(tags=["identity"])

    def query(node: Node, name: str, **params: str) -> Any:
        return node.app.query("identity", name, params)

    @router.get("/v1/dids/{did}", summary="A DID document: current keys (JWK), key history")
    def did(did: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "did", did=did)
        return result

    @router.get("/v1/identity/types/{vct}", summary="A credential type")
    def credential_type(vct: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "type", vct=vct)
        return result

    @router.get("/v1/identity/trust/{vct}", summary="Issuers trusted for a type, with periods")
    def trust(vct: str, node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "trust", vct=vct)
        return result

    @router.get(
        "/v1/identity/status/{issuer}/{list_id}",
        summary="A Token Status List (lst: DEFLATE, base64url), or one entry",
    )
    def status_list(
        issuer: str,
        list_id: Annotated[int, Path(ge=0, le=U32_MAX)],
        node: NodeDep,
        index: Annotated[int | None, Query(ge=0, le=U32_MAX)] = None,
    ) -> dict[str, Any]:
        if index is not None:
            entry: dict[str, Any] = query(
                node, "status", issuer=issuer, list_id=str(list_id), index=str(index)
            )
            return entry
        result: dict[str, Any] = query(node, "status_list", issuer=issuer, list_id=str(list_id))
        return result

    @router.get("/v1/identity/verifiers/{account_id}", summary="What a verifier may request")
    def verifier(account_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "verifier", account=account_id)
        return result

    return router


# -- payments ---------------------------------------------------------------------------


def _payments_router() -> APIRouter:
    from urbis.modules.payments import reports

    router = APIRouter(prefix="/v1/payments", tags=["payments"])

    def query(node: Node, name: str, **params: str) -> Any:
        return node.app.query("payments", name, params)

    @router.get("/assets/{code}", summary="An asset: issuer, minted, burned, pending")
    def asset(code: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "asset", code=code)
        return result

    @router.get("/balances/{account_id}", summary="An account's balance of an asset")
    def balance(account_id: str, node: NodeDep, asset: str) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "balance", account=account_id, asset=asset)
        return result

    @router.get("/invoices/{invoice_id}", summary="An invoice, with a state proof")
    def invoice(invoice_id: str, node: NodeDep, prove: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = query(node, "invoice", id=invoice_id)
        if not prove:
            return {"record": record}
        answer = state_answer(
            node, b"payments/invoice/" + _hex(invoice_id, "invoice id"), None, True
        )
        return {"record": record, **answer.model_dump(include={"proof", "header", "cometbft"})}

    @router.get(
        "/transfers/{sender}/{transfer_id}",
        summary="A transfer by its sender and id (ids are each sender's own)",
    )
    def transfer(sender: str, transfer_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "transfer", sender=sender, id=transfer_id)
        return result

    for kind in ("escrow", "htlc"):

        def read(record_id: str, node: NodeDep, kind: str = kind) -> dict[str, Any]:
            result: dict[str, Any] = query(node, kind, id=record_id)
            return result

        router.add_api_route(
            f"/{kind}s/{{record_id}}", read, methods=["GET"], summary=f"A {kind} by id"
        )

    @router.get("/reports/revenue", summary="A department's net revenue by month and kind")
    def revenue(
        node: NodeDep,
        department: str,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Any:
        found = node.app.query("governance", "department", {"id": department})
        payee = AccountId.parse(found["admin"])
        rows = reports.revenue(node.app.store, node.app.blocks, department, payee)
        return (
            PlainTextResponse(reports.to_csv(rows), media_type="text/csv")
            if (format == "csv")
            else rows
        )

    @router.get("/reports/statement/{account_id}", summary="Every invoice billed to an account")
    def statement(
        account_id: str,
        node: NodeDep,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Any:
        try:
            payer = AccountId.parse(account_id)
        except ValueError as error:
            raise BadQuery(str(error)) from None
        rows = reports.statement(node.app.store, payer)
        return (
            PlainTextResponse(reports.to_csv(rows), media_type="text/csv")
            if (format == "csv")
            else rows
        )

    @router.get("/reports/open", summary="Unpaid invoices; overdue ones marked")
    def open_invoices(
        node: NodeDep,
        department: str | None = None,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Any:
        latest = node.app.blocks.header(node.app.store.version)
        now = 0 if latest is None else latest.header.time_ms
        rows = reports.open_invoices(node.app.store, department, now)
        return (
            PlainTextResponse(reports.to_csv(rows), media_type="text/csv")
            if (format == "csv")
            else rows
        )

    return router


# -- metrics and events -------------------------------------------------------------------


def _metrics(request: Request) -> str:
    node: Node = request.app.state.node
    counters: ApiCounters = request.app.state.counters
    hub: EventHub = request.app.state.hub
    info = node.app.info()
    lines = [
        "# HELP urbis_height Height of the last committed block.",
        "# TYPE urbis_height gauge",
        f"urbis_height {info.height}",
        "# HELP urbis_txs_total Transactions committed.",
        "# TYPE urbis_txs_total counter",
        f"urbis_txs_total {node.app.blocks.tx_count()}",
        "# HELP urbis_mempool_txs Transactions waiting in the mempool.",
        "# TYPE urbis_mempool_txs gauge",
        f"urbis_mempool_txs {node.driver.pending_txs()}",
        "# HELP urbis_block_duration_ms Time to execute and commit the last block.",
        "# TYPE urbis_block_duration_ms gauge",
        f"urbis_block_duration_ms {node.driver.last_block_ms:.3f}",
        "# HELP urbis_state_keys Keys in the current state.",
        "# TYPE urbis_state_keys gauge",
        f"urbis_state_keys {len(node.app.store)}",
        "# HELP urbis_halted 1 when block production stopped on an error.",
        "# TYPE urbis_halted gauge",
        f"urbis_halted {0 if node.halted is None else 1}",
        "# HELP urbis_api_unhandled_exceptions_total API requests that failed with a 500.",
        "# TYPE urbis_api_unhandled_exceptions_total counter",
        f"urbis_api_unhandled_exceptions_total {counters.unhandled_exceptions}",
        "# HELP urbis_api_coerced_errors_total Out-of-range values answered 400 by the fallback.",
        "# TYPE urbis_api_coerced_errors_total counter",
        f"urbis_api_coerced_errors_total {counters.coerced_errors}",
        "# HELP urbis_api_bodies_refused_total Request bodies refused with 413 for their size.",
        "# TYPE urbis_api_bodies_refused_total counter",
        f"urbis_api_bodies_refused_total {counters.bodies_refused}",
        "# HELP urbis_events_subscribers WebSocket clients subscribed to /v1/events.",
        "# TYPE urbis_events_subscribers gauge",
        f"urbis_events_subscribers {len(hub.subscribers)}",
        "# HELP urbis_events_dropped_total Subscribers closed for falling behind.",
        "# TYPE urbis_events_dropped_total counter",
        f"urbis_events_dropped_total {hub.dropped_total}",
    ]
    return "\n".join(lines) + "\n"


# -- contracts --------------------------------------------------------------------------


def _contracts_router() -> APIRouter:
    from urbis.chain.context import BlockInfo
    from urbis.modules.contracts import abi as contract_abi
    from urbis.modules.contracts import keys as contract_keys
    from urbis.modules.contracts.module import read_meta, read_only_call, resolve

    router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

    @router.get("", summary="Every contract name with its versions (newest last)")
    def contracts(node: NodeDep) -> list[dict[str, Any]]:
        out = []
        for key, _ in node.app.store.scan_prefix(contract_keys.name(""), limit=1000):
            name = key[len(contract_keys.name("")) :].decode()
            out.append(node.app.query("contracts", "contract", {"ref": name}))
        for item in out:
            item.pop("source", None)
            item.pop("abi", None)
        return out

    @router.get("/{ref}", summary="A contract by address or name: source, ABI, compiler, versions")
    def contract(ref: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = node.app.query("contracts", "contract", {"ref": ref})
        return result

    @router.post("/{ref}/call", summary="Call a function read-only on the latest state")
    def call(ref: str, body: ContractCallIn, node: NodeDep) -> dict[str, Any]:
        state = node.app.store
        address = resolve(state, ref)
        item_abi = json.loads(read_meta(state, address).abi_json)
        try:
            data = contract_abi.encode_call(item_abi, body.function, body.args)
            caller = AccountId.parse(body.caller) if body.caller else None
        except (ValueError, TypeError, OverflowError) as error:
            raise BadQuery(f"bad call: {error}") from None
        height = state.version
        signed = node.app.blocks.header(height)
        time_ms = signed.header.time_ms if signed is not None else 0
        info = BlockInfo(node.app.chain_id or "", height, time_ms, b"")
        outcome = read_only_call(state, info, address, data, caller)
        if not outcome.ok:
            raise outcome.error()
        values = contract_abi.decode_output(item_abi, body.function, outcome.output)
        return {
            "contract": address.text,
            "function": body.function,
            "height": height,
            "result": jsonable(values),
            "gas_used": outcome.gas_used,
        }

    @router.get("/{ref}/call/{function}", summary="Call a view function (args as JSON in ?args=)")
    def call_get(ref: str, function: str, node: NodeDep, args: str = "[]") -> dict[str, Any]:
        parsed = loads_bounded(args, "args")
        if not isinstance(parsed, list):
            raise BadQuery("args must be a JSON list")
        return call(ref, ContractCallIn(function=function, args=parsed), node)

    @router.get("/{ref}/events", summary="The contract's decoded events, newest first")
    def events(
        ref: str,
        node: NodeDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before_height: HeightQuery = None,
    ) -> list[dict[str, Any]]:
        address = resolve(node.app.store, ref)
        out = []
        for stored in node.app.blocks.account_txs(address.raw, limit, before_height):
            receipt = stored.receipt
            for event in receipt.events:
                if event.attrs.get("contract") != address.text:
                    continue
                if event.type not in ("contracts.event", "contracts.log"):
                    continue
                out.append(
                    {
                        "height": receipt.height,
                        "tx_id": receipt.tx_id.hex(),
                        "type": event.type,
                        **jsonable(event.attrs),
                    }
                )
        return out

    return router
