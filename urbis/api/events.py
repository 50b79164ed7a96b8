"""`/v1/events`: live events over WebSocket, with bounded backlogs and a resume point.

Each committed block is published once, as one shared `BlockMessages`; a
subscriber holds only references to the blocks it has not sent yet, so
publishing costs O(subscribers) on the event loop whatever the block holds.
Filtering and sending happen in the subscriber's own task, which yields to the
loop regularly, so one busy or stalled subscriber never holds up requests or
block production.

A subscriber whose backlog passes its bound is dropped: its connection is
closed with `CLOSE_BEHIND` and a reason naming the last height delivered and
the `from_height` to reconnect with. `from_height` replays committed blocks'
notices and transaction events from the block store (at most
`REPLAY_BLOCKS_MAX` blocks), then continues live without gaps or repeats.
End-of-block events (e.g. expiries) are not stored, so they are live only.

A closed client is removed at once: the handler always listens for the
disconnect, so nothing is kept for it and shutdown never waits on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from urbis.api.deps import HEIGHT_MAX
from urbis.chain.block import BlockResult, Receipt, SignedHeader
from urbis.chain.errors import jsonable
from urbis.chain.ids import AccountId

log = logging.getLogger(__name__)

CLOSE_BEHIND = 4008
"""Close code: the subscriber fell behind; the reason says `from_height=N` to resume from."""

CLOSE_RESUME_TOO_OLD = 4009
"""Close code: `from_height` is further back than the node replays; read `/v1/blocks/{h}`."""

CLOSE_BAD_REQUEST = 1008
"""Close code (policy violation): a filter or `from_height` is not valid."""

CLOSE_HALTED = 4010
"""Close code: the node stopped producing blocks; the reason starts `node.halted:` and says why.
No more events will come from it: follow another node."""

SUBSCRIBER_BLOCKS_MAX = 256
"""Blocks a subscriber may have waiting. Blocks are shared, so this bounds memory, not copies."""

SUBSCRIBER_MESSAGES_MAX = 20_000
"""Unfiltered messages a subscriber may have waiting, beyond the block it is sending.

