"""Bad transactions are refused with a specific code and change nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cbor2
import pytest

from tests.helpers.city import CityChain, account, anchor, doc_hash, key, role_grant
from urbis.chain import blockstore
from urbis.chain.errors import UrbisError
from urbis.chain.tx import TX_SIZE_MAX, Action, Signature, Transaction, TxBody, sign_tx
from urbis.crypto.encoding import encode
from urbis.sdk.builder import action


def rejected(chain: CityChain, raw: bytes) -> str:
    root = chain.app.info().app_hash
    with pytest.raises(UrbisError) as caught:
        chain.app.check_tx(raw)
    assert chain.app.info().app_hash == root
    return caught.value.code


def resign(tx: Transaction, signatures: list[Signature]) -> bytes:
    return encode(
        {
            "body": tx.body.to_wire(),
            "signatures": [{"key": s.key, "sig": s.sig} for s in signatures],
        }
    )


def test_malformed_cbor_is_tx_malformed(chain: CityChain) -> None:
    assert rejected(chain, b"\xa1\x63not cbor") == "tx.malformed"


def test_non_canonical_cbor_is_tx_malformed(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")])
    data = cbor2.loads(tx.raw)
    shuffled = {
        "signatures": data["signatures"],
        "body": dict(reversed(list(data["body"].items()))),
    }
    raw = cbor2.dumps(shuffled)  # insertion order: keys not in canonical order
    assert raw != tx.raw and cbor2.loads(raw) == data
    assert rejected(chain, raw) == "tx.malformed"
    assert rejected(chain, tx.raw[:-1]) == "tx.malformed"


def test_oversize_tx_is_tx_too_large(chain: CityChain) -> None:
    assert rejected(chain, b"\x00" * (TX_SIZE_MAX + 1)) == "tx.too_large"


def test_wrong_chain_id_is_tx_wrong_chain(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")], chain_id="other-city")
    assert rejected(chain, tx.raw) == "tx.wrong_chain"


def test_forged_signature_is_tx_bad_signature(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")])
    forged = Signature(tx.signatures[0].key, bytes(64))
    assert rejected(chain, resign(tx, [forged])) == "tx.bad_signature"


def test_a_burst_proves_each_signature_once_and_remembers_only_the_valid(
    chain: CityChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prove_signatures verifies a burst ahead of its CheckTx calls: the valid ones are
    remembered (CheckTx then only looks them up), a forged one is not (CheckTx refuses
    it), and the memory keeps its bound, newest kept."""
    from urbis.chain import app as app_module

    monkeypatch.setattr(app_module, "VERIFIED_CACHE_MAX", 3)
    good = [chain.sign("finance", [anchor("finance", f"b{i}")], nonce=i) for i in range(5)]
    tx = chain.sign("land", [anchor("land", "forged")], nonce=0)
    forged = resign(tx, [Signature(tx.signatures[0].key, bytes(64))])
    chain.app.prove_signatures([t.raw for t in good[:2]] + [forged] + [t.raw for t in good[2:]])
    assert list(chain.app._verified) == [t.raw for t in good[2:]]
    assert rejected(chain, forged) == "tx.bad_signature"
    assert list(chain.app._verified) == [t.raw for t in good[2:]]

    def verified_again(txs: object) -> list[bool]:
        raise AssertionError("a proven signature was verified again")

    monkeypatch.setattr(chain.app, "_signatures_valid", verified_again)
    chain.app.check_tx(good[4].raw)
    assert list(chain.app._verified) == [t.raw for t in good[2:]]


