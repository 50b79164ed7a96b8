"""Petitions under /v1/petitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from urbis.api.deps import NodeDep, hex_param, state_answer
from urbis.modules.petitions import keys


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/petitions", tags=["petitions"])

    @router.get("/{petition_id}", summary="A petition and its signature count, with a proof")
    def petition(petition_id: str, node: NodeDep, prove: bool = False) -> dict[str, Any]:
        record: dict[str, Any] = node.app.query("petitions", "petition", {"id": petition_id})
        if not prove:
            return {"record": record}
        key = keys.petition(hex_param(petition_id, "petition id"))
        answer = state_answer(node, key, None, True)
        return {"record": record, **answer.model_dump(include={"proof", "header", "cometbft"})}

    return router
