"""Chain routes: status, genesis, submitting transactions, transactions, blocks, state.

Writes are transactions, admitted by `check_tx` and committed by the consensus
driver. `?wait=commit` holds the request until the block with the transaction
is committed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

import urbis
from urbis.api.deps import (
    Height,
    HeightQuery,
    NodeDep,
    b64,
    hex_param,
    parse_state_key,
    state_answer,
)
from urbis.api.models import (
    BatchItemOut,
    BatchOut,
    BlockOut,
    HeaderOut,
    ReceiptOut,
    StateOut,
    StatusOut,
    SubmitBatch,
    SubmitOut,
    SubmitTx,
    TxOut,
)
from urbis.api.views import header_view, receipt_view, tx_view
from urbis.chain.block import Receipt
from urbis.chain.errors import MalformedTx, NotFound
from urbis.chain.tx import decode_tx
from urbis.node.runner import Node

COMMIT_WAIT_MAX_S = 60.0


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


def chain_router() -> APIRouter:
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
        raws: list[bytes | None] = [b64(item) for item in body.txs]
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
        stored = node.app.blocks.tx(hex_param(tx_id, "transaction id", 32))
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
    raw = b64(data["tx"])
    if raw is None:
        raise MalformedTx("tx is not valid base64")
    return raw


def state_router() -> APIRouter:
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
        raw_key = hex_param(key, "key") if encoding == "hex" else parse_state_key(key)
        return state_answer(node, raw_key, height, prove)

    return router
