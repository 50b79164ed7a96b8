"""Why the node's config may turn CometBFT's recheck off (mempool.recheck = false).

Without recheck, a transaction that a block made stale (its nonce used by another
transaction of the same sender) stays in the mempool. That is safe only if:
the proposer leaves it out (PrepareProposal), every validator refuses a proposal
that carries it (ProcessProposal), and if it reaches a decided block anyway, every
validator executes it to the same failed receipt and the same app hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.city import CityChain, anchor
from tests.helpers.network import require_cometbft


def finalize(handler: Any, txs: list[bytes], height: int) -> Any:
    from urbis.consensus.cometbft.proto import abci

    request = abci.RequestFinalizeBlock(txs=txs, height=height, proposer_address=b"\x01" * 20)
    request.time.seconds = 1_700_000_000 + height
    finalized = handler.handle(abci.Request(finalize_block=request)).finalize_block
    handler.handle(abci.Request(commit=abci.RequestCommit()))
    return finalized


def test_stale_nonce_tx_in_a_block_fails_identically_on_every_validator(tmp_path: Path) -> None:
    require_cometbft()
    from urbis.consensus.cometbft.abci import AbciApplication
    from urbis.consensus.cometbft.proto import abci

    outcomes = []
    for name in ("validator-a", "validator-b"):
        (tmp_path / name).mkdir()
        chain = CityChain(tmp_path / name)
        handler = AbciApplication(chain.app, chain.genesis)
        first = chain.sign("land", [anchor("land", "first")], nonce=0).raw
        rival = chain.sign("land", [anchor("land", "rival")], nonce=0).raw  # same nonce
        after = chain.sign("land", [anchor("land", "after")], nonce=1).raw
        # both were admitted while nonce 0 was free; a block takes the first
        for raw in (first, rival):
            check = handler.handle(abci.Request(check_tx=abci.RequestCheckTx(tx=raw)))
            assert check.check_tx.code == 0
        assert finalize(handler, [first], 1).tx_results[0].code == 0

        # recheck off: the rival stays in the mempool and is reaped with the next one
        prepare = abci.RequestPrepareProposal(txs=[rival, after], height=2, max_tx_bytes=1 << 20)
        chosen = list(handler.handle(abci.Request(prepare_proposal=prepare)).prepare_proposal.txs)
        process = abci.RequestProcessProposal(txs=[rival, after], height=2)
        verdict = handler.handle(abci.Request(process_proposal=process)).process_proposal.status

        # a faulty proposer's block carrying it is decided anyway: execution refuses it
        finalized = finalize(handler, [rival, after], 2)
        outcomes.append(
            {
                "chosen_only_the_next": chosen == [after],
                "verdict": verdict,
                "codes": [(r.code, r.codespace) for r in finalized.tx_results],
                "app_hash": bytes(finalized.app_hash),
                "next_nonce": chain.app.next_nonce(chain.sign("land", [], nonce=0).body.sender.raw),
            }
        )
        chain.close()

    a, b = outcomes
    assert a["chosen_only_the_next"]
    assert a["verdict"] == abci.ResponseProcessProposal.REJECT
    assert a["codes"] == [(1, "tx.nonce_used"), (0, "")]
    assert a["next_nonce"] == 2  # the stale one consumed nothing; the next one landed
    assert a == b  # same choice, verdict, receipts and app hash on both validators
