"""Accounts under /v1/accounts: keys, threshold, nonce, key history; an account's transactions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from urbis.api.deps import (
    HeightQuery,
    NodeDep,
)
from urbis.api.models import ReceiptOut
from urbis.api.views import receipt_view
from urbis.chain.errors import BadQuery
from urbis.chain.ids import AccountId


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

    @router.get("/{account_id}", summary="An account: keys, threshold, nonce, key history")
    def account(account_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = node.app.query("accounts", "account", {"id": account_id})
        return result

    @router.get("/{account_id}/txs", summary="Transactions sent by or naming an account")
    def account_txs(
        account_id: str,
        node: NodeDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before_height: HeightQuery = None,
    ) -> list[ReceiptOut]:
        try:
            parsed = AccountId.parse(account_id)
        except ValueError as error:
            raise BadQuery(str(error)) from None
        stored = node.app.blocks.account_txs(parsed.raw, limit, before_height)
        return [ReceiptOut(**receipt_view(s.receipt)) for s in stored]

    return router
