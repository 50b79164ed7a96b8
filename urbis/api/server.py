"""The node's HTTP API: the chain's routes, each module's router, problem+json for every
error, live events, metrics.

Module routes live with their modules (`urbis/modules/<name>/routes.py`) and
are mounted from the module registry, so a new capability adds no code here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import urbis
from urbis.api.chain import CommitWaiters, chain_router, state_router
from urbis.api.deps import problem
from urbis.api.events import (
    CLOSE_BAD_REQUEST,
    CLOSE_BEHIND,
    CLOSE_HALTED,
    CLOSE_RESUME_TOO_OLD,
    REPLAY_BLOCKS_MAX,
    EventHub,
    events_endpoint,
)
from urbis.api.limits import ApiCounters, BodyLimits, UnhandledErrors
from urbis.api.views import jsonable
from urbis.chain.block import BlockResult, SignedHeader
from urbis.chain.errors import UrbisError
from urbis.modules import module_routers
from urbis.node.runner import Node
from urbis.state.errors import StoreCorrupt
from urbis.state.store import UnknownHeight
from urbis.web import mount as mount_portal

log = logging.getLogger(__name__)

HALT_POLL_S = 0.5
"""How often the API looks whether the node halted, to tell its event subscribers."""

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
    api.include_router(chain_router())
    api.include_router(state_router())
    for router in module_routers():
        api.include_router(router)
    mount_portal(api)  # the portal's HTML pages at / (urbis/web), after every /v1 route
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
        # What was read does not match what the chain committed to: say so, loudly. A
        # block that reads a damaged value halts the node by itself (check_tx and
        # execution check every value they read); a read of an old height need not.
        log.critical("store corrupt: %s", error)
        return problem(500, error.code, error.title, str(error))

    @api.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        return problem(500, "internal", "Internal error", "the node failed to answer; see its log")


def _abci_lines(calls: dict[str, tuple[int, float]]) -> list[str]:
    """Per ABCI call: how many, and the app thread's CPU on them (what a transaction
    costs the app, call by call; empty on a solo node)."""
    if not calls:
        return []
    return [
        "# HELP urbis_abci_requests_total ABCI requests answered, by call.",
        "# TYPE urbis_abci_requests_total counter",
        *(f'urbis_abci_requests_total{{call="{k}"}} {n}' for k, (n, _) in calls.items()),
        "# HELP urbis_abci_cpu_seconds_total The app thread's CPU answering ABCI requests.",
        "# TYPE urbis_abci_cpu_seconds_total counter",
        *(f'urbis_abci_cpu_seconds_total{{call="{k}"}} {s:.6f}' for k, (_, s) in calls.items()),
    ]


def _collector_lines() -> list[str]:
    """Python's cyclic collector: its passes by generation (an oldest-generation pass walks
    the whole heap) and what a serving node froze out of its walks at start."""
    return [
        "# HELP urbis_gc_collections_total Passes of the cyclic garbage collector.",
        "# TYPE urbis_gc_collections_total counter",
        *(
            f'urbis_gc_collections_total{{generation="{generation}"}} {stats["collections"]}'
            for generation, stats in enumerate(gc.get_stats())
        ),
        "# HELP urbis_gc_frozen_objects Objects frozen at start, which no pass walks.",
        "# TYPE urbis_gc_frozen_objects gauge",
        f"urbis_gc_frozen_objects {gc.get_freeze_count()}",
    ]


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
        *_abci_lines(node.driver.abci_calls()),
        *_collector_lines(),
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
