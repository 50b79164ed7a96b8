"""Mempool: limits, per-account bound, nonce-ordered proposals."""

from __future__ import annotations

import pytest

from tests.helpers.city import CityChain, anchor
from urbis.chain.errors import UrbisError
from urbis.chain.mempool import Mempool, MempoolLimits


def test_out_of_order_arrivals_are_proposed_in_nonce_order(chain: CityChain) -> None:
    txs = [chain.sign("land", [anchor("land", f"d{i}")], nonce=i) for i in range(5)]
    for tx in reversed(txs):
        chain.submit(tx)
    _, result = chain.block()
    assert [r.code for r in result.receipts] == ["ok"] * 5


def test_gap_in_nonces_waits_for_the_missing_one(chain: CityChain) -> None:
    later = chain.sign("land", [anchor("land", "d1")], nonce=1)
    chain.submit(later)
    _, result = chain.block()
    assert result.receipts == [] and len(chain.mempool) == 1
    chain.submit(chain.sign("land", [anchor("land", "d0")], nonce=0))
    _, result = chain.block()
    assert len(result.receipts) == 2 and len(chain.mempool) == 0


def test_per_account_limit_is_mempool_account_rate_limited(chain: CityChain) -> None:
    chain.mempool = Mempool(MempoolLimits(per_account_max=3))
    for i in range(3):
        chain.submit(chain.sign("land", [anchor("land", f"d{i}")], nonce=i))
    with pytest.raises(UrbisError) as caught:
        chain.submit(chain.sign("land", [anchor("land", "d3")], nonce=3))
    assert caught.value.code == "mempool.account_rate_limited"
    chain.submit(chain.sign("finance", [anchor("finance", "f")], nonce=0))


def test_full_mempool_is_mempool_full(chain: CityChain) -> None:
    chain.mempool = Mempool(MempoolLimits(txs_max=2))
    chain.submit(chain.sign("land", [anchor("land", "a")], nonce=0))
    chain.submit(chain.sign("finance", [anchor("finance", "b")], nonce=0))
    with pytest.raises(UrbisError) as caught:
        chain.submit(chain.sign("registry", [anchor("registry", "c")], nonce=0))
    assert caught.value.code == "mempool.full"


def test_same_nonce_twice_pending_is_tx_nonce_used(chain: CityChain) -> None:
    chain.submit(chain.sign("land", [anchor("land", "a")], nonce=0))
    with pytest.raises(UrbisError) as caught:
        chain.submit(chain.sign("land", [anchor("land", "b")], nonce=0))
    assert caught.value.code == "tx.nonce_used"


def test_expired_pending_txs_are_pruned(chain: CityChain) -> None:
    chain.submit(chain.sign("land", [anchor("land", "a")], nonce=1, expires_at=2))
    chain.block()
    chain.block()
    assert len(chain.mempool) == 0
