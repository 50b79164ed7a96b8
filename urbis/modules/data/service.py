"""The node side of the data module: takes batches in, follows commits, serves reads,
and wakes live subscribers.

One `DataService` per node, made on first use by the module's routes (no hook in the
node or API is needed): it opens HOME/data/datastore.db, registers a block listener
(anchors committed -> batches anchored; shreds committed -> keys deleted) and, on start,
reconciles batches left pending by a restart with the anchors the chain holds.
"""

from __future__ import annotations

import asyncio
import decimal
import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import jsonschema

from urbis.chain.block import BlockResult, SignedHeader
from urbis.chain.codec import CodecError, from_wire
from urbis.chain.ids import AccountId
from urbis.modules.data import crypto
from urbis.modules.data.datastore import Batch, Datastore
from urbis.modules.data.errors import (
    BadEnvelope,
    EpochShredded,
    GrantExpired,
    MissingView,
    NoGrant,
    RootMismatch,
    SchemaViolation,
    SequenceReplayed,
    SequenceSkipped,
    UnknownSchemaVersion,
    UnknownStream,
    WrongEpoch,
)
from urbis.modules.data.keeper import DataView
from urbis.modules.data.records import AnchorBatch, Stream

log = logging.getLogger(__name__)

PRUNE_EVERY_BLOCKS = 100
"""How often the datastore drops records whose stream's retention has passed."""

_services: weakref.WeakKeyDictionary[Any, DataService] = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def service_for(node: Any) -> DataService:
    with _services_lock:
        service = _services.get(node)
        if service is None:
            service = _services[node] = DataService(node)
        return service


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_text, parse_float=decimal.Decimal))


def validate_record(schema_text: str, record: Any) -> str | None:
    """The first way `record` breaks the schema, or None."""
    error = jsonschema.exceptions.best_match(_validator(schema_text).iter_errors(record))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(record)"
    return f"{where}: {error.message[:200]}"


