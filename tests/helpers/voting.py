"""An election on a test chain (TOY group): the commission, five guardians, a registrar,
a relay, and residents with ballot keys; each step one transaction, as the ledger sees it."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers.city import CityChain, account, city_genesis, role_grant
from urbis.chain.block import Receipt
from urbis.crypto import blindrsa
from urbis.election.ballot import Device, challenge_ballot, encrypt_ballot
from urbis.modules.voting import electionguard as eg
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.parties import BallotKey, Guardian
from urbis.modules.voting.records import Election
from urbis.sdk.builder import action

GUARDIANS = ("g1", "g2", "g3", "g4", "g5")
VOTING_ACCOUNTS = (*GUARDIANS, "registrar", "relay")
MANIFEST = json.dumps(
    {
        "label": "Referendum 2027",
        "contests": [
            {
                "label": "Car-free old town",
                "selection_limit": 1,
                "options": [{"label": "yes"}, {"label": "no"}],
            }
        ],
        "ballot_styles": [{"label": "all", "contests": [1]}],
    }
).encode()
TOY = "toy-256"


@functools.cache
def registrar_key() -> rsa.RSAPrivateKey:
    return blindrsa.generate_private_key(2048)


def voting_chain(path: Any) -> CityChain:
    return CityChain(path, city_genesis(extra_accounts=VOTING_ACCOUNTS))


def ok(receipt: Receipt) -> Receipt:
    assert receipt.ok, f"{receipt.code}: {receipt.message}"
    return receipt


@dataclass
class ElectionRun:
    """One election driven step by step; `guardians` hold their secrets in memory here (the
    CLI keeps them in each guardian's home)."""

    chain: CityChain
    election_id: bytes = b"ref-2027"
    quorum: int = 3
    window_blocks: int = 200
    group: str = TOY
    guardians: dict[int, Guardian] = field(default_factory=dict)

    def election(self) -> Election:
        found = VotingView(self.chain.app.store).election(self.election_id)
        assert found is not None
        return found

    def create(self, **overrides: Any) -> Receipt:
        ok(self.chain.run("registry", role_grant("registry", "elections")))
        height = self.chain.height
        args: dict[str, Any] = {
            "id": self.election_id,
            "department": "registry",
            "title": "Referendum 2027",
            "manifest": MANIFEST,
            "guardians": [account(g) for g in GUARDIANS],
            "quorum": self.quorum,
            "opens_at_height": height + 2,
            "closes_at_height": height + 2 + self.window_blocks,
            "eligibility_vct": "VoterEligibility",
            "registrar": account("registrar"),
            "registrar_key": blindrsa.public_key_bytes(registrar_key().public_key()),
            "group": self.group,
        }
        args.update(overrides)
        return self.chain.run("registry", action("voting", "create", **args))

    def post_keys(self) -> None:
        election = self.election()
        for index, name in enumerate(GUARDIANS, start=1):
            guardian = Guardian.generate(
                self.group, election.parameter_hash, index, election.quorum
            )
            self.guardians[index] = guardian
            ok(
                self.chain.run(
                    name,
                    action(
                        "voting",
                        "post_guardian_key",
                        election_id=self.election_id,
                        public_key=guardian.public_key_bytes(),
                    ),
                )
            )

    def share(self, dealer: int, recipient: int) -> bytes:
        view = VotingView(self.chain.app.store)
        key = view.guardian_key(self.election_id, recipient)
        assert key is not None
        return self.guardians[dealer].share_for(key.public_key)[1]

    def post_share(self, dealer: int, recipient: int, encrypted: bytes | None = None) -> Receipt:
        return self.chain.run(
            GUARDIANS[dealer - 1],
            action(
                "voting",
                "post_share",
                election_id=self.election_id,
                recipient=recipient,
                encrypted=self.share(dealer, recipient) if encrypted is None else encrypted,
            ),
        )

    def confirm(self, dealer: int, recipient: int) -> Receipt:
        view = VotingView(self.chain.app.store)
        dealer_key = view.guardian_key(self.election_id, dealer)
        share = view.share(self.election_id, dealer, recipient)
        assert dealer_key is not None and share is not None
        self.guardians[recipient].receive(dealer_key.public_key, share.encrypted)
        return self.chain.run(
            GUARDIANS[recipient - 1],
            action("voting", "confirm_share", election_id=self.election_id, dealer=dealer),
        )

    def ceremony(self) -> None:
        self.post_keys()
        n = len(GUARDIANS)
        for dealer in range(1, n + 1):
            for recipient in range(1, n + 1):
                if dealer != recipient:
                    ok(self.post_share(dealer, recipient))
        for dealer in range(1, n + 1):
            for recipient in range(1, n + 1):
                if dealer != recipient:
                    ok(self.confirm(dealer, recipient))
        assert self.election().phase == "open"

    def register(self, nullifier: bytes) -> BallotKey:
        """The registrar's side after it checked the credential: blind-sign, record."""
        ballot_key = BallotKey.fresh(self.election_id)
        public = registrar_key().public_key()
        blinded = ballot_key.blind(public)
        blind_sig = blindrsa.blind_sign(registrar_key(), blinded)
        ok(
            self.chain.run(
                "registrar",
                action(
                    "voting",
                    "record_registration",
                    election_id=self.election_id,
                    nullifier=nullifier,
                    blinded_msg=blinded,
                    blind_sig=blind_sig,
                ),
            )
        )
        ballot_key.finalize(public, blind_sig)
        return ballot_key

    def wait_until_open(self) -> None:
        while self.chain.height + 1 < self.election().opens_at_height:
            self.chain.block()

    def encrypt(self, choice: int) -> tuple[bytes, bytes, Any]:
        """(ballot bytes, ξ_B, the ballot) for option `choice` (1 yes, 2 no) of contest 1."""
        context = eg.context(self.election())
        device = Device.start(context, "urbis-cli", "none")
        values = [1 if option == choice else 0 for option in (1, 2)]
        ballot, nonce = encrypt_ballot(context, 1, {1: values}, device)
        return ballot.to_bytes(context.group), nonce, ballot

    def cast_action(self, key: BallotKey, ballot: bytes, **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "election_id": self.election_id,
            "ballot_key": key.public,
            "key_prefix": key.key_prefix,
            "registrar_signature": key.registrar_signature,
            "ballot": ballot,
            "signature": key.sign("cast", ballot),
        }
        args.update(overrides)
        return action("voting", "cast", **args)

    def cast(self, key: BallotKey, ballot: bytes, **overrides: Any) -> Receipt:
        return self.chain.run("relay", self.cast_action(key, ballot, **overrides))

    def challenge(self, key: BallotKey, choice: int) -> Receipt:
        raw, nonce, ballot = self.encrypt(choice)
        context = eg.context(self.election())
        opened = challenge_ballot(context, ballot, nonce)
        return self.chain.run(
            "relay",
            action(
                "voting",
                "challenge",
                election_id=self.election_id,
                ballot_key=key.public,
                key_prefix=key.key_prefix,
                registrar_signature=key.registrar_signature,
                ballot=raw,
                nonces=eg.canonical(opened.to_json(context.group)),
                signature=key.sign("challenge", raw),
            ),
        )

    def close(self) -> Receipt:
        while self.chain.height + 1 < self.election().closes_at_height:
            self.chain.block()
        return self.chain.run("relay", action("voting", "close", election_id=self.election_id))

    def decrypt(self, present: list[int]) -> dict[int, Any]:
        """Every step of the decryption for the guardians in `present`; returns their
        private nonces (kept at home between steps)."""
        from urbis.election import tally as egtally

        for index in present:
            if index not in self.election().tally_guardians:
                ok(self.guardian_step(index, "join_tally"))
        election = self.election()
        context = eg.context(election)
        aggregate = VotingView(self.chain.app.store).aggregate(self.election_id)
        assert aggregate is not None
        tally = eg.read_aggregate(context.group, aggregate)
        nonces = {}
        for index in present:
            share = self.guardians[index].key_share(len(GUARDIANS))
            commit, nonce = egtally.commit(context, share, tally, present)
            nonces[index] = nonce
            ok(self.post_decryption(index, "commit", eg.canonical(commit.to_json(context.group))))
        for index in present:
            reveal = egtally.reveal(nonces[index])
            ok(self.post_decryption(index, "reveal", eg.canonical(reveal.to_json(context.group))))
        return nonces

    def respond(self, index: int, nonces: Any) -> bytes:
        from urbis.election import tally as egtally

        election = self.election()
        context = eg.context(election)
        challenges = eg.read_challenges(context.group, election.decryption_challenges)
        share = self.guardians[index].key_share(len(GUARDIANS))
        responses = egtally.respond(
            context, share, nonces, challenges, sorted(election.tally_guardians)
        )
        return eg.responses_json(context.group, index, responses)

    def guardian_step(self, index: int, name: str) -> Receipt:
        return self.chain.run(
            GUARDIANS[index - 1], action("voting", name, election_id=self.election_id)
        )

    def post_decryption(self, index: int, step: str, payload: bytes) -> Receipt:
        return self.chain.run(
            GUARDIANS[index - 1],
            action(
                "voting",
                "post_decryption",
                election_id=self.election_id,
                step=step,
                payload=payload,
            ),
        )
