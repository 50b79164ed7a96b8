"""The lookup indexes (`tx_ids`, `account_txs`) hold recent blocks' rows in memory and
merge them into their tables a batch at a time; reads see both, and a reopened store
rebuilds what was held from the blocks themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.city import CityChain, account, anchor
from urbis.chain import blockstore
from urbis.chain.blockstore import StoredTx, accounts_named

SENDERS = ("land", "registry", "finance")


def run_blocks(chain: CityChain, blocks: int, first: int = 0) -> None:
    """Blocks of one to three transactions: land anchors, and refused anchors by others
    (a refused transaction is stored and indexed too)."""
    for n in range(first, first + blocks):
        for sender in SENDERS[: 1 + n % 3]:
            chain.submit(chain.sign(sender, [anchor("land", f"doc-{n}-{sender}")]))
        chain.block()


def expected_history(chain: CityChain) -> dict[bytes, list[StoredTx]]:
    """Each account's transactions, newest first, from the blocks' own rows."""
    history: dict[bytes, list[StoredTx]] = {}
    for height in range(1, chain.height + 1):
        for stored in chain.app.blocks.block_txs(height):
            for named in accounts_named(stored.receipt):
                history.setdefault(named, []).insert(0, stored)
    return history


def assert_reads_match(chain: CityChain) -> None:
    blocks = chain.app.blocks
    history = expected_history(chain)
    assert len(history) >= len(SENDERS)
    for named, expected in history.items():
        assert blocks.account_txs(named, limit=10_000) == expected
        for limit in (1, 2, 5):
            assert blocks.account_txs(named, limit=limit) == expected[:limit]
        for before in range(1, chain.height + 2):
            below = [s for s in expected if s.height < before]
            assert blocks.account_txs(named, limit=3, before_height=before) == below[:3]
        for stored in expected:
            assert blocks.tx(stored.tx_id) == stored
    assert blocks.tx(bytes(32)) is None


def indexed_height(chain: CityChain) -> int:
    row = chain.db.fetchone("SELECT value FROM block_meta WHERE name = 'indexed_height'")
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("held", [1, 4, 9, 10**9])
def test_reads_see_the_rows_held_and_the_rows_merged_before_and_after_a_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", held)
    chain = CityChain(tmp_path)
    run_blocks(chain, 7)
    assert_reads_match(chain)
    if held == 10**9:
        assert indexed_height(chain) == 0
    else:
        assert 0 < indexed_height(chain) <= chain.height
    # The tables hold exactly the rows of the blocks up to the indexed height.
    tabled = chain.db.fetchall("SELECT DISTINCT height FROM account_txs ORDER BY height")
    assert [h for (h,) in tabled] == [
        h for h in range(1, indexed_height(chain) + 1) if chain.app.blocks.block_txs(h)
    ]
    chain.close()

    again = CityChain(tmp_path)
    assert_reads_match(again)
    run_blocks(again, 5, first=7)
    assert_reads_match(again)
    again.close()


def test_a_merge_writes_each_row_once_in_key_order_and_moves_the_indexed_height(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 6)
    chain = CityChain(tmp_path)
    heights = []
    for n in range(6):
        run_blocks(chain, 1, first=n)
        heights.append(indexed_height(chain))
    assert heights == sorted(heights) and heights[-1] > heights[0]
    ids = chain.db.fetchall("SELECT prefix, position FROM tx_ids")
    assert len(ids) == len(set(ids))
    tabled = chain.db.fetchone("SELECT COUNT(*) FROM block_txs WHERE position < ?",
                               ((indexed_height(chain) + 1) << blockstore.POSITION_BITS,))
    assert tabled is not None and len(ids) == tabled[0]
    chain.close()


def test_a_store_written_before_the_merge_opens_as_fully_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store from before `block_meta` wrote every block's rows at once: opening it marks
    the tables complete up to its latest block and holds nothing in memory."""
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 1)  # every block merged: as before
    chain = CityChain(tmp_path)
    run_blocks(chain, 4)
    height = chain.height
    chain.db.execute("DROP TABLE block_meta")
    chain.close()
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 10**9)
    again = CityChain(tmp_path)
    assert indexed_height(again) == height
    assert again.app.blocks._recent.rows == 0
    assert_reads_match(again)
    again.close()


def test_a_failed_block_transaction_leaves_the_held_rows_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows reach the reads only once their block committed: a write whose transaction
    is rolled back adds nothing, and the next block is indexed as usual."""
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 10**9)
    chain = CityChain(tmp_path)
    run_blocks(chain, 2)
    before = chain.app.blocks._recent.rows
    history = chain.app.blocks.account_txs(account("land").raw, limit=100)
    signed = chain.app.blocks.header(chain.height)
    assert signed is not None
    stored = chain.app.blocks.block_txs(chain.height)
    with pytest.raises(RuntimeError, match="rolled back"), chain.db.transaction() as conn:
        chain.app.blocks.write(
            conn,
            type(signed)(type(signed.header)(**{**_fields(signed.header), "height": 99}), b""),
            [s.raw for s in stored],
            [s.receipt for s in stored],
            [b"\x00"] * len(stored),
        )
        raise RuntimeError("rolled back")
    assert chain.app.blocks._recent.rows == before
    assert chain.app.blocks.account_txs(account("land").raw, limit=100) == history
    run_blocks(chain, 1, first=2)
    assert_reads_match(chain)
    chain.close()


def _fields(header: object) -> dict[str, object]:
    return {name: getattr(header, name) for name in header.__dataclass_fields__}  # type: ignore[attr-defined]
