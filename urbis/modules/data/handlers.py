"""Data handlers: each checks everything first, then writes.

Roles: owner actions need `{department}.data` (checked by the app from the action's
`department`); a handler then checks the stream belongs to that department.
"""

from __future__ import annotations

import dataclasses
import decimal

import jsonschema

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.crypto.jsonshape import loads_bounded
from urbis.modules.data import keys
from urbis.modules.data.errors import (
    BadExpiry,
    BadInput,
    BadSchema,
    DatasetExists,
    EpochShredded,
    GrantExists,
    GrantExpired,
    MissingView,
    NoDataKey,
    NoGrant,
    NotOwner,
    NotPersonal,
    NotYet,
    ProjectionRefused,
    PublicStream,
    SequenceReplayed,
    SequenceSkipped,
    StreamExists,
    UnknownDataset,
    UnknownDepartment,
    UnknownEpoch,
    UnknownStream,
    WrongEpoch,
)
from urbis.modules.data.keeper import DataView
from urbis.modules.data.needs import GovernanceView
from urbis.modules.data.records import (
    AccessEntry,
    AddSchema,
    Anchor,
    AnchorBatch,
    Attest,
    Attestation,
    DataKey,
    Dataset,
    Epoch,
    Grant,
    GrantAccess,
    PublishDataset,
    RecordAccess,
    RegisterKey,
    RegisterStream,
    RevokeAccess,
    RotateEpoch,
    Schema,
    ShredEpoch,
    ShredSubject,
    Stream,
)


def check_schema(text: str) -> None:
    """Raise BadSchema unless `text` is a JSON Schema (2020-12). Numbers parse as Decimal:
    no float ever enters execution."""
    try:
        schema = loads_bounded(text, parse_float=decimal.Decimal)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (ValueError, jsonschema.SchemaError) as error:
        raise BadSchema(f"not a JSON Schema: {str(error).splitlines()[0][:200]}") from None
    if not isinstance(schema, dict):
        raise BadSchema("a stream's schema is a JSON object")


def _owned_stream(ctx: Context, stream_id: str, department: str) -> Stream:
    stream = DataView(ctx.state).stream(stream_id)
    if stream is None:
        raise UnknownStream(f"no stream {stream_id}")
    if stream.department != department:
        raise NotOwner(f"stream {stream_id} belongs to {stream.department}, not {department}")
    return stream


def _encrypted(stream: Stream) -> None:
    if stream.classification == "public":
        raise PublicStream(f"stream {stream.id} is public: it has no keys and needs no grants")


def register_key(ctx: Context, sender: AccountId, args: RegisterKey) -> None:
    if ctx.view("governance", GovernanceView).department(args.department) is None:
        raise UnknownDepartment(f"no department {args.department}")
    ctx.state.put_record(
        keys.data_key(args.department), DataKey(args.public_key, sender, ctx.block.height)
    )
    ctx.emit("data.key_registered", department=args.department, public_key=args.public_key)


def register_stream(ctx: Context, sender: AccountId, args: RegisterStream) -> None:
    view = DataView(ctx.state)
    if view.stream(args.id) is not None:
        raise StreamExists(f"stream {args.id} exists")
    encrypted = args.classification != "public"
    if encrypted and view.data_key(args.department) is None:
        raise NoDataKey(
            f"{args.department} has no data key: register one before an "
            f"{args.classification} stream"
        )
    check_schema(args.schema)
    height = ctx.block.height
    stream = Stream(
        id=args.id,
        department=args.department,
        classification=args.classification,
        retention_blocks=args.retention_blocks,
        purpose=args.purpose,
        schema_versions=1,
        epoch=1 if encrypted else 0,
        next_seq=0,
        anchors=0,
        accesses=0,
        registered_by=sender,
        registered_at_height=height,
        viewers=[],
    )
    ctx.state.put_record(keys.stream(args.id), stream)
    ctx.state.put_record(keys.schema(args.id, 1), Schema(1, args.schema, height))
    if encrypted:
        ctx.state.put_record(keys.epoch(args.id, 1), Epoch(1, 0, height, [args.department], None))
    ctx.emit(
        "data.stream_registered",
        stream=args.id,
        department=args.department,
        classification=args.classification,
        epoch=stream.epoch,
    )


