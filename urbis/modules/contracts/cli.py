"""`urbis contract`: propose Vyper contracts to the council, read them, call them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.chain.ids import AccountId
from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    act,
    client,
    emit,
    fail,
    home_path,
    read_text,
    reported,
    require_ok,
    send_actions,
    stdout,
    table,
    trusted_validators,
)
from urbis.sdk.builder import TxBuilder

app = typer.Typer(help="Smart contracts: propose, show, call, events", no_args_is_help=True)

GasOption = Annotated[int, typer.Option("--gas", help="Gas limit for the call")]


def _value(text: str) -> Any:
    """A command-line argument: JSON when it parses (numbers, true, lists), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.command("propose")
def propose(
    source: Annotated[Path, typer.Argument(help="Vyper source file", exists=True, dir_okay=False)],
    name: Annotated[str, typer.Option("--name", help="Contract name, e.g. land-registry")],
    signer: FromOption,
    args: Annotated[
        list[str] | None, typer.Option("--arg", help="A constructor argument (repeat, in order)")
    ] = None,
    gas: GasOption = 10_000_000,
    compiler: Annotated[
        str | None,
        typer.Option("--compiler", help="vyper-0.4.3 or solc-0.8.37; default by file extension"),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compile locally with the chain's pinned compiler and propose the deployment to the council.

    The proposal carries the source and the bytecode hash; every node compiles the
    source again and deploys only if its bytecode hashes the same.

    Example: urbis contract propose contracts/land_registry.vy --name land-registry
    --arg EUR --arg 200 --arg urbis1… --from mayor
    """
    from urbis.chain.errors import UrbisError
    from urbis.modules.contracts import abi
    from urbis.modules.contracts.compiler import (
        SOLC,
        VYPER,
        CompilerUnavailable,
        compile_source,
    )

    text = read_text(source, "source")
    chosen = compiler or (SOLC if source.suffix == ".sol" else VYPER)
    try:
        compiled = compile_source(chosen, text)
    except UrbisError as error:
        fail(error.code, error.message, 2)
    except CompilerUnavailable as error:
        fail("cli.compiler_unavailable", str(error), 1)
    constructor = next((i for i in compiled.abi if i.get("type") == "constructor"), {})
    types = [abi.param_type(p) for p in constructor.get("inputs", [])]
    values = [_value(a) for a in (args or [])]
    if len(values) != len(types):
        fail(
            "cli.bad_args", f"the constructor takes {len(types)} arguments ({', '.join(types)})", 2
        )
    try:
        encoded = abi.encode_args(types, values)
    except (ValueError, TypeError, OverflowError) as error:
        fail("cli.bad_args", f"constructor arguments do not fit {types}: {error}", 2)
    deploy = {
        "name": name,
        "compiler": chosen,
        "source": text,
        "bytecode_hash": compiled.bytecode_hash,
        "constructor_args": encoded,
        "gas_limit": gas,
    }

    def build(builder: TxBuilder) -> None:
        builder.add(
            "governance",
            "submit_proposal",
            title=f"Deploy contract {name}",
            action={"module": "contracts", "name": "deploy", "args": deploy},
        )

    with reported():
        receipt = require_ok(send_actions(api, home_path(home), signer, build))
    events = receipt["events"]
    proposal_id = next(
        e["attrs"]["id"] for e in events if e["type"] == "governance.proposal_submitted"
    )
    deployed = [e["attrs"] for e in events if e["type"] == "contracts.deployed"]
    result = {
        "proposal": proposal_id,
        "bytecode_hash": compiled.bytecode_hash.hex(),
        "deployed": deployed[0]["contract"] if deployed else None,
    }
    emit(
        result,
        as_json,
        lambda d: stdout.print(
            f"Proposal {d['proposal']} submitted (bytecode {d['bytecode_hash'][:16]}…)"
            + (f"; deployed at {d['deployed']}" if d["deployed"] else "; awaiting approvals")
        ),
    )


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="Contract address (urbis1…) or name")],
    source: Annotated[bool, typer.Option("--source", help="Print the source")] = False,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what runs at a contract: name, version, compiler, functions (and source).

    Example: urbis contract show land-registry --source
    """
    with reported():
        info = client(api).call("contract", ref)

    def human(d: dict[str, Any]) -> None:
        functions = [
            f"{i['name']}({', '.join(p['type'] for p in i['inputs'])})"
            for i in d["abi"]
            if i.get("type") == "function"
        ]
        table(
            f"Contract {d['name']} v{d['version']}",
            [
                ("address", d["address"]),
                ("compiler", d["compiler"]),
                ("bytecode hash", d["bytecode_hash"]),
                ("deployed at height", d["deployed_at_height"]),
                ("versions", ", ".join(d["versions"])),
                ("functions", "\n".join(functions)),
            ],
        )
        if source:
            stdout.print(d["source"], highlight=False, markup=False)

    emit(info, as_json, human)


@app.command("call")
def call(
    ref: Annotated[str, typer.Argument(help="Contract address (urbis1…) or name")],
    function: Annotated[str, typer.Argument(help="Function name")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments, in order")] = None,
    signer: Annotated[
        str | None,
        typer.Option("--from", help="Key that signs; omit to read without a transaction"),
    ] = None,
    gas: GasOption = 3_000_000,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Call a function: read-only without --from, as a signed transaction with it.

    Arguments are JSON when they parse (numbers, true/false), else text; addresses
    are urbis1… ids, bytes are hex.

    Example: urbis contract call land-registry parcels 0x07… ;
    urbis contract call land-registry approve_sale 0x07… --from registrar
    """
    from urbis.modules.contracts import abi

    values = [_value(a) for a in (args or [])]
    node = client(api)
    with reported():
        info = node.call("contract", ref)
    if signer is None:
        with reported():
            answer = node.call("contract_call", info["address"], function, values)
        emit(answer, as_json, lambda d: stdout.print(json.dumps(d["result"]), highlight=False))
        return
    try:
        data = abi.encode_call(info["abi"], function, values)
    except (ValueError, TypeError, OverflowError) as error:
        fail("cli.bad_args", str(error), 2)
    act(
        "contracts",
        "call",
        home_path(home),
        api,
        signer,
        as_json,
        contract=AccountId.parse(info["address"]),
        data=data,
        gas_limit=gas,
    )


@app.command("events")
def events(
    ref: Annotated[str, typer.Argument(help="Contract address (urbis1…) or name")],
    limit: Annotated[int, typer.Option("--limit", help="How many transactions back")] = 50,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """The contract's decoded events, newest first.

    Example: urbis contract events land-registry --limit 20
    """
    with reported():
        found = client(api).call("contract_events", ref, limit)

    def human(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            args = ", ".join(f"{k}={v}" for k, v in (row.get("args") or {}).items())
            stdout.print(
                f"{row['height']:>6} [bold]{row.get('event', 'log')}[/] {args}", highlight=False
            )

    emit(found, as_json, human)


@app.command("storage")
def storage(
    ref: Annotated[str, typer.Argument(help="Contract address (urbis1…) or name")],
    variable: Annotated[str, typer.Argument(help="Storage variable, e.g. parcels")],
    keys: Annotated[list[str] | None, typer.Argument(help="Map keys, outermost first")] = None,
    field: Annotated[str | None, typer.Option("--field", help="Struct member, e.g. owner")] = None,
    offset: Annotated[int, typer.Option("--offset", help="Slot offset inside a struct")] = 0,
    prove: Annotated[bool, typer.Option("--prove", help="Verify a state proof client-side")] = True,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read one storage slot of a contract and verify its proof against a signed header.

    The slot comes from the storage layout the compiler gave at deployment.

    Example: urbis contract storage land-registry parcels 0x07… --field owner
    """
    from urbis.modules.contracts import keys as contract_keys
    from urbis.modules.contracts.storage import field_offset, slot_of
    from urbis.sdk.verify import verify_state_proof

    node = client(api)
    with reported():
        info = node.call("contract", ref)
    address = AccountId.parse(info["address"])
    values = [_value(k) for k in (keys or [])]
    try:
        if field is not None:
            getter = next(
                (i for i in info["abi"] if i.get("type") == "function" and i["name"] == variable),
                None,
            )
            if getter is None:
                raise ValueError(f"{variable} has no public getter to name fields from")
            offset = field_offset(getter.get("outputs", []), field)
        slot = slot_of(info["storage_layout"], variable, values, offset)
    except (ValueError, TypeError, OverflowError) as error:
        fail("cli.bad_args", str(error), 2)
    key = contract_keys.slot(address.raw, slot)
    storage = contract_keys.slot(b"", b"")  # the prefix, as keys.py spells it
    text = storage.decode() + "0x" + key[len(storage) :].hex()
    with reported():
        data = node.call("state", text, None, prove)
        verified = None
        raw = bytes.fromhex(data["value"]) if data.get("value") else b""
        if prove:
            validators, chain_id, pinned = trusted_validators(home_path(home), api)
            proof = verify_state_proof(data, validators, chain_id=chain_id)
            verified = {"height": proof.height, "pinned_genesis": pinned}
            raw = proof.value or b""  # what the proof shows, not what the node said
    word = raw.rjust(32, b"\0")
    result = {
        "contract": address.text,
        "variable": variable,
        "slot": "0x" + slot.hex(),
        "state_key": text,
        "word": "0x" + word.hex(),
        "uint": int.from_bytes(word, "big"),
        "as_account": AccountId(word[12:]).text if word[:12] == bytes(12) else None,
        "height": data["height"],
        "verified": verified,
    }

    def human(d: dict[str, Any]) -> None:
        rows = [("slot", d["slot"]), ("word", d["word"]), ("as integer", d["uint"])]
        if d["as_account"]:
            rows.append(("as account", d["as_account"]))
        rows.append(("height", d["height"]))
        if d["verified"]:
            rows.append(("proof", "verified against a header signed by a known validator"))
        table(f"{d['variable']} in {d['contract']}", rows)

    emit(result, as_json, human)


COMMANDS = [("contract", app)]
