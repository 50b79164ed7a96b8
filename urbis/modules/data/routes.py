"""Data under /v1/data: batches in, records out with proofs, keys, live push, datasets.

Reads of internal and personal streams are signed requests (auth.py); public streams
and datasets are open to anyone. Live push comes over WebSocket
(`/v1/data/streams/{id}/records?from=SEQ`) and Server-Sent Events
(`/v1/data/streams/{id}/sse?from=SEQ`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from typing import Annotated, Any

import cbor2
from fastapi import APIRouter, Path, Query, Request, WebSocket
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from urbis.api.deps import NodeDep, state_answer
from urbis.chain.errors import BadQuery, UrbisError
from urbis.chain.ids import AccountId
from urbis.modules.data import crypto, keys
from urbis.modules.data.auth import signed_by
from urbis.modules.data.errors import (
    BadEnvelope,
    NoGrant,
    NotPersonal,
    NotYet,
    UnknownDataset,
)
from urbis.modules.data.keeper import scan
from urbis.modules.data.module import as_json
from urbis.modules.data.records import AccessEntry, Stream
from urbis.modules.data.service import DataService, service_for

READ_LIMIT_MAX = 4_096
"""Records one read returns (one batch at most): a reader pages with `from`."""
LIVE_LAG_MAX = 50_000
"""Records a live subscriber may fall behind the anchored head before it is closed and
told where to resume: the node keeps no per-subscriber queue (a stalled subscriber waits
on its own socket), so this bounds how stale a subscriber may be, not memory."""
LIVE_CHUNK = 256
"""Records a subscriber sends between looks at how far behind it is."""
CLOSE_BEHIND = 4008
CLOSE_NOT_YET = 4004
CLOSE_REFUSED = 4003
KEEPALIVE_S = 15.0

StreamId = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
FromSeq = Annotated[int, Query(alias="from", ge=0, le=2**63 - 1)]
Version = Annotated[int, Path(ge=1, le=2**32 - 1, description="A version number")]


class BatchIn(BaseModel):
    tx: str = Field(description="The signed transaction carrying one data.anchor, base64")
    envelopes: list[str] = Field(description="The records' envelopes in order, base64")
    views: dict[str, list[str]] = Field(
        default_factory=dict, description="Per projected grantee, its copies in order, base64"
    )


class WrappedKeysIn(BaseModel):
    epoch: int = Field(ge=1, le=2**32 - 1)
    wrapped: dict[str, str] = Field(description="department -> HPKE-wrapped epoch key, base64")


class SubjectKeyIn(BaseModel):
    pseudonym: str = Field(pattern="^[0-9a-f]{64}$")
    epoch: int = Field(ge=1, le=2**32 - 1)
    wrapped: str


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadEnvelope(f"{what} is not base64") from None


def view_holder(owner: str, viewer: str) -> str:
    """The label the owner's copy of `viewer`'s view key is kept (and wrapped) under."""
    return f"{owner}>{viewer}"


def _target(url: Any) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


async def _reader(service: DataService, request: Request) -> AccountId | None:
    body = await request.body()
    return signed_by(
        request.headers, request.method, _target(request.url), body, service.account_keys
    )


def _owner(service: DataService, stream: Stream, reader: AccountId | None) -> None:
    if reader is None or not service.has_role(reader, f"{stream.department}.data"):
        raise NoGrant(f"only {stream.department}'s data role may do this on {stream.id}")


def _check_personal_access(
    service: DataService, stream: Stream, reader: AccountId, start: int, end: int
) -> None:
    """A personal stream's records go only to a reader whose logged access covers them."""
    entries = scan(service.node.app.store, keys.access_prefix(stream.id), AccessEntry)
    for entry in entries:
        if entry.reader == reader and entry.first_seq <= start and end - 1 <= entry.last_seq:
            return
    raise NoGrant(
        f"no logged access by {reader.text} covers records {start} to {end - 1} "
        f"of {stream.id}: send data.access first"
    )


