"""Deploy contracts through the council in tests, and call them by function name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers.city import CityChain
from urbis.chain.block import Receipt
from urbis.chain.context import BlockInfo
from urbis.chain.ids import AccountId
from urbis.modules.contracts import abi
from urbis.modules.contracts.compiler import VYPER, compile_source
from urbis.modules.contracts.module import read_meta
from urbis.sdk.builder import action

CONTRACTS = Path(__file__).resolve().parent.parent.parent / "contracts"


def propose_deploy(
    chain: CityChain,
    name: str,
    source: str,
    constructor: Sequence[tuple[str, Any]] = (),
    bytecode_hash: bytes | None = None,
    gas_limit: int = 10_000_000,
    compiler: str = VYPER,
) -> int:
    """Submit the deployment as a council proposal (the mayor's approval included); its id."""
    compiled = compile_source(compiler, source)
    args = abi.encode_args([t for t, _ in constructor], [v for _, v in constructor])
    deploy = {
        "module": "contracts",
        "name": "deploy",
        "args": {
            "name": name,
            "compiler": compiler,
            "source": source,
            "bytecode_hash": bytecode_hash or compiled.bytecode_hash,
            "constructor_args": args,
            "gas_limit": gas_limit,
        },
    }
    receipt = chain.run("mayor", action("governance", "submit_proposal", title=name, action=deploy))
    assert receipt.ok, receipt.message
    (event,) = [e for e in receipt.events if e.type == "governance.proposal_submitted"]
    return int(event.attrs["id"])


def deploy(
    chain: CityChain,
    name: str,
    source: str,
    constructor: Sequence[tuple[str, Any]] = (),
    compiler: str = VYPER,
) -> AccountId:
    proposal = propose_deploy(chain, name, source, constructor, compiler=compiler)
    receipt = chain.run("councillor_a", action("governance", "approve_proposal", id=proposal))
    assert receipt.ok, receipt.message
    deployed = [e for e in receipt.events if e.type == "contracts.deployed"]
    assert deployed, receipt.events
    return AccountId.parse(deployed[0].attrs["contract"])


def contract_abi(chain: CityChain, contract: AccountId) -> abi.Abi:
    return json.loads(read_meta(chain.app.store, contract).abi_json)


def call(
    chain: CityChain,
    sender: str,
    contract: AccountId,
    function: str,
    *args: Any,
    gas_limit: int = 3_000_000,
) -> Receipt:
    data = abi.encode_call(contract_abi(chain, contract), function, args)
    return chain.run(
        sender, action("contracts", "call", contract=contract, data=data, gas_limit=gas_limit)
    )


def view(chain: CityChain, contract: AccountId, function: str, *args: Any) -> Any:
    from urbis.modules.contracts.module import read_only_call

    contract_abi_ = contract_abi(chain, contract)
    data = abi.encode_call(contract_abi_, function, args)
    outcome = read_only_call(
        chain.app.store,
        BlockInfo(chain.genesis.chain_id, chain.height, chain.clock, b""),
        contract,
        data,
    )
    assert outcome.ok, outcome.error()
    values = abi.decode_output(contract_abi_, function, outcome.output)
    return values[0] if len(values) == 1 else values
