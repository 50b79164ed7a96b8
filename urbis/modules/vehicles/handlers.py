"""Vehicles handlers: each checks everything first, then writes.

Money never moves here directly: a buyer's payment is a payments escrow (opened
through the payments action, as the buyer), approved by the module's own keyless
escrow account when the seller delivers, and paid on from there through the
payments keeper, all in the seller's one transaction.
"""

from __future__ import annotations

import dataclasses

from urbis.chain.block import BlockHeader, SignedHeader
from urbis.chain.codec import CodecError, from_wire, to_wire
from urbis.chain.context import Context
from urbis.chain.errors import InvalidArgs
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action
from urbis.crypto.encoding import decode, encode_trusted
from urbis.crypto.hashing import tagged_hash
from urbis.modules.vehicles import keys
from urbis.modules.vehicles.errors import (
    AlreadyPaid,
    CredentialInvalid,
    DuplicateVin,
    ForgedHeader,
    InvalidVin,
    LienExists,
    LienNotFound,
    LienOutstanding,
    ManufacturerExists,
    NoSale,
    NotBuyer,
    NotExportedHere,
    NotInspector,
    NotLienHolder,
    NotManufacturer,
    NotOwner,
    NotPaid,
    NotRegistered,
    OdometerRollback,
    PriceMismatch,
    ProofMismatch,
    RecallAlreadyFixed,
    RecallExists,
    RecallNotApplicable,
    RecallNotFound,
    SaleExpired,
    SalePending,
    SameAccount,
    StaleBundle,
    TooManyLiens,
    UnknownAccount,
    UnknownAsset,
    UnknownVin,
    UnpaidLien,
    UnrecognisedChain,
)
from urbis.modules.vehicles.keeper import GENESIS_HEAD, VehiclesView, event_hash_of, recall_applies
from urbis.modules.vehicles.needs import (
    AccountsWriter,
    GovernanceView,
    IdentityView,
    PaymentsView,
    PaymentsWriter,
)
from urbis.modules.vehicles.records import (
    FINANCE,
    INSPECTOR_VCT,
    LIENS_MAX,
    AccreditInspector,
    Deliver,
    Deregister,
    FixRecall,
    ImportVehicle,
    Inspect,
    Inspector,
    IssueRecall,
    Lien,
    Manufacturer,
    OfferSale,
    PaySale,
    Recall,
    RecogniseChain,
    RecognisedChain,
    RecordIncident,
    Register,
    RegisterLien,
    RegisterManufacturer,
    ReleaseLien,
    Sale,
    Service,
    SetTransferTax,
    TransferTax,
    Vehicle,
    VehicleEvent,
    WithdrawSale,
)
from urbis.modules.vehicles.vin import vin_problem
from urbis.state.proof import ProofError, StateProof, verify_state_proof

ESCROW_ACCOUNT = AccountId(tagged_hash("vehicles/escrow", b"")[:20])
"""The module's keyless account: the beneficiary and sole approver of every sale's
escrow, so only a delivery (this module) releases a buyer's money, and only onward."""

BPS = 10_000


# -- helpers: pure, or reading only ---------------------------------------------------


def _vehicle(view: VehiclesView, vin: str) -> Vehicle:
    vehicle = view.vehicle(vin)
    if vehicle is None:
        raise UnknownVin(f"no vehicle {vin!r} is registered")
    return vehicle


def _registered(view: VehiclesView, vin: str) -> Vehicle:
    vehicle = _vehicle(view, vin)
    if vehicle.status != "registered":
        raise NotRegistered(f"vehicle {vin} is {vehicle.status}")
    return vehicle


def _require_account(ctx: Context, account: AccountId, what: str) -> None:
    if not ctx.view("accounts", AccountsWriter).exists(account):
        raise UnknownAccount(f"{what} {account} is no account")


def _require_asset(ctx: Context, asset: str) -> None:
    if ctx.view("payments", PaymentsView).asset(asset) is None:
        raise UnknownAsset(f"no asset {asset!r}")


def _tax(ctx: Context, price_minor: int) -> int:
    return price_minor * VehiclesView(ctx.state).transfer_tax_bps() // BPS