def read_records(
    service: DataService,
    stream: Stream,
    start: int,
    limit: int,
    prove: bool,
    viewer: str | None = None,
) -> dict[str, Any]:
    """Records (or `viewer`'s projected copies) with their paths to the batch's root as
    anchored (the anchor's `views[viewer]` for copies)."""
    head = service.store.head(stream.id, anchored_only=True)
    if start > head:
        raise NotYet(
            f"stream {stream.id} has anchored records 0 to {head - 1}; {start} does not exist yet"
        )
    end = min(start + limit, head)
    batches = service.store.batches(stream.id, start, end)
    out_batches = []
    records = []
    for batch in batches:
        last = batch.first_seq + batch.count
        root = batch.root
        if viewer is None:
            rows = service.store.envelopes(stream.id, batch.first_seq, last)
        else:
            rows = service.store.view_envelopes(stream.id, viewer, batch.first_seq, last)
            anchor = service.view().anchor(stream.id, batch.first_seq)
            if not rows or anchor is None or viewer not in anchor.views:
                continue  # anchored before this grantee's projection: nothing for it
            root = anchor.views[viewer]
        envelopes = [e for _, e in rows]
        entry: dict[str, Any] = {
            "first_seq": batch.first_seq,
            "count": batch.count,
            "root": root.hex(),
            "height": batch.height,
            "view": viewer,
        }
        if prove:
            answer = state_answer(service.node, keys.anchor(stream.id, batch.first_seq), None, True)
            entry["anchor"] = answer.model_dump(
                include={"key", "value", "height", "proof", "header", "cometbft"}
            )
        out_batches.append(entry)
        for index, (seq, envelope) in enumerate(rows):
            if start <= seq < end:
                path = crypto.record_path(envelopes, index)
                records.append(
                    {
                        "seq": seq,
                        "envelope": base64.b64encode(envelope).decode(),
                        "batch": batch.first_seq,
                        "path": [[left, sibling.hex()] for left, sibling in path],
                    }
                )
    return {
        "stream": stream.id,
        "from": start,
        "head": head,
        "records": records,
        "batches": out_batches,
        "first_held": records[0]["seq"] if records else None,
    }


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/data", tags=["data"])

    @router.get("/streams", summary="Every registered stream")
    def streams(node: NodeDep) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = node.app.query("data", "streams", {})
        return answer

    @router.get("/streams/{stream_id}", summary="A stream: owner, schema, epoch, head")
    def stream(stream_id: str, node: NodeDep) -> dict[str, Any]:
        answer: dict[str, Any] = node.app.query("data", "stream", {"id": stream_id})
        answer["grants"] = node.app.query("data", "grants", {"id": stream_id})
        answer["epochs"] = node.app.query("data", "epochs", {"id": stream_id})
        service = service_for(node)
        answer["stored_head"] = service.store.head(stream_id)
        answer["anchored_head"] = service.store.head(stream_id, anchored_only=True)
        return answer

    @router.get("/streams/{stream_id}/anchors", summary="Anchors from the one holding `from`")
    def anchors(
        stream_id: str,
        node: NodeDep,
        start: FromSeq = 0,
        limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    ) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = node.app.query(
            "data", "anchors", {"id": stream_id, "from": str(start), "limit": str(limit)}
        )
        return answer

    @router.get("/streams/{stream_id}/schemas/{version}", summary="One schema version")
    def schema(stream_id: str, version: Version, node: NodeDep) -> dict[str, Any]:
        answer: dict[str, Any] = node.app.query(
            "data", "schema", {"id": stream_id, "version": str(version)}
        )
        return answer

    @router.post(
        "/streams/{stream_id}/batches",
        summary="Hand in a batch with its anchor tx",
        status_code=202,
    )
    async def batch(stream_id: str, request: Request, node: NodeDep) -> dict[str, Any]:
        """Body: JSON `{tx, envelopes}` (base64) or CBOR (`application/cbor`) with byte
        strings. The node checks the records against the anchor (count, Merkle root,
        sequence numbers, epoch, schema for public streams), stores them pending and
        submits the transaction; they are served once the anchor commits."""
        service = service_for(node)
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/cbor"):
            try:
                data = cbor2.loads(body)
                raw_tx, envelopes = data["tx"], data["envelopes"]
                views = data.get("views", {})
                assert isinstance(raw_tx, bytes) and isinstance(envelopes, list)
                assert all(isinstance(e, bytes) for e in envelopes)
                assert isinstance(views, dict)
                for grantee, copies in views.items():
                    assert isinstance(grantee, str) and isinstance(copies, list)
                    assert all(isinstance(c, bytes) for c in copies)
            except Exception:
                raise BadEnvelope(
                    "a CBOR batch is a map {tx: bytes, envelopes: [bytes], "
                    "views: {grantee: [bytes]}}"
                ) from None
        else:
            try:
                parsed = BatchIn.model_validate_json(body)
            except ValueError:
                raise BadEnvelope("a JSON batch is {tx: base64, envelopes: [base64]}") from None
            raw_tx = _b64(parsed.tx, "tx")
            envelopes = [_b64(e, "envelope") for e in parsed.envelopes]
            views = {g: [_b64(c, "copy") for c in cs] for g, cs in parsed.views.items()}
        answer: dict[str, Any] = await run_in_threadpool(
            service.accept_batch, raw_tx, envelopes, stream_id, views
        )
        return answer

    @router.get("/streams/{stream_id}/records", summary="Records with Merkle paths and proofs")
    async def records(
        stream_id: str,
        request: Request,
        node: NodeDep,
        start: FromSeq = 0,
        limit: Annotated[int, Query(ge=1, le=READ_LIMIT_MAX)] = 1_000,
        prove: bool = False,
    ) -> dict[str, Any]:
        service = service_for(node)
        stream = service.stream(stream_id)
        reader = await _reader(service, request)
        viewer = None
        if stream.classification != "public":
            department = service.reader_department(stream, reader)
            viewer = service.viewer(stream, department)
            if stream.classification == "personal" and department != stream.department:
                assert reader is not None
                head = service.store.head(stream.id, anchored_only=True)
                _check_personal_access(service, stream, reader, start, min(start + limit, head))
        answer: dict[str, Any] = await run_in_threadpool(
            read_records, service, stream, start, limit, prove, viewer
        )
        return answer

    @router.put("/streams/{stream_id}/keys", summary="Store an epoch's wrapped keys (owner)")
    async def put_keys(stream_id: str, request: Request, node: NodeDep) -> dict[str, Any]:
        service = service_for(node)
        stream = service.stream(stream_id)
        _owner(service, stream, await _reader(service, request))
        body = WrappedKeysIn.model_validate_json(await request.body())
        epoch = service.view().epoch(stream_id, body.epoch)
        if epoch is None or epoch.shredded_at_height is not None:
            raise BadQuery(f"epoch {body.epoch} of {stream_id} is unknown or shredded")
        wrapped = {d: _b64(w, "wrapped key") for d, w in body.wrapped.items()}
        if any(len(w) != crypto.WRAPPED_BYTES for w in wrapped.values()):
            raise BadEnvelope(f"a wrapped key is {crypto.WRAPPED_BYTES} bytes")
        service.store.put_wrapped_keys(stream_id, body.epoch, wrapped)
        return {"stream": stream_id, "epoch": body.epoch, "departments": sorted(wrapped)}

    @router.put("/streams/{stream_id}/subject-keys", summary="Store wrapped subject keys")
    async def put_subject_keys(stream_id: str, request: Request, node: NodeDep) -> dict[str, Any]:
        service = service_for(node)
        stream = service.stream(stream_id)
        _owner(service, stream, await _reader(service, request))
        if stream.classification != "personal":
            raise NotPersonal(f"stream {stream_id} is not personal")
        items = [SubjectKeyIn.model_validate(i) for i in json.loads(await request.body())]
        rows = []
        for item in items:
            pseudonym = bytes.fromhex(item.pseudonym)
            if service.view().subject_shredded(stream_id, pseudonym):
                raise BadQuery(f"subject {item.pseudonym} is shredded")
            rows.append((pseudonym, item.epoch, _b64(item.wrapped, "wrapped subject key")))
        service.store.put_subject_keys(stream_id, rows)
        return {"stream": stream_id, "stored": len(rows)}

    @router.get("/streams/{stream_id}/keys", summary="The reader's wrapped epoch keys")
    async def get_keys(
        stream_id: str,
        request: Request,
        node: NodeDep,
        pseudonyms: Annotated[str, Query(max_length=65 * 512)] = "",
    ) -> dict[str, Any]:
        """Signed. Epoch keys wrapped for the reader's department (owner or grantee), and
        for a personal stream the subject keys asked for (hex pseudonyms, comma-separated)."""
        service = service_for(node)
        stream = service.stream(stream_id)
        department = service.reader_department(stream, await _reader(service, request))
        wrapped = service.store.wrapped_keys(stream_id, department)
        grant = service.view().grant(stream_id, department)
        if grant is not None and department != stream.department:
            wrapped = {e: w for e, w in wrapped.items() if e >= grant.from_epoch}
        subjects = []
        if pseudonyms:
            try:
                wanted = [bytes.fromhex(p) for p in pseudonyms.split(",")]
            except ValueError:
                raise BadQuery("pseudonyms are hex, comma-separated") from None
            subjects = [
                {"pseudonym": p.hex(), "epoch": e, "wrapped": base64.b64encode(w).decode()}
                for p, e, w in service.store.subject_keys(stream_id, wanted)
                if e in wrapped
            ]
        owner_views = {}
        if department == stream.department:  # the owner's own copies of each view key
            for viewer in stream.viewers:
                held = service.store.wrapped_keys(stream_id, view_holder(department, viewer))
                owner_views[viewer] = {
                    str(e): base64.b64encode(w).decode() for e, w in held.items()
                }
        return {
            "stream": stream_id,
            "department": department,
            "view": service.viewer(stream, department),
            "views": owner_views,
            "keys": {str(e): base64.b64encode(w).decode() for e, w in wrapped.items()},
            "subject_keys": subjects,
        }

    @router.put("/streams/{stream_id}/replica", summary="Keep a checked copy of batches")
    async def put_replica(stream_id: str, request: Request, node: NodeDep) -> dict[str, Any]:
        """Signed by a reader of the stream (a grantee's replicator). Body: JSON
        `{batches: [{first_seq, envelopes: [base64]}], keys: {epoch: base64},
        subject_keys: [...]}`. Each batch must match the anchor on this node's chain."""
        service = service_for(node)
        stream = service.stream(stream_id)
        body = await request.body()
        reader = signed_by(request.headers, "PUT", _target(request.url), body, service.account_keys)
        department = (
            service.reader_department(stream, reader) if stream.classification != "public" else None
        )
        try:
            data = json.loads(body)
            batches = [
                (int(b["first_seq"]), [_b64(e, "envelope") for e in b["envelopes"]])
                for b in data["batches"]
            ]
        except (ValueError, KeyError, TypeError):
            raise BadEnvelope("a replica is {batches: [{first_seq, envelopes}], keys}") from None
        stored = await run_in_threadpool(service.accept_replica, stream_id, batches)
        if department is not None:
            wrapped = {int(e): _b64(w, "wrapped key") for e, w in data.get("keys", {}).items()}
            for epoch, blob in wrapped.items():
                service.store.put_wrapped_keys(stream_id, epoch, {department: blob})
            rows = [
                (bytes.fromhex(k["pseudonym"]), int(k["epoch"]), _b64(k["wrapped"], "key"))
                for k in data.get("subject_keys", [])
            ]
            service.store.put_subject_keys(stream_id, rows)
        return {
            "stream": stream_id,
            "stored": [list(r) for r in stored],
            "anchored_head": service.store.head(stream_id, anchored_only=True),
        }

    @router.get("/streams/{stream_id}/access-log", summary="Logged reads of a personal stream")
    def access_log(stream_id: str, node: NodeDep) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = node.app.query("data", "access_log", {"id": stream_id})
        return answer

    @router.get(
        "/streams/{stream_id}/my-accesses",
        summary="For a data subject: the logged reads of records about them",
    )
    async def my_accesses(stream_id: str, request: Request, node: NodeDep) -> dict[str, Any]:
        service = service_for(node)
        stream = service.stream(stream_id)
        subject = await _reader(service, request)
        if subject is None:
            raise NoGrant("sign the request as the data subject")
        if stream.classification != "personal":
            raise NotPersonal(f"stream {stream_id} is not personal")
        pseudonym = crypto.pseudonym(stream_id, subject.raw)
        mine = set(service.store.subject_seqs(stream_id, pseudonym))
        entries = []
        for entry in scan(node.app.store, keys.access_prefix(stream_id), AccessEntry):
            seqs = sorted(s for s in mine if entry.first_seq <= s <= entry.last_seq)
            if seqs:
                entries.append({**as_json(entry), "records": seqs})
        return {
            "stream": stream_id,
            "pseudonym": pseudonym.hex(),
            "records": sorted(mine),
            "accesses": entries,
        }

    @router.get("/keys/{department}", summary="A department's registered data key")
    def data_key(department: str, node: NodeDep) -> dict[str, Any]:
        answer: dict[str, Any] = node.app.query("data", "data_key", {"department": department})
        return answer

    @router.get("/datasets/{dataset_id}", summary="A dataset version, its inputs, attestations")
    def dataset(
        dataset_id: str,
        node: NodeDep,
        version: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
        prove: bool = False,
    ) -> dict[str, Any]:
        answer: dict[str, Any] = node.app.query(
            "data", "dataset", {"id": dataset_id, "version": str(version)}
        )
        if prove:
            key = keys.dataset(dataset_id, answer["version"])
            proven = state_answer(node, key, None, True)
            answer["proof"] = proven.model_dump(
                include={"key", "value", "height", "proof", "header", "cometbft"}
            )
        return answer

    @router.put("/datasets/{dataset_id}/{version}/file", summary="Upload a dataset's file")
    async def put_dataset_file(
        dataset_id: str, version: Version, request: Request, node: NodeDep
    ) -> dict[str, Any]:
        """Signed by the publisher's department. The file (JSON lines) must have the root
        the chain holds for that version: publish the version first, then upload."""
        service = service_for(node)
        body = await request.body()
        reader = signed_by(request.headers, "PUT", _target(request.url), body, service.account_keys)
        published = service.view().dataset(dataset_id, version) if 0 < version < 2**32 else None
        if published is None:
            raise UnknownDataset(f"no dataset {dataset_id} version {version} on chain")
        if reader is None or not service.has_role(reader, f"{published.department}.data"):
            raise NoGrant(f"only {published.department}'s data role uploads this file")
        if crypto.dataset_root(body) != published.root:
            raise BadEnvelope("the file's root is not the root published on chain")
        service.store.put_dataset_file(dataset_id, version, body)
        return {"id": dataset_id, "version": version, "size_bytes": len(body)}

    @router.get("/datasets/{dataset_id}/{version}/file", summary="Download a dataset's file")
    def get_dataset_file(dataset_id: str, version: Version, node: NodeDep) -> Response:
        content = service_for(node).store.dataset_file(dataset_id, version)
        if content is None:
            raise UnknownDataset(f"this node holds no file for {dataset_id} version {version}")
        return Response(content, media_type="application/x-ndjson")

    @router.get("/streams/{stream_id}/sse", summary="Live records as Server-Sent Events")
    async def sse(
        stream_id: str, request: Request, node: NodeDep, start: FromSeq = 0
    ) -> StreamingResponse:
        service = service_for(node)
        stream = service.stream(stream_id)
        reader = await _reader(service, request)
        await _live_allowed(service, stream, reader)
        _check_start(service, stream, start)
        service.hub.attach(asyncio.get_running_loop())

        async def events() -> Any:
            async for item in _follow(service, stream_id, start, reader):
                if isinstance(item, str):
                    yield f"data: {item}\n\n"
                elif item is None:
                    yield ": keep-alive\n\n"
                else:
                    kind = "behind" if item["code"] == "data.behind" else "refused"
                    yield f"event: {kind}\ndata: {json.dumps(item)}\n\n"
                    return
                if await request.is_disconnected():
                    return

        return StreamingResponse(events(), media_type="text/event-stream")

    router.add_api_websocket_route("/streams/{stream_id}/records", live_endpoint)
    return router


