"""The lookup indexes (`tx_ids`, `account_txs`) hold recent blocks' rows in memory and
merge them into their tables a batch at a time; reads see both, and a reopened store
rebuilds what was held from the blocks themselves."""

from __future__ import annotations

import dataclasses
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


def test_a_merge_moves_the_indexed_height_and_leaves_nothing_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block that fills the buffer writes every held row and its own; the tables then
    hold exactly the blocks up to it, and memory nothing."""
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 6)
    chain = CityChain(tmp_path)
    heights = []
    for n in range(6):
        run_blocks(chain, 1, first=n)
        heights.append(indexed_height(chain))
        recent = chain.app.blocks._recent
        if heights[-1] == chain.height:
            assert recent.rows == 0 and not recent.ids and not recent.accounts
        else:
            assert 0 < recent.rows < 6
    assert heights == sorted(heights) and heights[-1] > heights[0]
    ids = chain.db.fetchall("SELECT position FROM tx_ids ORDER BY position")
    limit = (indexed_height(chain) + 1) << blockstore.POSITION_BITS
    tabled = chain.db.fetchall(
        "SELECT position FROM block_txs WHERE position < ? ORDER BY position", (limit,)
    )
    assert ids == tabled
    chain.close()


def test_the_same_id_twice_is_found_at_its_first_position_across_the_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction a proposer put in a block again (refused the second time) is stored at
    both positions; by id the first is found, whether it is in the tables or held."""
    for held in (1, 10**9):
        monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", held)
        folder = tmp_path / str(held)
        folder.mkdir()
        chain = CityChain(folder)
        tx = chain.sign("land", [anchor("land", "twice")])
        first = chain.execute_raw([tx.raw]).receipts[0]
        monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 10**9)  # the second stays held
        again = chain.execute_raw([tx.raw]).receipts[0]
        assert first.code == "ok" and again.code != "ok"
        found = chain.app.blocks.tx(tx.id)
        assert found is not None and (found.height, found.index) == (first.height, 0)
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


@pytest.mark.parametrize("merging", [False, True])
def test_a_failed_block_transaction_changes_neither_the_tables_nor_the_rows_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merging: bool
) -> None:
    """Rows reach the reads only once their block committed: a write whose transaction
    is rolled back (a merging one too) adds nothing, and the next block is indexed."""
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 10**9)
    chain = CityChain(tmp_path)
    run_blocks(chain, 2)
    blocks = chain.app.blocks
    held, height = blocks._recent.rows, indexed_height(chain)
    history = blocks.account_txs(account("land").raw, limit=100)
    tabled = chain.db.fetchall("SELECT * FROM account_txs")
    signed = blocks.header(chain.height)
    assert signed is not None
    stored = blocks.block_txs(chain.height)
    if merging:
        monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 1)
    header = dataclasses.replace(signed.header, height=chain.height + 1)
    with pytest.raises(RuntimeError, match="rolled back"), chain.db.transaction() as conn:
        blocks.write(
            conn,
            dataclasses.replace(signed, header=header),
            [s.raw for s in stored],
            [s.receipt for s in stored],
            [b"\x00"] * len(stored),
        )
        assert blocks._written is not None and blocks._written.merged is merging
        raise RuntimeError("rolled back")
    assert blocks._recent.rows == held and indexed_height(chain) == height
    assert chain.db.fetchall("SELECT * FROM account_txs") == tabled
    assert blocks.account_txs(account("land").raw, limit=100) == history
    run_blocks(chain, 1, first=2)
    assert_reads_match(chain)
    chain.close()
