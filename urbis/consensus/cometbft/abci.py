"""ABCI 2.0 over a socket: CometBFT drives the same Application the solo driver does.

CometBFT opens four connections (consensus, mempool, query, snapshot); each
carries uvarint-length-prefixed protobuf `Request`s answered in order. Reader
threads only read. Requests are answered on one application thread, in slices,
connection after connection, so the application sees one request at a time,
exactly as it would in-process.

Reading never waits for the application. If a connection went unread while a
block executes, CometBFT's socket client would block on its write; its flush
timer (20 ns, not 20 ms: the constant lacks its unit in v0.38) then spins and
burns a core per validator. The pprof profile showed
`ThrottleTimer.fireRoutine` at 37% of a loaded node. Urbis's own client
(cmd/urbis-cometbft) does not spin, but its callers would still stall: the p2p
routines that hand gossiped transactions to CheckTx.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import stat
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urbis
from urbis.chain.app import APP_VERSION, Application
from urbis.chain.block import BlockHeader, BlockResult, SignedHeader
from urbis.chain.collector import collector_paused
from urbis.chain.context import BlockInfo
from urbis.chain.errors import UrbisError
from urbis.chain.genesis import Genesis
from urbis.chain.tx import Transaction, decode_tx
from urbis.consensus.cometbft.proto import abci
from urbis.crypto.encoding import uvarint
from urbis.crypto.hashing import EMPTY_HASH
from urbis.state.store import UnknownHeight

log = logging.getLogger("urbis.abci")

MESSAGE_SIZE_MAX = 256 * 1024 * 1024
"""A block of 64 KiB transactions at CometBFT's default 21 MiB limit fits with room."""

PROPOSAL_SLICE = 1000
YIELD_EVERY = 32
"""Requests answered on one connection before the others get a turn."""

_CHECK_OK = abci.Response(check_tx=abci.ResponseCheckTx(code=0))
"""The answer to nearly every CheckTx, built once and framed once: each node checks
every transaction, and building this message from keywords cost as much as a fifth
of the check."""
_CHECK_OK_FRAME = uvarint(_CHECK_OK.ByteSize()) + _CHECK_OK.SerializeToString()

CommitListener = Callable[[SignedHeader, BlockResult], None]


def read_uvarint_prefix(data: bytes) -> tuple[int, int] | None:
    """(value, bytes used) of the uvarint at the start of `data`, or None if incomplete."""
    value = shift = 0
    for index, byte in enumerate(data):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
        if shift > 63:
            raise ValueError("uvarint too long")
    return None


def timestamp_ms(ts: Any) -> int:
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


