"""Identity: DID documents under /v1/dids, types, trust and status lists under /v1/identity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from urbis.api.deps import (
    U32_MAX,
    NodeDep,
)
from urbis.node.runner import Node


def router() -> APIRouter:
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
