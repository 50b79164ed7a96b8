"""Property-based API fuzzing generated from the node's own OpenAPI document.

Every operation in `/openapi.json` gets requests built from its parameter
schemas (in range, at the edges, far outside, and garbage), and bodies shaped
like its request schema or not JSON-shaped at all. A stateful machine anchors
real signed documents and reads them back through the generated GET routes.
The properties: no 5xx; every 4xx is application/problem+json with a `code`;
`urbis_api_unhandled_exceptions_total` (and the fallback counter) stay 0.

Default: 8 requests per operation plus 6 stateful runs (a few hundred requests,
seconds). URBIS_FUZZ=long: 150 per operation and 60 stateful runs (thousands).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test

from tests.helpers.city import account, city_home, doc_hash, signed_anchor
from tests.helpers.process import serving
from urbis.api.server import create_api
from urbis.node.home import NodeConfig
from urbis.node.runner import Node

LONG = os.environ.get("URBIS_FUZZ") == "long"
EXAMPLES_PER_OPERATION = 150 if LONG else 8
STATEFUL_RUNS = 60 if LONG else 6
DEPARTMENTS = ("land", "finance", "registry")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation the API documents."""
    schema = create_api(SimpleNamespace(config=NodeConfig())).openapi()  # type: ignore[arg-type]
    return [
        (method.upper(), path, operation)
        for path, item in sorted(schema["paths"].items())
        for method, operation in sorted(item.items())
    ]


OPERATIONS = _operations()
COMPONENTS = create_api(SimpleNamespace(config=NodeConfig())).openapi()["components"]  # type: ignore[arg-type]


# -- the node under test -------------------------------------------------------------------