def _require_liens_paid(vehicle: Vehicle, asset: str, price_minor: int, tax_minor: int) -> None:
    """The proceeds must pay every lien off, in the sale's asset, after the tax."""
    other = [lien for lien in vehicle.liens if lien.asset != asset]
    if other:
        raise UnpaidLien(
            f"lien {other[0].id.hex()} is in {other[0].asset}; a sale in {asset} cannot pay it off"
        )
    owed = sum(lien.amount_minor for lien in vehicle.liens)
    if owed + tax_minor > price_minor:
        raise UnpaidLien(
            f"the price {price_minor} does not cover liens of {owed} and tax of {tax_minor}",
            owed_minor=owed,
        )


def _open_escrow(ctx: Context, sale: Sale) -> bool:
    """Whether the sale's buyer has paid and the escrow still holds the money."""
    if not sale.escrow_id:
        return False
    escrow = ctx.view("payments", PaymentsView).escrow(sale.escrow_id)
    return escrow is not None and escrow.status == "open"


def _check_reading(vehicle: Vehicle, odometer_km: int, what: str) -> None:
    if odometer_km < vehicle.odometer_km:
        raise OdometerRollback(
            f"{what} reading {odometer_km} km is below the last, {vehicle.odometer_km} km",
            last_km=vehicle.odometer_km,
        )


def _inspector_valid(ctx: Context, inspector: Inspector) -> bool:
    identity = ctx.view("identity", IdentityView)
    return (
        identity.trusted(INSPECTOR_VCT, inspector.issuer, ctx.block.time_ms)
        and identity.status_of(inspector.issuer, inspector.list_id, inspector.index) == 0
    )


# -- writers ------------------------------------------------------------------------


def _append(
    ctx: Context,
    vehicle: Vehicle,
    kind: str,
    actor: AccountId,
    *,
    odometer_km: int | None = None,
    flagged: bool = False,
    party: AccountId | None = None,
    asset: str = "",
    amount_minor: int = 0,
    reference: bytes = b"",
    note: str = "",
) -> Vehicle:
    """Write the vehicle's next event, linked to the last; return the vehicle advanced."""
    event = VehicleEvent(
        vin=vehicle.vin,
        seq=vehicle.events,
        kind=kind,
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
        actor=actor,
        odometer_km=odometer_km,
        flagged=flagged,
        party=party,
        asset=asset,
        amount_minor=amount_minor,
        reference=reference,
        note=note,
        prev=vehicle.head,
    )
    stored = encode_trusted(to_wire(event))
    ctx.state.put(keys.event(vehicle.vin, event.seq), stored)
    ctx.emit("vehicles.event", vin=vehicle.vin, seq=event.seq, kind=kind, actor=actor)
    return dataclasses.replace(vehicle, events=vehicle.events + 1, head=event_hash_of(stored))


def _new_vehicle(
    vin: str,
    make: str,
    model: str,
    year: int,
    type_approval: str,
    owner: AccountId,
    ctx: Context,
) -> Vehicle:
    """A vehicle as registered here: no events, liens, readings or links yet."""
    return Vehicle(
        vin=vin,
        make=make,
        model=model,
        year=year,
        type_approval=type_approval,
        owner=owner,
        status="registered",
        registered_at_height=ctx.block.height,
        odometer_km=0,
        events=0,
        head=GENESIS_HEAD,
        liens=[],
        rollbacks=0,
        next_inspection_ms=0,
        origin_chain="",
        origin_head=b"",
        origin_events=0,
        export_chain="",
        export_owner=None,
    )


def _save(ctx: Context, vehicle: Vehicle) -> None:
    ctx.state.put_record(keys.vehicle(vehicle.vin), vehicle)


# -- registration --------------------------------------------------------------------


def register(ctx: Context, sender: AccountId, args: Register) -> None:
    problem = vin_problem(args.vin)
    if problem is not None:
        raise InvalidVin(problem)
    if VehiclesView(ctx.state).vehicle(args.vin) is not None:
        raise DuplicateVin(f"VIN {args.vin} is already registered")
    _require_account(ctx, args.owner, "owner")
    vehicle = _new_vehicle(
        args.vin, args.make, args.model, args.year, args.type_approval, args.owner, ctx
    )
    vehicle = _append(ctx, vehicle, "registered", sender, party=args.owner, note=args.type_approval)
    _save(ctx, vehicle)
    ctx.emit(
        "vehicles.registered", vin=args.vin, owner=args.owner, make=args.make, model=args.model
    )