class LiveHub:
    """Where live subscribers wait for a stream's anchored head to move. Each stream has
    one asyncio.Event, replaced each time it fires: waking costs O(waiting subscribers)
    and nothing is queued per subscriber (they read records from the datastore)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.heads: dict[str, int] = {}
        self._events: dict[str, asyncio.Event] = {}

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def advance(self, stream: str, head: int) -> None:
        if head > self.heads.get(stream, 0):
            self.heads[stream] = head
        event = self._events.pop(stream, None)
        if event is not None:
            event.set()

    def changed(self, stream: str) -> asyncio.Event:
        event = self._events.get(stream)
        if event is None:
            event = self._events[stream] = asyncio.Event()
        return event


class DataService:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.store = Datastore(node.home.path / "data" / "datastore.db")
        self.hub = LiveHub()
        self._texts: dict[tuple[str, int, str], list[str]] = {}
        """Live messages of recent batches, JSON-encoded once for every subscriber."""
        self._expiries: dict[bytes, int] = {}
        """Pending batches' transactions and the height they expire at: one that expires
        unincluded is dropped, so it cannot wedge the stream's head on this node."""
        node.on_block(self._committed)
        self._reconcile()

    # -- chain state -----------------------------------------------------------------

    def view(self) -> DataView:
        return DataView(self.node.app.store)

    def stream(self, stream_id: str) -> Stream:
        stream = self.view().stream(stream_id)
        if stream is None:
            raise UnknownStream(f"no stream {stream_id}")
        return stream

    def height(self) -> int:
        return int(self.node.app.store.version)

    def account_keys(self, account: AccountId) -> list[bytes]:
        from urbis.modules.accounts.keeper import read_account

        found = read_account(self.node.app.store, account)
        return [] if found is None else [k.key for k in found.keys]

    def has_role(self, account: AccountId, role: str) -> bool:
        from urbis.modules.governance.keeper import has_role

        return has_role(self.node.app.store, account, role)

    def reader_department(self, stream: Stream, reader: AccountId | None) -> str:
        """The department `reader` reads an encrypted stream for: the owner's (holding
        `owner.data`) or a grantee's (holding the role its grant names, grant in force)."""
        if reader is None:
            raise NoGrant(f"stream {stream.id} is {stream.classification}: sign the request")
        if self.has_role(reader, f"{stream.department}.data"):
            return stream.department
        from urbis.modules.data import keys
        from urbis.modules.data.keeper import scan
        from urbis.modules.data.records import Grant

        height = self.height()
        expired = None
        for grant in scan(self.node.app.store, keys.grant_prefix(stream.id), Grant):
            if not self.has_role(reader, f"{grant.grantee}.{grant.role}"):
                continue
            if height >= grant.expires_at_height:
                expired = grant
                continue
            return grant.grantee
        if expired is not None:
            raise GrantExpired(
                f"the grant of {expired.grantee} on {stream.id} expired at "
                f"height {expired.expires_at_height}"
            )
        raise NoGrant(f"{reader.text} holds no role a grant on {stream.id} names")

    def viewer(self, stream: Stream, department: str) -> str | None:
        """`department` if it reads `stream` through a projection (its own copies), else None."""
        return department if department in stream.viewers else None

    # -- ingest -----------------------------------------------------------------------

    def accept_batch(
        self,
        raw_tx: bytes,
        envelopes: Sequence[bytes],
        stream_id: str | None = None,
        views: dict[str, list[bytes]] | None = None,
    ) -> dict[str, Any]:
        """Check a batch against the anchor its transaction carries, store it pending,
        and submit the transaction. Nothing is stored unless every check passes."""
        tx = self.node.app.decode(raw_tx)
        anchors = [a for a in tx.body.actions if a.module == "data" and a.name == "anchor"]
        if len(anchors) != 1 or len(tx.body.actions) != 1:
            raise BadEnvelope("a batch's transaction carries exactly one data.anchor action")
        try:
            args = from_wire(AnchorBatch, anchors[0].args)
        except CodecError as error:
            raise BadEnvelope(f"anchor arguments: {error}") from None
        if stream_id is not None and args.stream != stream_id:
            raise BadEnvelope(f"the anchor is for stream {args.stream}, not {stream_id}")
        stream = self.stream(args.stream)
        if args.count != len(envelopes):
            raise RootMismatch(
                f"the anchor counts {args.count} records, the batch has {len(envelopes)}"
            )
        if crypto.batch_root(list(envelopes)) != args.root:
            raise RootMismatch("the records' Merkle root is not the anchored root")
        if args.epoch != stream.epoch:
            raise WrongEpoch(f"stream {stream.id} is in epoch {stream.epoch}, not {args.epoch}")
        epoch = self.view().epoch(stream.id, stream.epoch) if stream.epoch else None
        if epoch is not None and epoch.shredded_at_height is not None:
            raise EpochShredded(f"epoch {stream.epoch} of {stream.id} is shredded: rotate first")
        pseudonyms = self._check_envelopes(stream, args, envelopes)
        views = views or {}
        view = self.view()
        height = self.height() + 1
        required = sorted(v for v in stream.viewers if view.grant_in_force(stream.id, v, height))
        if sorted(args.views) != required:
            raise MissingView(
                f"stream {stream.id} needs projected copies for {required or 'no one'}, "
                f"the anchor has {sorted(args.views) or 'none'}"
            )
        if sorted(views) != sorted(args.views):
            raise MissingView(
                f"the anchor names views for {sorted(args.views)}, the batch carries "
                f"{sorted(views)}"
            )
        for grantee, copies in views.items():
            if len(copies) != args.count or crypto.batch_root(copies) != args.views[grantee]:
                raise RootMismatch(f"the copies for {grantee} do not match the anchored root")
            for index, raw in enumerate(copies):
                try:
                    copy = crypto.decode_envelope(raw)
                except crypto.EnvelopeError as error:
                    raise BadEnvelope(f"{grantee}'s copy {index}: {error}") from None
                if copy.seq != args.first_seq + index or copy.epoch != args.epoch:
                    raise BadEnvelope(f"{grantee}'s copy {index} has the wrong sequence or epoch")
        head = self.store.head(stream.id)
        if args.first_seq < head:
            raise SequenceReplayed(
                f"stream {stream.id}: sequence {args.first_seq} is taken; next is {head}"
            )
        if args.first_seq > head:
            raise SequenceSkipped(
                f"stream {stream.id}: sequence {args.first_seq} skips ahead; next is {head}"
            )
        batch = Batch(stream.id, args.first_seq, args.count, args.root, tx.id, None)
        try:
            self.store.add_batch(batch, envelopes, pseudonyms, views)
        except sqlite3.IntegrityError:  # another hand-in took this range a moment ago
            raise SequenceReplayed(
                f"stream {stream.id}: sequence {args.first_seq} was just taken"
            ) from None
        self._expiries[tx.id] = tx.body.expires_at
        try:
            self.node.submit(raw_tx)
        except BaseException:
            self.store.drop_pending(tx.id)
            raise
        return {
            "tx_id": tx.id.hex(),
            "first_seq": args.first_seq,
            "last_seq": batch.last_seq,
            "root": args.root.hex(),
        }

    def _check_envelopes(
        self, stream: Stream, args: AnchorBatch, envelopes: Sequence[bytes]
    ) -> list[bytes | None]:
        view = self.view()
        schemas: dict[int, str] = {}
        pseudonyms: list[bytes | None] = []
        for index, raw in enumerate(envelopes):
            try:
                envelope = crypto.decode_envelope(raw)
            except crypto.EnvelopeError as error:
                raise BadEnvelope(f"record {args.first_seq + index}: {error}") from None
            if envelope.seq != args.first_seq + index:
                raise BadEnvelope(
                    f"record {index} of the batch says sequence {envelope.seq}, "
                    f"not {args.first_seq + index}"
                )
            if envelope.classification != stream.classification or envelope.epoch != args.epoch:
                raise BadEnvelope(
                    f"record {envelope.seq} is {envelope.classification} epoch "
                    f"{envelope.epoch}; the stream is {stream.classification} "
                    f"epoch {args.epoch}"
                )
            version = envelope.schema_version
            if version not in schemas:
                schema = view.schema(stream.id, version) if version >= 1 else None
                if schema is None:
                    raise UnknownSchemaVersion(
                        f"stream {stream.id} has no schema version {version}"
                    )
                schemas[version] = schema.text
            if stream.classification == "public":
                try:
                    record = json.loads(envelope.body, parse_float=decimal.Decimal)
                except ValueError:
                    raise SchemaViolation(f"record {envelope.seq} is not JSON") from None
                problem = validate_record(schemas[version], record)
                if problem is not None:
                    raise SchemaViolation(
                        f"record {envelope.seq} breaks schema version {version}: {problem}"
                    )
            pseudonyms.append(envelope.pseudonym)
        return pseudonyms

    def accept_replica(
        self, stream_id: str, batches: Sequence[tuple[int, list[bytes]]]
    ) -> list[tuple[int, int]]:
        """Store copies of anchored batches fetched from another node, each checked against
        the anchor this node's own chain holds (count and Merkle root). Batches already held
        are skipped; returns the (first, last) ranges stored."""
        view = self.view()
        stored = []
        for first_seq, envelopes in batches:
            anchor = view.anchor(stream_id, first_seq)
            if anchor is None:
                raise RootMismatch(f"no anchor of {stream_id} at {first_seq} on this chain")
            if anchor.count != len(envelopes) or crypto.batch_root(envelopes) != anchor.root:
                raise RootMismatch(f"batch {stream_id}@{first_seq} is not what the chain anchored")
            if self.store.batches(stream_id, first_seq, first_seq + 1):
                continue
            pseudonyms = [crypto.decode_envelope(e).pseudonym for e in envelopes]
            batch = Batch(stream_id, first_seq, anchor.count, anchor.root, None, anchor.height)
            self.store.add_batch(batch, envelopes, pseudonyms)
            stored.append((first_seq, batch.last_seq))
        if stored and self.hub.loop is not None and not self.hub.loop.is_closed():
            head = self.store.head(stream_id, anchored_only=True)
            self.hub.loop.call_soon_threadsafe(self.hub.advance, stream_id, head)
        return stored

    # -- commits ----------------------------------------------------------------------

    def _committed(self, signed: SignedHeader, result: BlockResult) -> None:
        height = signed.header.height
        if height % PRUNE_EVERY_BLOCKS == 0:
            self._prune(height)
        for tx_id, expires_at in list(self._expiries.items()):
            if height >= expires_at:
                self._expiries.pop(tx_id, None)
                self.store.drop_pending(tx_id)
        for receipt in result.receipts:
            self._expiries.pop(receipt.tx_id, None)
            if not receipt.ok:
                for batch in self.store.drop_pending(receipt.tx_id):
                    log.info("batch %s@%d dropped: %s", batch.stream, batch.first_seq, receipt.code)
                continue
            for event in receipt.events:
                attrs = event.attrs
                if event.type == "data.anchored":
                    self._anchored(
                        attrs["stream"],
                        attrs["first_seq"],
                        attrs["root"],
                        height,
                        attrs["last_seq"] + 1,
                    )
                elif event.type == "data.epoch_shredded":
                    self.store.shred_epoch(attrs["stream"], attrs["epoch"])
                elif event.type == "data.subject_shredded":
                    self.store.shred_subject(attrs["stream"], attrs["pseudonym"])

    def _prune(self, height: int) -> None:
        view = self.view()
        for stream_id in self.store.streams():
            stream = view.stream(stream_id)
            if stream is not None and height > stream.retention_blocks:
                gone = self.store.prune(stream_id, height - stream.retention_blocks)
                if gone:
                    log.info("%s: %d records past their retention deleted", stream_id, gone)

    def _anchored(self, stream: str, first_seq: int, root: bytes, height: int, head: int) -> None:
        if not self.store.mark_anchored(stream, first_seq, root, height):
            return  # anchored on another node's datastore (or replicated later)
        loop = self.hub.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.hub.advance, stream, head)

    def _reconcile(self) -> None:
        view = self.view()
        for batch in self.store.pending():
            anchor = view.anchor(batch.stream, batch.first_seq)
            if anchor is not None and anchor.root == batch.root:
                self.store.mark_anchored(batch.stream, batch.first_seq, batch.root, anchor.height)
            elif batch.tx_id is not None:
                # its transaction died with the last process's mempool: hand it in again
                self.store.drop_pending(batch.tx_id)
        for stream in self._streams():
            for number in range(1, stream.epoch + 1):
                epoch = view.epoch(stream.id, number)
                if epoch is not None and epoch.shredded_at_height is not None:
                    self.store.shred_epoch(stream.id, number)

    def _streams(self) -> list[Stream]:
        from urbis.modules.data import keys
        from urbis.modules.data.keeper import scan

        return scan(self.node.app.store, keys.PREFIX + b"stream/", Stream, 1_000_000)

    # -- reads ------------------------------------------------------------------------

    def live_texts(
        self, stream: str, start: int, end: int, viewer: str | None = None
    ) -> list[tuple[int, str]]:
        """Messages for records start..end-1 (anchored), one JSON text per record: the
        records themselves, or `viewer`'s projected copies."""
        import base64

        out: list[tuple[int, str]] = []
        for batch in self.store.batches(stream, start, end):
            cache_key = (stream, batch.first_seq, viewer or "")
            texts = self._texts.get(cache_key)
            if texts is None:
                last = batch.first_seq + batch.count
                rows = (
                    self.store.envelopes(stream, batch.first_seq, last)
                    if viewer is None
                    else self.store.view_envelopes(stream, viewer, batch.first_seq, last)
                )
                texts = [
                    json.dumps(
                        {
                            "seq": seq,
                            "height": batch.height,
                            "batch": batch.first_seq,
                            "envelope": base64.b64encode(envelope).decode(),
                        },
                        separators=(",", ":"),
                    )
                    for seq, envelope in rows
                ]
                if len(self._texts) > 64:
                    self._texts.pop(next(iter(self._texts)))
                self._texts[cache_key] = texts
            # a batch has a copy of every record for each viewer it names, or none
            for offset, text in enumerate(texts):
                seq = batch.first_seq + offset
                if start <= seq < end:
                    out.append((seq, text))
        return out
