"""Client side of data streams: produce (seal, anchor, hand in), read (verify, decrypt),
follow live. Keys never leave the client: the node sees envelopes and wrapped keys only.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import cbor2
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from urbis.chain.codec import from_wire
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.crypto.keys import PrivateKey
from urbis.modules.data import crypto, keys
from urbis.modules.data.auth import sign_request
from urbis.modules.data.records import Anchor
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder
from urbis.sdk.client import ApiError, _answer
from urbis.sdk.verify import ProofError, verify_state_proof

HEIGHT_TTL_S = 5.0
BATCH_RECORDS_DEFAULT = 500
"""Records per anchor: 500 of 1 KB fit the node's 1 MB request limit with room to spare."""


def new_data_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def save_data_key(key: X25519PrivateKey, path: Path) -> None:
    """The raw 32-byte X25519 private key, hex, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(raw.hex() + "\n")


def load_data_key(path: Path) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))


@dataclass
class DataSession:
    """An account talking to one node: signs requests and transactions."""

    api: str
    key: PrivateKey | None = None
    account: AccountId | None = None
    """None for anyone reading public streams and datasets: requests go unsigned."""
    chain_id: str = ""
    validators: Any = frozenset()
    """Validator keys to check anchors' proofs against (a set, or {key: power} under
    CometBFT); empty: trust the node's answers, check only paths to its roots."""
    _http: httpx.Client = field(init=False, repr=False)
    _nonce: int | None = field(default=None, init=False)
    _height: tuple[int, float] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.api, timeout=60)
        if not self.chain_id:
            self.chain_id = self.get("/v1/status")["chain_id"]

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
        signed: bool = True,
    ) -> Any:
        target = path + (f"?{urlencode(params)}" if params else "")
        headers = {"content-type": content_type}
        if signed and self.key is not None and self.account is not None:
            headers.update(sign_request(self.key, self.account, method, target, body))
        try:
            response = self._http.request(method, target, content=body, headers=headers)
        except httpx.TransportError as error:
            raise ApiError(
                0, "client.unreachable", f"cannot reach {self.api}: {error}", {}
            ) from None
        if response.headers.get("content-type", "").startswith("application/x-ndjson"):
            if response.status_code >= 400:
                _answer(response)
            return response.content
        return _answer(response)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params or None)

    def signer(self) -> tuple[PrivateKey, AccountId]:
        if self.key is None or self.account is None:
            raise ValueError("this needs an account: the session has no key")
        return self.key, self.account

    def next_nonce(self) -> int:
        _, account = self.signer()
        if self._nonce is None:
            self._nonce = int(self.get(f"/v1/accounts/{account.text}")["nonce"])
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def forget_nonce(self) -> None:
        self._nonce = None

    def unuse_nonce(self) -> None:
        """The last nonce handed out was not used (its transaction was never admitted)."""
        if self._nonce is not None:
            self._nonce -= 1

    def signed_tx(self, module: str, name: str, **args: Any) -> bytes:
        key, account = self.signer()
        builder = TxBuilder(self.chain_id, account).add(module, name, **args)
        tx = builder.sign([key], self.next_nonce(), self.height() + EXPIRY_BLOCKS_DEFAULT)
        return tx.raw

    def height(self) -> int:
        """The chain's height, asked again at most every HEIGHT_TTL_S: expiries need only
        a rough one, and a producer signs many transactions a second."""
        import time

        now = time.monotonic()
        if self._height is None or now - self._height[1] > HEIGHT_TTL_S:
            self._height = (int(self.get("/v1/status")["height"]), now)
        return self._height[0]

    def act(self, name: str, /, module: str = "data", **args: Any) -> dict[str, Any]:
        """Send one action (of `data` unless `module` says) and wait for its receipt;
        ApiError with the receipt's code if it failed."""
        raw = self.signed_tx(module, name, **args)
        body = json.dumps({"tx": base64.b64encode(raw).decode()}).encode()
        answer = self.request(
            "POST", "/v1/txs", {"wait": "commit", "timeout": 30}, body, signed=False
        )
        receipt = answer.get("receipt")
        if receipt is None or not receipt["ok"]:
            self.forget_nonce()
            code = "tx.pending" if receipt is None else receipt["code"]
            raise ApiError(409, code, "" if receipt is None else receipt["message"], answer)
        return dict(receipt)

    def stream(self, stream_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"/v1/data/streams/{stream_id}")
        return answer