def deregister(ctx: Context, sender: AccountId, args: Deregister) -> None:
    view = VehiclesView(ctx.state)
    vehicle = _registered(view, args.vin)
    if sender != vehicle.owner:
        raise NotOwner(f"{sender} does not own {args.vin}")
    if vehicle.liens:
        raise LienOutstanding(f"{args.vin} has {len(vehicle.liens)} lien(s): release them first")
    sale = view.sale(args.vin)
    if sale is not None and _open_escrow(ctx, sale):
        raise SalePending(f"a buyer's payment for {args.vin} is in escrow")
    note = args.reason if args.reason == "scrapped" else f"exported to {args.destination_chain}"
    vehicle = _append(ctx, vehicle, "deregistered", sender, party=args.destination_owner, note=note)
    vehicle = dataclasses.replace(
        vehicle,
        status=args.reason,
        export_chain=args.destination_chain,
        export_owner=args.destination_owner,
    )
    if sale is not None:
        ctx.state.delete(keys.sale(args.vin))
    _save(ctx, vehicle)
    ctx.emit("vehicles.deregistered", vin=args.vin, reason=args.reason, head=vehicle.head)


# -- sale and resale: delivery versus payment -----------------------------------------


def offer_sale(ctx: Context, sender: AccountId, args: OfferSale) -> None:
    view = VehiclesView(ctx.state)
    vehicle = _registered(view, args.vin)
    if sender != vehicle.owner:
        raise NotOwner(f"{sender} does not own {args.vin}; only the owner sells it")
    if args.buyer == sender:
        raise SameAccount("the buyer is the seller")
    _require_account(ctx, args.buyer, "buyer")
    _require_asset(ctx, args.asset)
    current = view.sale(args.vin)
    if current is not None and _open_escrow(ctx, current):
        raise SalePending(f"a buyer's payment for {args.vin} is in escrow")
    _check_reading(vehicle, args.odometer_km, "the sale's")
    _require_liens_paid(vehicle, args.asset, args.price_minor, _tax(ctx, args.price_minor))
    sale = Sale(
        vin=args.vin,
        seller=sender,
        buyer=args.buyer,
        asset=args.asset,
        price_minor=args.price_minor,
        odometer_km=args.odometer_km,
        expires_at_height=ctx.block.height + args.timeout_blocks,
        escrow_id=b"",
        rollbacks=vehicle.rollbacks,
    )
    ctx.state.put_record(keys.sale(args.vin), sale)
    ctx.emit(
        "vehicles.sale_offered",
        vin=args.vin,
        seller=sender,
        buyer=args.buyer,
        asset=args.asset,
        price_minor=args.price_minor,
        expires_at_height=sale.expires_at_height,
    )


def pay_sale(ctx: Context, sender: AccountId, args: PaySale) -> None:
    view = VehiclesView(ctx.state)
    sale = view.sale(args.vin)
    if sale is None:
        raise NoSale(f"{args.vin} is not offered for sale")
    vehicle = _registered(view, args.vin)
    if sender != sale.buyer:
        raise NotBuyer(f"{args.vin} is offered to {sale.buyer}, not {sender}")
    if ctx.block.height > sale.expires_at_height:
        raise SaleExpired(f"the offer for {args.vin} expired at block {sale.expires_at_height}")
    if sale.escrow_id:
        raise AlreadyPaid(f"the sale of {args.vin} is paid (escrow {sale.escrow_id.hex()})")
    if args.price_minor != sale.price_minor:
        raise PriceMismatch(f"the offer is {sale.price_minor}, not {args.price_minor}")
    escrow_id = tagged_hash(
        "vehicles/sale_escrow", ctx.tx_id + args.vin.encode() + vehicle.events.to_bytes(4, "big")
    )[:16]
    accounts = ctx.keeper("accounts", AccountsWriter)
    if not accounts.exists(ESCROW_ACCOUNT):
        accounts.create_keyless(ESCROW_ACCOUNT)
    escrow = {
        "id": escrow_id,
        "beneficiary": ESCROW_ACCOUNT.raw,
        "asset": sale.asset,
        "amount_minor": sale.price_minor,
        "approvers": [ESCROW_ACCOUNT.raw],
        "timeout_blocks": sale.expires_at_height - ctx.block.height + 1,
    }
    ctx.dispatch(sender, Action("payments", "open_escrow", escrow))
    ctx.state.put_record(keys.sale(args.vin), dataclasses.replace(sale, escrow_id=escrow_id))
    ctx.emit("vehicles.sale_paid", vin=args.vin, buyer=sender, escrow_id=escrow_id)


