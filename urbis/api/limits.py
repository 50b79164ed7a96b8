"""Edge guards of the API: request body limits, JSON shape limits, the unhandled-error net.

Bodies are refused before they are read when their Content-Length is over the
limit, and cut off as soon as a chunked body passes it, so a flood of large
bodies costs the node no more than the limit each. JSON bodies are checked for
depth and digit runs with C-speed byte scans before any parser sees them: the
stdlib parser recurses per level and refuses numbers over 4,300 digits with
errors that are not `JSONDecodeError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from urbis.chain.errors import UrbisError, error_class
from urbis.crypto.jsonshape import has_number_longer_than, nests_deeper_than

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BodyTooLarge = error_class("request.too_large", "Request body too large", 413)
JsonTooDeep = error_class("request.too_deep", "JSON nested too deeply")
NumberTooLong = error_class("request.number_too_long", "JSON number has too many digits")

JSON_DEPTH_MAX = 32
"""Deepest JSON the API accepts: its deepest real body (a contract call's tuple args) needs ~5."""

JSON_DIGITS_MAX = 100
"""Longest run of digits in a JSON number: a uint256 has 78; big numbers travel as strings."""

BODY_MAX_BYTES = 1 << 20
"""Default limit for any request body: a single transaction is far smaller."""

BATCH_BODY_MAX_BYTES = 8 << 20
"""Default limit for `POST /v1/txs/batch`: 10,000 typical transactions in base64 fit."""

BATCH_PATH = "/v1/txs/batch"


def json_shape_error(body: bytes | str, depth_max: int = JSON_DEPTH_MAX) -> UrbisError | None:
    """Why this JSON text is too deep or holds too long a number, or None."""
    if has_number_longer_than(body, JSON_DIGITS_MAX):
        return NumberTooLong(f"a JSON number has more than {JSON_DIGITS_MAX} digits")
    if nests_deeper_than(body, depth_max):
        return JsonTooDeep(f"JSON is nested deeper than {depth_max} levels")
    return None


def loads_bounded(text: str | bytes, what: str) -> Any:
    """`json.loads` that raises only UrbisErrors: shape limits first, then syntax."""
    from urbis.chain.errors import BadQuery

    shape = json_shape_error(text)
    if shape is not None:
        raise shape
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadQuery(f"{what} is not valid JSON") from None


@dataclass
class ApiCounters:
    """What /metrics reports about the API's own health."""

    unhandled_exceptions: int = 0
    """Requests that reached the 500 net: each is a bug to fix."""
    coerced_errors: int = 0
    """ValueError/OverflowError/RecursionError answered 400 by the fallback: a missing bound."""
    bodies_refused: int = 0
    """Bodies refused with 413 for their size."""


def _problem_bytes(status: int, error_code: str, title: str, detail: str) -> bytes:
    return json.dumps(
        {
            "type": "https://urbis.example/errors/" + error_code,
            "title": title,
            "status": status,
            "code": error_code,
            "detail": detail,
        }
    ).encode()


async def send_problem(send: Send, status: int, error_code: str, title: str, detail: str) -> None:
    body = _problem_bytes(status, error_code, title, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: UrbisError) -> None:
    await send_problem(send, error.http_status, error.code, error.title, error.message)


class BodyLimits:
    """Refuse oversized bodies with 413 before reading them; refuse deep JSON with 400.

    The whole body (at most the limit) is read here, checked, then handed to
    the app unchanged; later `receive` calls go to the server, so the app still
    sees a disconnect.
    """

    def __init__(
        self,
        app: ASGIApp,
        counters: ApiCounters,
        body_max_bytes: int = BODY_MAX_BYTES,
        batch_body_max_bytes: int = BATCH_BODY_MAX_BYTES,
    ) -> None:
        self.app = app
        self.counters = counters
        self.body_max_bytes = body_max_bytes
        self.batch_body_max_bytes = batch_body_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.batch_body_max_bytes if scope["path"] == BATCH_PATH else self.body_max_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_problem(
                    send, 400, "request.invalid", "Invalid request", "bad Content-Length"
                )
                return
            if int(declared) > limit:
                await self._refuse(send, f"body of {int(declared)} bytes is over {limit}")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, f"body is over {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and content_type not in (b"application/cbor", b"application/octet-stream"):
            shape = json_shape_error(body)
            if shape is not None:
                await send_error(send, shape)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, detail: str) -> None:
        self.counters.bodies_refused += 1
        await send_error(send, BodyTooLarge(detail))


class UnhandledErrors:
    """Count, log and answer anything the handlers did not turn into a problem.

    Answering here (rather than re-raising to the server) keeps the client's
    keep-alive connection usable, and the count in /metrics lets fuzz tests
    assert that no request reached a traceback.
    """

    def __init__(self, app: ASGIApp, counters: ApiCounters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            self.counters.unhandled_exceptions += 1
            log.exception("unhandled API error on %s %s", scope.get("method", "WS"), scope["path"])
            if scope["type"] == "http" and not started:
                await send_problem(
                    send,
                    500,
                    "internal",
                    "Internal error",
                    "the node failed to answer; see its log",
                )
