"""Genesis: the city as it starts — chain id, accounts, departments, council,
validators and initial roles. Kept as JSON in the node's home; its hash is
written into state so two nodes with different geneses never agree on a root.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urbis.chain.ids import AccountId
from urbis.crypto.hashing import tagged_hash

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
"""Department ids and role names: short, lower-case, safe inside `dept.role` strings."""

CHAIN_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")


class GenesisError(ValueError):
    """The genesis document is not a valid city."""


@dataclass(frozen=True)
class GenesisKey:
    key: bytes
    weight: int = 1


@dataclass(frozen=True)
class GenesisAccount:
    name: str
    keys: tuple[GenesisKey, ...]
    threshold: int = 1

    @property
    def id(self) -> AccountId:
        return AccountId.from_key(self.keys[0].key)


@dataclass(frozen=True)
class GenesisDepartment:
    id: str
    name: str
    admin: AccountId


@dataclass(frozen=True)
class GenesisValidator:
    name: str
    key: bytes
    power: int = 10


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    name: str
    time_ms: int
    accounts: tuple[GenesisAccount, ...]
    departments: tuple[GenesisDepartment, ...]
    council_members: tuple[AccountId, ...]
    council_threshold: int
    validators: tuple[GenesisValidator, ...]
    roles: tuple[tuple[str, AccountId], ...] = field(default=())

    @property
    def hash(self) -> bytes:
        return tagged_hash("genesis", json.dumps(self.to_json(), sort_keys=True).encode())

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "name": self.name,
            "time_ms": self.time_ms,
            "accounts": [
                {
                    "name": a.name,
                    "id": a.id.text,
                    "keys": [{"key": k.key.hex(), "weight": k.weight} for k in a.keys],
                    "threshold": a.threshold,
                }
                for a in self.accounts
            ],
            "departments": [
                {"id": d.id, "name": d.name, "admin": d.admin.text} for d in self.departments
            ],
            "council": {
                "members": [m.text for m in self.council_members],
                "threshold": self.council_threshold,
            },
            "validators": [
                {"name": v.name, "key": v.key.hex(), "power": v.power} for v in self.validators
            ],
            "roles": [{"role": r, "account": a.text} for r, a in self.roles],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Genesis:
        try:
            genesis = cls(
                chain_id=data["chain_id"],
                name=data.get("name", data["chain_id"]),
                time_ms=int(data["time_ms"]),
                accounts=tuple(
                    GenesisAccount(
                        a["name"],
                        tuple(
                            GenesisKey(bytes.fromhex(k["key"]), int(k.get("weight", 1)))
                            for k in a["keys"]
                        ),
                        int(a.get("threshold", 1)),
                    )
                    for a in data.get("accounts", [])
                ),
                departments=tuple(
                    GenesisDepartment(d["id"], d["name"], AccountId.parse(d["admin"]))
                    for d in data.get("departments", [])
                ),
                council_members=tuple(AccountId.parse(m) for m in data["council"]["members"]),
                council_threshold=int(data["council"]["threshold"]),
                validators=tuple(
                    GenesisValidator(v["name"], bytes.fromhex(v["key"]), int(v.get("power", 10)))
                    for v in data["validators"]
                ),
                roles=tuple(
                    (r["role"], AccountId.parse(r["account"])) for r in data.get("roles", [])
                ),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise GenesisError(f"genesis is missing or has a bad field: {error}") from None
        genesis.validate()
        return genesis

    @classmethod
    def load(cls, path: Path) -> Genesis:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise GenesisError(f"cannot read genesis {path}: {error}") from None
        return cls.from_json(data)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def validate(self) -> None:
        if not CHAIN_ID_PATTERN.match(self.chain_id):
            raise GenesisError(f"chain id {self.chain_id!r}: lower-case letters, digits, '-'")
        ids = [a.id for a in self.accounts]
        if len(set(ids)) != len(ids):
            raise GenesisError("two genesis accounts share a first key")
        for account in self.accounts:
            if not account.keys:
                raise GenesisError(f"account {account.name} has no keys")
            if not 1 <= account.threshold <= sum(k.weight for k in account.keys):
                raise GenesisError(f"account {account.name}: threshold exceeds its key weights")
        known = set(ids)
        department_ids = set()
        for department in self.departments:
            if not NAME_PATTERN.match(department.id):
                raise GenesisError(f"department id {department.id!r} is not a valid name")
            if department.admin not in known:
                raise GenesisError(f"department {department.id}: admin is not a genesis account")
            department_ids.add(department.id)
        if len(department_ids) != len(self.departments):
            raise GenesisError("two departments share an id")
        if not self.council_members or not set(self.council_members) <= known:
            raise GenesisError("council members must be genesis accounts")
        if not 1 <= self.council_threshold <= len(self.council_members):
            raise GenesisError("council threshold must be between 1 and the number of members")
        if not self.validators:
            raise GenesisError("at least one validator is needed")
        for role, holder in self.roles:
            department_id, _, name = role.partition(".")
            if department_id not in department_ids or not NAME_PATTERN.match(name):
                raise GenesisError(f"role {role!r} does not name a department and a role")
            if holder not in known:
                raise GenesisError(f"role {role}: account is not a genesis account")
