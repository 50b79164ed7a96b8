"""Identity handlers: each checks everything first, then writes."""

from __future__ import annotations

import dataclasses

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.modules.identity import keys
from urbis.modules.identity.errors import (
    AlreadyTrusted,
    IndexAllocated,
    IndexOutOfRange,
    InvalidStatus,
    ListExists,
    NotTrusted,
    TypeExists,
    UnknownClaim,
    UnknownList,
    UnknownType,
)
from urbis.modules.identity.keeper import (
    allocated,
    entries_per_page,
    read_allocation,
    read_list,
    read_page,
    read_trust,
)
from urbis.modules.identity.keeper import (
    set_status as set_status_bits,
)
from urbis.modules.identity.records import (
    ALLOCATION_ENTRIES_PER_PAGE,
    AllocateStatus,
    CreateStatusList,
    CredentialType,
    DefineType,
    RegisterVerifier,
    SetStatus,
    StatusList,
    TrustGrant,
    TrustIssuer,
    TrustRecord,
    VerifierRegistration,
    WithdrawIssuer,
)


def define_type(ctx: Context, sender: AccountId, args: DefineType) -> None:
    if ctx.state.get(keys.credential_type(args.vct)) is not None:
        raise TypeExists(f"credential type {args.vct} exists")
    record = CredentialType(
        args.vct,
        args.schema_hash,
        list(args.claims),
        list(args.disclosable),
        args.validity_days,
        ctx.block.height,
    )
    ctx.state.put_record(keys.credential_type(args.vct), record)
    ctx.emit("identity.type_defined", vct=args.vct, claims=len(args.claims))


def trust_issuer(ctx: Context, sender: AccountId, args: TrustIssuer) -> None:
    _require_type(ctx, args.vct)
    trust = read_trust(ctx.state, args.vct, args.issuer)
    if trust.current:
        raise AlreadyTrusted(f"{args.issuer} is already trusted for {args.vct}")
    grant = TrustGrant(sender, ctx.block.height, ctx.block.time_ms)
    ctx.state.put_record(keys.trust(args.vct, args.issuer), TrustRecord([*trust.periods, grant]))
    ctx.emit("identity.issuer_trusted", vct=args.vct, issuer=args.issuer, by=sender)


def withdraw_issuer(ctx: Context, sender: AccountId, args: WithdrawIssuer) -> None:
    trust = read_trust(ctx.state, args.vct, args.issuer)
    if not trust.current:
        raise NotTrusted(f"{args.issuer} is not trusted for {args.vct}")
    ended = dataclasses.replace(
        trust.periods[-1], until_at_height=ctx.block.height, until_ms=ctx.block.time_ms
    )
    ctx.state.put_record(
        keys.trust(args.vct, args.issuer), TrustRecord([*trust.periods[:-1], ended])
    )
    ctx.emit("identity.issuer_withdrawn", vct=args.vct, issuer=args.issuer, by=sender)


def create_status_list(ctx: Context, sender: AccountId, args: CreateStatusList) -> None:
    if read_list(ctx.state, sender, args.list_id) is not None:
        raise ListExists(f"{sender} already has status list {args.list_id}")
    record = StatusList(
        sender, args.list_id, args.size, args.bits, ctx.block.height, ctx.block.height
    )
    ctx.state.put_record(keys.status_list(sender, args.list_id), record)
    ctx.emit(
        "identity.status_list_created",
        issuer=sender,
        list_id=args.list_id,
        size=args.size,
        bits=args.bits,
    )


def set_status(ctx: Context, sender: AccountId, args: SetStatus) -> None:
    status_list = read_list(ctx.state, sender, args.list_id)
    if status_list is None:
        raise UnknownList(f"{sender} has no status list {args.list_id}")
    if not 0 <= args.index < status_list.size:
        raise IndexOutOfRange(f"index {args.index} outside 0..{status_list.size - 1}")
    if not 0 <= args.status < (1 << status_list.bits):
        raise InvalidStatus(f"status {args.status} needs more than {status_list.bits} bit(s)")
    per_page = entries_per_page(status_list.bits)
    page_number, offset = divmod(args.index, per_page)
    page = read_page(ctx.state, sender, args.list_id, page_number)
    ctx.state.put(
        keys.status_page(sender, args.list_id, page_number),
        set_status_bits(page, offset, status_list.bits, args.status),
    )
    ctx.state.put_record(
        keys.status_list(sender, args.list_id),
        dataclasses.replace(status_list, updated_at_height=ctx.block.height),
    )
    ctx.emit(
        "identity.status_changed",
        issuer=sender,
        list_id=args.list_id,
        index=args.index,
        status=args.status,
    )


def allocate_status(ctx: Context, sender: AccountId, args: AllocateStatus) -> None:
    status_list = read_list(ctx.state, sender, args.list_id)
    if status_list is None:
        raise UnknownList(f"{sender} has no status list {args.list_id}")
    for index in args.indexes:
        if not 0 <= index < status_list.size:
            raise IndexOutOfRange(f"index {index} outside 0..{status_list.size - 1}")
        if allocated(ctx.state, sender, args.list_id, index):
            raise IndexAllocated(f"index {index} of list {args.list_id} is handed out already")
    pages: dict[int, bytes] = {}
    for index in sorted(args.indexes):
        number, offset = divmod(index, ALLOCATION_ENTRIES_PER_PAGE)
        page = pages.get(number) or read_allocation(ctx.state, sender, args.list_id, number)
        pages[number] = set_status_bits(page, offset, 1, 1)
    for number in sorted(pages):
        ctx.state.put(keys.allocation_page(sender, args.list_id, number), pages[number])
    ctx.emit(
        "identity.status_allocated",
        issuer=sender,
        list_id=args.list_id,
        count=len(args.indexes),
    )


def register_verifier(ctx: Context, sender: AccountId, args: RegisterVerifier) -> None:
    for vct, claims in args.allowed_claims.items():
        credential_type = _require_type(ctx, vct)
        unknown = sorted(set(claims) - set(credential_type.claims))
        if unknown:
            raise UnknownClaim(f"{vct} has no claim(s) {', '.join(unknown)}")
    record = VerifierRegistration(
        args.name, {k: list(v) for k, v in args.allowed_claims.items()}, ctx.block.height
    )
    ctx.state.put_record(keys.verifier(args.verifier), record)
    ctx.emit("identity.verifier_registered", verifier=args.verifier, name=args.name)


def _require_type(ctx: Context, vct: str) -> CredentialType:
    record = ctx.state.get_record(keys.credential_type(vct), CredentialType)
    if record is None:
        raise UnknownType(f"no credential type {vct}")
    return record