class Live:
    """A node and its API on a loopback port, plus what the tests created on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=30)
        self.known: dict[str, list[str]] = {
            "account": [account(d).text for d in DEPARTMENTS],
            "tx": [],
            "hash": [],
            "height": ["1"],
        }

    def anchor(self, department: str, label: str) -> dict[str, Any]:
        nonce = self.client.get(f"/v1/accounts/{account(department).text}").json()["nonce"]
        tx = signed_anchor(department, label, nonce)
        answer = self.client.post(
            "/v1/txs?wait=commit", json={"tx": base64.b64encode(tx.raw).decode()}
        )
        return {"answer": answer, "raw": tx.raw, "hash": doc_hash(label).hex()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    node = Node(city_home(tmp_path_factory.mktemp("fuzz") / "home", block_interval_ms=20))
    node.start()
    try:
        with serving(node) as url:
            state = Live(url)
            seeded = state.anchor("land", "seed")
            receipt = seeded["answer"].json()["receipt"]
            state.known["tx"].append(receipt["tx_id"])
            state.known["hash"].append(seeded["hash"])
            state.known["height"].append(str(receipt["height"]))
            try:
                yield state
            finally:
                state.client.close()
    finally:
        node.stop()


def check(response: httpx.Response) -> None:
    """The fuzz properties for one answer."""
    request = f"{response.request.method} {response.request.url}"[:300]
    assert response.status_code < 500, f"{request} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", "")
        if is_oauth_error(response):
            return
        assert content_type.startswith("application/problem+json"), f"{request}: {content_type}"
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], f"{request}: {body}"
        assert body["status"] == response.status_code


def is_oauth_error(response: httpx.Response) -> bool:
    """OpenID4VCI/VP endpoints (outside /v1) answer errors as their standards say: RFC 6749
    §5.2's JSON object with an `error` code, which wallets parse; the rest of the API
    answers problem+json."""
    if response.request.url.path.startswith("/v1/"):
        return False
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    body = response.json()
    return isinstance(body, dict) and isinstance(body.get("error"), str) and bool(body["error"])


def counters(live: Live) -> dict[str, float]:
    text = live.client.get("/metrics").text
    return {
        name: float(value)
        for name, value in re.findall(r"^(urbis_api_\w+) (\S+)$", text, re.MULTILINE)
    }


# -- strategies from the schema --------------------------------------------------------------

EDGE_INTEGERS = [0, 1, -1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64, 10**30]
GARBAGE = st.sampled_from(
    ["", "0x", "zz", "..", "%00", "[" * 1_500, "9" * 5_000, "é", "null", "1e999", " "]
)


Known = dict[str, list[str]]
"""Values that exist on the node, by kind: fixed per run, so generation is reproducible."""


def known_values(known: Known, name: str) -> list[str]:
    lowered = name.lower()
    if "account" in lowered or lowered in ("issuer", "did", "payer"):
        return known["account"] + [f"did:urbis:{a}" for a in known["account"]]
    if lowered in ("tx_id",):
        return known["tx"]
    if lowered in ("digest", "hash", "key"):
        return known["hash"] + [f"documents/doc/0x{h}" for h in known["hash"]]
    if "height" in lowered:
        return known["height"]
    if lowered in ("department", "department_id"):
        return list(DEPARTMENTS)
    return []


def value_strategy(schema: dict[str, Any], known: list[str]) -> st.SearchStrategy[str]:
    options = schema.get("anyOf", [schema])
    choices: list[st.SearchStrategy[str]] = [GARBAGE, st.text(max_size=40)]
    if known:
        choices.append(st.sampled_from(known))
    for option in options:
        kind = option.get("type")
        if kind == "integer":
            low = option.get("minimum", option.get("exclusiveMinimum", -(2**70)))
            high = option.get("maximum", 2**70)
            choices.append(st.integers(low, high).map(str))
            choices.append(st.sampled_from(EDGE_INTEGERS).map(str))
        elif kind == "number":
            choices.append(st.floats(allow_nan=True).map(str))
        elif kind == "boolean":
            choices.append(st.sampled_from(["true", "false", "1", "maybe"]))
        elif kind == "string" and "pattern" in option:
            choices.append(st.from_regex(option["pattern"], fullmatch=True))
        elif "enum" in option:
            choices.append(st.sampled_from([str(v) for v in option["enum"]]))
    return st.one_of(choices)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def body_strategy(operation: dict[str, Any], known: Known) -> st.SearchStrategy[bytes | None]:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return st.just(None)
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = COMPONENTS["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in schema.get("properties", {}).items():
        field_kinds = {o.get("type") for o in field.get("anyOf", [field])}
        if "array" in field_kinds:
            fields[name] = st.lists(JSON_VALUES | st.sampled_from(known["account"]), max_size=4)
        else:
            fields[name] = JSON_VALUES | st.sampled_from(known["account"] + ["balanceOf"])
    shaped = st.fixed_dictionaries(fields).map(lambda d: json.dumps(d).encode())
    return st.one_of(
        shaped,
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.sampled_from([b"[" * 100_000, b"{" * 50 + b"}" * 50, b"1" * 10_000, b"", b"\xff\xfe"]),
    )


@st.composite
def requests_for(
    draw: st.DrawFn, method: str, path: str, operation: dict[str, Any], known: Known
) -> tuple[str, str, dict[str, str], bytes | None]:
    url = path
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        value = draw(value_strategy(parameter.get("schema", {}), known_values(known, name)))
        if where == "path":
            safe = "/" if path.endswith("{" + name + "}") and name == "key" else ""
            url = url.replace("{" + name + "}", quote(value, safe=safe) or "%20")
        elif where == "query" and (parameter.get("required") or draw(st.booleans())):
            query[name] = value
    return method, url, query, draw(body_strategy(operation, known))


# -- the properties ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[f"{method} {path}" for method, path, _ in OPERATIONS],
)
def test_generated_requests_never_5xx_and_4xx_are_problem_json(
    live: Live, method: str, path: str, operation: dict[str, Any]
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(request=requests_for(method, path, operation, live.known))
    def run(request: tuple[str, str, dict[str, str], bytes | None]) -> None:
        verb, url, query, body = request
        if verb == "POST" and url.startswith("/v1/txs"):
            query.pop("wait", None)  # a generated valid tx must not hold the run for 60 s
        headers = {"content-type": "application/json"} if body is not None else {}
        check(live.client.request(verb, url, params=query, content=body, headers=headers))

    run()
    assert counters(live).get("urbis_api_unhandled_exceptions_total") == 0


def _integer_parameters() -> list[tuple[str, str, str, str]]:
    found = []
    for method, path, operation in OPERATIONS:
        for parameter in operation.get("parameters", []):
            options = parameter.get("schema", {}).get("anyOf", [parameter.get("schema", {})])
            if any(option.get("type") == "integer" for option in options):
                found.append((method, path, parameter["name"], parameter["in"]))
    return found


@pytest.mark.parametrize(
    ("method", "path", "name", "where"),
    _integer_parameters(),
    ids=[f"{m} {p} {n}" for m, p, n, _ in _integer_parameters()],
)
def test_edge_integers_in_every_integer_parameter(
    live: Live, method: str, path: str, name: str, where: str
) -> None:
    """A deterministic sweep beside the random one: each edge value in each integer slot."""
    for value in [*EDGE_INTEGERS, -(2**63) - 1, 10**100]:
        url, query = path, {}
        for other in re.findall(r"{(\w+)(?::path)?}", path):
            filler = str(value) if other == name else (known_values(live.known, other) or ["x"])[0]
            url = re.sub(r"{" + other + r"(?::path)?}", quote(filler, safe=""), url)
        if where == "query":
            query[name] = str(value)
        body = b"{}" if method == "POST" else None
        check(live.client.request(method, url, params=query, content=body))
    assert counters(live)["urbis_api_coerced_errors_total"] == 0


class AnchorThenRead(RuleBasedStateMachine):
    """Create through the API, then read what was created through the generated routes."""

    live: Live
    documents = Bundle("documents")

    @rule(target=documents, department=st.sampled_from(DEPARTMENTS), label=st.text(max_size=30))
    def anchor(self, department: str, label: str) -> dict[str, Any]:
        made = self.live.anchor(department, f"{department}/{label}/{time.monotonic_ns()}")
        check(made["answer"])
        receipt = made["answer"].json()["receipt"]
        assert receipt["ok"], receipt
        record = {
            "tx_id": receipt["tx_id"],
            "height": receipt["height"],
            "hash": made["hash"],
            "sender": account(department).text,
            "raw": made["raw"],
        }
        return record

    @rule(document=documents)
    def read_back(self, document: dict[str, Any]) -> None:
        client = self.live.client
        tx = client.get(f"/v1/txs/{document['tx_id']}")
        check(tx)
        assert tx.json()["tx"]["sender"] == document["sender"]
        block = client.get(f"/v1/blocks/{document['height']}").json()
        assert document["tx_id"] in [t["tx_id"] for t in block["txs"]]
        record = client.get(f"/v1/documents/{document['hash']}").json()
        assert record["record"]["hash"] == document["hash"] and record["proof"] is not None
        state = client.get(f"/v1/state/documents/doc/0x{document['hash']}?prove=true").json()
        assert state["value"] is not None
        history = client.get(
            f"/v1/accounts/{document['sender']}/txs",
            params={"before_height": document["height"] + 1, "limit": 500},
        ).json()
        assert document["tx_id"] in [t["tx_id"] for t in history]

    @rule(document=documents)
    def replay_is_refused_with_a_code(self, document: dict[str, Any]) -> None:
        answer = self.live.client.post(
            "/v1/txs", json={"tx": base64.b64encode(document["raw"]).decode()}
        )
        check(answer)
        assert answer.json()["code"] in ("tx.nonce_used", "tx.duplicate")

    @rule(
        document=documents,
        operation=st.sampled_from([op for op in OPERATIONS if op[0] == "GET"]),
        data=st.data(),
    )
    def generated_read_with_created_values(
        self, document: dict[str, Any], operation: tuple[str, str, dict[str, Any]], data: Any
    ) -> None:
        known = {
            "account": [document["sender"]],
            "tx": [document["tx_id"]],
            "hash": [document["hash"]],
            "height": [str(document["height"])],
        }
        method, url, query, _ = data.draw(requests_for(*operation, known))
        check(self.live.client.request(method, url, params=query))


def test_stateful_create_then_read(live: Live) -> None:
    AnchorThenRead.live = live
    run_state_machine_as_test(
        AnchorThenRead,
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_no_unhandled_or_coerced_exceptions_after_fuzzing(live: Live) -> None:
    """Runs last in this module: the fuzz above left both counters at 0."""
    seen = counters(live)
    assert seen["urbis_api_unhandled_exceptions_total"] == 0
    assert seen["urbis_api_coerced_errors_total"] == 0
