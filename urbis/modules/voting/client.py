"""The voting API from a client's side: an election as the node reports it, and the
ElectionGuard context a voter's device or a guardian computes against (built from the
published values, so a client needs no node code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from urbis.crypto import blindrsa
from urbis.election.ballot import ElectionContext
from urbis.election.group import group_named
from urbis.election.record import GuardianPublicKey, Manifest
from urbis.sdk.client import Client, Request

RECORD_TIMEOUT_S = 600.0
"""Seconds to wait for the record of a large election (every ballot, every proof)."""


@dataclass
class PublishedElection:
    """One election as GET /v1/voting/elections/{id} shows it."""

    data: dict[str, Any]

    @property
    def id(self) -> bytes:
        return str(self.data["id"]).encode()

    @property
    def phase(self) -> str:
        return str(self.data["phase"])

    @property
    def guardians(self) -> list[str]:
        return list(self.data["guardians"])

    def guardian_index(self, account: str) -> int:
        if account not in self.guardians:
            raise ValueError(f"{account} is not a guardian of {self.id.decode()}")
        return self.guardians.index(account) + 1

    @property
    def registrar(self) -> str:
        return str(self.data["registrar"])

    def registrar_key(self) -> rsa.RSAPublicKey:
        return blindrsa.load_public_key(bytes.fromhex(self.data["registrar_key"]))

    def context(self) -> ElectionContext:
        group = group_named(self.data["group"])
        joint = json.loads(self.data["joint_key"] and bytes.fromhex(self.data["joint_key"]))
        return ElectionContext(
            group,
            len(self.guardians),
            int(self.data["quorum"]),
            Manifest.parse(self.data["manifest"].encode()),
            bytes.fromhex(self.data["parameter_hash"]),
            bytes.fromhex(self.data["base_hash"]),
            group.element_from_hex(joint["K"], "K"),
            group.element_from_hex(joint["K_hat"], "K̂"),
            bytes.fromhex(self.data["extended_base_hash"]),
        )


class VotingApi:
    def __init__(self, client: Client) -> None:
        self.client = client

    def get(self, path: str, **params: Any) -> Any:
        return self.client.send(Request("GET", f"/v1/voting{path}", params=params or None))

    def election(self, election_id: bytes) -> PublishedElection:
        return PublishedElection(self.get(f"/elections/{election_id.decode()}"))

    def guardian_keys(self, election_id: bytes) -> dict[int, bytes]:
        rows = self.get(f"/elections/{election_id.decode()}/guardians")["guardians"]
        return {
            int(row["index"]): row["public_key"].encode()
            for row in rows
            if row["public_key"] is not None
        }

    def guardian_key_objects(self, election: PublishedElection) -> list[GuardianPublicKey]:
        group = group_named(election.data["group"])
        return [
            GuardianPublicKey.from_json(group, json.loads(raw))
            for _, raw in sorted(self.guardian_keys(election.id).items())
        ]

    def shares(self, election_id: bytes, recipient: int | None = None) -> list[dict[str, Any]]:
        params = {} if recipient is None else {"recipient": recipient}
        rows: list[dict[str, Any]] = self.get(
            f"/elections/{election_id.decode()}/shares", **params
        )["shares"]
        return rows

    def aggregate(self, election_id: bytes) -> bytes:
        return str(self.get(f"/elections/{election_id.decode()}/aggregate")["aggregate"]).encode()

    def decryptions(self, election_id: bytes) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"/elections/{election_id.decode()}/decryptions")
        return answer

    def relay(self, election_id: bytes, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.send(
            Request("POST", f"/v1/voting/elections/{election_id.decode()}/ballots", json=body)
        )
        return answer

    def record_files(self, election_id: bytes) -> dict[str, str]:
        """The whole record; building it for a large election takes the node a while."""
        path = f"/v1/voting/elections/{election_id.decode()}/record"
        files: dict[str, str] = self.client.send(Request("GET", path, timeout=RECORD_TIMEOUT_S))[
            "files"
        ]
        return files
