"""The CometBFT driver: this process serves ABCI; an `urbis-cometbft` child orders the blocks.

Transactions go in through CometBFT's RPC (so every validator's mempool sees
them); blocks come back through ABCI FinalizeBlock/Commit on the same
Application the solo driver uses. If the child dies, the node reports itself
halted rather than pretending to make progress.
"""

from __future__ import annotations

import base64
import logging
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from urbis.chain.app import Application
from urbis.chain.errors import DuplicateTx, MempoolFull, UrbisError, error_for
from urbis.chain.genesis import Genesis
from urbis.chain.tx import Transaction
from urbis.consensus.cometbft.abci import AbciApplication, AbciServer, CommitListener
from urbis.consensus.cometbft.network import identity, node_binary

log = logging.getLogger("urbis.cometbft")

RPC_TIMEOUT_S = 30.0


class CometBFTDriver:
    def __init__(
        self,
        app: Application,
        genesis: Genesis,
        cometbft_home: Path,
        abci_address: str,
        rpc_url: str,
        log_path: Path,
        max_block_txs: int = 5000,
    ) -> None:
        self.abci = AbciApplication(app, genesis, max_block_txs)
        self.server = AbciServer(self.abci, abci_address)
        self.cometbft_home = cometbft_home
        self.rpc_url = rpc_url
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.halted: BaseException | None = None
        self._stopping = False
        self._http = httpx.Client(base_url=rpc_url, timeout=RPC_TIMEOUT_S)
        self.validator_key = identity(cometbft_home).validator_key

    @property
    def block_lock(self) -> threading.Lock:
        return self.abci.block_lock

    @property
    def last_block_ms(self) -> float:
        return self.abci.last_block_ms

    def abci_calls(self) -> dict[str, tuple[int, float]]:
        return self.server.calls.snapshot()

    def on_commit(self, listener: CommitListener) -> None:
        self.abci.on_commit(listener)

    def start(self) -> None:
        self.server.start()
        handle = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [node_binary(), "start", "--home", str(self.cometbft_home)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._watch, name="urbis-cometbft-watch", daemon=True).start()

    def _watch(self) -> None:
        assert self.process is not None
        code = self.process.wait()
        if not self._stopping:
            self.halted = RuntimeError(f"cometbft exited with status {code}; see {self.log_path}")
            log.critical("%s", self.halted)

    def stop(self) -> None:
        self._stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.server.stop()
        self._http.close()

    # -- transactions ------------------------------------------------------------------

    def broadcast(self, tx: Transaction) -> None:
        self._raise_for(self._rpc([("broadcast_tx_sync", {"tx": _b64(tx.raw)})])[0])

    def broadcast_many(self, txs: Sequence[Transaction]) -> list[UrbisError | None]:
        """Hand checked transactions to CometBFT without waiting on each one's CheckTx.

        The node ran its own check_tx on every one already; waiting for each one's
        CheckTx to come back through CometBFT would only add a round trip per transaction.
        """
        if not txs:
            return []
        answers = self._rpc([("broadcast_tx_async", {"tx": _b64(tx.raw)}) for tx in txs])
        results: list[UrbisError | None] = []
        for answer in answers:
            try:
                self._raise_for(answer)
                results.append(None)
            except UrbisError as error:
                results.append(error)
        return results

    @staticmethod
    def _raise_for(answer: dict[str, Any]) -> None:
        if "error" in answer:
            detail = str(answer["error"].get("data") or answer["error"].get("message"))
            if "already exists in cache" in detail:
                raise DuplicateTx("transaction is already in the mempool")
            if "mempool is full" in detail:
                raise MempoolFull(detail)
            raise UrbisError(f"cometbft refused the transaction: {detail}")
        result = answer["result"]
        if int(result.get("code", 0)) != 0:
            raise error_for(result.get("codespace", ""), result.get("log", ""))

    # -- what CometBFT knows -----------------------------------------------------------

    def pending_txs(self) -> int:
        try:
            answer = self._rpc([("num_unconfirmed_txs", {})])[0]
            return int(answer["result"]["n_txs"])
        except (UrbisError, KeyError, ValueError):
            return 0

    def status(self) -> dict[str, Any]:
        try:
            status, net, validators = self._rpc(
                [("status", {}), ("net_info", {}), ("validators", {"per_page": "100"})]
            )
            sync = status["result"]["sync_info"]
            return {
                "node_id": status["result"]["node_info"]["id"],
                "moniker": status["result"]["node_info"]["moniker"],
                "latest_block_height": int(sync["latest_block_height"]),
                "catching_up": bool(sync["catching_up"]),
                "peers": [
                    {"id": p["node_info"]["id"], "moniker": p["node_info"]["moniker"]}
                    for p in net["result"]["peers"]
                ],
                "validators": [
                    {
                        "address": v["address"],
                        "power": int(v["voting_power"]),
                        "key": base64.b64decode(v["pub_key"]["value"]).hex(),
                    }
                    for v in validators["result"]["validators"]
                ],
            }
        except (UrbisError, KeyError, ValueError, TypeError) as error:
            return {"error": f"cometbft RPC unavailable: {error}"}

    def signed_header(self, height: int) -> dict[str, Any] | None:
        """CometBFT's header and commit for block `height` (None if it has none yet)."""
        try:
            answer = self._rpc([("commit", {"height": str(height)})])[0]
            signed: dict[str, Any] = answer["result"]["signed_header"]
            return signed
        except (UrbisError, KeyError, TypeError):
            return None

    def _rpc(self, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        body = [
            {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
            for index, (method, params) in enumerate(calls)
        ]
        try:
            response = self._http.post("/", json=body if len(body) > 1 else body[0])
            data = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise UrbisError(f"cannot reach cometbft at {self.rpc_url}: {error}") from None
        answers = data if isinstance(data, list) else [data]
        return sorted(answers, key=lambda a: a.get("id", 0))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
