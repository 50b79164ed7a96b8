"""Big, deep and out-of-range input: every answer is 4xx problem JSON, never a 500.

Served over real loopback HTTP (uvicorn in a thread, or a real `urbis node`
for the memory test), so keep-alive and body streaming behave as for users.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.city import account, city_home
from tests.helpers.process import free_port, serving, start_node
from urbis.node.home import NodeConfig
from urbis.node.runner import Node

ACCOUNT = account("land").text


@contextlib.contextmanager
def served(tmp_path: Path, config: NodeConfig | None = None) -> Iterator[str]:
    """The API of an in-process node on a loopback port; yields its URL."""
    node = Node(city_home(tmp_path / "home"), config)
    node.start()
    try:
        with serving(node) as url:
            yield url
    finally:
        node.stop()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    with served(tmp_path) as url:
        yield url


def metric(api: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", httpx.get(f"{api}/metrics").text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text[:300]


def raw_exchange(api: str, head: bytes, body_prefix: bytes) -> bytes:
    """Send a request head and part of its body; return the first bytes of the answer."""
    port = int(api.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):  # the server may answer and close mid-body
            sock.sendall(body_prefix)
        return sock.recv(65536)


# -- item 7: big integers in paths and queries -------------------------------------------

OUT_OF_RANGE = [
    "/v1/blocks/99999999999999999999999",
    "/v1/blocks/9223372036854775808",
    "/v1/blocks/-1",
    "/v1/governance/proposals/-1",
    "/v1/governance/proposals/18446744073709551616",
    f"/v1/identity/status/{ACCOUNT}/4294967296",
    f"/v1/identity/status/{ACCOUNT}/0?index=4294967296",
    f"/v1/accounts/{ACCOUNT}/txs?before_height=9223372036854775808",
    f"/v1/accounts/{ACCOUNT}/txs?before_height=-5",
    "/v1/contracts/token/events?before_height=9223372036854775808",
    "/v1/state/documents?height=9223372036854775808",
]


@pytest.mark.parametrize("path", OUT_OF_RANGE)
def test_out_of_range_integer_is_request_invalid_and_keeps_the_connection(
    api: str, path: str
) -> None:
    with httpx.Client(base_url=api) as client:
        assert_problem(client.get(path), 422, "request.invalid")
        assert client.get("/v1/status").status_code == 200  # same keep-alive pool still works
    assert metric(api, "urbis_api_unhandled_exceptions_total") == 0
    assert metric(api, "urbis_api_coerced_errors_total") == 0


def test_every_integer_parameter_is_bounded_in_the_openapi_schema(api: str) -> None:
    schema = httpx.get(f"{api}/openapi.json").json()
    unbounded = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                options = parameter["schema"].get("anyOf", [parameter["schema"]])
                for option in options:
                    if option.get("type") != "integer":
                        continue
                    if "maximum" not in option or (
                        "minimum" not in option and "exclusiveMinimum" not in option
                    ):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


# -- item 7: deep and huge JSON ------------------------------------------------------------

DEEP = b"[" * 100_000
LONG_NUMBER = b'{"tx": ' + b"7" * 100_000 + b"}"


@pytest.mark.parametrize("path", ["/v1/txs", "/v1/txs/batch", "/v1/contracts/token/call"])
def test_deep_json_body_is_request_too_deep(api: str, path: str) -> None:
    assert_problem(httpx.post(f"{api}{path}", content=DEEP), 400, "request.too_deep")
    balanced = b'{"function": "f", "args": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert_problem(httpx.post(f"{api}{path}", content=balanced), 400, "request.too_deep")
    assert metric(api, "urbis_api_unhandled_exceptions_total") == 0


@pytest.mark.parametrize("path", ["/v1/txs", "/v1/txs/batch", "/v1/contracts/token/call"])
def test_hundred_thousand_digit_number_is_request_number_too_long(api: str, path: str) -> None:
    response = httpx.post(f"{api}{path}", content=LONG_NUMBER)
    assert_problem(response, 400, "request.number_too_long")


def test_deep_args_in_query_is_request_too_deep(api: str) -> None:
    response = httpx.get(f"{api}/v1/contracts/token/call/f", params={"args": "[" * 1_500})
    assert_problem(response, 400, "request.too_deep")
    assert metric(api, "urbis_api_unhandled_exceptions_total") == 0


def test_brackets_and_digits_inside_strings_do_not_count(api: str) -> None:
    """A string full of `[` or digits is data, not nesting: the body reaches the route."""
    body = {"tx": "[" * 5_000 + "9" * 5_000}
    response = httpx.post(f"{api}/v1/txs", json=body)
    assert_problem(response, 400, "tx.malformed")  # not base64: the route itself answered


# -- item 4: body size -----------------------------------------------------------------------


def test_declared_oversized_body_is_request_too_large_before_it_is_read(api: str) -> None:
    head = (
        b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 57000000\r\n\r\n"
    )
    answer = raw_exchange(api, head, b'{"txs": ["' + b"A" * 65_536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer and b'"request.too_large"' in answer
    assert metric(api, "urbis_api_bodies_refused_total") == 1


def test_chunked_oversized_body_is_request_too_large(api: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"txs": ["'
        for _ in range(12):  # 12 MiB, over the 8 MiB batch limit
            yield b"A" * (1 << 20)
        yield b'"]}'

    response = httpx.post(f"{api}/v1/txs/batch", content=chunks(), timeout=30)
    assert_problem(response, 413, "request.too_large")


def test_single_tx_route_has_the_smaller_limit(api: str) -> None:
    response = httpx.post(f"{api}/v1/txs", json={"tx": "A" * (2 << 20)})
    assert_problem(response, 413, "request.too_large")


def test_body_limit_is_a_node_setting(tmp_path: Path) -> None:
    config = NodeConfig(api_body_max_bytes=4096, api_batch_body_max_bytes=8192)
    with served(tmp_path, config) as api:
        assert_problem(
            httpx.post(f"{api}/v1/txs", json={"tx": "A" * 5000}), 413, "request.too_large"
        )
        small = httpx.post(f"{api}/v1/txs", json={"tx": "A" * 3000})
        assert_problem(small, 400, "tx.malformed")  # under the limit: the route decides
        big_batch = httpx.post(f"{api}/v1/txs/batch", json={"txs": ["A" * 9000]})
        assert_problem(big_batch, 413, "request.too_large")


@pytest.mark.slow
def test_eight_concurrent_57_mb_bodies_leave_memory_at_baseline(tmp_path: Path) -> None:
    """The issue's attack: 8 x 57 MB to /v1/txs/batch. Bound: RSS within 40 MB of baseline."""
    port = free_port()
    home = city_home(tmp_path / "home", api_port=port)
    process = start_node(home.path, port, tmp_path / "node.log")
    api = f"http://127.0.0.1:{port}"
    try:
        baseline = rss_mb(process.pid)
        answers: list[int] = []

        def attack(declared: bool) -> None:
            head = b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            if declared:
                head += b"Content-Length: 57000000\r\n\r\n"
                answer = raw_exchange(api, head, b'{"txs": ["' + b"A" * (4 << 20))
            else:
                head += b"Transfer-Encoding: chunked\r\n\r\n"
                chunk = b"A" * (1 << 20)
                framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(57))
                answer = raw_exchange(api, head, framed)
            answers.append(int(answer.split(b" ", 2)[1]))

        threads = [threading.Thread(target=attack, args=(i % 2 == 0,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [413] * 8
        assert httpx.get(f"{api}/v1/status").status_code == 200
        grown = rss_mb(process.pid) - baseline
        assert grown < 40, f"RSS grew {grown:.0f} MB after 8 refused 57 MB bodies"
    finally:
        process.kill()
        process.wait(10)


def rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert match
    return int(match.group(1)) / 1024


def test_an_unterminated_string_of_escaped_quotes_is_scanned_in_linear_time() -> None:
    """`"\\"\\"\\"…` never closes: the string pattern once retried from every quote, so a
    1 MB body held the event loop for most of an hour."""
    import time

    from urbis.api.limits import json_shape_error

    body = b'"' + b'\\"' * 500_000
    started = time.monotonic()
    assert json_shape_error(body) is None
    assert time.monotonic() - started < 5.0  # linear: ~0.06 s here; quadratic: ~50 min