def add_schema(ctx: Context, sender: AccountId, args: AddSchema) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    check_schema(args.schema)
    version = stream.schema_versions + 1
    ctx.state.put_record(
        keys.schema(args.stream, version), Schema(version, args.schema, ctx.block.height)
    )
    ctx.state.put_record(
        keys.stream(args.stream), dataclasses.replace(stream, schema_versions=version)
    )
    ctx.emit("data.schema_added", stream=args.stream, version=version)


def anchor_batch(ctx: Context, sender: AccountId, args: AnchorBatch) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    if args.first_seq < stream.next_seq:
        raise SequenceReplayed(
            f"stream {args.stream}: sequence {args.first_seq} already anchored; "
            f"next is {stream.next_seq}"
        )
    if args.first_seq > stream.next_seq:
        raise SequenceSkipped(
            f"stream {args.stream}: sequence {args.first_seq} skips ahead; next is "
            f"{stream.next_seq}"
        )
    if args.epoch != stream.epoch:
        raise WrongEpoch(f"stream {args.stream} is in epoch {stream.epoch}, not {args.epoch}")
    if stream.epoch:
        epoch = DataView(ctx.state).epoch(args.stream, stream.epoch)
        assert epoch is not None, "an encrypted stream's current epoch is stored"
        if epoch.shredded_at_height is not None:
            raise EpochShredded(f"epoch {stream.epoch} of {args.stream} is shredded: rotate first")
    view = DataView(ctx.state)
    required = sorted(
        v for v in stream.viewers if view.grant_in_force(args.stream, v, ctx.block.height)
    )
    if sorted(args.views) != required:
        raise MissingView(
            f"stream {args.stream} needs projected copies for {required or 'no one'}, "
            f"the anchor has {sorted(args.views) or 'none'}"
        )
    anchor = Anchor(
        args.stream,
        args.first_seq,
        args.count,
        args.root,
        args.epoch,
        ctx.block.height,
        sender,
        dict(sorted(args.views.items())),
    )
    ctx.state.put_record(keys.anchor(args.stream, args.first_seq), anchor)
    ctx.state.put_record(
        keys.stream(args.stream),
        dataclasses.replace(
            stream, next_seq=stream.next_seq + args.count, anchors=stream.anchors + 1
        ),
    )
    ctx.emit(
        "data.anchored",
        stream=args.stream,
        first_seq=args.first_seq,
        last_seq=args.first_seq + args.count - 1,
        root=args.root,
        epoch=args.epoch,
    )


def grant_access(ctx: Context, sender: AccountId, args: GrantAccess) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    _encrypted(stream)
    view = DataView(ctx.state)
    if ctx.view("governance", GovernanceView).department(args.grantee) is None:
        raise UnknownDepartment(f"no department {args.grantee}")
    if view.data_key(args.grantee) is None:
        raise NoDataKey(f"{args.grantee} has no registered data key to wrap the epoch key for")
    if view.grant_in_force(args.stream, args.grantee, ctx.block.height) is not None:
        raise GrantExists(f"{args.grantee} already holds a grant on {args.stream}")
    if args.projection and stream.classification == "personal":
        raise ProjectionRefused(
            f"{args.stream} is personal: a projected copy would escape its subjects' keys"
        )
    if args.expires_at_height <= ctx.block.height:
        raise BadExpiry(
            f"expires_at_height {args.expires_at_height} is not after {ctx.block.height}"
        )
    epoch = view.epoch(args.stream, stream.epoch)
    assert epoch is not None
    grant = Grant(
        args.stream,
        args.grantee,
        args.role,
        args.purpose,
        args.expires_at_height,
        list(args.projection),
        sender,
        ctx.block.height,
        stream.epoch,
    )
    ctx.state.put_record(keys.grant(args.stream, args.grantee), grant)
    if args.projection:
        viewers = sorted({*stream.viewers, args.grantee})
        ctx.state.put_record(keys.stream(args.stream), dataclasses.replace(stream, viewers=viewers))
    elif args.grantee not in epoch.grantees:
        grantees = sorted([*epoch.grantees, args.grantee])
        ctx.state.put_record(
            keys.epoch(args.stream, epoch.number), dataclasses.replace(epoch, grantees=grantees)
        )
    ctx.emit(
        "data.granted",
        stream=args.stream,
        grantee=args.grantee,
        role=args.role,
        purpose=args.purpose,
        expires_at_height=args.expires_at_height,
        epoch=stream.epoch,
    )


