"""What every route shares: the node, problem JSON, bounded parameters, proofs, reports.

Module routers (`urbis/modules/<name>/routes.py`) build on these, so each
answers errors, heights and proofs the same way.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from urbis.api.models import HeaderOut, ProofOut, StateOut
from urbis.api.views import header_view, value_view
from urbis.chain.errors import BadQuery
from urbis.node.runner import Node
from urbis.state.store import UnknownHeight

PROBLEM_BASE = "https://urbis.example/errors/"
HEIGHT_MAX = 2**63 - 1
"""SQLite's largest integer: heights are stored as SQLite integers."""
U64_MAX = 2**64 - 1
"""Proposal ids are 8-byte keys."""
U32_MAX = 2**32 - 1
"""Status list ids and indexes are 4-byte keys."""

Height = Annotated[int, Path(ge=0, le=HEIGHT_MAX, description="A block height")]
HeightQuery = Annotated[int | None, Query(ge=0, le=HEIGHT_MAX)]
ReportFormat = Annotated[str, Query(pattern="^(json|csv)$")]


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


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


def report(rows: list[dict[str, Any]], format: str) -> Any:
    """Rows as JSON, or as CSV (`format=csv`) for spreadsheets; one header row."""
    if format != "csv":
        return rows
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return PlainTextResponse(out.getvalue(), media_type="text/csv")


def b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def hex_param(text: str, what: str, size: int | None = None) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise BadQuery(f"{what} must be hex") from None
    if size is not None and len(value) != size:
        raise BadQuery(f"{what} must be {size} bytes ({2 * size} hex digits)")
    return value


def parse_state_key(text: str) -> bytes:
    """`documents/doc/0xab12…` -> b"documents/doc/" + bytes.fromhex("ab12…")."""
    out = b""
    for index, part in enumerate(text.split("/")):
        if index:
            out += b"/"
        out += hex_param(part[2:], "key part") if part.startswith("0x") else part.encode()
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
