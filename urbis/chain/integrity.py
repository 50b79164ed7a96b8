"""What a node checks on start before it serves a read or builds a block.

The state store has already proven its current tree whole (StateStore loads
it). Here the block chain is tied to it: the latest block is the state's
height, each recent header hashes to what the next one names as its parent,
and each header's app hash is the state root the store kept for that height.
A mismatch raises StoreCorrupt with what is wrong, so the operator restores
rather than the node signing on top of damage.
"""

from __future__ import annotations

from urbis.chain.blockstore import BlockStore
from urbis.crypto.hashing import EMPTY_HASH
from urbis.state.errors import StoreCorrupt
from urbis.state.store import StateStore

CHECKED_ON_START_MAX = 1000
"""Recent heights whose headers are checked on start; older ones are checked when read."""


def check_chain(store: StateStore, blocks: BlockStore, chain_id: str) -> None:
    latest = blocks.latest_height()
    expected = max(store.version, 0)
    if latest != expected:
        raise StoreCorrupt(f"the latest block is {latest}, but the state is at height {expected}")
    if store.version < 1:
        return
    oldest = max(1, store.version - min(store.keep_versions, CHECKED_ON_START_MAX) + 1)
    child = None
    for height in range(store.version, oldest - 1, -1):
        signed = blocks.header(height)  # hash and signature checked as it is read
        if signed is None:
            raise StoreCorrupt(f"the header of block {height} is missing")
        header = signed.header
        if header.chain_id != chain_id:
            raise StoreCorrupt(f"block {height} names chain {header.chain_id!r}, not {chain_id!r}")
        if header.app_hash != store.root_at(height):
            raise StoreCorrupt(f"block {height}'s app hash is not the state root kept for it")
        if child is not None and child.prev_hash != header.hash:
            raise StoreCorrupt(f"block {height + 1} does not link to block {height}")
        if height == 1 and header.prev_hash != EMPTY_HASH:
            raise StoreCorrupt("block 1 names a parent")
        child = header
