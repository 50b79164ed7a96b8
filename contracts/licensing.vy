# pragma version 0.4.3
"""
@title Licensing
@notice Application -> fee paid -> an officer approves (or rejects with a
        reason) -> licence valid until a date -> renewal before expiry ->
        revocation. Each licence owns an entry in this contract's Token Status
        List, so the verifiable credential the licensing department issues for
        it stops verifying the moment the licence is revoked.
"""

interface Payments:
    def issueInvoice(id: bytes32, department: String[32], payer: address, kind: String[16], asset: String[16], amount: uint256, dueAtMs: uint64, detailsHash: bytes32) -> bool: nonpayable
    def invoiceOf(id: bytes32) -> (bool, address, address, String[16], uint256, uint256, String[16]): view

interface Governance:
    def hasRole(account: address, role: String[64]) -> bool: view

interface Identity:
    def createStatusList(listId: uint32, size: uint32) -> bool: nonpayable
    def setStatus(listId: uint32, index: uint256, status: uint8) -> bool: nonpayable

interface Clock:
    def now() -> uint64: view

PAYMENTS: constant(address) = 0x0000000000000000000000000000000000005001
GOVERNANCE: constant(address) = 0x0000000000000000000000000000000000005002
IDENTITY: constant(address) = 0x0000000000000000000000000000000000005003
CLOCK: constant(address) = 0x0000000000000000000000000000000000005004
STATUS_LIST: constant(uint32) = 1
STATUS_LIST_SIZE: constant(uint32) = 4096
DUE_MS: constant(uint64) = 30 * 86400 * 1000
DAY_MS: constant(uint64) = 86400 * 1000

APPLIED: constant(uint8) = 1
APPROVED: constant(uint8) = 2
REJECTED: constant(uint8) = 3
REVOKED: constant(uint8) = 4

struct Licence:
    applicant: address
    kind: String[32]
    fee_invoice: bytes32
    state: uint8
    reason: String[128]
    valid_until: uint64
    status_index: uint256
    renewals: uint256

event Applied:
    licence: indexed(bytes32)
    applicant: address
    kind: String[32]
    fee_invoice: bytes32

event Approved:
    licence: indexed(bytes32)
    applicant: address
    status_index: uint256
    valid_until: uint64

event Rejected:
    licence: indexed(bytes32)
    reason: String[128]

event Renewed:
    licence: indexed(bytes32)
    valid_until: uint64

event Revoked:
    licence: indexed(bytes32)
    reason: String[128]

department: public(String[32])
asset: public(String[16])
fee: public(uint256)
validity_days: public(uint64)
licences: public(HashMap[bytes32, Licence])
next_index: public(uint256)


@deploy
def __init__(department: String[32], asset: String[16], fee: uint256, validity_days: uint64):
    self.department = department
    self.asset = asset
    self.fee = fee
    self.validity_days = validity_days
    extcall Identity(IDENTITY).createStatusList(STATUS_LIST, STATUS_LIST_SIZE)


@internal
@view
def _officer(account: address) -> bool:
    return staticcall Governance(GOVERNANCE).hasRole(account, concat(self.department, ".officer"))


@internal
@view
def _paid(invoice: bytes32) -> bool:
    found: bool = False
    payer: address = empty(address)
    payee: address = empty(address)
    asset: String[16] = ""
    amount: uint256 = 0
    paid: uint256 = 0
    status: String[16] = ""
    found, payer, payee, asset, amount, paid, status = staticcall Payments(PAYMENTS).invoiceOf(invoice)
    return found and status == "paid"


@internal
def _bill(licence: bytes32, applicant: address, round: uint256) -> bytes32:
    invoice: bytes32 = keccak256(concat(licence, convert(round, bytes32)))
    due: uint64 = staticcall Clock(CLOCK).now() + DUE_MS
    extcall Payments(PAYMENTS).issueInvoice(invoice, self.department, applicant, "fee", self.asset, self.fee, due, licence)
    return invoice


@external
def apply(licence: bytes32, kind: String[32]):
    """Apply; the fee invoice is issued to the applicant at once."""
    assert self.licences[licence].applicant == empty(address), "licence id taken"
    invoice: bytes32 = self._bill(licence, msg.sender, 0)
    self.licences[licence] = Licence(applicant=msg.sender, kind=kind, fee_invoice=invoice, state=APPLIED, reason="", valid_until=0, status_index=0, renewals=0)
    log Applied(licence=licence, applicant=msg.sender, kind=kind, fee_invoice=invoice)


@external
def decide(licence: bytes32, approve: bool, reason: String[128]):
    assert self._officer(msg.sender), "only a licensing officer decides"
    lic: Licence = self.licences[licence]
    assert lic.state == APPLIED, "not awaiting a decision"
    if not approve:
        assert len(reason) > 0, "a rejection needs a reason"
        self.licences[licence].state = REJECTED
        self.licences[licence].reason = reason
        log Rejected(licence=licence, reason=reason)
        return
    assert self._paid(lic.fee_invoice), "the fee is not paid"
    index: uint256 = self.next_index
    assert index < convert(STATUS_LIST_SIZE, uint256), "status list full"
    self.next_index = index + 1
    until: uint64 = staticcall Clock(CLOCK).now() + self.validity_days * DAY_MS
    self.licences[licence].state = APPROVED
    self.licences[licence].status_index = index
    self.licences[licence].valid_until = until
    log Approved(licence=licence, applicant=lic.applicant, status_index=index, valid_until=until)


@external
def request_renewal(licence: bytes32) -> bytes32:
    lic: Licence = self.licences[licence]
    assert lic.applicant == msg.sender, "only the holder renews"
    assert lic.state == APPROVED, "only a valid licence renews"
    assert staticcall Clock(CLOCK).now() < lic.valid_until, "expired: apply again"
    invoice: bytes32 = self._bill(licence, msg.sender, lic.renewals + 1)
    self.licences[licence].fee_invoice = invoice
    return invoice


@external
def renew(licence: bytes32):
    lic: Licence = self.licences[licence]
    assert lic.applicant == msg.sender, "only the holder renews"
    assert lic.state == APPROVED, "only a valid licence renews"
    assert staticcall Clock(CLOCK).now() < lic.valid_until, "expired: apply again"
    assert lic.renewals + 1 <= 100, "too many renewals"
    assert self._paid(lic.fee_invoice), "the renewal fee is not paid"
    invoice_round: bytes32 = keccak256(concat(licence, convert(lic.renewals + 1, bytes32)))
    assert invoice_round == lic.fee_invoice, "request a renewal first"
    until: uint64 = lic.valid_until + self.validity_days * DAY_MS
    self.licences[licence].valid_until = until
    self.licences[licence].renewals = lic.renewals + 1
    log Renewed(licence=licence, valid_until=until)


@external
def revoke(licence: bytes32, reason: String[128]):
    assert self._officer(msg.sender), "only a licensing officer revokes"
    lic: Licence = self.licences[licence]
    assert lic.state == APPROVED, "only an approved licence is revoked"
    self.licences[licence].state = REVOKED
    self.licences[licence].reason = reason
    extcall Identity(IDENTITY).setStatus(STATUS_LIST, lic.status_index, 1)
    log Revoked(licence=licence, reason=reason)


@external
@view
def is_valid(licence: bytes32) -> bool:
    lic: Licence = self.licences[licence]
    return lic.state == APPROVED and staticcall Clock(CLOCK).now() < lic.valid_until