class Producer:
    """Publishes records to a stream its department owns: seals each under the current
    epoch key, anchors each batch, hands the batch in with the anchor transaction."""

    def __init__(
        self,
        session: DataSession,
        stream_id: str,
        data_key: X25519PrivateKey,
        schema_version: int | None = None,
    ) -> None:
        self.session = session
        self.stream_id = stream_id
        self.data_key = data_key
        info = session.stream(stream_id)
        self.department: str = info["department"]
        self.classification: str = info["classification"]
        self.schema_version = schema_version or int(info["schema_versions"])
        self.next_seq = int(info["stored_head"])
        self.epoch = int(info["epoch"])
        self._epoch_keys: dict[int, bytes] = {}
        self._view_keys: dict[tuple[int, str], bytes] = {}
        self.viewers: dict[str, list[str]] = self._viewers(info)
        self._subject_keys: dict[bytes, bytes] = {}
        self._subjects_wrapped: set[tuple[bytes, int]] = set()

    def refresh(self) -> None:
        info = self.session.stream(self.stream_id)
        self.epoch = int(info["epoch"])
        self.next_seq = max(self.next_seq, int(info["stored_head"]))
        self.viewers = self._viewers(info)

    def _viewers(self, info: dict[str, Any]) -> dict[str, list[str]]:
        """Projected grantees in force and the fields each may see."""
        height = self.session.height() if info["viewers"] else 0
        return {
            g["grantee"]: list(g["projection"])
            for g in info["grants"]
            if g["grantee"] in info["viewers"] and g["expires_at_height"] > height
        }

    def view_key(self, viewer: str) -> bytes:
        """The current epoch's key for `viewer`'s projected copies: the owner's copy from
        the node, or a new one wrapped for the viewer and for the owner."""
        cached = self._view_keys.get((self.epoch, viewer))
        if cached is not None:
            return cached
        holder = f"{self.department}>{viewer}"
        held = self.session.get(f"/v1/data/streams/{self.stream_id}/keys")["views"]
        wrapped = held.get(viewer, {}).get(str(self.epoch))
        if wrapped is not None:
            key = crypto.unwrap_epoch_key(
                base64.b64decode(wrapped), self.data_key, self.stream_id, self.epoch, holder
            )
        else:
            key = crypto.new_key()
            own = public_bytes(self.data_key)
            theirs = bytes.fromhex(self.session.get(f"/v1/data/keys/{viewer}")["public_key"])
            copies = {
                viewer: crypto.wrap_epoch_key(key, theirs, self.stream_id, self.epoch, viewer),
                holder: crypto.wrap_epoch_key(key, own, self.stream_id, self.epoch, holder),
            }
            body = json.dumps(
                {
                    "epoch": self.epoch,
                    "wrapped": {d: base64.b64encode(w).decode() for d, w in copies.items()},
                }
            ).encode()
            self.session.request("PUT", f"/v1/data/streams/{self.stream_id}/keys", body=body)
        self._view_keys[(self.epoch, viewer)] = key
        return key

    def seal_views(self, records: Sequence[Any], first_seq: int) -> dict[str, list[bytes]]:
        """Each projected grantee's copies of `records`: only its fields, under its view key."""
        views = {}
        for viewer, fields in self.viewers.items():
            key = self.view_key(viewer)
            name = crypto.view_name(self.stream_id, viewer)
            views[viewer] = [
                crypto.seal_record(
                    name,
                    self.classification,
                    self.schema_version,
                    first_seq + index,
                    self.epoch,
                    json.dumps({k: r[k] for k in fields if k in r}, separators=(",", ":")).encode(),
                    key,
                )
                for index, r in enumerate(records)
            ]
        return views

    def epoch_key(self) -> bytes:
        """The current epoch's key: unwrapped from the node, or made and wrapped for every
        department the epoch names (owner and grantees) if this is its first record."""
        if self.epoch in self._epoch_keys:
            return self._epoch_keys[self.epoch]
        held = self.session.get(f"/v1/data/streams/{self.stream_id}/keys")["keys"]
        if str(self.epoch) in held:
            key = crypto.unwrap_epoch_key(
                base64.b64decode(held[str(self.epoch)]),
                self.data_key,
                self.stream_id,
                self.epoch,
                self.department,
            )
        else:
            key = crypto.new_key()
            epochs = self.session.stream(self.stream_id)["epochs"]
            (current,) = [e for e in epochs if e["number"] == self.epoch]
            self.share(key, self.epoch, current["grantees"])
        self._epoch_keys[self.epoch] = key
        return key

    def share(self, key: bytes, epoch: int, departments: Iterable[str]) -> None:
        """Wrap `key` for each department's registered data key and store the copies."""
        wrapped = {}
        for department in departments:
            public = bytes.fromhex(self.session.get(f"/v1/data/keys/{department}")["public_key"])
            wrapped[department] = base64.b64encode(
                crypto.wrap_epoch_key(key, public, self.stream_id, epoch, department)
            ).decode()
        body = json.dumps({"epoch": epoch, "wrapped": wrapped}).encode()
        self.session.request("PUT", f"/v1/data/streams/{self.stream_id}/keys", body=body)

    def grant(
        self,
        grantee: str,
        purpose: str,
        expires_at_height: int,
        role: str = "data",
        projection: Sequence[str] = (),
    ) -> dict[str, Any]:
        receipt = self.session.act(
            "grant",
            stream=self.stream_id,
            department=self.department,
            grantee=grantee,
            role=role,
            purpose=purpose,
            expires_at_height=expires_at_height,
            projection=list(projection),
        )
        self.refresh()
        if projection:
            self.view_key(grantee)
        else:
            self.share(self.epoch_key(), self.epoch, [grantee])
        return receipt

    def revoke(self, grantee: str) -> dict[str, Any]:
        receipt = self.session.act(
            "revoke", stream=self.stream_id, department=self.department, grantee=grantee
        )
        self.refresh()
        return receipt

    def _record_key(self, subject: bytes | None) -> tuple[bytes | None, bytes | None]:
        if self.classification == "public":
            return None, None
        epoch_key = self.epoch_key()
        if self.classification != "personal":
            return epoch_key, None
        assert subject is not None, "a personal record names its subject (an account id)"
        pseudonym = crypto.pseudonym(self.stream_id, subject)
        subject_key = self._subject_keys.setdefault(pseudonym, crypto.new_key())
        if (pseudonym, self.epoch) not in self._subjects_wrapped:
            wrapped = crypto.wrap_subject_key(
                subject_key, epoch_key, self.stream_id, self.epoch, pseudonym
            )
            body = json.dumps(
                [
                    {
                        "pseudonym": pseudonym.hex(),
                        "epoch": self.epoch,
                        "wrapped": base64.b64encode(wrapped).decode(),
                    }
                ]
            ).encode()
            self.session.request(
                "PUT", f"/v1/data/streams/{self.stream_id}/subject-keys", body=body
            )
            self._subjects_wrapped.add((pseudonym, self.epoch))
        return crypto.subject_record_key(epoch_key, subject_key), pseudonym

    def seal(self, records: Sequence[Any], subjects: Sequence[bytes] | None = None) -> list[bytes]:
        envelopes = []
        for index, record in enumerate(records):
            plaintext = (
                record
                if isinstance(record, bytes)
                else json.dumps(record, separators=(",", ":")).encode()
            )
            key, pseudonym = self._record_key(None if subjects is None else subjects[index])
            envelopes.append(
                crypto.seal_record(
                    self.stream_id,
                    self.classification,
                    self.schema_version,
                    self.next_seq + index,
                    self.epoch,
                    plaintext,
                    key,
                    pseudonym,
                )
            )
        return envelopes

    def publish(
        self, records: Sequence[Any], subjects: Sequence[bytes] | None = None
    ) -> dict[str, Any]:
        """Seal, anchor and hand in one batch; returns the node's answer (tx id, range)."""
        envelopes = self.seal(records, subjects)
        views = self.seal_views(records, self.next_seq) if self.viewers else None
        answer = self.hand_in(envelopes, views=views)
        self.next_seq += len(envelopes)
        return answer

    def hand_in(
        self,
        envelopes: list[bytes],
        first_seq: int | None = None,
        views: dict[str, list[bytes]] | None = None,
    ) -> dict[str, Any]:
        first = self.next_seq if first_seq is None else first_seq
        views = views or {}
        raw = self.session.signed_tx(
            "data",
            "anchor",
            stream=self.stream_id,
            department=self.department,
            first_seq=first,
            count=len(envelopes),
            root=crypto.batch_root(envelopes),
            epoch=self.epoch,
            views={v: crypto.batch_root(copies) for v, copies in sorted(views.items())},
        )
        body = cbor2.dumps({"tx": raw, "envelopes": envelopes, "views": views})
        try:
            answer: dict[str, Any] = self.session.request(
                "POST",
                f"/v1/data/streams/{self.stream_id}/batches",
                body=body,
                content_type="application/cbor",
                signed=False,
            )
        except ApiError as error:
            if error.code.startswith(("tx.", "client.")):
                self.session.forget_nonce()  # the node may or may not hold it: ask again
            else:
                self.session.unuse_nonce()  # refused before admission: the nonce is free
            raise
        return answer

    def publish_many(
        self, records: Sequence[Any], batch: int = BATCH_RECORDS_DEFAULT
    ) -> list[dict[str, Any]]:
        return [self.publish(records[i : i + batch]) for i in range(0, len(records), batch)]


