"""Payments under /v1/payments: assets, balances, records, and reports in JSON or CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from urbis.api.deps import (
    NodeDep,
    ReportFormat,
    hex_param,
    report,
    state_answer,
)
from urbis.chain.errors import BadQuery
from urbis.chain.ids import AccountId
from urbis.modules.payments import keys
from urbis.node.runner import Node


def router() -> APIRouter:
    from urbis.modules.payments import reports

    router = APIRouter(prefix="/v1/payments", tags=["payments"])

    def query(node: Node, name: str, **params: str) -> Any:
        return node.app.query("payments", name, params)

    @router.get("/assets/{code}", summary="An asset: issuer, minted, burned, pending")
    def asset(code: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "asset", code=code)
        return result

    @router.get("/balances/{account_id}", summary="An account's balance of an asset")
    def balance(account_id: str, node: NodeDep, asset: str) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "balance", account=account_id, asset=asset)
        return result

    @router.get("/invoices/{invoice_id}", summary="An invoice, with a state proof")
    def invoice(invoice_id: str, node: NodeDep, prove: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = query(node, "invoice", id=invoice_id)
        if not prove:
            return {"record": record}
        answer = state_answer(node, keys.invoice(hex_param(invoice_id, "invoice id")), None, True)
        return {"record": record, **answer.model_dump(include={"proof", "header", "cometbft"})}

    @router.get(
        "/transfers/{sender}/{transfer_id}",
        summary="A transfer by its sender and id (ids are each sender's own)",
    )
    def transfer(sender: str, transfer_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "transfer", sender=sender, id=transfer_id)
        return result

    for kind in ("escrow", "htlc"):

        def read(record_id: str, node: NodeDep, kind: str = kind) -> dict[str, Any]:
            result: dict[str, Any] = query(node, kind, id=record_id)
            return result

        router.add_api_route(
            f"/{kind}s/{{record_id}}", read, methods=["GET"], summary=f"A {kind} by id"
        )

    @router.get("/reports/revenue", summary="A department's net revenue by month and kind")
    def revenue(
        node: NodeDep,
        department: str,
        format: ReportFormat = "json",
    ) -> Any:
        found = node.app.query("governance", "department", {"id": department})
        payee = AccountId.parse(found["admin"])
        rows = reports.revenue(node.app.store, node.app.blocks, department, payee)
        return report(rows, format)

    @router.get("/reports/statement/{account_id}", summary="Every invoice billed to an account")
    def statement(
        account_id: str,
        node: NodeDep,
        format: ReportFormat = "json",
    ) -> Any:
        try:
            payer = AccountId.parse(account_id)
        except ValueError as error:
            raise BadQuery(str(error)) from None
        rows = reports.statement(node.app.store, payer)
        return report(rows, format)

    @router.get("/reports/open", summary="Unpaid invoices; overdue ones marked")
    def open_invoices(
        node: NodeDep,
        department: str | None = None,
        format: ReportFormat = "json",
    ) -> Any:
        latest = node.app.blocks.header(node.app.store.version)
        now = 0 if latest is None else latest.header.time_ms
        rows = reports.open_invoices(node.app.store, department, now)
        return report(rows, format)

    return router
