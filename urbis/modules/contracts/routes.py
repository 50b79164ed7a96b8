"""Contracts under /v1/contracts: source, ABI, versions, read-only calls, decoded events."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from urbis.api.deps import (
    HeightQuery,
    NodeDep,
)
from urbis.api.limits import loads_bounded
from urbis.api.models import ContractCallIn
from urbis.api.views import jsonable
from urbis.chain.errors import BadQuery
from urbis.chain.ids import AccountId


def router() -> APIRouter:
    from urbis.chain.context import BlockInfo
    from urbis.modules.contracts import abi as contract_abi
    from urbis.modules.contracts import keys as contract_keys
    from urbis.modules.contracts.module import read_meta, read_only_call, resolve

    router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

    @router.get("", summary="Every contract name with its versions (newest last)")
    def contracts(node: NodeDep) -> list[dict[str, Any]]:
        out = []
        for key, _ in node.app.store.scan_prefix(contract_keys.name(""), limit=1000):
            name = key[len(contract_keys.name("")) :].decode()
            out.append(node.app.query("contracts", "contract", {"ref": name}))
        for item in out:
            item.pop("source", None)
            item.pop("abi", None)
        return out

    @router.get("/{ref}", summary="A contract by address or name: source, ABI, compiler, versions")
    def contract(ref: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = node.app.query("contracts", "contract", {"ref": ref})
        return result

    @router.post("/{ref}/call", summary="Call a function read-only on the latest state")
    def call(ref: str, body: ContractCallIn, node: NodeDep) -> dict[str, Any]:
        state = node.app.store
        address = resolve(state, ref)
        item_abi = json.loads(read_meta(state, address).abi_json)
        try:
            data = contract_abi.encode_call(item_abi, body.function, body.args)
            caller = AccountId.parse(body.caller) if body.caller else None
        except (ValueError, TypeError, OverflowError) as error:
            raise BadQuery(f"bad call: {error}") from None
        height = state.version
        signed = node.app.blocks.header(height)
        time_ms = signed.header.time_ms if signed is not None else 0
        info = BlockInfo(node.app.chain_id or "", height, time_ms, b"")
        outcome = read_only_call(state, info, address, data, caller)
        if not outcome.ok:
            raise outcome.error()
        values = contract_abi.decode_output(item_abi, body.function, outcome.output)
        return {
            "contract": address.text,
            "function": body.function,
            "height": height,
            "result": jsonable(values),
            "gas_used": outcome.gas_used,
        }

    @router.get("/{ref}/call/{function}", summary="Call a view function (args as JSON in ?args=)")
    def call_get(ref: str, function: str, node: NodeDep, args: str = "[]") -> dict[str, Any]:
        parsed = loads_bounded(args, "args")
        if not isinstance(parsed, list):
            raise BadQuery("args must be a JSON list")
        return call(ref, ContractCallIn(function=function, args=parsed), node)

    @router.get("/{ref}/events", summary="The contract's decoded events, newest first")
    def events(
        ref: str,
        node: NodeDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before_height: HeightQuery = None,
    ) -> list[dict[str, Any]]:
        address = resolve(node.app.store, ref)
        out = []
        for stored in node.app.blocks.account_txs(address.raw, limit, before_height):
            receipt = stored.receipt
            for event in receipt.events:
                if event.attrs.get("contract") != address.text:
                    continue
                if event.type not in ("contracts.event", "contracts.log"):
                    continue
                out.append(
                    {
                        "height": receipt.height,
                        "tx_id": receipt.tx_id.hex(),
                        "type": event.type,
                        **jsonable(event.attrs),
                    }
                )
        return out

    return router