@dataclass(frozen=True, slots=True)
class ReadRecord:
    seq: int
    record: Any
    """The decoded JSON record (projected to the grant's fields where the grant says so)."""
    height: int


class Reader:
    """Reads a stream it may read: checks every record against its batch's anchored root
    (and the anchor against a signed header when `validators` are pinned), then decrypts."""

    def __init__(
        self, session: DataSession, stream_id: str, data_key: X25519PrivateKey | None = None
    ) -> None:
        self.session = session
        self.stream_id = stream_id
        self.data_key = data_key
        info = session.stream(stream_id)
        self.classification: str = info["classification"]
        self.owner: str = info["department"]
        self._keys: dict[int, bytes] = {}
        self._subject_keys: dict[tuple[bytes, int], bytes] = {}
        self.department = ""
        self.view: str | None = None
        """Set when this reader's grant names a projection: it reads its own copies."""
        self.name = stream_id
        """What records are sealed under for this reader: the stream id, or its view's name."""

    def load_keys(self, pseudonyms: Iterable[bytes] = ()) -> None:
        if self.classification == "public":
            return
        wanted = ",".join(sorted({p.hex() for p in pseudonyms}))
        params = {"pseudonyms": wanted} if wanted else None
        answer = self.session.request("GET", f"/v1/data/streams/{self.stream_id}/keys", params)
        self.department = answer["department"]
        self.view = answer.get("view")
        if self.view:
            self.name = crypto.view_name(self.stream_id, self.view)
        assert self.data_key is not None, "an encrypted stream needs the department's data key"
        for epoch_text, wrapped in answer["keys"].items():
            epoch = int(epoch_text)
            if epoch not in self._keys:
                self._keys[epoch] = crypto.unwrap_epoch_key(
                    base64.b64decode(wrapped), self.data_key, self.stream_id, epoch, self.department
                )
        for item in answer["subject_keys"]:
            pseudonym, epoch = bytes.fromhex(item["pseudonym"]), int(item["epoch"])
            if epoch in self._keys:
                self._subject_keys[(pseudonym, epoch)] = crypto.unwrap_subject_key(
                    base64.b64decode(item["wrapped"]),
                    self._keys[epoch],
                    self.stream_id,
                    epoch,
                    pseudonym,
                )

    def open(self, raw: bytes, height: int = 0) -> ReadRecord:
        envelope = crypto.decode_envelope(raw)
        if envelope.classification == "public":
            return ReadRecord(envelope.seq, json.loads(envelope.body), height)
        key = self._keys.get(envelope.epoch)
        if key is None:
            self.load_keys([envelope.pseudonym] if envelope.pseudonym else [])
            key = self._keys.get(envelope.epoch)
        if key is None:
            raise crypto.EnvelopeError(
                f"no key for epoch {envelope.epoch}: not granted, revoked before it, or shredded"
            )
        if envelope.pseudonym is not None:
            subject = self._subject_keys.get((envelope.pseudonym, envelope.epoch))
            if subject is None:
                self.load_keys([envelope.pseudonym])
                subject = self._subject_keys.get((envelope.pseudonym, envelope.epoch))
            if subject is None:
                raise crypto.EnvelopeError("the subject's key is gone (shredded)")
            key = crypto.subject_record_key(key, subject)
        record = json.loads(crypto.open_record(self.name, envelope, key))
        return ReadRecord(envelope.seq, record, height)

    def fetch(self, start: int = 0, limit: int = 1_000, prove: bool = True) -> dict[str, Any]:
        answer: dict[str, Any] = self.session.request(
            "GET",
            f"/v1/data/streams/{self.stream_id}/records",
            {"from": start, "limit": limit, "prove": str(prove).lower()},
        )
        return answer

    def verify(self, answer: dict[str, Any]) -> list[tuple[int, bytes, int]]:
        """(seq, envelope, height) of each record, after checking its Merkle path to its
        batch root and, with pinned validators, the anchor's state proof and header."""
        roots = {}
        for batch in answer["batches"]:
            root = bytes.fromhex(batch["root"])
            if self.session.validators and "anchor" in batch:
                key = keys.anchor(self.stream_id, batch["first_seq"])
                try:
                    state = verify_state_proof(batch["anchor"], self.session.validators, key)
                except ProofError as error:
                    raise crypto.EnvelopeError(f"anchor proof: {error}") from None
                if state.value is None:
                    raise crypto.EnvelopeError(f"no anchor on chain at {batch['first_seq']}")
                anchor = from_wire(Anchor, decode_trusted(state.value))
                anchored = anchor.views.get(batch["view"]) if batch.get("view") else anchor.root
                if anchored != root or anchor.count != batch["count"]:
                    raise crypto.EnvelopeError("the batch root is not the anchored root")
            roots[batch["first_seq"]] = (root, batch["height"])
        out = []
        for item in answer["records"]:
            raw = base64.b64decode(item["envelope"])
            root, height = roots[item["batch"]]
            path = [(bool(left), bytes.fromhex(sibling)) for left, sibling in item["path"]]
            if not crypto.check_path(raw, path, root):
                raise crypto.EnvelopeError(f"record {item['seq']} is not under its anchored root")
            if crypto.decode_envelope(raw).seq != item["seq"]:
                raise crypto.EnvelopeError(f"record {item['seq']} carries another sequence")
            out.append((item["seq"], raw, height))
        return out

    def read(self, start: int = 0, limit: int = 1_000) -> list[ReadRecord]:
        answer = self.fetch(start, limit, prove=bool(self.session.validators))
        return [self.open(raw, height) for _, raw, height in self.verify(answer)]

    def log_access(self, first_seq: int, last_seq: int) -> dict[str, Any]:
        """Personal streams: record the read on chain first (the node checks it)."""
        if not self.department:
            self.load_keys()
        return self.session.act(
            "access",
            stream=self.stream_id,
            grantee=self.department,
            first_seq=first_seq,
            last_seq=last_seq,
        )

    async def follow(self, start: int = 0) -> AsyncIterator[ReadRecord]:
        """Each record from `start` on as it is anchored, decrypted here (WebSocket)."""
        import websockets

        target = f"/v1/data/streams/{self.stream_id}/records?from={start}"
        headers = {}
        if self.session.key is not None and self.session.account is not None:
            headers = sign_request(self.session.key, self.session.account, "GET", target)
        url = self.session.api.replace("http", "ws", 1) + target
        async with websockets.connect(url, additional_headers=headers, max_size=2**22) as ws:
            async for message in ws:
                item = json.loads(message)
                yield self.open(base64.b64decode(item["envelope"]), item["height"])


