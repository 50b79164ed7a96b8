"""Documents under /v1/documents: a record by SHA-256, with its proof."""

from __future__ import annotations

from fastapi import APIRouter

from urbis.api.deps import (
    NodeDep,
    hex_param,
    state_answer,
)
from urbis.api.models import DocumentOut
from urbis.modules.documents import keys


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/documents", tags=["documents"])

    @router.get("/{digest}", summary="A document's record by SHA-256, with a proof")
    def document(digest: str, node: NodeDep, prove: bool = True) -> DocumentOut:
        record = node.app.query("documents", "document", {"hash": digest})
        if not prove:
            return DocumentOut(record=record)
        answer = state_answer(node, keys.document(hex_param(digest, "hash", 32)), None, True)
        return DocumentOut(
            record=record, proof=answer.proof, header=answer.header, cometbft=answer.cometbft
        )

    return router
