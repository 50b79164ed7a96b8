"""`urbis vehicle`: register, sell, inspect, recall, export and prove a vehicle's history;
`urbis demo vehicles`: a vehicle's life on a dev city, start to end."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    account_or_key,
    act,
    client,
    emit,
    fail,
    home_path,
    read_bytes,
    read_json,
    reported,
    stdout,
    table,
    trusted_validators,
)
from urbis.cli.money import Assets, moment
from urbis.modules.vehicles.records import INSPECTOR_VCT
from urbis.modules.vehicles.verify import (
    VerifiedHistory,
    import_args,
    verify_history,
    verify_origin,
)
from urbis.modules.vehicles.vin import vin_problem
from urbis.sdk.client import Request
from urbis.state.proof import ProofError

app = typer.Typer(
    help="Vehicles: registration, sales, liens, inspections, recalls, history", no_args_is_help=True
)
lien_app = typer.Typer(help="Liens by financing banks", no_args_is_help=True)
app.add_typer(lien_app, name="lien")

VinArgument = Annotated[str, typer.Argument(help="The 17-character VIN")]
Price = Annotated[int, typer.Option("--price", help="Price in minor units (cents)")]
Asset = Annotated[str, typer.Option("--asset", help="Asset code")]
Odometer = Annotated[int, typer.Option("--odometer", help="Odometer reading in km")]


def _vin(text: str) -> str:
    problem = vin_problem(text.upper())
    if problem is not None:
        fail("vehicles.invalid_vin", problem, 2)
    return text.upper()


def _id(text: str, what: str) -> bytes:
    """An id as hex, or as text (8 to 32 bytes)."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = text.encode()
    if not 8 <= len(raw) <= 32:
        fail("cli.bad_id", f"{what} is 8 to 32 bytes; {text!r} is {len(raw)}", 2)
    return raw


def _digest(path: Path, what: str) -> bytes:
    return hashlib.sha256(read_bytes(path, what)).digest()


def _date_ms(text: str) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail("cli.bad_date", f"a date is YYYY-MM-DD; {text!r} is not", 2)
    return int(day.timestamp()) * 1000


def _get(api: str | None, path: str) -> Any:
    with reported():
        return client(api).send(Request("GET", path))


