"""Petitions handlers: each checks everything first, then writes."""

from __future__ import annotations

import dataclasses

from urbis.chain.context import Context
from urbis.chain.ids import AccountId
from urbis.modules.petitions import keys
from urbis.modules.petitions.errors import (
    AlreadySigned,
    PetitionClosed,
    PetitionExists,
    PetitionNotFound,
    UnknownDepartment,
)
from urbis.modules.petitions.keeper import PetitionsView
from urbis.modules.petitions.needs import GovernanceView
from urbis.modules.petitions.records import OpenPetition, Petition, SignPetition


def open_petition(ctx: Context, sender: AccountId, args: OpenPetition) -> None:
    if PetitionsView(ctx.state).petition(args.id) is not None:
        raise PetitionExists(f"petition {args.id.hex()} exists")
    if ctx.view("governance", GovernanceView).department(args.department) is None:
        raise UnknownDepartment(f"no department {args.department}")
    petition = Petition(
        id=args.id,
        department=args.department,
        title=args.title,
        text_hash=args.text_hash,
        opened_by=sender,
        opened_at_height=ctx.block.height,
        closes_at_height=ctx.block.height + args.open_blocks,
        signatures=0,
    )
    ctx.state.put_record(keys.petition(args.id), petition)
    ctx.emit(
        "petitions.opened",
        id=args.id,
        department=args.department,
        opened_by=sender,
        closes_at_height=petition.closes_at_height,
    )


def sign_petition(ctx: Context, sender: AccountId, args: SignPetition) -> None:
    view = PetitionsView(ctx.state)
    petition = view.petition(args.id)
    if petition is None:
        raise PetitionNotFound(f"no petition {args.id.hex()}")
    if ctx.block.height >= petition.closes_at_height:
        raise PetitionClosed(f"petition {args.id.hex()} closed at {petition.closes_at_height}")
    if view.has_signed(args.id, sender):
        raise AlreadySigned(f"{sender} already signed petition {args.id.hex()}")
    ctx.state.put(keys.signature(args.id, sender), b"\x01")
    signed = dataclasses.replace(petition, signatures=petition.signatures + 1)
    ctx.state.put_record(keys.petition(args.id), signed)
    ctx.emit("petitions.signed", id=args.id, signer=sender, signatures=signed.signatures)