One block larger than this is still delivered whole; only a backlog of several
blocks this large drops the subscriber.
"""

REPLAY_BLOCKS_MAX = 1_000
"""How far back `from_height` may reach: a longer gap is read through `/v1/blocks/{height}`."""

SEND_BATCH = 8
"""Messages a subscriber sends before yielding: with hundreds of busy subscribers, one loop
pass stays short, so a request waits milliseconds, not seconds, for its turn."""


FILTERS = ("module", "type", "account", "blocks")


class BlockMessages:
    """One block's messages, built on first use and shared by every subscriber."""

    def __init__(self, height: int, block: dict[str, Any], build: Any) -> None:
        self.height = height
        self.block = block
        self._build = build
        self._messages: list[dict[str, Any]] | None = None
        self._texts: dict[int, str] = {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self._messages is None:
            self._messages = self._build()
            self._build = None
        return self._messages

    def text(self, index: int) -> str:
        """The message as JSON, encoded once however many subscribers send it."""
        text = self._texts.get(index)
        if text is None:
            text = json.dumps(self.messages[index], separators=(",", ":"))
            self._texts[index] = text
        return text


def block_messages(
    signed: SignedHeader, receipts: list[Receipt], result: BlockResult | None
) -> BlockMessages:
    """A block's notice and events; `result` None (replay) leaves out end-of-block events."""
    header = signed.header
    block = {
        "kind": "block",
        "height": header.height,
        "hash": header.hash.hex(),
        "txs": len(receipts),
    }

    def build() -> list[dict[str, Any]]:
        messages = [block]
        for receipt in receipts:
            sender = AccountId(receipt.sender).text if len(receipt.sender) == 20 else None
            for event in receipt.events:
                messages.append(
                    {
                        "kind": "event",
                        "height": receipt.height,
                        "tx_id": receipt.tx_id.hex(),
                        "sender": sender,
                        "type": event.type,
                        "attrs": jsonable(event.attrs),
                    }
                )
        for event in [] if result is None else result.block_events:
            messages.append(
                {
                    "kind": "event",
                    "height": header.height,
                    "tx_id": None,
                    "sender": None,
                    "type": event.type,
                    "attrs": jsonable(event.attrs),
                }
            )
        return messages

    return BlockMessages(header.height, block, build)


def message_count(receipts: list[Receipt], result: BlockResult | None) -> int:
    events = sum(len(r.events) for r in receipts)
    return 1 + events + (0 if result is None else len(result.block_events))


@dataclass(eq=False)
class Subscriber:
    """One WebSocket client's filters and the blocks it has yet to send."""

    filters: dict[str, str | None]
    pending: collections.deque[tuple[BlockMessages, int]] = field(default_factory=collections.deque)
    pending_messages: int = 0
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    halted: str | None = None
    """Why the node halted, once it did: the subscriber is closed with CLOSE_HALTED."""
    task: asyncio.Future[None] | None = None
    """The task sending to this client; cancelled when it is dropped, even mid-send."""
    delivered_height: int = 0
    """The last height whose messages were all handed to the connection."""

    def offer(self, block: BlockMessages, count: int) -> bool:
        """Queue a block; False when the backlog is over its bound (the caller drops us)."""
        self.pending.append((block, count))
        self.pending_messages += count
        self.wakeup.set()
        over_messages = self.pending_messages - count > SUBSCRIBER_MESSAGES_MAX
        return len(self.pending) <= SUBSCRIBER_BLOCKS_MAX and not over_messages

    def take(self) -> BlockMessages | None:
        if not self.pending:
            return None
        block, count = self.pending.popleft()
        self.pending_messages -= count
        return block


class EventHub:
    """WebSocket subscribers; `publish` runs on the event loop, once per committed block."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.dropped_total = 0

    def subscribe(self, filters: dict[str, str | None]) -> Subscriber:
        subscriber = Subscriber(filters)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        subscriber.pending.clear()
        subscriber.wakeup.set()

    def publish(self, signed: SignedHeader, result: BlockResult) -> None:
        if not self.subscribers:
            return
        block = block_messages(signed, result.receipts, result)
        count = message_count(result.receipts, result)
        for subscriber in list(self.subscribers):
            if not subscriber.offer(block, count):
                self.drop(subscriber)

    def halt(self, reason: str) -> None:
        """The node stopped: close every subscriber with CLOSE_HALTED, saying why."""
        for subscriber in list(self.subscribers):
            subscriber.halted = reason
            subscriber.wakeup.set()

    def drop(self, subscriber: Subscriber) -> None:
        """Stop queueing for a subscriber too far behind; its task closes the connection."""
        self.subscribers.discard(subscriber)
        subscriber.dropped = True
        subscriber.pending.clear()
        subscriber.pending_messages = 0
        if subscriber.task is not None:
            subscriber.task.cancel()
        self.dropped_total += 1


def matches(message: dict[str, Any], filters: dict[str, str | None]) -> bool:
    if message["kind"] == "block":
        return filters.get("blocks") == "true"
    module, event_type, account = filters.get("module"), filters.get("type"), filters.get("account")
    if module and not message["type"].startswith(module + "."):
        return False
    if event_type and message["type"] != event_type:
        return False
    if account:
        values = [message.get("sender"), *message["attrs"].values()]
        return account in values
    return True


def behind_reason(subscriber: Subscriber) -> str:
    delivered = subscriber.delivered_height
    return (
        f"events.behind: delivered through height {delivered}; "
        f"reconnect with from_height={delivered + 1}"
    )


def halted_reason(reason: str) -> str:
    """A close reason must fit 123 bytes; the full reason is in /v1/status."""
    return f"node.halted: {reason}".encode()[:120].decode(errors="ignore")


def _parse_from_height(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 19 or int(text) > HEIGHT_MAX:
        raise ValueError(f"from_height must be an integer from 0 to {HEIGHT_MAX}")
    return int(text)


async def events_endpoint(websocket: WebSocket) -> None:
    """Live events. Filters: `module`, `type`, `account`; `blocks=true` adds block notices.

    `from_height=N` first replays committed blocks from N on (bounded), then goes live.
    """
    params = websocket.query_params
    filters = {name: params.get(name) for name in FILTERS}
    hub: EventHub = websocket.app.state.hub
    node = websocket.app.state.node
    await websocket.accept()
    if node.halted is not None:
        await websocket.close(CLOSE_HALTED, halted_reason(node.halted))
        return
    try:
        from_height = _parse_from_height(params.get("from_height"))
    except ValueError as error:
        await websocket.close(CLOSE_BAD_REQUEST, f"request.invalid: {error}"[:120])
        return
    subscriber = hub.subscribe(filters)
    # The store's height is an attribute: asking SQLite here would wait, on the event
    # loop, for whatever holds the database (a commit, a long scan).
    subscriber.delivered_height = max(node.app.store.version, 0)
    sender = asyncio.ensure_future(_send_loop(websocket, subscriber, from_height))
    subscriber.task = sender
    listener = asyncio.ensure_future(_until_disconnect(websocket))
    try:
        await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
        if subscriber.dropped and not listener.done():
            await _close(websocket, CLOSE_BEHIND, behind_reason(subscriber))
        elif subscriber.halted is not None and not listener.done():
            await _close(websocket, CLOSE_HALTED, halted_reason(subscriber.halted))
    finally:
        hub.unsubscribe(subscriber)
        for task in (sender, listener):
            task.cancel()
        for task in (sender, listener):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if sender.done() and not sender.cancelled() and sender.exception() is not None:
        failure = sender.exception()
        if not isinstance(failure, WebSocketDisconnect | OSError):
            log.error("event subscriber failed", exc_info=failure)


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a close is seen the moment it comes."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _send_loop(websocket: WebSocket, subscriber: Subscriber, from_height: int | None) -> None:
    if from_height is not None and not await _replay(websocket, subscriber, from_height):
        return
    while not subscriber.dropped:
        block = subscriber.take()
        if block is None and subscriber.halted is not None:
            return  # everything committed before the halt was sent
        if block is None:
            subscriber.wakeup.clear()
            await subscriber.wakeup.wait()
            continue
        if block.height <= subscriber.delivered_height:
            continue  # already sent by the replay
        await _send_block(websocket, subscriber, block)


async def _send_block(websocket: WebSocket, subscriber: Subscriber, block: BlockMessages) -> None:
    filters = subscriber.filters
    sent = 0
    messages = block.messages
    for index, message in enumerate(messages):
        if not matches(message, filters):
            continue
        await websocket.send_text(block.text(index))
        sent += 1
        if sent % SEND_BATCH == 0:
            await asyncio.sleep(0)
    subscriber.delivered_height = block.height
    await asyncio.sleep(0)


async def _replay(websocket: WebSocket, subscriber: Subscriber, from_height: int) -> bool:
    """Send committed blocks from `from_height` up to where live delivery starts."""
    node = websocket.app.state.node
    upto = subscriber.delivered_height
    oldest = max(1, upto - REPLAY_BLOCKS_MAX + 1)
    if from_height < oldest and from_height <= upto:
        await _close(
            websocket,
            CLOSE_RESUME_TOO_OLD,
            f"events.resume_too_old: replay reaches back to height {oldest}; "
            "read older blocks from /v1/blocks/{height}",
        )
        return False
    subscriber.delivered_height = min(from_height, upto + 1) - 1
    for height in range(max(from_height, 1), upto + 1):
        block = await run_in_threadpool(_stored_block, node, height)
        if block is None:
            continue
        await _send_block(websocket, subscriber, block)
    return True


def _stored_block(node: Any, height: int) -> BlockMessages | None:
    signed = node.app.blocks.header(height)
    if signed is None:
        return None
    receipts = [stored.receipt for stored in node.app.blocks.block_txs(height)]
    return block_messages(signed, receipts, None)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with a code and reason; a client that never reads cannot hold this task."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, reason[:120]), CLOSE_WAIT_S)


CLOSE_WAIT_S = 5.0
"""How long a dropped client has to take the close frame before the node stops trying."""
