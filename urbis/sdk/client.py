"""API clients, sync and async, over one list of request definitions.

Every method returns the API's JSON; a problem response raises ApiError with
the stable `code`, so callers branch on codes, never on English text.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from urbis.chain.tx import Transaction

DEFAULT_API = "http://127.0.0.1:8080"


class ApiError(Exception):
    """The node refused or failed a request; `code` is stable, `detail` for people."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    timeout: float | None = None


def _http_args(request: Request, default_timeout: Any) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.path,
        "params": request.params,
        "json": request.json,
        "timeout": request.timeout or default_timeout,
    }


def _unreachable(base_url: Any, error: Exception) -> ApiError:
    return ApiError(0, "client.unreachable", f"cannot reach {base_url}: {error}", {})


def _submit(tx: Transaction | bytes, wait: bool, timeout: float) -> Request:
    raw = tx if isinstance(tx, bytes) else tx.raw
    params = {"wait": "commit", "timeout": timeout} if wait else None
    return Request(
        "POST",
        "/v1/txs",
        params,
        {"tx": base64.b64encode(raw).decode()},
        timeout + 10 if wait else None,
    )


def _batch(txs: Sequence[Transaction | bytes]) -> Request:
    items = [base64.b64encode(t if isinstance(t, bytes) else t.raw).decode() for t in txs]
    return Request("POST", "/v1/txs/batch", None, {"txs": items}, 120)


def _state(key: str, height: int | None, prove: bool, encoding: str) -> Request:
    params: dict[str, Any] = {"prove": str(prove).lower(), "encoding": encoding}
    if height is not None:
        params["height"] = height
    return Request("GET", f"/v1/state/{key}", params)


class _Requests:
    """The requests both clients make; subclasses say how to send them."""

    def status(self) -> Request:
        return Request("GET", "/v1/status")

    def genesis(self) -> Request:
        return Request("GET", "/v1/genesis")

    def submit(self, tx: Transaction | bytes, wait: bool = True, timeout: float = 30) -> Request:
        return _submit(tx, wait, timeout)

    def submit_batch(self, txs: Sequence[Transaction | bytes]) -> Request:
        return _batch(txs)

    def tx(self, tx_id: str) -> Request:
        return Request("GET", f"/v1/txs/{tx_id}")

    def block(self, height: int | str = "latest") -> Request:
        return Request("GET", f"/v1/blocks/{height}")

    def account(self, account_id: str) -> Request:
        return Request("GET", f"/v1/accounts/{account_id}")

    def account_txs(self, account_id: str, limit: int = 50) -> Request:
        return Request("GET", f"/v1/accounts/{account_id}/txs", {"limit": limit})

    def state(
        self, key: str, height: int | None = None, prove: bool = False, encoding: str = "text"
    ) -> Request:
        return _state(key, height, prove, encoding)

    def document(self, digest_hex: str, prove: bool = True) -> Request:
        return Request("GET", f"/v1/documents/{digest_hex}", {"prove": str(prove).lower()})

    def governance(self, path: str, **params: Any) -> Request:
        return Request("GET", f"/v1/governance/{path}", params or None)

    def payments(self, path: str, **params: Any) -> Request:
        return Request("GET", f"/v1/payments/{path}", params or None)

    def contract(self, ref: str) -> Request:
        """A contract by address or name: source, ABI, compiler, versions."""
        return Request("GET", f"/v1/contracts/{ref}")

    def contract_call(
        self, ref: str, function: str, args: Sequence[Any] = (), caller: str | None = None
    ) -> Request:
        """A read-only call on the latest state; the answer is ABI-decoded."""
        body = {"function": function, "args": list(args), "caller": caller}
        return Request("POST", f"/v1/contracts/{ref}/call", None, body)

    def contract_events(self, ref: str, limit: int = 50) -> Request:
        return Request("GET", f"/v1/contracts/{ref}/events", {"limit": limit})


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise ApiError(
            response.status_code,
            body.get("code", f"http.{response.status_code}"),
            body.get("detail", response.text[:200]),
            body,
        )
    return response.json()


def default_api() -> str:
    return os.environ.get("URBIS_API", DEFAULT_API)


class Client:
    """Synchronous client: `Client().call("status")` or the named helpers."""

    def __init__(self, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.requests = _Requests()
        self._http = httpx.Client(base_url=base_url or default_api(), timeout=timeout)

    def send(self, request: Request) -> Any:
        try:
            response = self._http.request(**_http_args(request, self._http.timeout))
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from None
        return _answer(response)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.send(getattr(self.requests, name)(*args, **kwargs))

    def status(self) -> Any:
        return self.call("status")

    def submit(self, tx: Transaction | bytes, wait: bool = True, timeout: float = 30) -> Any:
        return self.call("submit", tx, wait, timeout)

    def submit_batch(self, txs: Sequence[Transaction | bytes]) -> Any:
        return self.call("submit_batch", txs)

    def next_nonce(self, account_id: str) -> int:
        return int(self.call("account", account_id)["nonce"])

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """Asynchronous client with the same requests as `Client`."""

    def __init__(self, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.requests = _Requests()
        self._http = httpx.AsyncClient(base_url=base_url or default_api(), timeout=timeout)

    async def send(self, request: Request) -> Any:
        try:
            response = await self._http.request(**_http_args(request, self._http.timeout))
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from None
        return _answer(response)

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await self.send(getattr(self.requests, name)(*args, **kwargs))

    async def status(self) -> Any:
        return await self.call("status")

    async def submit(self, tx: Transaction | bytes, wait: bool = True, timeout: float = 30) -> Any:
        return await self.call("submit", tx, wait, timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