async def _live_allowed(service: DataService, stream: Stream, reader: AccountId | None) -> None:
    if stream.classification == "public":
        return
    department = service.reader_department(stream, reader)
    if stream.classification == "personal" and department != stream.department:
        raise NoGrant(
            f"{stream.id} is personal: grantees read it through logged access "
            f"(data.access, then GET records), not live"
        )


def _check_start(service: DataService, stream: Stream, start: int) -> None:
    head = service.store.head(stream.id, anchored_only=True)
    if start > max(head, stream.next_seq):
        raise NotYet(
            f"stream {stream.id} has records 0 to {max(head, stream.next_seq) - 1}; "
            f"sequence {start} does not exist yet"
        )


async def _follow(
    service: DataService, stream_id: str, start: int, reader: AccountId | None = None
) -> Any:
    """Yield each anchored record's message from `start` on, None as a keep-alive, or a
    dict (and stop) when the subscriber is too far behind or no longer may read (its
    grant was revoked or expired: checked again each time new records arrive)."""
    cursor = start
    lag_max: int | None = None
    viewer: str | None = None
    while True:
        stream = service.stream(stream_id)
        if stream.classification != "public":
            try:
                viewer = service.viewer(stream, service.reader_department(stream, reader))
            except UrbisError as error:
                yield {
                    "code": error.code,
                    "delivered_through": cursor - 1,
                    "resume_from": cursor,
                    "detail": str(error),
                }
                return
        event = service.hub.changed(stream_id)
        head = service.store.head(stream_id, anchored_only=True)
        if lag_max is None:  # one resuming from far back is not behind: it catches up
            lag_max = max(LIVE_LAG_MAX, head - cursor)
        if head - cursor > lag_max:
            yield {"code": "data.behind", "delivered_through": cursor - 1, "resume_from": cursor}
            return
        if cursor < head:
            end = min(head, cursor + LIVE_CHUNK)
            texts = await run_in_threadpool(service.live_texts, stream_id, cursor, end, viewer)
            for seq, text in texts:
                yield text
                cursor = seq + 1
            # records this subscriber has nothing of (pruned, or anchored before its
            # projection) are passed over, not waited for
            cursor = end
            continue
        try:
            await asyncio.wait_for(event.wait(), KEEPALIVE_S)
        except TimeoutError:
            yield None