def deliver(ctx: Context, sender: AccountId, args: Deliver) -> None:
    """Title to the buyer and the escrow paid out, in one transaction: liens, tax, seller."""
    view = VehiclesView(ctx.state)
    sale = view.sale(args.vin)
    if sale is None:
        raise NoSale(f"{args.vin} is not offered for sale")
    vehicle = _registered(view, args.vin)
    if sender != vehicle.owner:
        raise NotOwner(f"{sender} does not own {args.vin}")
    if not sale.escrow_id:
        raise NotPaid(f"the buyer has not paid for {args.vin} yet")
    if not _open_escrow(ctx, sale):
        raise SaleExpired(f"the buyer's escrow for {args.vin} went back at its deadline")
    _check_reading(vehicle, sale.odometer_km, "the sale's")
    if vehicle.rollbacks != sale.rollbacks:
        raise OdometerRollback(
            f"an inspector confirmed an odometer rollback on {args.vin} after the offer: "
            "its reading no longer stands; offer again once the escrow has gone back",
            last_km=vehicle.odometer_km,
        )
    tax_minor = _tax(ctx, sale.price_minor)
    _require_liens_paid(vehicle, sale.asset, sale.price_minor, tax_minor)
    finance = ctx.view("governance", GovernanceView).department(FINANCE) if tax_minor else None
    if tax_minor and finance is None:
        raise UnknownAccount("the city sets a transfer tax but has no finance department")
    ctx.dispatch(ESCROW_ACCOUNT, Action("payments", "approve_escrow", {"id": sale.escrow_id}))
    payments = ctx.keeper("payments", PaymentsWriter)
    remaining = sale.price_minor
    for lien in vehicle.liens:
        payments.move(
            sale.asset, ESCROW_ACCOUNT, lien.holder, lien.amount_minor, "vehicle_lien", lien.id
        )
        remaining -= lien.amount_minor
        vehicle = _append(
            ctx,
            vehicle,
            "lien_released",
            sender,
            party=lien.holder,
            asset=lien.asset,
            amount_minor=lien.amount_minor,
            reference=lien.id,
            note="paid off from the sale",
        )
    if tax_minor:
        assert finance is not None
        payments.move(
            sale.asset, ESCROW_ACCOUNT, finance.admin, tax_minor, "vehicle_tax", sale.escrow_id
        )
        remaining -= tax_minor
    if remaining:
        payments.move(
            sale.asset, ESCROW_ACCOUNT, sale.seller, remaining, "vehicle_sale", sale.escrow_id
        )
    vehicle = _append(
        ctx,
        vehicle,
        "sold",
        sender,
        odometer_km=sale.odometer_km,
        party=sale.buyer,
        asset=sale.asset,
        amount_minor=sale.price_minor,
        reference=sale.escrow_id,
    )
    vehicle = dataclasses.replace(vehicle, owner=sale.buyer, liens=[], odometer_km=sale.odometer_km)
    ctx.state.delete(keys.sale(args.vin))
    _save(ctx, vehicle)
    ctx.emit(
        "vehicles.sold",
        vin=args.vin,
        seller=sale.seller,
        buyer=sale.buyer,
        asset=sale.asset,
        price_minor=sale.price_minor,
        tax_minor=tax_minor,
        seller_received_minor=remaining,
    )


def withdraw_sale(ctx: Context, sender: AccountId, args: WithdrawSale) -> None:
    sale = VehiclesView(ctx.state).sale(args.vin)
    if sale is None:
        raise NoSale(f"{args.vin} is not offered for sale")
    if sender != sale.seller:
        raise NotOwner(f"{sender} did not offer {args.vin}")
    if _open_escrow(ctx, sale):
        raise SalePending(f"the buyer's payment for {args.vin} is in escrow until its deadline")
    ctx.state.delete(keys.sale(args.vin))
    ctx.emit("vehicles.sale_withdrawn", vin=args.vin)


