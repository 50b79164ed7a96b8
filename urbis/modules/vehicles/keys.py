"""Every state key the vehicles module writes, all under `vehicles/`."""

from urbis.chain.ids import AccountId
from urbis.chain.keyparts import fixed_width

PREFIX = b"vehicles/"
VEHICLE_PREFIX = PREFIX + b"vehicle/"
EVENT_PREFIX = PREFIX + b"event/"
SALE_PREFIX = PREFIX + b"sale/"
INSPECTOR_PREFIX = PREFIX + b"inspector/"
MANUFACTURER_PREFIX = PREFIX + b"manufacturer/"
RECALL_PREFIX = PREFIX + b"recall/"
MAKE_RECALL_PREFIX = PREFIX + b"make_recall/"
FIX_PREFIX = PREFIX + b"fix/"
CHAIN_PREFIX = PREFIX + b"chain/"
IMPORTED_PREFIX = PREFIX + b"imported/"
TRANSFER_TAX = PREFIX + b"transfer_tax"


def vehicle(vin: str) -> bytes:
    return VEHICLE_PREFIX + vin.encode()


def event_prefix(vin: str) -> bytes:
    return EVENT_PREFIX + vin.encode() + b"/"


def event(vin: str, seq: int) -> bytes:
    """Events sort by their sequence number under the vehicle."""
    return event_prefix(vin) + fixed_width(seq, 4, "an event number")


def sale(vin: str) -> bytes:
    """At most one sale is open per vehicle."""
    return SALE_PREFIX + vin.encode()


def inspector(account: AccountId) -> bytes:
    return INSPECTOR_PREFIX + account.raw


def manufacturer(account: AccountId) -> bytes:
    return MANUFACTURER_PREFIX + account.raw


def recall(recall_id: bytes) -> bytes:
    return RECALL_PREFIX + recall_id


def make_recall_prefix(make: str) -> bytes:
    return MAKE_RECALL_PREFIX + make.encode() + b"/"


def make_recall(make: str, recall_id: bytes) -> bytes:
    """Index: the recalls of a make, so an owner's open recalls take one scan."""
    return make_recall_prefix(make) + recall_id


def fix(vin: str, recall_id: bytes) -> bytes:
    return FIX_PREFIX + vin.encode() + b"/" + recall_id


def chain(chain_id: str) -> bytes:
    return CHAIN_PREFIX + chain_id.encode()


def imported(vin: str, chain_id: str) -> bytes:
    """How many origin events the last import of `vin` from `chain_id` carried: an older
    bundle (the vehicle has left and come back since) can never be replayed."""
    return IMPORTED_PREFIX + vin.encode() + b"/" + chain_id.encode()
