"""Records and action arguments of the vehicles module.

A vehicle is named by its VIN; its owner is an account, never a person's name:
who stands behind an account stays off chain. Every fact about a vehicle is an
event under it, hash-linked to the one before, so the vehicle record's `head`
vouches for the whole history and a history can travel to another chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from urbis.chain.ids import AccountId

TRANSPORT = "transport"
"""The department that registers vehicles; its roles gate who may act."""
REGISTRAR_ROLE = f"{TRANSPORT}.registrar"
"""Registers vehicles, manufacturers and inspection centres; imports vehicles."""
LENDER_ROLE = f"{TRANSPORT}.lender"
"""A financing bank: registers liens."""
WORKSHOP_ROLE = f"{TRANSPORT}.workshop"
"""An authorised workshop: services vehicles and records recall fixes."""
INSURER_ROLE = f"{TRANSPORT}.insurer"
"""An insurer: records accidents and claims by reference."""
FINANCE = "finance"
"""The department whose revenue account receives transfer tax."""
INSPECTOR_VCT = "VehicleInspector"
"""The credential type an inspection centre must hold (issued by a trusted issuer)."""

TEXT_MAX = 64
"""Bytes of a make, model or type approval reference: names, not descriptions."""
YEAR_MIN = 1886
"""Benz's Patent-Motorwagen: no road vehicle is older."""
YEAR_MAX = 2200
ODOMETER_MAX_KM = 10_000_000
"""Far beyond any vehicle's life; a larger reading is a typing error."""
TIMEOUT_BLOCKS_MAX = 1_000_000
"""How long a sale offer may wait for the buyer (about eleven days at 1 s blocks)."""
RATE_BPS_MAX = 10_000
"""A transfer tax is at most the whole price (basis points)."""
DEFECTS_MAX = 32
LIENS_MAX = 8
"""Liens one vehicle may carry: a delivery pays each off in its one transaction."""
VALIDATORS_MAX = 64
"""Keys a recognised chain may list for its header signers."""
EVENT_KINDS = (
    "registered",
    "sold",
    "lien_registered",
    "lien_released",
    "inspected",
    "serviced",
    "recall_fixed",
    "accident",
    "claim",
    "deregistered",
    "imported",
)


def check_text(name: str, value: str) -> None:
    if not value or len(value.encode()) > TEXT_MAX or not value.isprintable():
        raise ValueError(f"{name} must be 1 to {TEXT_MAX} bytes of printable text")


def check_odometer(value: int) -> None:
    if not 0 <= value <= ODOMETER_MAX_KM:
        raise ValueError(f"odometer_km must be 0 to {ODOMETER_MAX_KM}")


def check_amount(value: int) -> None:
    if not 1 <= value < 2**128:
        raise ValueError("amounts are 1 to 2**128 - 1 minor units")


def check_id(name: str, value: bytes) -> None:
    if not 8 <= len(value) <= 32:
        raise ValueError(f"{name} must be 8 to 32 bytes")


def check_hash(name: str, value: bytes) -> None:
    if len(value) != 32:
        raise ValueError(f"{name} must be a 32-byte SHA-256")


# -- stored records --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lien:
    id: bytes
    holder: AccountId
    asset: str
    amount_minor: int
    registered_at_height: int


@dataclass(frozen=True, slots=True)
class Vehicle:
    vin: str
    make: str
    model: str
    year: int
    type_approval: str
    owner: AccountId
    status: str
    registered_at_height: int
    odometer_km: int
    """The highest reading accepted so far (a confirmed rollback lowers it)."""
    events: int
    """How many events the history holds (the next event's sequence number)."""
    head: bytes
    """Hash of the last event: it vouches for every event before it."""
    liens: list[Lien]
    rollbacks: int
    """Confirmed odometer rollbacks: never decreases, the flag stays forever."""
    next_inspection_ms: int
    origin_chain: str
    """The chain it was imported from ("" for a vehicle first registered here)."""
    origin_head: bytes
    origin_events: int
    export_chain: str
    export_owner: AccountId | None


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """One fact in a vehicle's history; `prev` is the hash of the event before it."""

    vin: str
    seq: int
    kind: str
    height: int
    time_ms: int
    actor: AccountId
    odometer_km: int | None
    flagged: bool
    """An odometer reading below the last one, confirmed by an inspector."""
    party: AccountId | None
    asset: str
    amount_minor: int
    reference: bytes
    note: str
    prev: bytes