# -- liens ---------------------------------------------------------------------------


def register_lien(ctx: Context, sender: AccountId, args: RegisterLien) -> None:
    vehicle = _registered(VehiclesView(ctx.state), args.vin)
    if any(lien.id == args.id for lien in vehicle.liens):
        raise LienExists(f"{args.vin} already has lien {args.id.hex()}")
    if len(vehicle.liens) >= LIENS_MAX:
        raise TooManyLiens(f"{args.vin} already carries {LIENS_MAX} liens")
    _require_asset(ctx, args.asset)
    lien = Lien(args.id, sender, args.asset, args.amount_minor, ctx.block.height)
    vehicle = _append(
        ctx,
        vehicle,
        "lien_registered",
        sender,
        party=sender,
        asset=args.asset,
        amount_minor=args.amount_minor,
        reference=args.id,
    )
    _save(ctx, dataclasses.replace(vehicle, liens=[*vehicle.liens, lien]))


def release_lien(ctx: Context, sender: AccountId, args: ReleaseLien) -> None:
    vehicle = _vehicle(VehiclesView(ctx.state), args.vin)
    lien = next((lien for lien in vehicle.liens if lien.id == args.id), None)
    if lien is None:
        raise LienNotFound(f"{args.vin} has no lien {args.id.hex()}")
    if lien.holder != sender:
        raise NotLienHolder(f"lien {args.id.hex()} is held by {lien.holder}")
    vehicle = _append(
        ctx,
        vehicle,
        "lien_released",
        sender,
        party=sender,
        asset=lien.asset,
        amount_minor=lien.amount_minor,
        reference=lien.id,
    )
    _save(ctx, dataclasses.replace(vehicle, liens=[x for x in vehicle.liens if x.id != args.id]))


# -- inspections, services, odometer ----------------------------------------------------


def accredit_inspector(ctx: Context, sender: AccountId, args: AccreditInspector) -> None:
    _require_account(ctx, args.account, "inspection centre")
    inspector = Inspector(
        args.account, args.issuer, args.list_id, args.index, sender, ctx.block.height
    )
    if not _inspector_valid(ctx, inspector):
        raise CredentialInvalid(
            f"{args.issuer} is not trusted for {INSPECTOR_VCT} now, or credential "
            f"{args.list_id}/{args.index} is not valid on its status list"
        )
    ctx.state.put_record(keys.inspector(args.account), inspector)
    ctx.emit("vehicles.inspector_accredited", account=args.account, issuer=args.issuer)


def inspect(ctx: Context, sender: AccountId, args: Inspect) -> None:
    view = VehiclesView(ctx.state)
    inspector = view.inspector(sender)
    if inspector is None:
        raise NotInspector(f"{sender} is not an accredited inspection centre")
    if not _inspector_valid(ctx, inspector):
        raise NotInspector(f"the inspector credential of {sender} is no longer valid")
    vehicle = _registered(view, args.vin)
    flagged = args.odometer_km < vehicle.odometer_km
    if flagged and not args.confirm_rollback:
        raise OdometerRollback(
            f"reading {args.odometer_km} km is below the last, {vehicle.odometer_km} km; "
            "an inspector who has checked the odometer confirms it as a rollback",
            last_km=vehicle.odometer_km,
        )
    verdict = "passed" if args.passed else "failed"
    note = verdict + (": " + ", ".join(args.defects) if args.defects else "")
    vehicle = _append(
        ctx, vehicle, "inspected", sender, odometer_km=args.odometer_km, flagged=flagged, note=note
    )
    vehicle = dataclasses.replace(
        vehicle,
        odometer_km=args.odometer_km,
        rollbacks=vehicle.rollbacks + (1 if flagged else 0),
        next_inspection_ms=args.next_due_ms,
    )
    _save(ctx, vehicle)
    if flagged:
        ctx.emit("vehicles.rollback_flagged", vin=args.vin, reading_km=args.odometer_km)


