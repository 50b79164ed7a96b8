"""What each party computes off chain, as plain functions: a guardian at home, a resident
with a wallet, the registrar with its RSA key. The CLI, the demo and the tests call these;
the chain only ever sees their outputs.

A guardian's secrets (`GuardianSecret`, the shares it received, its key share z_i) are
JSON in the guardian's own home (`voting/<election>/guardian.json`), never in a transaction.
A resident's ballot key and RFC 9474 secrets stay in the resident's home
(`voting/<election>/ballot.json`); the registrar sees a presentation and a blinded message.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from urbis.crypto import blindrsa
from urbis.crypto.keys import PrivateKey
from urbis.election import ceremony
from urbis.election.group import Group, group_named
from urbis.modules.voting.electionguard import canonical
from urbis.modules.voting.protocol import ballot_key_message, ballot_message, nullifier
from urbis.sdk.sdjwt import TrustView, parse_jwt, verify_presentation


def write_private(path: Path, data: Any) -> None:
    """A secret file readable by its owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)


def election_folder(home: Path, election_id: bytes) -> Path:
    return home / "voting" / election_id.decode()


# -- guardian -------------------------------------------------------------------------------------


@dataclass
class Guardian:
    """A guardian's secret state for one election, kept in its home."""

    group: Group
    h_p: bytes
    index: int
    secret: ceremony.GuardianSecret
    public: ceremony.GuardianPublicKey
    received: dict[int, tuple[int, int]]

    @classmethod
    def generate(cls, group_name: str, h_p: bytes, index: int, quorum: int) -> Guardian:
        group = group_named(group_name)
        secret, public = ceremony.generate_guardian(group, h_p, index, quorum)
        return cls(group, h_p, index, secret, public, {index: ceremony.own_share(group, secret)})

    def public_key_bytes(self) -> bytes:
        return canonical(self.public.to_json(self.group))

    def share_for(self, recipient_key: bytes) -> tuple[int, bytes]:
        """(recipient index, the encrypted share's bytes) for a posted guardian key."""
        receiver = ceremony.GuardianPublicKey.from_json(self.group, json.loads(recipient_key))
        share = ceremony.encrypt_share(self.group, self.h_p, self.secret, receiver)
        return receiver.index, canonical(share.to_json(self.group))

    def receive(self, dealer_key: bytes, share_bytes: bytes) -> None:
        """Check and keep a share; raises ceremony.ShareInvalid, the reason to complain."""
        dealer = ceremony.GuardianPublicKey.from_json(self.group, json.loads(dealer_key))
        share = ceremony.EncryptedShare.from_json(self.group, json.loads(share_bytes))
        self.received[dealer.index] = ceremony.receive_share(
            self.group, self.h_p, self.secret, self.public, dealer, share
        )

    def reveal_for(self, recipient: int) -> bytes:
        """The share to `recipient` in the clear, to answer a complaint."""
        value = ceremony._poly(self.group, self.secret.coefficients, recipient)
        data_value = ceremony._poly(self.group, self.secret.data_coefficients, recipient)
        return canonical(
            {"value": self.group.q_hex(value), "data_value": self.group.q_hex(data_value)}
        )

    def key_share(self, n: int) -> ceremony.GuardianKeyShare:
        return ceremony.key_share(self.group, self.index, self.received, n)

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group.name,
            "h_p": self.h_p.hex(),
            "index": self.index,
            "secret": self.secret.to_json(self.group),
            "public": self.public.to_json(self.group),
            "received": {
                str(i): [self.group.q_hex(a), self.group.q_hex(b)]
                for i, (a, b) in self.received.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Guardian:
        group = group_named(data["group"])
        return cls(
            group,
            bytes.fromhex(data["h_p"]),
            int(data["index"]),
            ceremony.GuardianSecret.from_json(group, data["secret"]),
            ceremony.GuardianPublicKey.from_json(group, data["public"]),
            {int(i): (int(a, 16), int(b, 16)) for i, (a, b) in data["received"].items()},
        )

    def save(self, home: Path, election_id: bytes) -> None:
        write_private(election_folder(home, election_id) / "guardian.json", self.to_json())

    @classmethod
    def load(cls, home: Path, election_id: bytes) -> Guardian:
        path = election_folder(home, election_id) / "guardian.json"
        return cls.from_json(json.loads(path.read_text()))


# -- resident and registrar ----------------------------------------------------------------


@dataclass
class BallotKey:
    """A resident's fresh ballot key and its RFC 9474 state for one election."""

    election_id: bytes
    key: PrivateKey
    key_prefix: bytes
    inv: bytes = b""
    registrar_signature: bytes = b""

    @classmethod
    def fresh(cls, election_id: bytes) -> BallotKey:
        return cls(election_id, PrivateKey.generate(), os.urandom(blindrsa.PREFIX_LENGTH))

    @property
    def public(self) -> bytes:
        return self.key.public_key.raw

    def input_msg(self) -> bytes:
        """RFC 9474 PrepareRandomize's output: the 32-byte prefix, then the message."""
        return self.key_prefix + ballot_key_message(self.election_id, self.public)

    def blind(self, registrar_key: rsa.RSAPublicKey) -> bytes:
        blinded = blindrsa.blind(registrar_key, self.input_msg())
        self.inv = blinded.inv
        return blinded.blinded_msg

    def finalize(self, registrar_key: rsa.RSAPublicKey, blind_sig: bytes) -> None:
        self.registrar_signature = blindrsa.finalize(
            registrar_key, self.input_msg(), blind_sig, self.inv
        )

    def sign(self, kind: str, ballot: bytes) -> bytes:
        return self.key.sign(ballot_message(kind, self.election_id, ballot))

    def to_json(self) -> dict[str, Any]:
        return {
            "election": self.election_id.decode(),
            "key": self.key.seed.hex(),
            "key_prefix": self.key_prefix.hex(),
            "inv": self.inv.hex(),
            "registrar_signature": self.registrar_signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BallotKey:
        return cls(
            data["election"].encode(),
            PrivateKey(bytes.fromhex(data["key"])),
            bytes.fromhex(data["key_prefix"]),
            bytes.fromhex(data["inv"]),
            bytes.fromhex(data["registrar_signature"]),
        )

    def save(self, home: Path) -> None:
        write_private(election_folder(home, self.election_id) / "ballot.json", self.to_json())

    @classmethod
    def load(cls, home: Path, election_id: bytes) -> BallotKey:
        path = election_folder(home, election_id) / "ballot.json"
        return cls.from_json(json.loads(path.read_text()))


def presentation_nonce(blinded_msg: bytes) -> str:
    """The nonce a resident's presentation answers: the hash of the blinded message, so a
    presentation cannot be replayed to sign a different blinded message."""
    return hashlib.sha256(b"urbis/voting/register\x00" + blinded_msg).hexdigest()


@dataclass(frozen=True)
class Registered:
    nullifier: bytes
    blind_sig: bytes
    claims: dict[str, Any]


def registrar_sign(
    election_id: bytes,
    eligibility_vct: str,
    registrar_key: rsa.RSAPrivateKey,
    audience: str,
    presentation: str,
    blinded_msg: bytes,
    view: TrustView,
    now: int,
) -> Registered:
    """The registrar's side: verify the VoterEligibility presentation (issuer trusted, not
    revoked, bound to this blinded message, for this election), derive the nullifier, sign.

    Raises `CredentialRejected` (from the SD-JWT verifier) or `ValueError` with the reason.
    The caller records the nullifier on chain; the chain refuses a second one.
    """
    verified = verify_presentation(
        presentation, view, audience, presentation_nonce(blinded_msg), now
    )
    if verified.vct != eligibility_vct:
        raise ValueError(f"the election asks for {eligibility_vct}, not {verified.vct}")
    stated = verified.claims.get("election_id")
    if stated is not None and stated != election_id.decode():
        raise ValueError(f"the credential is for election {stated!r}")
    issued = parse_jwt(presentation.split("~")[0])
    credential = (
        f"status:{issued.status[0]}/{issued.status[1]}/{issued.status[2]}"
        if issued.status is not None
        else "holder:" + canonical(issued.holder_jwk).hex()
    )
    return Registered(
        nullifier(election_id, verified.issuer, credential),
        blindrsa.blind_sign(registrar_key, blinded_msg),
        verified.claims,
    )