@dataclass(frozen=True, slots=True)
class Sale:
    vin: str
    seller: AccountId
    buyer: AccountId
    asset: str
    price_minor: int
    odometer_km: int
    expires_at_height: int
    escrow_id: bytes
    """The payments escrow holding the buyer's money (empty until the buyer pays)."""
    rollbacks: int
    """The vehicle's flagged rollbacks when offered: one found since voids the offer's
    reading, and the delivery is refused."""


@dataclass(frozen=True, slots=True)
class Inspector:
    account: AccountId
    issuer: AccountId
    list_id: int
    index: int
    accredited_by: AccountId
    accredited_at_height: int


@dataclass(frozen=True, slots=True)
class Manufacturer:
    account: AccountId
    make: str
    registered_at_height: int


@dataclass(frozen=True, slots=True)
class Recall:
    id: bytes
    manufacturer: AccountId
    make: str
    model: str
    year_from: int
    year_to: int
    vin_from: str
    vin_to: str
    description_hash: bytes
    issued_at_height: int


@dataclass(frozen=True, slots=True)
class RecognisedChain:
    chain_id: str
    validators: list[bytes]
    recognised_at_height: int


@dataclass(frozen=True, slots=True)
class TransferTax:
    rate_bps: int
    set_at_height: int


# -- action arguments ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    """The transport department registers a new vehicle to its first owner's account."""

    vin: str
    make: str
    model: str
    year: int
    type_approval: str
    owner: AccountId

    def __post_init__(self) -> None:
        check_text("make", self.make)
        check_text("model", self.model)
        check_text("type_approval", self.type_approval)
        if not YEAR_MIN <= self.year <= YEAR_MAX:
            raise ValueError(f"year must be {YEAR_MIN} to {YEAR_MAX}")


@dataclass(frozen=True, slots=True)
class OfferSale:
    """The owner offers the vehicle to one buyer at a price, stating the odometer."""

    vin: str
    buyer: AccountId
    asset: str
    price_minor: int
    odometer_km: int
    timeout_blocks: int

    def __post_init__(self) -> None:
        check_amount(self.price_minor)
        check_odometer(self.odometer_km)
        if not 1 <= self.timeout_blocks <= TIMEOUT_BLOCKS_MAX:
            raise ValueError(f"timeout_blocks must be 1 to {TIMEOUT_BLOCKS_MAX}")


@dataclass(frozen=True, slots=True)
class PaySale:
    """The buyer pays into escrow; `price_minor` repeats the offer's, so a changed offer
    is refused rather than paid."""

    vin: str
    price_minor: int

    def __post_init__(self) -> None:
        check_amount(self.price_minor)


@dataclass(frozen=True, slots=True)
class Deliver:
    """The seller hands over the title; the escrow pays lien holders, tax, then the seller."""

    vin: str


@dataclass(frozen=True, slots=True)
class WithdrawSale:
    vin: str


@dataclass(frozen=True, slots=True)
class RegisterLien:
    vin: str
    id: bytes
    asset: str
    amount_minor: int

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_amount(self.amount_minor)


@dataclass(frozen=True, slots=True)
class ReleaseLien:
    vin: str
    id: bytes


@dataclass(frozen=True, slots=True)
class AccreditInspector:
    """Accredit an inspection centre against its VehicleInspector credential's status entry."""

    account: AccountId
    issuer: AccountId
    list_id: int
    index: int

    def __post_init__(self) -> None:
        if not 0 <= self.list_id < 2**32 or not 0 <= self.index < 2**32:
            raise ValueError("list_id and index must fit 32 bits")


@dataclass(frozen=True, slots=True)
class Inspect:
    vin: str
    passed: bool
    defects: list[str]
    odometer_km: int
    next_due_ms: int
    confirm_rollback: bool = False

    def __post_init__(self) -> None:
        check_odometer(self.odometer_km)
        if len(self.defects) > DEFECTS_MAX:
            raise ValueError(f"at most {DEFECTS_MAX} defects")
        for defect in self.defects:
            check_text("a defect", defect)
        if not 0 <= self.next_due_ms < 2**63:
            raise ValueError("next_due_ms must be a time in milliseconds")


