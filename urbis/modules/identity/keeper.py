"""What other modules (and the API) may read from identity: trust and status."""

from __future__ import annotations

from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader, view_of
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.identity import keys
from urbis.modules.identity.needs import AccountsView
from urbis.modules.identity.records import (
    ALLOCATION_ENTRIES_PER_PAGE,
    PAGE_BYTES,
    StatusList,
    TrustRecord,
)


def read_trust(state: StateReader, vct: str, issuer: AccountId) -> TrustRecord:
    raw = state.get(keys.trust(vct, issuer))
    return TrustRecord([]) if raw is None else from_wire(TrustRecord, decode_trusted(raw))


def read_list(state: StateReader, issuer: AccountId, list_id: int) -> StatusList | None:
    raw = state.get(keys.status_list(issuer, list_id))
    return None if raw is None else from_wire(StatusList, decode_trusted(raw))


def keys_at(state: StateReader, account: AccountId, time_ms: int) -> list[bytes]:
    """The keys an account held at `time_ms`, from its key history (for old signatures)."""
    record = view_of("accounts", AccountsView, state).account(account)
    if record is None:
        return []
    held: set[bytes] = set()
    for change in record.key_history:  # recorded in block order
        if change.time_ms > time_ms:
            break
        if change.change == "added":
            held.add(change.key)
        else:
            held.discard(change.key)
    return sorted(held)


def entries_per_page(bits: int) -> int:
    return PAGE_BYTES * 8 // bits


def read_page(state: StateReader, issuer: AccountId, list_id: int, page: int) -> bytes:
    raw = state.get(keys.status_page(issuer, list_id, page))
    return bytes(PAGE_BYTES) if raw is None else raw


def get_status(page: bytes, offset: int, bits: int) -> int:
    """Entry `offset` of a page: `bits` bits, least significant first (Token Status List)."""
    position = offset * bits
    return (page[position // 8] >> (position % 8)) & ((1 << bits) - 1)


def set_status(page: bytes, offset: int, bits: int, status: int) -> bytes:
    position = offset * bits
    mask = ((1 << bits) - 1) << (position % 8)
    updated = bytearray(page)
    updated[position // 8] = (updated[position // 8] & ~mask) | (status << (position % 8))
    return bytes(updated)


def read_allocation(state: StateReader, issuer: AccountId, list_id: int, page: int) -> bytes:
    raw = state.get(keys.allocation_page(issuer, list_id, page))
    return bytes(PAGE_BYTES) if raw is None else raw


def allocated(state: StateReader, issuer: AccountId, list_id: int, index: int) -> bool:
    """Whether the issuer has handed out entry `index` of its list."""
    page, offset = divmod(index, ALLOCATION_ENTRIES_PER_PAGE)
    return get_status(read_allocation(state, issuer, list_id, page), offset, 1) == 1


def status_of(state: StateReader, issuer: AccountId, list_id: int, index: int) -> int | None:
    """The status of one entry (None: no such list or index)."""
    status_list = read_list(state, issuer, list_id)
    if status_list is None or not 0 <= index < status_list.size:
        return None
    per_page = entries_per_page(status_list.bits)
    page = read_page(state, issuer, list_id, index // per_page)
    return get_status(page, index % per_page, status_list.bits)


class IdentityView:
    """Read-only: whether an issuer was trusted for a type at a time, a credential's status."""

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def trusted(self, vct: str, issuer: AccountId, at_ms: int) -> bool:
        return read_trust(self._state, vct, issuer).trusted_at(at_ms)

    def status_of(self, issuer: AccountId, list_id: int, index: int) -> int | None:
        """The status of one entry (None: no such list or index)."""
        return status_of(self._state, issuer, list_id, index)


class IdentityKeeper(IdentityView):
    """The writer other modules get: identity changes only by its own actions, so the
    writer reads the transaction's state and offers nothing more than the view."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.state)