def pseudonym_of(stream_id: str, subject: AccountId) -> bytes:
    return crypto.pseudonym(stream_id, subject.raw)


def replicate(
    source: Reader, target: DataSession, start: int = 0, limit: int = 4_096
) -> dict[str, Any]:
    """Copy what `source` (a reader on the producer's node) may read into `target`'s node:
    fetch with signed requests, check each record's path to its batch's anchored root here,
    then hand the batches to the target node, which checks them against its own chain."""
    answer = source.fetch(start, limit, prove=bool(source.session.validators))
    verified = source.verify(answer)
    by_batch: dict[int, list[bytes]] = {}
    for item, (_, raw, _) in zip(answer["records"], verified, strict=True):
        by_batch.setdefault(item["batch"], []).append(raw)
    complete = [b for b in answer["batches"] if len(by_batch.get(b["first_seq"], [])) == b["count"]]
    body: dict[str, Any] = {
        "batches": [
            {
                "first_seq": b["first_seq"],
                "envelopes": [base64.b64encode(e).decode() for e in by_batch[b["first_seq"]]],
            }
            for b in complete
        ]
    }
    if source.classification != "public":
        pseudonyms = {crypto.decode_envelope(e).pseudonym for b in by_batch.values() for e in b}
        wanted = ",".join(sorted(p.hex() for p in pseudonyms if p is not None))
        keys_answer = source.session.request(
            "GET",
            f"/v1/data/streams/{source.stream_id}/keys",
            {"pseudonyms": wanted} if wanted else None,
        )
        body["keys"] = keys_answer["keys"]
        body["subject_keys"] = keys_answer["subject_keys"]
    result: dict[str, Any] = target.request(
        "PUT", f"/v1/data/streams/{source.stream_id}/replica", body=json.dumps(body).encode()
    )
    return result