def _rotate(ctx: Context, stream: Stream, without: str | None) -> int:
    """Start epoch `stream.epoch + 1` for the owner and every grantee still in force."""
    view = DataView(ctx.state)
    current = view.epoch(stream.id, stream.epoch)
    assert current is not None
    keep = [
        d
        for d in current.grantees
        if d == stream.department
        or (d != without and view.grant_in_force(stream.id, d, ctx.block.height) is not None)
    ]
    number = stream.epoch + 1
    ctx.state.put_record(
        keys.epoch(stream.id, number), Epoch(number, stream.next_seq, ctx.block.height, keep, None)
    )
    ctx.state.put_record(keys.stream(stream.id), dataclasses.replace(stream, epoch=number))
    ctx.emit(
        "data.epoch_rotated",
        stream=stream.id,
        epoch=number,
        starts_at_seq=stream.next_seq,
        grantees=",".join(keep),
    )
    return number


def revoke_access(ctx: Context, sender: AccountId, args: RevokeAccess) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    _encrypted(stream)
    if DataView(ctx.state).grant(args.stream, args.grantee) is None:
        raise NoGrant(f"{args.grantee} holds no grant on {args.stream}")
    ctx.state.delete(keys.grant(args.stream, args.grantee))
    ctx.emit("data.revoked", stream=args.stream, grantee=args.grantee)
    if args.grantee in stream.viewers:
        stream = dataclasses.replace(
            stream, viewers=[v for v in stream.viewers if v != args.grantee]
        )
    _rotate(ctx, stream, args.grantee)


def rotate_epoch(ctx: Context, sender: AccountId, args: RotateEpoch) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    _encrypted(stream)
    _rotate(ctx, stream, None)


def shred_epoch(ctx: Context, sender: AccountId, args: ShredEpoch) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    _encrypted(stream)
    epoch = DataView(ctx.state).epoch(args.stream, args.epoch)
    if epoch is None:
        raise UnknownEpoch(f"stream {args.stream} has no epoch {args.epoch}")
    if epoch.shredded_at_height is not None:
        raise EpochShredded(f"epoch {args.epoch} of {args.stream} is already shredded")
    ctx.state.put_record(
        keys.epoch(args.stream, args.epoch),
        dataclasses.replace(epoch, shredded_at_height=ctx.block.height),
    )
    ctx.emit("data.epoch_shredded", stream=args.stream, epoch=args.epoch)


def shred_subject(ctx: Context, sender: AccountId, args: ShredSubject) -> None:
    stream = _owned_stream(ctx, args.stream, args.department)
    if stream.classification != "personal":
        raise NotPersonal(f"stream {args.stream} is {stream.classification}: no subject keys")
    if DataView(ctx.state).subject_shredded(args.stream, args.pseudonym):
        raise EpochShredded(f"subject {args.pseudonym.hex()} is already shredded")
    ctx.state.put(
        keys.subject_shred(args.stream, args.pseudonym), ctx.block.height.to_bytes(8, "big")
    )
    ctx.emit("data.subject_shredded", stream=args.stream, pseudonym=args.pseudonym)