def service(ctx: Context, sender: AccountId, args: Service) -> None:
    vehicle = _registered(VehiclesView(ctx.state), args.vin)
    _check_reading(vehicle, args.odometer_km, "the service's")
    vehicle = _append(
        ctx, vehicle, "serviced", sender, odometer_km=args.odometer_km, reference=args.reference
    )
    _save(ctx, dataclasses.replace(vehicle, odometer_km=args.odometer_km))


# -- recalls -------------------------------------------------------------------------


def register_manufacturer(ctx: Context, sender: AccountId, args: RegisterManufacturer) -> None:
    _require_account(ctx, args.account, "manufacturer")
    if VehiclesView(ctx.state).manufacturer(args.account) is not None:
        raise ManufacturerExists(f"{args.account} is already a manufacturer")
    record = Manufacturer(args.account, args.make, ctx.block.height)
    ctx.state.put_record(keys.manufacturer(args.account), record)
    ctx.emit("vehicles.manufacturer_registered", account=args.account, make=args.make)


def issue_recall(ctx: Context, sender: AccountId, args: IssueRecall) -> None:
    view = VehiclesView(ctx.state)
    maker = view.manufacturer(sender)
    if maker is None or maker.make != args.make:
        raise NotManufacturer(f"{sender} is not the registered manufacturer of {args.make}")
    if view.recall(args.id) is not None:
        raise RecallExists(f"recall {args.id.hex()} exists")
    recall = Recall(
        id=args.id,
        manufacturer=sender,
        make=args.make,
        model=args.model,
        year_from=args.year_from,
        year_to=args.year_to,
        vin_from=args.vin_from,
        vin_to=args.vin_to,
        description_hash=args.description_hash,
        issued_at_height=ctx.block.height,
    )
    ctx.state.put_record(keys.recall(args.id), recall)
    ctx.state.put(keys.make_recall(args.make, args.id), b"\x01")
    ctx.emit("vehicles.recall_issued", id=args.id, make=args.make, model=args.model)


def fix_recall(ctx: Context, sender: AccountId, args: FixRecall) -> None:
    view = VehiclesView(ctx.state)
    vehicle = _registered(view, args.vin)
    recall = view.recall(args.recall_id)
    if recall is None:
        raise RecallNotFound(f"no recall {args.recall_id.hex()}")
    if not recall_applies(recall, vehicle):
        raise RecallNotApplicable(f"recall {args.recall_id.hex()} does not cover {args.vin}")
    if view.fixed(args.vin, args.recall_id):
        raise RecallAlreadyFixed(f"recall {args.recall_id.hex()} is fixed on {args.vin}")
    ctx.state.put(keys.fix(args.vin, args.recall_id), b"\x01")
    vehicle = _append(
        ctx,
        vehicle,
        "recall_fixed",
        sender,
        reference=args.reference,
        note=f"recall {args.recall_id.hex()}",
    )
    _save(ctx, vehicle)


# -- accidents and claims -----------------------------------------------------------------


def record_incident(ctx: Context, sender: AccountId, args: RecordIncident) -> None:
    """A scrapped vehicle may still get a claim; an exported one's history is elsewhere now,
    and its record here must stay as the export bundle proved it."""
    vehicle = _vehicle(VehiclesView(ctx.state), args.vin)
    if vehicle.status == "exported":
        raise NotRegistered(f"{args.vin} was exported to {vehicle.export_chain}: record it there")
    vehicle = _append(ctx, vehicle, args.kind, sender, party=sender, reference=args.report_hash)
    _save(ctx, vehicle)


# -- the city's settings ------------------------------------------------------------------


def set_transfer_tax(ctx: Context, sender: AccountId, args: SetTransferTax) -> None:
    ctx.state.put_record(keys.TRANSFER_TAX, TransferTax(args.rate_bps, ctx.block.height))
    ctx.emit("vehicles.transfer_tax_set", rate_bps=args.rate_bps)


def recognise_chain(ctx: Context, sender: AccountId, args: RecogniseChain) -> None:
    if args.chain_id == ctx.block.chain_id:
        raise InvalidArgs("a chain does not import from itself")
    record = RecognisedChain(args.chain_id, list(args.validators), ctx.block.height)
    ctx.state.put_record(keys.chain(args.chain_id), record)
    ctx.emit("vehicles.chain_recognised", chain_id=args.chain_id, validators=len(args.validators))


