"""The ABCI layer in-process: socket framing, proposals checked identically, init."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.city import CityChain, anchor, city_genesis, key
from tests.helpers.network import require_cometbft
from tests.helpers.process import free_port
from urbis.crypto.encoding import encode


@pytest.fixture
def abci_app(tmp_path: Path) -> Iterator[tuple[object, CityChain]]:
    require_cometbft()
    from urbis.consensus.cometbft.abci import AbciApplication

    chain = CityChain(tmp_path)
    yield AbciApplication(chain.app, chain.genesis), chain
    chain.close()


def forged(chain: CityChain) -> bytes:
    tx = chain.sign("finance", [anchor("finance", "f")], nonce=0)
    return encode(
        {
            "body": tx.body.to_wire(),
            "signatures": [{"key": key("finance").public_key.raw, "sig": bytes(64)}],
        }
    )


def test_socket_frames_echo_flush_info(abci_app: tuple) -> None:
    from urbis.consensus.cometbft.abci import AbciServer
    from urbis.consensus.cometbft.proto import abci
    from urbis.crypto.encoding import uvarint

    handler, _ = abci_app
    port = free_port()
    server = AbciServer(handler, f"tcp://127.0.0.1:{port}")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            for request in (
                abci.Request(echo=abci.RequestEcho(message="hi")),
                abci.Request(info=abci.RequestInfo()),
                abci.Request(flush=abci.RequestFlush()),
            ):
                body = request.SerializeToString()
                conn.sendall(uvarint(len(body)) + body)
            responses: list[Any] = _responses(conn, 3)
        assert responses[0].echo.message == "hi"
        assert responses[1].info.last_block_height == 0 and responses[1].info.data == "urbis"
        assert responses[2].WhichOneof("value") == "flush"
    finally:
        server.stop()


def _frames(*requests: object) -> bytes:
    from urbis.crypto.encoding import uvarint

    out = b""
    for request in requests:
        body = request.SerializeToString()  # type: ignore[attr-defined]
        out += uvarint(len(body)) + body
    return out


def _responses(conn: socket.socket, count: int) -> list[object]:
    """Read `count` framed responses (fewer if the server closes the connection)."""
    from urbis.consensus.cometbft.abci import read_uvarint_prefix
    from urbis.consensus.cometbft.proto import abci

    data, responses = b"", []
    while len(responses) < count:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        data += chunk
        while (prefix := read_uvarint_prefix(data)) and len(data) >= sum(prefix):
            size, used = prefix
            response = abci.Response()
            response.ParseFromString(data[used : used + size])
            responses.append(response)
            data = data[used + size :]
    return responses


def test_connections_are_answered_in_order_and_a_bad_one_is_dropped_alone(
    abci_app: tuple, tmp_path: Path
) -> None:
    """Three connections flood requests at once: each gets all its answers, in order,
    through slices interleaved on the one application thread. A connection that
    announces an oversized message is closed; the others keep being served. The unix
    socket a dead process left behind is taken over, and stop() closes every connection."""
    from urbis.consensus.cometbft.abci import MESSAGE_SIZE_MAX, AbciServer
    from urbis.consensus.cometbft.proto import abci
    from urbis.crypto.encoding import uvarint

    handler, _ = abci_app
    path = tmp_path / "abci.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, as after a kill -9
    server = AbciServer(handler, f"unix://{path}")
    server.start()
    conns = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(4)]
    try:
        for conn in conns:
            conn.settimeout(10)
            conn.connect(str(path))
        count = 300
        for index, conn in enumerate(conns[:3]):
            echoes = [
                abci.Request(echo=abci.RequestEcho(message=f"{index}-{n}")) for n in range(count)
            ]
            conn.sendall(_frames(*echoes))
        conns[3].sendall(uvarint(MESSAGE_SIZE_MAX + 1) + b"\0" * 16)
        assert _responses(conns[3], 1) == []  # closed without an answer
        for index, conn in enumerate(conns[:3]):
            answers = _responses(conn, count)
            assert [a.echo.message for a in answers] == [f"{index}-{n}" for n in range(count)]
        # a request split inside its length prefix is answered once it is whole
        body = _frames(abci.Request(echo=abci.RequestEcho(message="x" * 5000)))
        conns[0].sendall(body[:1])
        conns[0].settimeout(0.3)
        with pytest.raises(TimeoutError):
            conns[0].recv(1)
        conns[0].settimeout(10)
        conns[0].sendall(body[1:])
        assert [a.echo.message for a in _responses(conns[0], 1)] == ["x" * 5000]
    finally:
        server.stop()
    assert all(_responses(conn, 1) == [] for conn in conns[:3])  # closed by stop()
    for conn in conns:
        conn.close()


def test_process_proposal_rejects_invalid_txs_identically(tmp_path: Path) -> None:
    require_cometbft()
    from urbis.consensus.cometbft.abci import AbciApplication
    from urbis.consensus.cometbft.proto import abci

    verdicts = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        chain = CityChain(tmp_path / name)
        handler = AbciApplication(chain.app, chain.genesis)
        good = chain.sign("land", [anchor("land", "x")], nonce=0).raw
        failing_action = chain.sign("finance", [anchor("land", "y")], nonce=0).raw
        proposals = {
            "valid": [good, failing_action],
            "forged": [good, forged(chain)],
            "garbage": [b"\x00garbage"],
            "nonce gap": [chain.sign("land", [anchor("land", "z")], nonce=3).raw],
        }
        verdicts.append(
            {
                label: handler.handle(
                    abci.Request(process_proposal=abci.RequestProcessProposal(txs=txs, height=1))
                ).process_proposal.status
                for label, txs in proposals.items()
            }
        )
        chain.close()
    accept, reject = abci.ResponseProcessProposal.ACCEPT, abci.ResponseProcessProposal.REJECT
    assert (
        verdicts[0]
        == verdicts[1]
        == {"valid": accept, "forged": reject, "garbage": reject, "nonce gap": reject}
    )


def test_prepare_proposal_orders_by_nonce_and_drops_invalid(abci_app: tuple) -> None:
    from urbis.consensus.cometbft.proto import abci

    handler, chain = abci_app
    txs = [chain.sign("land", [anchor("land", f"d{i}")], nonce=i).raw for i in range(3)]
    bad = forged(chain)
    request = abci.RequestPrepareProposal(
        txs=[txs[2], bad, txs[0], txs[1]], height=1, max_tx_bytes=1 << 20
    )
    chosen = list(handler.handle(abci.Request(prepare_proposal=request)).prepare_proposal.txs)
    assert chosen == txs


def test_init_chain_refuses_a_foreign_genesis(abci_app: tuple) -> None:
    from urbis.consensus.cometbft.proto import abci

    handler, _ = abci_app
    other = city_genesis("other-city")
    request = abci.RequestInitChain(
        chain_id="other-city", app_state_bytes=json.dumps(other.to_json()).encode()
    )
    with pytest.raises(RuntimeError, match="not this node's Urbis genesis"):
        handler.handle(abci.Request(init_chain=request))


def test_finalize_and_commit_return_receipts_and_app_hash(abci_app: tuple) -> None:
    from urbis.consensus.cometbft.proto import abci

    handler, chain = abci_app
    tx = chain.sign("land", [anchor("land", "deed")], nonce=0).raw
    stale = chain.sign("land", [anchor("land", "again")], nonce=0).raw
    request = abci.RequestFinalizeBlock(txs=[tx, stale], height=1, proposer_address=b"\x01" * 20)
    request.time.seconds = 1_700_000_001
    finalized = handler.handle(abci.Request(finalize_block=request)).finalize_block
    ok, refused = finalized.tx_results
    assert (ok.code, ok.codespace, ok.log) == (0, "", "") and ok.data
    assert (refused.code, refused.codespace) == (1, "tx.nonce_used")
    assert refused.log and refused.data and len(finalized.app_hash) == 32
    handler.handle(abci.Request(commit=abci.RequestCommit()))
    assert chain.app.info().height == 1 and chain.app.info().app_hash == finalized.app_hash


class _Doomed(BaseException):
    """Not an Exception: escapes the per-request guard, as a bug in the server would."""


class _FaultyHandler:
    def __init__(self, fail_with: BaseException | None) -> None:
        self.fail_with = fail_with

    def prepare(self, requests: list[object]) -> None:
        raise RuntimeError("the signature pool is gone")

    def handle(self, request: object) -> object:
        from urbis.consensus.cometbft.proto import abci

        if self.fail_with is not None:
            raise self.fail_with
        return abci.Response(echo=abci.ResponseEcho(message=request.echo.message))  # type: ignore[attr-defined]


def test_a_failed_prepare_is_survived_and_a_dead_app_thread_closes_every_connection(
    tmp_path: Path,
) -> None:
    """`prepare` is only a head start: if it fails, the requests are still answered. If
    the application thread itself fails, its connections are closed, so CometBFT sees
    its application gone and stops instead of waiting for answers forever."""
    require_cometbft()
    from urbis.consensus.cometbft.abci import AbciServer
    from urbis.consensus.cometbft.proto import abci

    echo = abci.Request(echo=abci.RequestEcho(message="hi"))
    for fail_with in (None, _Doomed()):
        path = tmp_path / f"{fail_with is None}.sock"
        server = AbciServer(_FaultyHandler(fail_with), f"unix://{path}")  # type: ignore[arg-type]
        server.start()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(10)
                conn.connect(str(path))
                conn.sendall(_frames(echo, echo))
                answers = _responses(conn, 2)
            if fail_with is None:
                assert [a.echo.message for a in answers] == ["hi", "hi"]
                assert server.failure is None
            else:
                assert answers == []  # closed, not left waiting
                assert isinstance(server.failure, _Doomed)
        finally:
            server.stop()


def test_calls_are_counted_with_their_cpu_for_metrics(abci_app: tuple) -> None:
    """Each answered request counts under its call, with the app thread's CPU on it; a
    CheckTx that fails still counts, and an empty frame counts as `unknown`. A passing
    CheckTx gets the prebuilt answer, byte for byte what building it would give.
    /metrics renders the counters as labeled counters."""
    from urbis.api.server import _abci_lines
    from urbis.consensus.cometbft.abci import _CHECK_OK_FRAME, AbciServer
    from urbis.consensus.cometbft.proto import abci
    from urbis.crypto.encoding import uvarint

    handler, chain = abci_app
    fresh = abci.Response(check_tx=abci.ResponseCheckTx(code=0)).SerializeToString()
    assert uvarint(len(fresh)) + fresh == _CHECK_OK_FRAME
    good = chain.sign("land", [anchor("land", "deed")], nonce=0).raw
    port = free_port()
    server = AbciServer(handler, f"tcp://127.0.0.1:{port}")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(
                _frames(
                    abci.Request(echo=abci.RequestEcho(message="hi")),
                    abci.Request(check_tx=abci.RequestCheckTx(tx=b"not a transaction")),
                    abci.Request(check_tx=abci.RequestCheckTx(tx=b"\xa0")),
                    abci.Request(check_tx=abci.RequestCheckTx(tx=good)),
                    abci.Request(flush=abci.RequestFlush()),
                )
                + b"\x00"  # an empty frame: a request without a call
            )
            responses: list[Any] = _responses(conn, 6)
        assert [r.check_tx.code for r in responses[1:4]] == [1, 1, 0]
        assert responses[3].SerializeToString() == fresh
        assert responses[5].WhichOneof("value") == "exception"
        calls = server.calls.snapshot()
    finally:
        server.stop()
    counts = {k: n for k, (n, _) in calls.items()}
    assert counts == {"check_tx": 3, "echo": 1, "flush": 1, "unknown": 1}
    assert all(cpu >= 0 for _, cpu in calls.values())
    lines = _abci_lines(calls)
    assert 'urbis_abci_requests_total{call="check_tx"} 3' in lines
    assert any(line.startswith('urbis_abci_cpu_seconds_total{call="echo"} ') for line in lines)
    assert _abci_lines({}) == []
