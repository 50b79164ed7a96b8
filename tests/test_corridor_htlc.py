"""The Urbis HTLC's time deadline (`timeout_ms`): what a swap with another chain needs.

Another chain cannot see Urbis heights, but both chains keep block time; so the Urbis leg
of a corridor expires by block time, as the Ethereum leg does by `block.timestamp`.
The chain here cuts a block every 1,000 ms of its clock (tests.helpers.city.CityChain).
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from tests import test_payments
from tests.helpers.city import CityChain, account
from urbis.chain.codec import from_wire, to_wire
from urbis.crypto.encoding import decode_trusted, encode_trusted
from urbis.modules.payments import keys
from urbis.modules.payments.invariants import check_holds, check_invariants, snapshot
from urbis.modules.payments.keeper import check_supply
from urbis.modules.payments.records import HTLC_TIMEOUT_MS_MAX, Htlc, LockHtlc
from urbis.sdk.builder import action

SECRET = b"corridor secret"
HASHLOCK = hashlib.sha256(SECRET).digest()
city = test_payments.city
"""The payments tests' fixture: EUR issued, Alice, Bob and Carol funded with 100.00 EUR."""


def lock(htlc_id: bytes, timeout_ms: int, timeout_blocks: int = 0) -> object:
    return action(
        "payments",
        "lock_htlc",
        id=htlc_id,
        recipient=account("bob"),
        asset="EUR",
        amount_minor=1_000,
        hashlock=HASHLOCK,
        timeout_blocks=timeout_blocks,
        timeout_ms=timeout_ms,
    )


def claim(htlc_id: bytes, preimage: bytes = SECRET) -> object:
    return action("payments", "claim_htlc", id=htlc_id, preimage=preimage)


def refund(htlc_id: bytes) -> object:
    return action("payments", "refund_htlc", id=htlc_id)


def eur(city: CityChain, name: str) -> int:
    answer = city.query("payments", "balance", account=account(name).text, asset="EUR")
    return int(answer["balance_minor"])


def test_lock_records_the_time_deadline_from_block_time(city: CityChain) -> None:
    locked = city.run("alice", lock(b"corridor-1", 2_500))
    assert locked.ok
    event = next(e for e in locked.events if e.type == "payments.htlc_locked")
    htlc = city.query("payments", "htlc", id=b"corridor-1".hex())
    assert htlc["deadline_at_ms"] == event.attrs["deadline_at_ms"] == city.clock + 2_500


def test_claim_within_the_time_deadline(city: CityChain) -> None:
    assert city.run("alice", lock(b"corridor-2", 2_500)).ok
    city.block()  # +1,000 ms: still within
    assert city.run("bob", claim(b"corridor-2")).ok
    assert eur(city, "bob") == 11_000


def test_claim_after_the_time_deadline_is_payments_htlc_expired(city: CityChain) -> None:
    """The height deadline is far off; block time alone closes the lock."""
    assert city.run("alice", lock(b"corridor-3", 2_500)).ok
    assert city.run("alice", refund(b"corridor-3")).code == "payments.htlc_not_expired"
    city.block()
    city.block()  # the next block is 3,000 ms after the lock's
    before = (eur(city, "alice"), eur(city, "bob"))
    assert city.run("bob", claim(b"corridor-3")).code == "payments.htlc_expired"
    assert (eur(city, "alice"), eur(city, "bob")) == before
    assert city.query("payments", "htlc", id=b"corridor-3".hex())["status"] == "locked"
    assert city.run("alice", refund(b"corridor-3")).ok
    assert eur(city, "alice") == 10_000 and eur(city, "bob") == 10_000
    assert check_supply(city.app.store) == []


def test_a_lock_by_time_knows_no_height(city: CityChain) -> None:
    """However many blocks pass, only block time closes it: blocks come as fast as work
    arrives, so a height says nothing about when."""
    assert city.run("alice", lock(b"corridor-4", 10_000)).ok
    assert city.query("payments", "htlc", id=b"corridor-4".hex())["deadline_at_height"] == 0
    for _ in range(5):
        city.block()
    assert city.run("bob", claim(b"corridor-4")).ok


def test_a_lock_by_height_is_unchanged(city: CityChain) -> None:
    assert city.run("alice", lock(b"corridor-5", 0, timeout_blocks=1)).ok
    assert city.query("payments", "htlc", id=b"corridor-5".hex())["deadline_at_ms"] == 0
    city.block()
    assert city.run("bob", claim(b"corridor-5")).code == "payments.htlc_expired"
    assert city.run("alice", refund(b"corridor-5")).ok


def test_timeout_ms_out_of_range_or_beside_timeout_blocks_is_refused() -> None:
    bob = account("bob")
    with pytest.raises(ValueError, match="timeout_ms"):
        LockHtlc(b"corridor-6", bob, "EUR", 1, HASHLOCK, 0, HTLC_TIMEOUT_MS_MAX + 1)
    with pytest.raises(ValueError, match="timeout_ms"):
        LockHtlc(b"corridor-6", bob, "EUR", 1, HASHLOCK, 0, -1)
    with pytest.raises(ValueError, match="not both"):
        LockHtlc(b"corridor-6", bob, "EUR", 1, HASHLOCK, 10, 1_000)
    with pytest.raises(ValueError, match="timeout_blocks"):
        LockHtlc(b"corridor-6", bob, "EUR", 1, HASHLOCK, 0, 0)


def test_a_time_lock_beside_timeout_blocks_is_tx_invalid_args(city: CityChain) -> None:
    before = city.query("payments", "balance", account=account("alice").text, asset="EUR")
    assert city.run("alice", lock(b"corridor-7", 1_000, 10)).code == "tx.invalid_args"
    after = city.query("payments", "balance", account=account("alice").text, asset="EUR")
    assert before == after


def test_the_invariants_hold_for_both_kinds_of_lock_and_catch_one_with_two(
    city: CityChain,
) -> None:
    assert city.run("alice", lock(b"corridor-8", 5_000)).ok
    assert city.run("alice", lock(b"corridor-9", 0, timeout_blocks=5)).ok
    assert check_invariants(city.app.store, city.height, city.clock) == []
    rows = snapshot(city.app.store)
    key = keys.htlc(b"corridor-8")
    htlc = from_wire(Htlc, decode_trusted(rows[key]))
    rows[key] = encode_trusted(to_wire(dataclasses.replace(htlc, deadline_at_height=7)))
    (problem,) = check_holds(rows)
    assert "exactly one" in problem