@app.command("register")
def register(
    vin: VinArgument,
    make: Annotated[str, typer.Option(help="Make, e.g. Toyota")],
    model: Annotated[str, typer.Option(help="Model, e.g. Corolla")],
    year: Annotated[int, typer.Option(help="Model year")],
    type_approval: Annotated[str, typer.Option(help="Type approval reference")],
    owner: Annotated[str, typer.Option(help="Owner: account id or key name")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transport department: register a vehicle to its first owner's account.

    Example: urbis vehicle register JT2BG22K5Y0123456 --make Toyota --model Corolla
    --year 2024 --type-approval LTA-TA-0042 --owner alice --from transport
    """
    act(
        "vehicles",
        "register",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        make=make,
        model=model,
        year=year,
        type_approval=type_approval,
        owner=account_or_key(owner, home_path(home)),
    )


@app.command("offer")
def offer(
    vin: VinArgument,
    buyer: Annotated[str, typer.Option(help="Buyer: account id or key name")],
    price: Price,
    odometer: Odometer,
    signer: FromOption,
    asset: Asset = "EUR",
    timeout_blocks: Annotated[int, typer.Option(help="Blocks the buyer has to pay")] = 10_000,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Owner: offer the vehicle to one buyer, stating the odometer.

    Example: urbis vehicle offer JT2BG22K5Y0123456 --buyer bob --price 1800000
    --odometer 12000 --from alice
    """
    act(
        "vehicles",
        "offer_sale",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        buyer=account_or_key(buyer, home_path(home)),
        asset=asset,
        price_minor=price,
        odometer_km=odometer,
        timeout_blocks=timeout_blocks,
    )


@app.command("pay")
def pay(
    vin: VinArgument,
    price: Price,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Buyer: pay the offered price into escrow (it goes back if the seller never delivers).

    Example: urbis vehicle pay JT2BG22K5Y0123456 --price 1800000 --from bob
    """
    act(
        "vehicles",
        "pay_sale",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        price_minor=price,
    )


@app.command("deliver")
def deliver(
    vin: VinArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Seller: hand over the title; the escrow pays liens, tax, then you, in one step.

    Example: urbis vehicle deliver JT2BG22K5Y0123456 --from alice
    """
    act("vehicles", "deliver", home_path(home), api, signer, as_json, vin=_vin(vin))


@app.command("withdraw")
def withdraw(
    vin: VinArgument,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Seller: withdraw an offer nobody has paid for.

    Example: urbis vehicle withdraw JT2BG22K5Y0123456 --from alice
    """
    act("vehicles", "withdraw_sale", home_path(home), api, signer, as_json, vin=_vin(vin))


@lien_app.command("add")
def lien_add(
    vin: VinArgument,
    lien_id: Annotated[str, typer.Option("--id", help="Lien id: hex or text, 8-32 bytes")],
    amount: Annotated[int, typer.Option(help="Amount owed in minor units")],
    signer: FromOption,
    asset: Asset = "EUR",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bank: register a lien; a sale must pay it off.

    Example: urbis vehicle lien add JT2BG22K5Y0123456 --id loan-2026-0001 --amount 500000
    --from bank
    """
    act(
        "vehicles",
        "register_lien",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        id=_id(lien_id, "a lien id"),
        asset=asset,
        amount_minor=amount,
    )


@lien_app.command("release")
def lien_release(
    vin: VinArgument,
    lien_id: Annotated[str, typer.Option("--id", help="Lien id: hex or text")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lien holder: release a lien (the loan is repaid).

    Example: urbis vehicle lien release JT2BG22K5Y0123456 --id loan-2026-0001 --from bank
    """
    act(
        "vehicles",
        "release_lien",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        id=_id(lien_id, "a lien id"),
    )


@app.command("accredit")
def accredit(
    centre: Annotated[str, typer.Argument(help="Inspection centre: account id or key name")],
    issuer: Annotated[str, typer.Option(help=f"Issuer of its {INSPECTOR_VCT} credential")],
    list_id: Annotated[int, typer.Option("--list", help="The credential's status list")],
    index: Annotated[int, typer.Option(help="The credential's index on that list")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transport department: accredit an inspection centre against its inspector credential.

    Example: urbis vehicle accredit inspector --issuer registry --list 1 --index 0 --from transport
    """
    act(
        "vehicles",
        "accredit_inspector",
        home_path(home),
        api,
        signer,
        as_json,
        account=account_or_key(centre, home_path(home)),
        issuer=account_or_key(issuer, home_path(home)),
        list_id=list_id,
        index=index,
    )


@app.command("inspect")
def inspect(
    vin: VinArgument,
    odometer: Odometer,
    next_due: Annotated[str, typer.Option(help="Next inspection due, YYYY-MM-DD")],
    signer: FromOption,
    failed: Annotated[bool, typer.Option("--failed", help="The vehicle failed")] = False,
    defect: Annotated[list[str] | None, typer.Option(help="A defect found (repeatable)")] = None,
    confirm_rollback: Annotated[
        bool, typer.Option(help="The odometer reads lower: confirm it, flagged forever")
    ] = False,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accredited inspection centre: record an inspection and its odometer reading.

    Example: urbis vehicle inspect JT2BG22K5Y0123456 --odometer 30500 --next-due 2027-06-01
    --from inspector
    """
    act(
        "vehicles",
        "inspect",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        passed=not failed,
        defects=list(defect or []),
        odometer_km=odometer,
        next_due_ms=_date_ms(next_due),
        confirm_rollback=confirm_rollback,
    )


@app.command("service")
def service(
    vin: VinArgument,
    odometer: Odometer,
    invoice: Annotated[
        Path, typer.Option(help="The workshop's job sheet (hashed, kept off chain)")
    ],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Authorised workshop: record a service and its odometer reading.

    Example: urbis vehicle service JT2BG22K5Y0123456 --odometer 31000 --invoice job.pdf
    --from workshop
    """
    act(
        "vehicles",
        "service",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        odometer_km=odometer,
        reference=_digest(invoice, "job sheet"),
    )


@app.command("manufacturer")
def manufacturer(
    account: Annotated[str, typer.Argument(help="The manufacturer: account id or key name")],
    make: Annotated[str, typer.Option(help="The make it may recall")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transport department: register a manufacturer's account for its make.

    Example: urbis vehicle manufacturer toyota --make Toyota --from transport
    """
    act(
        "vehicles",
        "register_manufacturer",
        home_path(home),
        api,
        signer,
        as_json,
        account=account_or_key(account, home_path(home)),
        make=make,
    )


@app.command("recall")
def recall(
    recall_id: Annotated[str, typer.Argument(help="Recall id: hex or text, 8-32 bytes")],
    make: Annotated[str, typer.Option(help="Make")],
    years: Annotated[str, typer.Option(help="Model years FIRST-LAST, e.g. 2018-2021")],
    notice: Annotated[Path, typer.Option(help="The recall notice (hashed, kept off chain)")],
    signer: FromOption,
    model: Annotated[str, typer.Option(help="Model; all models if omitted")] = "",
    vins: Annotated[str, typer.Option(help="A VIN range FIRST..LAST; all if omitted")] = "",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Manufacturer: recall a model's years, or a range of VINs.

    Example: urbis vehicle recall airbag-2026-01 --make Toyota --model Corolla --years 2018-2021
    --notice notice.pdf --from toyota
    """
    first, _, last = years.partition("-")
    if not (first.isdigit() and last.isdigit()):
        fail("cli.bad_years", f"years are FIRST-LAST, e.g. 2018-2021; not {years!r}", 2)
    vin_from, _, vin_to = vins.partition("..")
    act(
        "vehicles",
        "issue_recall",
        home_path(home),
        api,
        signer,
        as_json,
        id=_id(recall_id, "a recall id"),
        make=make,
        model=model,
        year_from=int(first),
        year_to=int(last),
        vin_from=vin_from.upper(),
        vin_to=vin_to.upper(),
        description_hash=_digest(notice, "recall notice"),
    )


@app.command("fix")
def fix(
    vin: VinArgument,
    recall_id: Annotated[str, typer.Argument(help="The recall's id")],
    invoice: Annotated[Path, typer.Option(help="The workshop's job sheet (hashed)")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Authorised workshop: record a recall fixed on a vehicle.

    Example: urbis vehicle fix JT2BG22K5Y0123456 airbag-2026-01 --invoice job.pdf --from workshop
    """
    act(
        "vehicles",
        "fix_recall",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        recall_id=_id(recall_id, "a recall id"),
        reference=_digest(invoice, "job sheet"),
    )


@app.command("incident")
def incident(
    vin: VinArgument,
    report: Annotated[Path, typer.Option(help="The report (hashed; never stored on chain)")],
    signer: FromOption,
    kind: Annotated[str, typer.Option(help="accident or claim")] = "accident",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Insurer: record an accident or a claim by its report's hash.

    Example: urbis vehicle incident JT2BG22K5Y0123456 --kind claim --report claim.pdf --from insurer
    """
    if kind not in ("accident", "claim"):
        fail("cli.bad_kind", f"kind is accident or claim, not {kind!r}", 2)
    act(
        "vehicles",
        "record_incident",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        kind=kind,
        report_hash=_digest(report, "report"),
    )


@app.command("deregister")
def deregister(
    vin: VinArgument,
    signer: FromOption,
    reason: Annotated[str, typer.Option(help="scrapped or exported")] = "scrapped",
    to_chain: Annotated[str, typer.Option(help="Export: the destination city's chain id")] = "",
    to_owner: Annotated[str, typer.Option(help="Export: the owner's account there")] = "",
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Owner: scrap the vehicle, or export it to another city's chain.

    Example: urbis vehicle deregister JT2BG22K5Y0123456 --reason exported --to-chain city-b
    --to-owner urbis1… --from bob
    """
    if reason not in ("scrapped", "exported"):
        fail("cli.bad_reason", f"reason is scrapped or exported, not {reason!r}", 2)
    owner = account_or_key(to_owner, home_path(home)) if to_owner else None
    act(
        "vehicles",
        "deregister",
        home_path(home),
        api,
        signer,
        as_json,
        vin=_vin(vin),
        reason=reason,
        destination_chain=to_chain,
        destination_owner=owner,
    )


@app.command("show")
def show(vin: VinArgument, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show a vehicle, its liens and its open recalls.

    Example: urbis vehicle show JT2BG22K5Y0123456
    """
    answer = _get(api, f"/v1/vehicles/{_vin(vin)}")

    def human(data: dict[str, Any]) -> None:
        record = data["record"]
        assets = Assets(lambda code: client(api).call("payments", f"assets/{code}"))
        rows: list[tuple[str, Any]] = [
            ("VIN", record["vin"]),
            ("vehicle", f"{record['make']} {record['model']} ({record['year']})"),
            ("owner", record["owner"]),
            ("status", record["status"]),
            ("odometer", f"{record['odometer_km']:,} km"),
            ("rollbacks flagged", record["rollbacks"]),
            ("events", record["events"]),
        ]
        rows += [
            (f"lien {lien['id']}", assets.show(lien["amount_minor"], lien["asset"]))
            for lien in record["liens"]
        ]
        rows += [
            (f"open recall {r['id']}", f"{r['make']} {r['model']}") for r in data["open_recalls"]
        ]
        table(f"Vehicle {record['vin']}", rows)

    emit(answer, as_json, human)


def _short(account: Any) -> str:
    return "" if account is None else account.text[:14] + "…"


def _event_line(event: Any, assets: Assets) -> str:
    """One event as a line people read: what, when, the reading, the money, who."""
    parts = [f"{event.seq:>4}  {moment(event.time_ms)[:10]}  {event.kind:<15}"]
    if event.odometer_km is not None:
        parts.append(f"{event.odometer_km:,} km")
    if event.flagged:
        parts.append("[bold red]ROLLBACK (flagged)[/]")
    if event.asset and event.amount_minor:
        parts.append(assets.show(event.amount_minor, event.asset))
    parts.append(f"by {_short(event.actor)}")
    if event.party is not None and event.party != event.actor:
        parts.append(f"party {_short(event.party)}")
    if event.note:
        parts.append(event.note)
    return "  ".join(parts)


def print_history(verified: VerifiedHistory, recalls: list[Any], assets: Assets) -> None:
    vehicle = verified.vehicle
    stdout.print(
        f"[bold]{vehicle.vin}[/]: {vehicle.make} {vehicle.model} ({vehicle.year}), "
        f"{vehicle.status}, history proven at height {verified.height} of {verified.chain_id}",
        highlight=False,
    )
    for event in verified.events:
        stdout.print(_event_line(event, assets), highlight=False)
    if vehicle.origin_chain:
        stdout.print(
            f"Imported from {vehicle.origin_chain}: {vehicle.origin_events} earlier events, "
            f"head {vehicle.origin_head.hex()}"
        )
    stdout.print(
        f"Owner now: {vehicle.owner.text}; odometer rollbacks flagged: {vehicle.rollbacks}"
    )
    for item in recalls:
        stdout.print(f"[red]Open recall[/] {item['id']}: {item['make']} {item['model']}")


@app.command("history")
def history(
    vin: VinArgument,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check every event's proof against a signed header")
    ] = False,
    origin: Annotated[
        Path | None,
        typer.Option(help="An imported vehicle's export bundle: its earlier history, checked too"),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every event of a vehicle, each proof checked against the city's validators (from
    this home's genesis when present), so the node need not be trusted; --verify also
    pins the chain id and says so. --origin adds an imported vehicle's earlier history,
    checked against the keys this city recognised for its origin.

    Example: urbis vehicle history JT2BG22K5Y0123456 --verify --origin car.bundle.json
    """
    answer = _get(api, f"/v1/vehicles/{_vin(vin)}/history")
    bundle = None if origin is None else read_json(origin, "origin bundle")
    with reported():
        validators, chain_id, pinned = trusted_validators(home_path(home), api)
    try:
        verified = verify_history(answer, validators, chain_id if verify else None)
    except ProofError as error:
        fail("proof.invalid", f"the history does not verify: {error}")
    earlier = None
    if bundle is not None:
        if not verified.vehicle.origin_chain:
            fail("cli.not_imported", f"{vin} was first registered here: it has no origin", 2)
        chain_answer = _get(api, f"/v1/vehicles/chains/{verified.vehicle.origin_chain}")
        try:
            earlier = verify_origin(
                bundle, verified.vehicle, verified.chain_id, chain_answer, validators
            )
        except ProofError as error:
            fail("proof.invalid", f"the origin bundle does not verify: {error}")
    if as_json:
        data = {**answer, "verified": verify, "pinned_genesis": pinned}
        emit(data if bundle is None else {**data, "origin": bundle}, True, lambda _: None)
        return
    node = client(api)
    assets = Assets(lambda c: node.call("payments", f"assets/{c}"))
    if earlier is not None:
        print_history(earlier, [], assets)
        stdout.print(
            f"[green]Verified[/]: the history on {earlier.chain_id}, which the import links."
        )
    print_history(verified, answer["open_recalls"], assets)
    if verify:
        source = "this home's genesis" if pinned else "the node's genesis (no local genesis)"
        stdout.print(
            f"[green]Verified[/]: {len(verified.events)} events and the record, against the "
            f"header at height {verified.height} signed by a validator from {source}."
        )


@app.command("export")
def export(
    vin: VinArgument,
    out: Annotated[Path, typer.Option("--out", help="Where to write the bundle (JSON)")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
) -> None:
    """Write an exported vehicle's history bundle: every event's proof and the record's,
    against one signed header, checked here first; the destination city imports from it.

    Example: urbis vehicle export JT2BG22K5Y0123456 --out car.bundle.json
    """
    answer = _get(api, f"/v1/vehicles/{_vin(vin)}/history")
    with reported():
        validators, chain_id, _ = trusted_validators(home_path(home), api)
    try:
        verified = verify_history(answer, validators, chain_id)
    except ProofError as error:
        fail("proof.invalid", f"the history does not verify: {error}")
    if verified.vehicle.status != "exported":
        fail("vehicles.not_exported", f"{vin} is {verified.vehicle.status}: deregister it first")
    try:
        out.write_text(json.dumps(answer, indent=1, sort_keys=True))
    except OSError as error:
        fail("io.error", f"cannot write {out}: {error.strerror or error}")
    stdout.print(
        f"Wrote {out}: {len(verified.events)} events of {verified.vehicle.vin}, verified at "
        f"height {verified.height} of {verified.chain_id}, "
        f"exported to {verified.vehicle.export_chain}"
    )


@app.command("import")
def import_vehicle(
    bundle: Annotated[Path, typer.Argument(help="The bundle `urbis vehicle export` wrote")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transport department: register a vehicle exported from a recognised city's chain.
    This chain checks the origin's signed header and the record's proof itself.

    Example: urbis vehicle import car.bundle.json --from transport
    """
    data = read_json(bundle, "bundle")
    if not isinstance(data, dict):
        fail("cli.bad_bundle", f"{bundle} is not a vehicle history bundle", 2)
    try:
        args = import_args(data)
    except ProofError as error:
        fail("cli.bad_bundle", str(error), 2)
    act("vehicles", "import_vehicle", home_path(home), api, signer, as_json, **args)


COMMANDS = [("vehicle", app)]


def _demo(home: HomeOption = DEFAULT_HOME, api: ApiOption = None) -> None:
    """A vehicle's life on a dev city (`urbis up`): a fleet registered, a car sold twice
    (once with a lien paid off), inspected, an odometer rollback caught, a recall run,
    and the history printed and verified.

    Example: urbis up --home ./city &  urbis demo vehicles --home ./city
    """
    from urbis.modules.vehicles.demo import run_demo

    with reported():
        run_demo(home_path(home), client(api), api)


DEMOS = [("vehicles", _demo)]