async def live_endpoint(websocket: WebSocket, stream_id: str) -> None:
    """WS /v1/data/streams/{id}/records?from=SEQ: each anchored record from SEQ on, one
    JSON text frame each. A subscriber that falls behind is closed with 4008 and a reason
    naming `from=N` to resume with; a `from` past the head is closed with 4004."""
    node = websocket.app.state.node
    service = service_for(node)
    service.hub.attach(asyncio.get_running_loop())
    # accept first: a close before the handshake is a bare HTTP 403 with no code or reason
    await websocket.accept()
    text = websocket.query_params.get("from", "0")
    if not text.isdigit() or len(text) > 19:
        await websocket.close(1008, "request.invalid: from must be a sequence number")
        return
    start = int(text)
    try:
        stream = service.stream(stream_id)
        reader = signed_by(
            websocket.headers, "GET", _target(websocket.url), b"", service.account_keys
        )
        await _live_allowed(service, stream, reader)
        _check_start(service, stream, start)
    except NotYet as error:
        await websocket.close(CLOSE_NOT_YET, f"{error.code}: {error}"[:120])
        return
    except UrbisError as error:
        await websocket.close(CLOSE_REFUSED, f"{error.code}: {error}"[:120])
        return
    # The sender and the disconnect watcher race: a client that leaves ends its sender at
    # once, even one waiting for new records or on a full socket.
    disconnected = asyncio.ensure_future(_until_disconnect(websocket))
    sender = asyncio.ensure_future(_send_live(websocket, service, stream_id, start, reader))
    try:
        await asyncio.wait({disconnected, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (disconnected, sender):
            task.cancel()
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(1000)


async def _send_live(
    websocket: WebSocket,
    service: DataService,
    stream_id: str,
    start: int,
    reader: AccountId | None,
) -> None:
    try:
        async for item in _follow(service, stream_id, start, reader):
            if item is None:
                continue
            if isinstance(item, dict):
                if item["code"] != "data.behind":
                    await websocket.close(
                        CLOSE_REFUSED,
                        f"{item['code']}: no longer granted; delivered through "
                        f"{item['delivered_through']}",
                    )
                    return
                await websocket.close(
                    CLOSE_BEHIND, f"data.behind: reconnect with from={item['resume_from']}"
                )
                return
            # A send waits while the client's socket is full: that holds this task only.
            # Once it drains, the lag check above closes it if it fell too far behind; a
            # client that never reads again fails the server's pings and is dropped.
            await websocket.send_text(item)
    except (WebSocketDisconnect, RuntimeError):
        return


async def _until_disconnect(websocket: WebSocket) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
