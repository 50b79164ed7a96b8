"""Petitions: residents ask a department for something, and sign (the worked example of
docs/adding-a-module.md; Barcelona's transparent procedures).

Any account opens a petition to a department for a number of blocks; any account signs
it once while it is open. The count is public and provable; the text stays off chain,
named by its SHA-256.

P1  a petition's `signatures` equals the number of signature keys under it   (check_counts)
P2  an account signs a petition at most once (one key per signer, written once)
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import StateReader
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.module import ActionSpec, Module
from urbis.modules.petitions import handlers, keys
from urbis.modules.petitions.keeper import PetitionsView
from urbis.modules.petitions.records import OpenPetition, Petition, SignPetition


def query_petition(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        petition_id = bytes.fromhex(params.get("id", ""))
    except ValueError:
        raise BadQuery("petition id must be hex") from None
    petition = PetitionsView(state).petition(petition_id)
    if petition is None:
        raise NotFound(f"no petition {petition_id.hex()}")
    return jsonable({name: getattr(petition, name) for name in petition.__slots__})


def check_counts(store: Any) -> list[str]:
    """P1: describe each petition whose count is not its number of signatures."""
    petitions = store.scan_prefix(keys.PREFIX + b"petition/", limit=1_000_000)
    problems = []
    for key, _ in petitions:
        petition_id = key[len(keys.PREFIX + b"petition/") :]
        petition = PetitionsView(store).petition(petition_id)
        assert petition is not None
        signers = store.scan_prefix(keys.PREFIX + b"signature/" + petition_id + b"/", 1_000_000)
        if petition.signatures != len(signers):
            problems.append(f"{petition_id.hex()}: {petition.signatures} != {len(signers)}")
    return problems


module = Module(
    name="petitions",
    actions={
        "open": ActionSpec(OpenPetition, handlers.open_petition, None, "Open a petition"),
        "sign": ActionSpec(SignPetition, handlers.sign_petition, None, "Sign a petition once"),
    },
    queries={"petition": query_petition},
    view=PetitionsView,
    prefix=keys.PREFIX,
)

__all__ = ["Petition", "check_counts", "module"]