def publish_dataset(
    session: DataSession,
    dataset_id: str,
    version: int,
    department: str,
    content: bytes,
    inputs: list[dict[str, Any]],
    transformation: str,
    code: bytes,
) -> dict[str, Any]:
    """Publish a dataset version on chain (root, inputs, transformation, code hash), then
    upload its file to the node, which serves it to anyone."""
    import hashlib

    lines = [line for line in content.split(b"\n") if line]
    receipt = session.act(
        "publish_dataset",
        id=dataset_id,
        version=version,
        department=department,
        root=crypto.dataset_root(content),
        records=len(lines),
        size_bytes=len(content),
        inputs=inputs,
        transformation=transformation,
        code_hash=hashlib.sha256(code).digest(),
    )
    session.request(
        "PUT",
        f"/v1/data/datasets/{dataset_id}/{version}/file",
        body=content,
        content_type="application/x-ndjson",
    )
    return receipt


def verify_dataset(
    session: DataSession, dataset_id: str, version: int, content: bytes
) -> dict[str, Any]:
    """Recompute the file's root and compare it with the root on chain (proven against a
    signed header when the session pins validators). Raises EnvelopeError if it differs."""
    published = session.get(
        f"/v1/data/datasets/{dataset_id}",
        version=version,
        prove=str(bool(session.validators)).lower(),
    )
    root = crypto.dataset_root(content)
    if session.validators:
        from urbis.modules.data.records import Dataset

        state = verify_state_proof(
            published["proof"], session.validators, keys.dataset(dataset_id, version)
        )
        if state.value is None:
            raise crypto.EnvelopeError(f"no dataset {dataset_id} v{version} on chain")
        on_chain = from_wire(Dataset, decode_trusted(state.value)).root
    else:
        on_chain = bytes.fromhex(published["root"])
    if root != on_chain:
        raise crypto.EnvelopeError(
            f"the file's root {root.hex()} is not the published root {on_chain.hex()}"
        )
    return {
        "id": dataset_id,
        "version": version,
        "root": root.hex(),
        "verified": True,
        "attestations": published["attestations"],
        "inputs": published["inputs"],
    }