def test_an_abandoned_signature_batch_is_collected_without_taking_the_lock(
    chain: CityChain,
) -> None:
    """A consumer may stop before a batch's last result (a failing block); the collector
    may then finish the batch at any moment, inside another batch's hold of the lock.
    Finishing must not need that lock (it once did, in a `finally`: a deadlock)."""
    import gc
    import threading

    txs = [chain.sign("finance", [anchor("finance", f"a{i}")], nonce=i) for i in range(2)]
    batch = chain.app._signature_checks(txs)
    assert next(batch) is True
    cycle: list[object] = [batch]
    cycle.append(cycle)  # only the collector can free it now
    del batch, cycle

    def collect_under_the_lock() -> None:
        with chain.app._verified_lock:
            gc.collect()

    worker = threading.Thread(target=collect_under_the_lock, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "finishing an abandoned batch waited for the lock"


def test_signature_over_other_body_is_tx_bad_signature(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")], nonce=0)
    other = chain.sign("land", [anchor("land", "b")], nonce=0)
    assert rejected(chain, resign(tx, list(other.signatures))) == "tx.bad_signature"


def test_missing_signature_is_tx_malformed(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")])
    assert rejected(chain, resign(tx, [])) == "tx.malformed"


def test_signature_by_a_stranger_is_tx_unknown_signer(chain: CityChain) -> None:
    tx = chain.sign(
        "land", [anchor("land", "a")], signers=["mayor"], sender_account=account("land")
    )
    assert rejected(chain, tx.raw) == "tx.unknown_signer"


def test_signatures_below_threshold_is_tx_insufficient_weight(chain: CityChain) -> None:
    receipt = chain.run(
        "land",
        action("accounts", "add_key", key=key("land-2").public_key.raw, weight=1),
        action("accounts", "set_threshold", threshold=2),
    )
    assert receipt.ok, receipt.message
    one = chain.sign("land", [anchor("land", "a")])
    assert rejected(chain, one.raw) == "tx.insufficient_weight"
    both = chain.sign(
        "land", [anchor("land", "a")], nonce=one.body.nonce, signers=["land", "land-2"]
    )
    chain.submit(both)
    _, result = chain.block()
    assert result.receipts[0].ok


def test_replayed_tx_is_tx_duplicate_then_tx_nonce_used(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")])
    chain.submit(tx)
    with pytest.raises(UrbisError) as caught:
        chain.submit(tx)
    assert caught.value.code == "tx.duplicate"
    chain.block()
    assert rejected(chain, tx.raw) == "tx.nonce_used"


def test_nonce_far_ahead_is_tx_nonce_out_of_window(chain: CityChain) -> None:
    tx = chain.sign("land", [anchor("land", "a")], nonce=10**9)
    assert rejected(chain, tx.raw) == "tx.nonce_out_of_window"


def test_expired_tx_is_tx_expired(chain: CityChain) -> None:
    chain.block()
    chain.block()
    tx = chain.sign("land", [anchor("land", "a")], expires_at=1)
    assert rejected(chain, tx.raw) == "tx.expired"


def test_unknown_sender_is_tx_unknown_sender(chain: CityChain) -> None:
    tx = chain.sign("nobody", [anchor("land", "a")], nonce=0)
    assert rejected(chain, tx.raw) == "tx.unknown_sender"


def executed(chain: CityChain, *actions: Action, sender: str = "land") -> tuple[str, bytes]:
    before = chain.app.store.get(b"documents/doc/" + doc_hash("a"))
    receipt = chain.run(sender, *actions)
    assert chain.app.store.get(b"documents/doc/" + doc_hash("a")) == before
    return receipt.code, receipt.tx_id


def test_unknown_action_is_tx_unknown_action(chain: CityChain) -> None:
    assert executed(chain, Action("documents", "shred", {}))[0] == "tx.unknown_action"
    assert executed(chain, Action("nosuch", "anchor", {}))[0] == "tx.unknown_action"


def test_args_failing_the_schema_are_tx_invalid_args(chain: CityChain) -> None:
    bad = [
        {"department": "land", "hash": b"short", "doc_type": "deed"},
        {"department": "land", "hash": doc_hash("a"), "doc_type": 5},
        {"department": "land", "hash": doc_hash("a")},
        {"department": "land", "hash": doc_hash("a"), "doc_type": "deed", "extra": 1},
    ]
    for args in bad:
        assert executed(chain, Action("documents", "anchor", args))[0] == "tx.invalid_args"


def test_action_without_role_is_auth_missing_role(chain: CityChain) -> None:
    assert executed(chain, anchor("finance", "a"))[0] == "auth.missing_role"


def test_failed_tx_changes_nothing_but_its_nonce(chain: CityChain) -> None:
    nonce = chain.app.next_nonce(account("land").raw)
    code, _ = executed(chain, anchor("land", "a"), anchor("finance", "b"))
    assert code == "auth.missing_role"
    assert chain.app.next_nonce(account("land").raw) == nonce + 1


def test_block_with_garbage_and_replays_keeps_going(chain: CityChain) -> None:
    """A proposer's block may hold bad txs: each gets a failed receipt, the rest execute."""
    good = chain.sign("land", [anchor("land", "a")], nonce=0)
    replay = good
    wrong_nonce = chain.sign("land", [anchor("land", "b")], nonce=5)
    forged = resign(
        chain.sign("finance", [anchor("finance", "c")], nonce=0),
        [Signature(key("finance").public_key.raw, bytes(64))],
    )
    result = chain.execute_raw([good.raw, b"garbage", replay.raw, wrong_nonce.raw, forged])
    codes = [r.code for r in result.receipts]
    assert codes == [
        "ok",
        "tx.malformed",
        "tx.nonce_used",
        "tx.nonce_out_of_window",
        "tx.bad_signature",
    ]
    assert chain.app.store.get(b"documents/doc/" + doc_hash("a")) is not None
    # The replay is stored at its own position: the block reads back whole and sound, and
    # by id the executed one is found.
    stored = chain.app.blocks.block_txs(chain.height)
    assert [s.receipt.code for s in stored] == codes
    assert stored[0].tx_id == stored[2].tx_id == good.id
    found = chain.app.blocks.tx(good.id)
    assert found is not None and (found.index, found.receipt.code) == (0, "ok")


def test_tx_id_does_not_depend_on_signatures(chain: CityChain) -> None:
    body = TxBody(chain.genesis.chain_id, account("land"), 0, (anchor("land", "a"),), 10, "")
    one = sign_tx(body, [key("land").signer()])
    two = sign_tx(body, [key("land").signer(), key("mayor").signer()])
    assert one.id == two.id
    assert dataclasses.replace(one, signatures=()).id == one.id


def test_genesis_may_found_more_accounts_than_a_tx_may_write(tmp_path: Path) -> None:
    from tests.helpers.city import city_genesis

    big = city_genesis(extra_accounts=[f"resident-{i}" for i in range(2_500)])
    chain = CityChain(tmp_path, genesis=big)
    assert chain.query("accounts", "account", id=account("resident-2499").text)["nonce"] == 0
    chain.close()


def test_account_history_is_indexed_from_receipts_and_never_from_forgeries(
    chain: CityChain,
) -> None:
    """An account's history holds what it signed and what names it, not what claims to be it."""
    granted = chain.run(
        "land",
        role_grant("land", "notary", "registry"),
    )
    assert granted.ok
    body = TxBody(
        chain.genesis.chain_id,
        account("finance"),
        0,
        (anchor("finance", "f"),),
        chain.height + 10,
        "",
    )
    forged = sign_tx(body, [key("land").signer()])  # claims finance, signed by land
    result = chain.execute_raw([forged.raw])
    assert result.receipts[0].code == "tx.unknown_signer" and result.receipts[0].sender == b""
    history = {s.tx_id for s in chain.app.blocks.account_txs(account("registry").raw)}
    assert granted.tx_id in history  # named by the grant's event
    assert granted.tx_id in {s.tx_id for s in chain.app.blocks.account_txs(account("land").raw)}
    finance = {s.tx_id for s in chain.app.blocks.account_txs(account("finance").raw)}
    assert forged.id not in finance


def test_a_module_writing_outside_its_prefix_halts_the_node(tmp_path: Path) -> None:
    """A handler's write under another module's prefix is our bug: InvariantBroken, the
    block is not built and the node halts (it never becomes a receipt)."""
    from dataclasses import dataclass

    from tests.helpers.city import CHAIN_ID, city_genesis
    from urbis.chain.app import Application
    from urbis.chain.context import BlockInfo, Context
    from urbis.chain.errors import InvariantBroken, NodeHalted
    from urbis.chain.module import ActionSpec, Module
    from urbis.modules import default_modules
    from urbis.modules.accounts.keeper import AccountsAuthenticator
    from urbis.modules.governance.keeper import GovernanceRoles
    from urbis.state.database import Database

    @dataclass(frozen=True, slots=True)
    class Mint:
        amount: int

    def mint(ctx: Context, sender: object, args: Mint) -> None:
        ctx.state.put(b"payments/balance/EUR/" + bytes(20), b"\x18\x64")

    rogue = Module(name="rogue", actions={"mint": ActionSpec(Mint, mint)}, prefix=b"rogue/")
    db = Database(tmp_path / "urbis.db")
    app = Application(db, [*default_modules(), rogue], AccountsAuthenticator(), GovernanceRoles())
    try:
        app.init_chain(city_genesis())
        body = TxBody(CHAIN_ID, account("land"), 0, (action("rogue", "mint", amount=1),), 50, "")
        tx = sign_tx(body, [key("land").signer()])
        block = BlockInfo(CHAIN_ID, 1, 1_700_000_001_000, key("validator").public_key.raw)
        with pytest.raises(InvariantBroken, match="outside its prefix"):
            app.finalize_block(block, [tx.raw])
        with pytest.raises(NodeHalted):
            app.check_tx(tx.raw)
    finally:
        db.close()


def test_a_store_with_the_id_keyed_txs_table_is_moved_to_chain_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stores written before `block_txs` kept transactions keyed by id in `txs`; opening
    one moves them over once, and every read finds them as before."""
    monkeypatch.setattr(blockstore, "INDEX_BUFFER_ROWS", 1)  # each block's rows written at once
    chain = CityChain(tmp_path)
    receipts = [chain.run("land", anchor("land", f"doc-{n}")) for n in range(3)]
    height = chain.height
    before = [(s.tx_id, s.height, s.index, s.raw) for s in chain.app.blocks.block_txs(height)]
    history = [s.tx_id for s in chain.app.blocks.account_txs(account("land").raw)]
    chain.db.executescript(
        """
        CREATE TABLE txs (
          tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL,
          raw BLOB NOT NULL, receipt BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX txs_position ON txs (height, idx);
        INSERT INTO txs SELECT tx_id, position >> 24, position & 16777215, raw, receipt
          FROM block_txs;
        DELETE FROM block_txs;
        DELETE FROM tx_ids;
        DROP TABLE block_meta;
        """
    )
    chain.close()
    again = CityChain(tmp_path)
    assert again.db.fetchone("SELECT 1 FROM sqlite_master WHERE name LIKE 'txs%'") is None
    after = [(s.tx_id, s.height, s.index, s.raw) for s in again.app.blocks.block_txs(height)]
    assert after == before
    assert [s.tx_id for s in again.app.blocks.account_txs(account("land").raw)] == history
    for receipt in receipts:
        found = again.app.blocks.tx(receipt.tx_id)
        assert found is not None and found.receipt == receipt
    assert again.app.blocks.tx(bytes(32)) is None
    again.close()
