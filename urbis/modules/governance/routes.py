"""Governance under /v1/governance: departments, roles, council, validators, proposals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from urbis.api.deps import (
    U64_MAX,
    NodeDep,
)
from urbis.node.runner import Node


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/governance", tags=["governance"])

    def query(node: Node, name: str, **params: str) -> Any:
        return node.app.query("governance", name, params)

    @router.get("/departments", summary="All departments")
    def departments(node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "departments")
        return result

    @router.get("/departments/{department_id}", summary="One department")
    def department(department_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "department", id=department_id)
        return result

    @router.get("/roles/{role}", summary="Accounts holding a role (`dept.role`)")
    def role_holders(role: str, node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "role_holders", role=role)
        return result

    @router.get("/council", summary="Council members and threshold")
    def council(node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "council")
        return result

    @router.get("/validators", summary="The validator set")
    def validators(node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "validators")
        return result

    @router.get("/proposals", summary="Proposals, newest first")
    def proposals(
        node: NodeDep,
        status: Annotated[str | None, Query(pattern="^(open|executed|failed|expired)$")] = None,
    ) -> list[dict[str, Any]]:
        params = {} if status is None else {"status": status}
        result: list[dict[str, Any]] = node.app.query("governance", "proposals", params)
        return result

    @router.get("/proposals/{proposal_id}", summary="One proposal")
    def proposal(
        proposal_id: Annotated[int, Path(ge=0, le=U64_MAX)], node: NodeDep
    ) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "proposal", id=str(proposal_id))
        return result

    return router