# -- export and import --------------------------------------------------------------------


def import_vehicle(ctx: Context, sender: AccountId, args: ImportVehicle) -> None:
    """Register a vehicle from another city's chain, from its proven record there."""
    view = VehiclesView(ctx.state)
    head = args.header
    chain = view.recognised_chain(head.chain_id)
    if chain is None:
        raise UnrecognisedChain(f"this city does not recognise chain {head.chain_id!r}")
    signed = SignedHeader(
        BlockHeader(
            head.chain_id,
            head.height,
            head.time_ms,
            head.prev_hash,
            head.txs_root,
            head.results_root,
            head.app_hash,
            head.proposer,
        ),
        head.signature,
    )
    if not signed.verify(frozenset(chain.validators)):
        raise ForgedHeader(f"header {head.height} is not signed by a validator of {head.chain_id}")
    origin = _proven_vehicle(args, head.app_hash)
    if origin.status != "exported" or origin.export_chain != ctx.block.chain_id:
        raise NotExportedHere(
            f"{origin.vin} on {head.chain_id} is {origin.status}"
            + (f" to {origin.export_chain}" if origin.export_chain else "")
        )
    assert origin.export_owner is not None  # Deregister requires it with the chain
    local = view.vehicle(origin.vin)
    if local is not None and local.status != "exported":
        raise DuplicateVin(f"VIN {origin.vin} is {local.status} here")
    seen = view.imported_events(origin.vin, head.chain_id)
    if origin.events <= seen:
        raise StaleBundle(
            f"{origin.vin} was imported from {head.chain_id} with {seen} events; this bundle "
            f"shows {origin.events}: an export it has since made again is the one to import"
        )
    _require_account(ctx, origin.export_owner, "owner")
    fresh = _new_vehicle(
        origin.vin,
        origin.make,
        origin.model,
        origin.year,
        origin.type_approval,
        origin.export_owner,
        ctx,
    )
    vehicle = dataclasses.replace(
        fresh,
        odometer_km=origin.odometer_km,
        events=fresh.events if local is None else local.events,
        head=fresh.head if local is None else local.head,
        rollbacks=origin.rollbacks,
        next_inspection_ms=origin.next_inspection_ms,
        origin_chain=head.chain_id,
        origin_head=origin.head,
        origin_events=origin.events,
    )
    vehicle = _append(
        ctx,
        vehicle,
        "imported",
        sender,
        odometer_km=origin.odometer_km,
        party=origin.export_owner,
        amount_minor=origin.events,
        reference=origin.head,
        note=head.chain_id,
    )
    _save(ctx, vehicle)
    ctx.state.put(keys.imported(origin.vin, head.chain_id), encode_trusted(origin.events))
    ctx.emit(
        "vehicles.imported",
        vin=origin.vin,
        origin_chain=head.chain_id,
        origin_height=head.height,
        origin_head=origin.head,
    )


def _proven_vehicle(args: ImportVehicle, app_hash: bytes) -> Vehicle:
    """The vehicle record the proof shows under the header's app hash, or ProofMismatch."""
    proof = args.proof
    if proof.height != args.header.height:
        raise ProofMismatch(f"proof is for height {proof.height}, header {args.header.height}")
    if not proof.key.startswith(keys.VEHICLE_PREFIX) or proof.value is None:
        raise ProofMismatch("the proof must show a vehicle record")
    state_proof = StateProof(
        key=proof.key,
        value=proof.value,
        siblings=tuple(proof.siblings),
        leaf=(proof.leaf[0], proof.leaf[1]) if proof.leaf else None,
        root=proof.root,
        height=proof.height,
    )
    try:
        verify_state_proof(state_proof, app_hash)
    except ProofError as error:
        raise ProofMismatch(f"the proof does not match the header's app hash: {error}") from None
    try:
        vehicle = from_wire(Vehicle, decode(proof.value))
    except (CodecError, ValueError) as error:
        raise ProofMismatch(f"the proven value is no vehicle record: {error}") from None
    if keys.vehicle(vehicle.vin) != proof.key:
        raise ProofMismatch("the record's VIN is not the proven key's")
    return vehicle