def record_access(ctx: Context, sender: AccountId, args: RecordAccess) -> None:
    view = DataView(ctx.state)
    stream = view.stream(args.stream)
    if stream is None:
        raise UnknownStream(f"no stream {args.stream}")
    if stream.classification != "personal":
        raise NotPersonal(f"stream {args.stream} is {stream.classification}: reads are not logged")
    grant = view.grant(args.stream, args.grantee)
    if grant is None:
        raise NoGrant(f"{args.grantee} holds no grant on {args.stream}")
    if ctx.block.height >= grant.expires_at_height:
        raise GrantExpired(
            f"the grant of {args.grantee} on {args.stream} expired at {grant.expires_at_height}"
        )
    role = f"{args.grantee}.{grant.role}"
    if not ctx.view("governance", GovernanceView).has_role(sender, role):
        raise NoGrant(f"{sender} does not hold {role}, the role the grant names")
    if args.last_seq >= stream.next_seq:
        raise NotYet(f"stream {args.stream} has records 0 to {stream.next_seq - 1}")
    entry = AccessEntry(
        stream.accesses,
        args.stream,
        sender,
        args.grantee,
        grant.purpose,
        args.first_seq,
        args.last_seq,
        ctx.block.height,
    )
    ctx.state.put_record(keys.access(args.stream, stream.accesses), entry)
    ctx.state.put_record(
        keys.stream(args.stream), dataclasses.replace(stream, accesses=stream.accesses + 1)
    )
    ctx.emit(
        "data.accessed",
        stream=args.stream,
        index=entry.index,
        reader=sender,
        grantee=args.grantee,
        purpose=grant.purpose,
        first_seq=args.first_seq,
        last_seq=args.last_seq,
    )


def publish_dataset(ctx: Context, sender: AccountId, args: PublishDataset) -> None:
    view = DataView(ctx.state)
    if ctx.view("governance", GovernanceView).department(args.department) is None:
        raise UnknownDepartment(f"no department {args.department}")
    if view.dataset(args.id, args.version) is not None:
        raise DatasetExists(f"dataset {args.id} version {args.version} exists")
    for item in args.inputs:
        if item.kind == "stream":
            stream = view.stream(item.ref)
            if stream is None:
                raise BadInput(f"input stream {item.ref} does not exist")
            if item.last_seq >= stream.next_seq:
                raise BadInput(
                    f"input {item.ref} has records 0 to {stream.next_seq - 1}, "
                    f"not up to {item.last_seq}"
                )
        else:
            name, _, version = item.ref.partition("@")
            earlier = view.dataset(name, int(version)) if version.isdigit() else None
            if earlier is None or earlier.root != item.root:
                raise BadInput(f"input dataset {item.ref} is not published with that root")
    dataset = Dataset(
        args.id,
        args.version,
        args.department,
        args.root,
        args.records,
        args.size_bytes,
        list(args.inputs),
        args.transformation,
        args.code_hash,
        sender,
        ctx.block.height,
    )
    ctx.state.put_record(keys.dataset(args.id, args.version), dataset)
    ctx.emit(
        "data.dataset_published",
        id=args.id,
        version=args.version,
        root=args.root,
        records=args.records,
        publisher=sender,
    )


def attest(ctx: Context, sender: AccountId, args: Attest) -> None:
    if DataView(ctx.state).dataset(args.dataset, args.version) is None:
        raise UnknownDataset(f"no dataset {args.dataset} version {args.version}")
    record = Attestation(
        args.dataset,
        args.version,
        args.kind,
        args.passed,
        dict(sorted(args.figures.items())),
        sender,
        args.department,
        ctx.block.height,
    )
    ctx.state.put_record(keys.attestation(args.dataset, args.version, args.kind), record)
    ctx.emit(
        "data.attested",
        dataset=args.dataset,
        version=args.version,
        kind=args.kind,
        passed=args.passed,
        steward=sender,
    )