def measure_quality(
    content: bytes,
    schema: dict[str, Any],
    expected_records: int,
    newest_field: str | None,
    published_ms: int,
) -> dict[str, dict[str, int]]:
    """A steward's figures: schema validity (rows, invalid), completeness (records,
    expected, permille), freshness (age of the newest record at publication, ms)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    rows = [json.loads(line) for line in content.split(b"\n") if line]
    invalid = sum(1 for row in rows if not validator.is_valid(row))
    figures: dict[str, dict[str, int]] = {
        "schema": {"rows": len(rows), "invalid": invalid},
        "completeness": {
            "records": len(rows),
            "expected": expected_records,
            "permille": len(rows) * 1000 // max(expected_records, 1),
        },
    }
    if newest_field and rows:
        newest = max(int(row.get(newest_field, 0)) for row in rows)
        figures["freshness"] = {"newest_ms": newest, "age_ms": max(published_ms - newest, 0)}
    return figures


def range_root(session: DataSession, stream_id: str, first_seq: int, last_seq: int) -> bytes:
    """A dataset input's root for records first..last of a stream: the Merkle root of the
    anchored batch roots covering them, in order (anyone can recompute it from the chain)."""
    roots: list[bytes] = []
    cursor = first_seq
    while cursor <= last_seq:
        page = session.get(
            f"/v1/data/streams/{stream_id}/anchors", **{"from": cursor, "limit": 1_000}
        )
        if not page:
            raise crypto.EnvelopeError(f"{stream_id} has no anchored records from {cursor}")
        for anchor in page:
            if anchor["first_seq"] > last_seq:
                break
            roots.append(bytes.fromhex(anchor["root"]))
            cursor = anchor["first_seq"] + anchor["count"]
    return crypto.batch_root(roots)