@dataclass(frozen=True, slots=True)
class Service:
    vin: str
    odometer_km: int
    reference: bytes

    def __post_init__(self) -> None:
        check_odometer(self.odometer_km)
        check_hash("reference", self.reference)


@dataclass(frozen=True, slots=True)
class RegisterManufacturer:
    account: AccountId
    make: str

    def __post_init__(self) -> None:
        check_text("make", self.make)


@dataclass(frozen=True, slots=True)
class IssueRecall:
    """A recall of a make: one model ("" for all), model years, and a VIN range ("" for all)."""

    id: bytes
    make: str
    model: str
    year_from: int
    year_to: int
    vin_from: str
    vin_to: str
    description_hash: bytes

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_text("make", self.make)
        if self.model:
            check_text("model", self.model)
        if not YEAR_MIN <= self.year_from <= self.year_to <= YEAR_MAX:
            raise ValueError(f"years must run from {YEAR_MIN} to {YEAR_MAX}, first to last")
        if bool(self.vin_from) != bool(self.vin_to) or self.vin_from > self.vin_to:
            raise ValueError("a VIN range needs both ends, first <= last")
        if len(self.vin_from) > 17 or len(self.vin_to) > 17:
            raise ValueError("VIN range ends are at most 17 characters")
        check_hash("description_hash", self.description_hash)


@dataclass(frozen=True, slots=True)
class FixRecall:
    vin: str
    recall_id: bytes
    reference: bytes

    def __post_init__(self) -> None:
        check_hash("reference", self.reference)


@dataclass(frozen=True, slots=True)
class RecordIncident:
    """An accident or an insurance claim, by reference: the report's hash, never the report."""

    vin: str
    kind: str
    report_hash: bytes

    def __post_init__(self) -> None:
        if self.kind not in ("accident", "claim"):
            raise ValueError("kind must be accident or claim")
        check_hash("report_hash", self.report_hash)


@dataclass(frozen=True, slots=True)
class Deregister:
    """Scrapped, or exported to `destination_chain` for `destination_owner` there."""

    vin: str
    reason: str
    destination_chain: str = ""
    destination_owner: AccountId | None = None

    def __post_init__(self) -> None:
        if self.reason == "scrapped":
            if self.destination_chain or self.destination_owner is not None:
                raise ValueError("a scrapped vehicle has no destination")
        elif self.reason == "exported":
            check_text("destination_chain", self.destination_chain)
            if self.destination_owner is None:
                raise ValueError("an export names the owner's account on the destination chain")
        else:
            raise ValueError("reason must be scrapped or exported")


@dataclass(frozen=True, slots=True)
class SetTransferTax:
    rate_bps: int

    def __post_init__(self) -> None:
        if not 0 <= self.rate_bps <= RATE_BPS_MAX:
            raise ValueError(f"rate_bps must be 0 to {RATE_BPS_MAX}")


@dataclass(frozen=True, slots=True)
class RecogniseChain:
    """Recognise another city's chain: headers signed by one of `validators` are its own."""

    chain_id: str
    validators: list[bytes]

    def __post_init__(self) -> None:
        check_text("chain_id", self.chain_id)
        if not 1 <= len(self.validators) <= VALIDATORS_MAX:
            raise ValueError(f"1 to {VALIDATORS_MAX} validator keys")
        if any(len(key) != 32 for key in self.validators):
            raise ValueError("validator keys are 32-byte Ed25519 public keys")


@dataclass(frozen=True, slots=True)
class HeaderArg:
    """An origin chain's signed block header, as its API shows it."""

    chain_id: str
    height: int
    time_ms: int
    prev_hash: bytes
    txs_root: bytes
    results_root: bytes
    app_hash: bytes
    proposer: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class ProofArg:
    """A state proof of the origin chain (urbis.state.proof.StateProof on the wire)."""

    key: bytes
    value: bytes | None
    siblings: list[bytes]
    leaf: list[bytes]
    root: bytes
    height: int

    def __post_init__(self) -> None:
        if len(self.siblings) > 256:
            raise ValueError("a proof has at most 256 siblings")
        if len(self.leaf) not in (0, 2):
            raise ValueError("leaf is empty or [key hash, value hash]")


@dataclass(frozen=True, slots=True)
class ImportVehicle:
    """Register a vehicle exported from a recognised chain, from its proven record there."""

    header: HeaderArg
    proof: ProofArg
