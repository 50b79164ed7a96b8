# pragma version 0.4.3
"""
@title Utility billing
@notice Meters registered by the utility; readings submitted in transactions
        signed by a meter reader of the utility; a tiered tariff in integer
        arithmetic prices the usage; the bill is a payments invoice, collected
        at once when the resident's mandate allows it.
"""

interface Payments:
    def issueInvoice(id: bytes32, department: String[32], payer: address, kind: String[16], asset: String[16], amount: uint256, dueAtMs: uint64, detailsHash: bytes32) -> bool: nonpayable
    def collectInvoice(department: String[32], id: bytes32) -> bool: nonpayable
    def canCollect(payer: address, department: String[32], asset: String[16], amount: uint256) -> bool: view

interface Governance:
    def hasRole(account: address, role: String[64]) -> bool: view

interface Clock:
    def now() -> uint64: view

PAYMENTS: constant(address) = 0x0000000000000000000000000000000000005001
GOVERNANCE: constant(address) = 0x0000000000000000000000000000000000005002
CLOCK: constant(address) = 0x0000000000000000000000000000000000005004
DUE_MS: constant(uint64) = 30 * 86400 * 1000
MAX_TIERS: constant(uint256) = 8

struct Meter:
    resident: address
    reading: uint256
    seq: uint256
    active: bool

struct Tier:
    up_to: uint256
    price: uint256

event MeterRegistered:
    meter: indexed(bytes32)
    resident: address

event Billed:
    meter: indexed(bytes32)
    invoice: bytes32
    resident: address
    usage: uint256
    amount: uint256
    collected: bool

department: public(String[32])
asset: public(String[16])
meters: public(HashMap[bytes32, Meter])
tiers: public(DynArray[Tier, MAX_TIERS])


@deploy
def __init__(department: String[32], asset: String[16], tiers: DynArray[Tier, MAX_TIERS]):
    assert len(tiers) > 0, "a tariff needs a tier"
    self.department = department
    self.asset = asset
    self._set_tiers(tiers)


@internal
def _set_tiers(tiers: DynArray[Tier, MAX_TIERS]):
    last: uint256 = 0
    for t: Tier in tiers:
        assert t.up_to > last, "tiers must rise"
        last = t.up_to
    self.tiers = tiers


@internal
@view
def _has(account: address, role: String[16]) -> bool:
    """Does the account hold `<department>.<role>`?"""
    return staticcall Governance(GOVERNANCE).hasRole(account, concat(self.department, ".", role))


@external
@view
def price(usage: uint256) -> uint256:
    return self._price(usage)


@internal
@view
def _price(usage: uint256) -> uint256:
    """Each unit is priced by the tier it falls in; the last tier prices all beyond it."""
    total: uint256 = 0
    below: uint256 = 0
    n: uint256 = len(self.tiers)
    for i: uint256 in range(MAX_TIERS):
        if i >= n or usage <= below:
            break
        t: Tier = self.tiers[i]
        top: uint256 = t.up_to
        if i == n - 1:
            top = max_value(uint256)
        units: uint256 = min(usage, top) - below
        total += units * t.price
        below = t.up_to
    return total


@external
def set_tariff(tiers: DynArray[Tier, MAX_TIERS]):
    assert self._has(msg.sender, "admin"), "only the utility's admin sets the tariff"
    self._set_tiers(tiers)


@external
def register_meter(meter: bytes32, resident: address, reading: uint256):
    assert self._has(msg.sender, "meter_reader"), "only a meter reader registers meters"
    assert not self.meters[meter].active, "meter already registered"
    self.meters[meter] = Meter(resident=resident, reading=reading, seq=0, active=True)
    log MeterRegistered(meter=meter, resident=resident)


@external
def submit_reading(meter: bytes32, seq: uint256, reading: uint256) -> bytes32:
    """One signed reading becomes one invoice; collected now if the mandate allows."""
    assert self._has(msg.sender, "meter_reader"), "only a meter reader submits readings"
    m: Meter = self.meters[meter]
    assert m.active, "unknown meter"
    assert seq == m.seq + 1, "readings come in sequence"
    assert reading >= m.reading, "a meter never runs backwards"
    usage: uint256 = reading - m.reading
    amount: uint256 = self._price(usage)
    self.meters[meter].reading = reading
    self.meters[meter].seq = seq
    invoice: bytes32 = keccak256(concat(meter, convert(seq, bytes32)))
    collected: bool = False
    if amount > 0:
        due: uint64 = staticcall Clock(CLOCK).now() + DUE_MS
        details: bytes32 = keccak256(concat(meter, convert(seq, bytes32), convert(reading, bytes32)))
        extcall Payments(PAYMENTS).issueInvoice(invoice, self.department, m.resident, "utility", self.asset, amount, due, details)
        if staticcall Payments(PAYMENTS).canCollect(m.resident, self.department, self.asset, amount):
            extcall Payments(PAYMENTS).collectInvoice(self.department, invoice)
            collected = True
    log Billed(meter=meter, invoice=invoice, resident=m.resident, usage=usage, amount=amount, collected=collected)
    return invoice