class AbciApplication:
    """Maps ABCI requests onto `Application`."""

    def __init__(self, app: Application, genesis: Genesis, max_block_txs: int = 5000) -> None:
        self.app = app
        self.genesis = genesis
        self.max_block_txs = max_block_txs
        self.block_lock = threading.Lock()
        self.last_block_ms = 0.0
        self._listeners: list[CommitListener] = []
        self._pending: tuple[BlockResult, bytes] | None = None
        self._started = 0.0

    def on_commit(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def prepare(self, requests: list[Any]) -> None:
        """Before answering a burst of requests in order: verify the signatures of the new
        transactions among them on all cores at once (CheckTx is otherwise one at a time)."""
        fresh = [
            bytes(r.check_tx.tx)
            for r in requests
            if r.WhichOneof("value") == "check_tx" and r.check_tx.type == abci.NEW
        ]
        if len(fresh) > 1:
            self.app.prove_signatures(fresh)

    def handle(self, request: Any) -> Any:
        kind = request.WhichOneof("value")
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            return abci.Response(exception=abci.ResponseException(error=f"unsupported {kind}"))
        return handler(getattr(request, kind))

    def _echo(self, request: Any) -> Any:
        return abci.Response(echo=abci.ResponseEcho(message=request.message))

    def _flush(self, request: Any) -> Any:
        return abci.Response(flush=abci.ResponseFlush())

    def _info(self, request: Any) -> Any:
        info = self.app.info()
        height = max(info.height, 0)
        return abci.Response(
            info=abci.ResponseInfo(
                data="urbis",
                version=urbis.__version__,
                app_version=APP_VERSION,
                last_block_height=height,
                last_block_app_hash=info.app_hash if height > 0 else b"",
            )
        )

    def _init_chain(self, request: Any) -> Any:
        genesis = Genesis.from_json(json.loads(request.app_state_bytes))
        if genesis.hash != self.genesis.hash or request.chain_id != genesis.chain_id:
            raise RuntimeError("CometBFT's genesis app_state is not this node's Urbis genesis")
        if self.app.info().height < 0:
            app_hash = self.app.init_chain(genesis)
        else:  # CometBFT restarted before block 1: genesis is already written
            app_hash = self.app.info().app_hash
        return abci.Response(init_chain=abci.ResponseInitChain(app_hash=app_hash))

    def _query(self, request: Any) -> Any:
        if request.path != "/state":
            return abci.Response(
                query=abci.ResponseQuery(
                    code=1, codespace="query.bad_request", log=f"unknown path {request.path!r}"
                )
            )
        try:
            height = request.height or None
            proof = self.app.store.prove(bytes(request.data), height)
        except UnknownHeight as error:
            return abci.Response(
                query=abci.ResponseQuery(code=1, codespace="query.unknown_height", log=str(error))
            )
        return abci.Response(
            query=abci.ResponseQuery(
                code=0,
                key=request.data,
                value=proof.value or b"",
                height=proof.height,
                info=json.dumps(proof.to_json()) if request.prove else "",
            )
        )

    def _check_tx(self, request: Any) -> Any:
        try:
            if request.type == abci.RECHECK:
                self.app.recheck_tx(bytes(request.tx))
            else:
                self.app.check_tx(bytes(request.tx))
        except UrbisError as error:
            return abci.Response(
                check_tx=abci.ResponseCheckTx(code=1, codespace=error.code, log=error.message)
            )
        return _CHECK_OK

    def _prepare_proposal(self, request: Any) -> Any:
        raws = order_by_sender_nonce([bytes(tx) for tx in request.txs], self.app.decode)
        chosen: list[bytes] = []
        size = 0
        # Check candidates a slice at a time and stop once the block is full: the mempool
        # can hold far more than one block, and checking all of it delays the proposal.
        for start in range(0, len(raws), PROPOSAL_SLICE):
            part = raws[start : start + PROPOSAL_SLICE]
            # problems are judged against committed state plus what is already chosen
            problems = self.app.proposal_problems([*chosen, *part], request.height)[len(chosen) :]
            for raw, problem in zip(part, problems, strict=True):
                if problem is None and size + len(raw) <= request.max_tx_bytes:
                    chosen.append(raw)
                    size += len(raw)
                if len(chosen) >= self.max_block_txs:
                    break
            if len(chosen) >= self.max_block_txs:
                break
        return abci.Response(prepare_proposal=abci.ResponsePrepareProposal(txs=chosen))

    def _process_proposal(self, request: Any) -> Any:
        problems = self.app.proposal_problems([bytes(t) for t in request.txs], request.height)
        bad = [p for p in problems if p is not None]
        status = abci.ResponseProcessProposal.REJECT if bad else abci.ResponseProcessProposal.ACCEPT
        if bad:
            log.warning("rejecting proposal at %d: %s", request.height, bad[0])
        return abci.Response(process_proposal=abci.ResponseProcessProposal(status=status))

    def _finalize_block(self, request: Any) -> Any:
        self._started = time.perf_counter()
        with self.block_lock:
            if self._pending is not None:  # a replay after a crash between the two calls
                self.app.abandon_block()
            info = BlockInfo(
                self.genesis.chain_id,
                request.height,
                timestamp_ms(request.time),
                bytes(request.proposer_address),
            )
            result = self.app.finalize_block(info, [bytes(tx) for tx in request.txs])
            self._pending = (result, bytes(request.proposer_address))
        # `add` builds each receipt inside the response: a receipt built from keywords is
        # a protobuf message (an arena) of its own, copied in; this is 1 µs less a tx.
        response = abci.Response()
        answer = response.finalize_block
        answer.SetInParent()
        for r, encoded in zip(result.receipts, result.receipt_bytes, strict=True):
            if r.ok:
                answer.tx_results.add(data=encoded, log=r.message)
            else:
                answer.tx_results.add(code=1, data=encoded, log=r.message, codespace=r.code)
        for key, power in result.validator_updates:
            answer.validator_updates.add(power=power).pub_key.ed25519 = key
        answer.app_hash = result.app_hash
        return response

    def _commit(self, request: Any) -> Any:
        if self._pending is None:
            return abci.Response(commit=abci.ResponseCommit())
        result, proposer = self._pending
        with self.block_lock:
            previous = self.app.blocks.header(result.height - 1)
            header = BlockHeader(
                chain_id=self.genesis.chain_id,
                height=result.height,
                time_ms=result.time_ms,
                prev_hash=EMPTY_HASH if previous is None else previous.header.hash,
                txs_root=result.txs_root,
                results_root=result.results_root,
                app_hash=result.app_hash,
                proposer=proposer,
            )
            # CometBFT's commit signatures, not ours, vouch for this block: the header is
            # kept for the read API; the validators' signatures are read from CometBFT.
            signed = SignedHeader(header, b"")
            self.app.commit(signed)
            self._pending = None
        self.last_block_ms = (time.perf_counter() - self._started) * 1000
        for listener in self._listeners:
            try:
                listener(signed, result)
            except Exception:
                log.exception("commit listener failed")
        return abci.Response(commit=abci.ResponseCommit(retain_height=0))

    def _list_snapshots(self, request: Any) -> Any:
        return abci.Response(list_snapshots=abci.ResponseListSnapshots())

    def _offer_snapshot(self, request: Any) -> Any:
        return abci.Response(
            offer_snapshot=abci.ResponseOfferSnapshot(result=abci.ResponseOfferSnapshot.REJECT)
        )

    def _load_snapshot_chunk(self, request: Any) -> Any:
        return abci.Response(load_snapshot_chunk=abci.ResponseLoadSnapshotChunk())

    def _apply_snapshot_chunk(self, request: Any) -> Any:
        return abci.Response(
            apply_snapshot_chunk=abci.ResponseApplySnapshotChunk(
                result=abci.ResponseApplySnapshotChunk.ABORT
            )
        )

    def _extend_vote(self, request: Any) -> Any:
        return abci.Response(extend_vote=abci.ResponseExtendVote())

    def _verify_vote_extension(self, request: Any) -> Any:
        return abci.Response(
            verify_vote_extension=abci.ResponseVerifyVoteExtension(
                status=abci.ResponseVerifyVoteExtension.ACCEPT
            )
        )


def order_by_sender_nonce(
    raws: list[bytes], decode: Callable[[bytes], Transaction] = decode_tx
) -> list[bytes]:
    """Senders in order of first arrival, each sender's transactions by nonce.

    `decode` is the app's remembering one: CheckTx decoded these already, and a
    proposal can carry the whole mempool."""
    first_seen: dict[bytes, int] = {}
    keyed = []
    for index, raw in enumerate(raws):
        try:
            tx = decode(raw)
            sender, nonce = tx.body.sender.raw, tx.body.nonce
        except UrbisError:
            sender, nonce = raw, 0  # will be dropped by the checks; keep its place
        first_seen.setdefault(sender, index)
        keyed.append((first_seen[sender], nonce, index, raw))
    return [raw for *_, raw in sorted(keyed)]


def split_requests(buffer: bytes) -> tuple[list[Any], bytes]:
    """Every complete request at the front of `buffer`, and what is left over."""
    requests = []
    view = memoryview(buffer)
    offset = 0
    while (prefix := read_uvarint_prefix(bytes(view[offset : offset + 10]))) is not None:
        size, used = prefix
        if len(buffer) < offset + used + size:
            break
        request = abci.Request()
        request.ParseFromString(view[offset + used : offset + used + size])
        requests.append(request)
        offset += used + size
    return requests, buffer[offset:]


@dataclass(eq=False)
class _Connection:
    """One of CometBFT's connections, as the application thread sees it."""

    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    pending: deque[Any] = field(default_factory=deque)
    """Requests read and not yet answered, in order."""
    unprepared: list[Any] = field(default_factory=list)
    """Requests read since this connection's last turn: `prepare` sees them together."""
    ended: bool = False
    """Its reader saw the end (or an error): answer what is pending, then close it."""
    users: int = 2
    """Its reader and the application thread: the last one done closes the socket, so
    neither can ever touch a descriptor number that a new connection has reused."""
    served: bool = False
    """The application thread is done with it."""


@dataclass
class CallCounters:
    """ABCI requests answered and the application thread's CPU seconds answering them, by
    call (`check_tx`, `finalize_block`, ...; `unknown` for a frame without one). CheckTx
    includes its burst's decoding and signature dispatch; signatures verified on the
    `urbis-verify` threads are not in it, nor in FinalizeBlock's. Written by the
    application thread only; /metrics reads copies."""

    count: Counter[str] = field(default_factory=Counter)
    cpu: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def snapshot(self) -> dict[str, tuple[int, float]]:
        counts, cpu = dict(self.count), dict(self.cpu)  # each copy is one C call: atomic
        return {kind: (counts.get(kind, 0), cpu.get(kind, 0.0)) for kind in sorted(counts)}


class AbciServer:
    """Serves an AbciApplication on tcp://host:port or unix:///path.

    A reader thread per connection only reads: a blocking `recv` lets go of the
    GIL while it waits and hands each chunk to the application thread. That thread
    parses, answers in slices of YIELD_EVERY, connection after connection, and
    writes the answers itself. There is no event loop: under load the asyncio loop
    that did this cost each validator about 35 µs a transaction in hand-offs
    (futures, self-pipe wake-ups) on top of the answers themselves.

    Writes block the application thread while a peer does not read its answers;
    CometBFT's clients read theirs continuously, so that is a moment, not a stall.
    If the application thread fails, every connection is closed: CometBFT sees its
    application gone and stops, and the driver reports the node halted.
    """

    def __init__(self, handler: AbciApplication, address: str) -> None:
        self.handler = handler
        self.address = address
        self.failure: BaseException | None = None
        self._listener: socket.socket | None = None
        self._inbox: queue.SimpleQueue[tuple[_Connection, bytes] | None] = queue.SimpleQueue()
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.calls = CallCounters()

    def start(self) -> None:
        try:
            self._listener = self._listen()
        except OSError as error:
            self.failure = error
            raise RuntimeError(f"ABCI server cannot listen on {self.address}: {error}") from None
        for target, name in ((self._accept, "urbis-abci-accept"), (self._serve, "urbis-abci-app")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            connections = list(self._connections)
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the accepting thread
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):  # wakes its reader (and a blocked write)
                connection.sock.shutdown(socket.SHUT_RDWR)
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(5)

    def _listen(self) -> socket.socket:
        if self.address.startswith("unix://"):
            path = self.address[7:]
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(os.stat(path).st_mode):  # left by a process that died
                    os.unlink(path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listener.bind(path)
                listener.listen(16)
            except OSError:
                listener.close()
                raise
            return listener
        host, _, port = self.address.removeprefix("tcp://").rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, int(port)), family=family)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError as error:
                if self._stopping:
                    return
                # out of descriptors, a connection reset while queued: keep listening,
                # or a restarted CometBFT would hang in its handshake
                log.error("accepting an ABCI connection failed: %s", error)
                time.sleep(0.1)
                continue
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # answers are small and written one slice at a time: Nagle would hold
                # each behind the previous one's acknowledgement
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock)
            with self._lock:
                if self._stopping:
                    sock.close()
                    return
                self._connections.add(connection)
            try:
                threading.Thread(
                    target=self._read, args=(connection,), name="urbis-abci-read", daemon=True
                ).start()
            except RuntimeError as error:  # no thread to read it: refuse the connection
                log.error("cannot serve an ABCI connection: %s", error)
                with self._lock:
                    self._connections.discard(connection)
                sock.close()

    def _read(self, connection: _Connection) -> None:
        """Reading never waits for the application: CometBFT's p2p receive routines
        call CheckTx, and a client that could not write would stall them."""
        with contextlib.suppress(OSError):
            while chunk := connection.sock.recv(1 << 20):
                self._inbox.put((connection, chunk))
        self._inbox.put((connection, b""))
        self._release(connection)

    def _serve(self) -> None:
        """The application thread: take whatever was read, answer one slice, repeat."""
        try:
            self._serve_until_stopped()
        except BaseException as error:
            self.failure = error
            log.critical(
                "the ABCI application thread failed; closing the connections", exc_info=True
            )
        self._close_all()

    def _serve_until_stopped(self) -> None:
        turns: deque[_Connection] = deque()  # connections with requests waiting, in turn
        while True:
            if not turns:  # nothing to answer: wait for a reader
                item = self._inbox.get()
                if item is None:
                    return
                self._take(*item, turns)
            while True:  # take all that has arrived, so a new request gets its turn soon
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    return
                self._take(*item, turns)
            if turns:
                self._turn(turns.popleft(), turns)

    def _take(self, connection: _Connection, chunk: bytes, turns: deque[_Connection]) -> None:
        """Add a chunk a reader read to its connection's requests."""
        if connection.ended:
            return
        if not chunk:
            connection.ended = True
        else:
            connection.buffer += chunk
            try:
                requests = self._complete_requests(connection)
            except Exception as error:  # not ABCI: drop this connection, keep serving
                log.error("closing an ABCI connection: %s", error)
                connection.ended = True
                connection.pending.clear()
                connection.unprepared.clear()
                requests = []
            connection.pending.extend(requests)
            connection.unprepared.extend(requests)
        if connection not in turns:
            turns.append(connection)

    @staticmethod
    def _complete_requests(connection: _Connection) -> list[Any]:
        """The requests complete in the connection's buffer, removed from it."""
        buffer = connection.buffer
        prefix = read_uvarint_prefix(bytes(buffer[:10]))
        if prefix is None:
            return []
        if prefix[0] > MESSAGE_SIZE_MAX:
            raise ValueError(f"ABCI message of {prefix[0]} bytes exceeds the limit")
        if len(buffer) < sum(prefix):  # a large request still arriving: parse it once
            return []
        requests, rest = split_requests(bytes(buffer))
        connection.buffer = bytearray(rest)
        return requests

    def _turn(self, connection: _Connection, turns: deque[_Connection]) -> None:
        """Answer one slice of a connection's requests; it goes to the back of the line."""
        burst, connection.unprepared = connection.unprepared, []
        count = min(YIELD_EVERY, len(connection.pending))
        requests = [connection.pending.popleft() for _ in range(count)]
        if requests:
            answers = self._answer(requests, burst or None)
            try:
                connection.sock.sendall(answers)
            except OSError:
                connection.ended = True
                connection.pending.clear()
        if connection.pending:
            turns.append(connection)
        elif connection.ended:
            self._close(connection)

    def _close(self, connection: _Connection) -> None:
        """The application thread is done with a connection: end it (its reader wakes)."""
        if connection.served:
            return
        connection.served = True
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_RDWR)
        self._release(connection)

    def _release(self, connection: _Connection) -> None:
        with self._lock:
            connection.users -= 1
            if connection.users:
                return
            self._connections.discard(connection)
        connection.sock.close()

    def _close_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._close(connection)

    def _answer(self, requests: list[Any], burst: list[Any] | None) -> bytes:
        """On the application thread: the framed responses to a slice of requests."""
        with collector_paused():  # as in a block: the collector runs between slices
            return self._answer_all(requests, burst)

    def _answer_all(self, requests: list[Any], burst: list[Any] | None) -> bytes:
        calls = self.calls
        # Timed a run of same-kind requests at a time (a burst of CheckTx is one run):
        # reading the thread's CPU clock is a system call, too dear twice a request.
        running, started = "", 0.0
        if burst is not None:
            running, started = "check_tx", time.thread_time()  # CheckTx's own work
            try:
                self.handler.prepare(burst)
            except Exception:  # only a head start: each CheckTx still checks its own
                log.exception("verifying a burst's signatures ahead failed")
        out = bytearray()
        for request in requests:
            kind = request.WhichOneof("value") or "unknown"  # an empty frame has none
            if kind != running:
                now = time.thread_time()
                if running:
                    calls.cpu[running] += now - started
                running, started = kind, now
            calls.count[kind] += 1
            try:
                response = self.handler.handle(request)
            except Exception as error:  # an app fault: tell CometBFT, which halts
                log.exception("ABCI %s failed", kind)
                response = abci.Response(exception=abci.ResponseException(error=str(error)))
            if response is _CHECK_OK:
                out += _CHECK_OK_FRAME
                continue
            encoded = response.SerializeToString()
            out += uvarint(len(encoded)) + encoded
        if running:
            calls.cpu[running] += time.thread_time() - started
        return bytes(out)
