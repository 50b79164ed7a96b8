# pragma version 0.4.3
"""
@title Land registry
@notice Parcels, liens and sales. A sale settles atomically: the buyer's
        escrow is released to this contract, the seller is paid, the transfer
        tax goes to the city, and ownership moves, all in the registrar's
        approval transaction. Deeds and geometry stay off chain; only their
        document hash is kept.
"""

interface Payments:
    def transfer(to: address, asset: String[16], amount: uint256, id: bytes32) -> bool: nonpayable
    def approveEscrow(id: bytes32) -> bool: nonpayable
    def escrowOf(id: bytes32) -> (bool, address, address, String[16], uint256, String[16]): view

interface Governance:
    def hasRole(account: address, role: String[64]) -> bool: view

PAYMENTS: constant(address) = 0x0000000000000000000000000000000000005001
GOVERNANCE: constant(address) = 0x0000000000000000000000000000000000005002
REGISTRAR: constant(String[64]) = "land.registrar"
BPS: constant(uint256) = 10000

struct Parcel:
    owner: address
    deed: bytes32
    liens: uint256
    owners: uint256

struct Sale:
    seller: address
    buyer: address
    price: uint256
    escrow: bytes32
    funded: bool

event Registered:
    parcel: indexed(bytes32)
    owner: address
    deed: bytes32

event Listed:
    parcel: indexed(bytes32)
    seller: address
    buyer: address
    price: uint256

event Funded:
    parcel: indexed(bytes32)
    escrow: bytes32

event Sold:
    parcel: indexed(bytes32)
    seller: address
    buyer: address
    price: uint256
    tax: uint256

event LienAdded:
    parcel: indexed(bytes32)
    lien: bytes32
    holder: address

event LienReleased:
    parcel: indexed(bytes32)
    lien: bytes32

asset: public(String[16])
tax_bps: public(uint256)
treasury: public(address)
parcels: public(HashMap[bytes32, Parcel])
sales: public(HashMap[bytes32, Sale])
liens: public(HashMap[bytes32, HashMap[bytes32, address]])
owner_history: public(HashMap[bytes32, HashMap[uint256, address]])


@deploy
def __init__(asset: String[16], tax_bps: uint256, treasury: address):
    assert tax_bps <= BPS, "tax above 100%"
    self.asset = asset
    self.tax_bps = tax_bps
    self.treasury = treasury


@internal
@view
def _registrar(account: address) -> bool:
    return staticcall Governance(GOVERNANCE).hasRole(account, REGISTRAR)


@internal
def _record_owner(parcel: bytes32, owner: address):
    n: uint256 = self.parcels[parcel].owners
    self.owner_history[parcel][n] = owner
    self.parcels[parcel].owners = n + 1
    self.parcels[parcel].owner = owner


@external
def register(parcel: bytes32, owner: address, deed: bytes32):
    assert self._registrar(msg.sender), "only a land registrar registers parcels"
    assert self.parcels[parcel].owners == 0, "parcel already registered"
    self.parcels[parcel].deed = deed
    self._record_owner(parcel, owner)
    log Registered(parcel=parcel, owner=owner, deed=deed)


@external
def add_lien(parcel: bytes32, lien: bytes32, holder: address):
    assert self._registrar(msg.sender), "only a land registrar records liens"
    assert self.parcels[parcel].owners > 0, "unknown parcel"
    assert self.liens[parcel][lien] == empty(address), "lien exists"
    self.liens[parcel][lien] = holder
    self.parcels[parcel].liens += 1
    log LienAdded(parcel=parcel, lien=lien, holder=holder)


@external
def release_lien(parcel: bytes32, lien: bytes32):
    holder: address = self.liens[parcel][lien]
    assert holder != empty(address), "no such lien"
    assert msg.sender == holder or self._registrar(msg.sender), "only the holder or a registrar"
    self.liens[parcel][lien] = empty(address)
    self.parcels[parcel].liens -= 1
    log LienReleased(parcel=parcel, lien=lien)


@external
def list_for_sale(parcel: bytes32, buyer: address, price: uint256):
    assert self.parcels[parcel].owner == msg.sender, "only the owner sells"
    assert self.parcels[parcel].liens == 0, "a lien blocks the sale"
    assert price > 0, "price must be positive"
    assert not self.sales[parcel].funded, "a funded sale is pending"
    self.sales[parcel] = Sale(seller=msg.sender, buyer=buyer, price=price, escrow=empty(bytes32), funded=False)
    log Listed(parcel=parcel, seller=msg.sender, buyer=buyer, price=price)


@external
def fund(parcel: bytes32, escrow: bytes32):
    """The buyer names a payments escrow it opened for this contract, for the price."""
    sale: Sale = self.sales[parcel]
    assert sale.buyer == msg.sender, "only the named buyer funds"
    assert not sale.funded, "already funded"
    found: bool = False
    payer: address = empty(address)
    beneficiary: address = empty(address)
    asset: String[16] = ""
    amount: uint256 = 0
    status: String[16] = ""
    found, payer, beneficiary, asset, amount, status = staticcall Payments(PAYMENTS).escrowOf(escrow)
    assert found and status == "open", "no open escrow"
    assert payer == msg.sender and beneficiary == self, "escrow must be from the buyer to this registry"
    assert asset == self.asset and amount == sale.price, "escrow must hold the price"
    self.sales[parcel].escrow = escrow
    self.sales[parcel].funded = True
    log Funded(parcel=parcel, escrow=escrow)


@external
def approve_sale(parcel: bytes32):
    """The registrar's approval settles the sale in one step, or nothing happens."""
    assert self._registrar(msg.sender), "only a land registrar approves sales"
    sale: Sale = self.sales[parcel]
    assert sale.funded, "the sale is not funded"
    assert self.parcels[parcel].owner == sale.seller, "the seller no longer owns the parcel"
    assert self.parcels[parcel].liens == 0, "a lien blocks the sale"
    extcall Payments(PAYMENTS).approveEscrow(sale.escrow)
    tax: uint256 = sale.price * self.tax_bps // BPS
    base: bytes32 = keccak256(concat(parcel, sale.escrow))
    extcall Payments(PAYMENTS).transfer(sale.seller, self.asset, sale.price - tax, keccak256(concat(base, b"seller")))
    if tax > 0:
        extcall Payments(PAYMENTS).transfer(self.treasury, self.asset, tax, keccak256(concat(base, b"tax")))
    self._record_owner(parcel, sale.buyer)
    self.sales[parcel] = empty(Sale)
    log Sold(parcel=parcel, seller=sale.seller, buyer=sale.buyer, price=sale.price, tax=tax)


@external
def cancel_sale(parcel: bytes32):
    sale: Sale = self.sales[parcel]
    assert sale.seller == msg.sender, "only the seller cancels"
    assert not sale.funded, "a funded sale is settled by the registrar or the escrow deadline"
    self.sales[parcel] = empty(Sale)
