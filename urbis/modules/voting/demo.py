"""`urbis demo referendum`: a whole election on a dev city, told step by step.

Runs against a node founded by `urbis up` in `home` (its department keys are in the home's
key store with the dev passphrase; the demo's own keys get a `demo-` prefix). The relay
key is the node's own `relay` key in the same home, so the node that serves the API is
the one that relays. Each party computes what it would compute on its own machine (the
guardians' secrets, the residents' ballot keys and credentials live in memory here, in
separate objects, and only their public outputs cross to the chain).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urbis.chain.ids import AccountId
from urbis.cli.common import fail, passphrase_for, stdout
from urbis.crypto import blindrsa
from urbis.crypto.keys import PrivateKey
from urbis.election.ballot import Device, challenge_ballot, encrypt_ballot
from urbis.election.group import STANDARD
from urbis.election.record import ElectionRecord
from urbis.election.verify import verify_record
from urbis.modules.voting.cli import DEVICE, ballot_body, decrypt_step
from urbis.modules.voting.client import PublishedElection, VotingApi
from urbis.modules.voting.electionguard import canonical
from urbis.modules.voting.export import write_files
from urbis.modules.voting.parties import (
    BallotKey,
    Guardian,
    presentation_nonce,
    registrar_sign,
)
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder, action
from urbis.sdk.bundle import export_bundle, offline_view
from urbis.sdk.client import Client, Request
from urbis.sdk.credentials import Issuer
from urbis.sdk.keystore import KeyStore, KeyStoreError
from urbis.sdk.sdjwt import HolderKey, StatusReference, present

GUARDIANS = ("university", "bar-association", "ombudsman", "press-council", "civic-watch")
"""Independent institutions, not the IT department."""
QUORUM = 3
ABSENT = (2, 4)
"""Guardians who do not come to the tally: the quorum of 3 still decrypts."""
MANIFEST = {
    "label": "Referendum on a car-free old town",
    "contests": [
        {
            "label": "Should the old town be car-free from 2028?",
            "selection_limit": 1,
            "options": [{"label": "yes"}, {"label": "no"}],
        }
    ],
    "ballot_styles": [{"label": "city", "contests": [1]}],
}
STATUS_LIST_ID = 9_474
BATCH = 32
"""Registrations per transaction."""
DONE_BEFORE = frozenset(
    {
        "accounts.already_exists",
        "governance.role_already_granted",
        "identity.type_exists",
        "identity.already_trusted",
        "identity.status_list_exists",
    }
)


def _say(text: str) -> None:
    stdout.print(f"[bold cyan]▸[/] {text}", highlight=False)


class Demo:
    def __init__(self, home: Path, node: Client) -> None:
        self.node = node
        self.keystore = KeyStore(home / "keys")
        self.chain_id: str = node.status()["chain_id"]
        self.keys: dict[str, PrivateKey] = {}

    def key(self, name: str) -> PrivateKey:
        if name not in self.keys:
            try:
                self.keys[name] = passphrase_for(self.keystore, name)
            except KeyStoreError:
                self.keystore.create(name, "")
                self.keys[name] = self.keystore.load(name, "")
        return self.keys[name]

    def account(self, name: str) -> AccountId:
        return AccountId.from_key(self.key(name).public_key.raw)

    def send(self, signer: str, *actions: Any, expect: str = "ok") -> dict[str, Any]:
        builder = TxBuilder(self.chain_id, self.account(signer))
        builder.actions.extend(actions)
        nonce = self.node.next_nonce(self.account(signer).text)
        height = self.node.status()["height"]
        tx = builder.sign([self.key(signer)], nonce, height + EXPIRY_BLOCKS_DEFAULT)
        receipt: dict[str, Any] = self.node.submit(tx, wait=True, timeout=60)["receipt"]
        code = receipt["code"]
        if expect != "any" and code != expect and not (expect == "ok" and code in DONE_BEFORE):
            fail(code, f"demo step by {signer} failed: {receipt['message']}")
        return receipt

    def height(self) -> int:
        return int(self.node.status()["height"])

    def wait_for_height(self, height: int, tick: Any = None) -> None:
        """Until the chain reaches `height`; on a node without empty blocks, `tick` (a
        transaction the chain refuses) makes the blocks."""
        last, since = self.height(), time.monotonic()
        while last < height:
            time.sleep(0.05)
            now = self.height()
            if now != last:
                last, since = now, time.monotonic()
            elif tick is not None and time.monotonic() - since > 0.15:
                tick()
                since = time.monotonic()


@dataclass
class Resident:
    """One resident: a wallet holder key, a credential, a ballot key. Nothing links them on
    chain: the credential goes to the registrar only, the ballot key to the relay only."""

    holder: HolderKey
    credential: str
    ballot_key: BallotKey | None = None


def _share_relay_key(demo: Demo) -> None:
    """On an `urbis testnet` folder, every validator's home gets the relay key, so any of
    the nodes relays (on a solo city the node's home is the demo's home already)."""
    from urbis.node.testnet import Testnet

    folder = demo.keystore.folder.parent
    if not (folder / "testnet.json").exists():
        return
    source = demo.keystore.path("relay")
    for node in Testnet.load(folder).nodes:
        target = Path(node.home) / "keys" / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)


def _window_blocks(residents: int) -> int:
    """Blocks from creation to close: at most one block per transaction the demo sends
    before the close (the ceremony's 15, the registrations', every ballot's), plus slack.
    A node without empty blocks reaches the close height through the demo's own ticks."""
    ballots = residents + max(1, residents // 20) + max(1, residents // 50)
    return 15 + residents // BATCH + 4 + ballots + 6


def _setup(
    demo: Demo, group: str, registrar_key: Any, residents: int
) -> tuple[bytes, dict[str, str]]:
    names = {g: f"demo-{g}" for g in (*GUARDIANS, "registrar")}
    _say("Accounts for five guardian institutions and the electoral registrar; the node's relay")
    for name in (*names.values(), "relay"):
        key = demo.key(name).public_key.raw
        demo.send("registry", action("accounts", "create", keys=[{"key": key, "weight": 1}]))
    _share_relay_key(demo)
    for role in ("elections", "trust_admin"):
        grant = action(
            "governance",
            "grant_role",
            department="registry",
            role=role,
            account=demo.account("registry"),
        )
        demo.send("registry", grant)
    _say("The registry defines VoterEligibility, trusts itself to issue it, opens a status list")
    demo.send(
        "registry",
        action(
            "identity",
            "define_type",
            vct="VoterEligibility",
            schema_hash=hashlib.sha256(b"VoterEligibility").digest(),
            claims=["district", "election_id"],
            disclosable=["district", "election_id"],
            validity_days=90,
        ),
        action("identity", "trust_issuer", vct="VoterEligibility", issuer=demo.account("registry")),
    )
    demo.send(
        "registry", action("identity", "create_status_list", list_id=STATUS_LIST_ID, size=16_384)
    )
    election_id = f"ref-{demo.height()}".encode()
    _say(f"The commission creates election {election_id.decode()} ({group}, 5 guardians, quorum 3)")
    demo.send(
        "registry",
        action(
            "voting",
            "create",
            id=election_id,
            department="registry",
            title="Car-free old town",
            manifest=json.dumps(MANIFEST, indent=1).encode(),
            guardians=[demo.account(names[g]) for g in GUARDIANS],
            quorum=QUORUM,
            opens_at_height=demo.height() + 2,
            closes_at_height=demo.height() + 2 + _window_blocks(residents),
            eligibility_vct="VoterEligibility",
            registrar=demo.account(names["registrar"]),
            registrar_key=blindrsa.public_key_bytes(registrar_key.public_key()),
            group=group,
        ),
    )
    return election_id, names


@dataclass
class DemoRun:
    """What the demo did, for the privacy test: who voted must not show on chain."""

    election_id: bytes
    residents: list[Resident]
    relay: AccountId
    counts: list[int]


def run_demo(home: Path, node: Client, residents: int, group: str) -> DemoRun:
    if residents < 4:
        fail("cli.usage", "the demo needs at least 4 residents", 2)
    started = time.monotonic()
    demo = Demo(home, node)
    voting = VotingApi(node)
    registrar_key = blindrsa.generate_private_key(2048)
    election_id, names = _setup_election(demo, voting, group, registrar_key, residents)
    found = voting.election(election_id)
    people = _issue_and_register(demo, voting, found, registrar_key, names, residents)
    codes = _vote(demo, voting, found, people)
    close = action("voting", "close", election_id=election_id)
    _say(f"Voting ends at block {found.data['closes_at_height']}; then anyone may close it")
    demo.wait_for_height(
        int(found.data["closes_at_height"]), lambda: demo.send("registry", close, expect="any")
    )
    if voting.election(election_id).phase == "open":
        demo.send("registry", close)
    _tally(demo, voting, found, names)
    counts = _report(voting, found, codes, group)
    stdout.print(f"demo finished in {time.monotonic() - started:.0f} s")
    return DemoRun(election_id, people, demo.account("relay"), counts)


def _setup_election(
    demo: Demo, voting: VotingApi, group: str, registrar_key: Any, residents: int
) -> tuple[bytes, dict[str, str]]:
    election_id, names = _setup(demo, group, registrar_key, residents)
    found = voting.election(election_id)
    _say("Key ceremony: each guardian posts keys and proofs, shares, then confirms the others'")
    guardians: dict[int, Guardian] = {}
    h_p = bytes.fromhex(found.data["parameter_hash"])
    for index, name in enumerate(GUARDIANS, start=1):
        guardians[index] = Guardian.generate(group, h_p, index, QUORUM)
        demo.send(
            names[name],
            action(
                "voting",
                "post_guardian_key",
                election_id=election_id,
                public_key=guardians[index].public_key_bytes(),
            ),
        )
    keys = voting.guardian_keys(election_id)
    for index, name in enumerate(GUARDIANS, start=1):
        shares = []
        for recipient, key in sorted(keys.items()):
            if recipient != index:
                to, encrypted = guardians[index].share_for(key)
                shares.append(
                    action(
                        "voting",
                        "post_share",
                        election_id=election_id,
                        recipient=to,
                        encrypted=encrypted,
                    )
                )
        demo.send(names[name], *shares)
    for index, name in enumerate(GUARDIANS, start=1):
        confirms = []
        for share in voting.shares(election_id, index):
            guardians[index].receive(keys[int(share["dealer"])], share["encrypted"].encode())
            confirms.append(
                action(
                    "voting", "confirm_share", election_id=election_id, dealer=int(share["dealer"])
                )
            )
        demo.send(names[name], *confirms)
    found = voting.election(election_id)
    _say(f"Joint key recorded; H_E = {found.data['extended_base_hash'][:16]}…")
    _GUARDIAN_SECRETS.clear()
    _GUARDIAN_SECRETS.update(guardians)
    return election_id, names


_GUARDIAN_SECRETS: dict[int, Guardian] = {}
"""Each guardian's secrets, held apart from everything else the demo does (a real guardian
keeps them in its own home: `urbis vote guardian keygen --home`)."""


def _issue_and_register(
    demo: Demo,
    voting: VotingApi,
    found: PublishedElection,
    registrar_key: Any,
    names: dict[str, str],
    count: int,
) -> list[Resident]:
    _say(f"The registry issues {count} VoterEligibility credentials (SD-JWT VC) to residents")
    issuer = Issuer(demo.key("registry"), demo.account("registry").did)
    now = int(time.time())
    people = []
    for index in range(count):
        holder = HolderKey()
        credential = issuer.issue(
            "VoterEligibility",
            {"district": f"district-{index % 7 + 1}", "election_id": found.id.decode()},
            ["district", "election_id"],
            holder.jwk,
            now,
            90 * 86_400,
            StatusReference(demo.account("registry").text, STATUS_LIST_ID, index),
        )
        people.append(Resident(holder, credential))
    _say("Each resident presents only election_id to the registrar, with a blinded ballot key")
    bundle = export_bundle(
        lambda path: demo.node.send(Request("GET", path)),
        ["VoterEligibility"],
        [(demo.account("registry").text, STATUS_LIST_ID)],
        0,
        now * 1000,
    )
    view = offline_view(bundle, now * 1000, 3_600_000)
    registrar = demo.account(names["registrar"]).text
    registrar_public = registrar_key.public_key()
    pending: list[Any] = []
    answers: list[tuple[Resident, bytes]] = []
    for person in people:
        person.ballot_key = BallotKey.fresh(found.id)
        blinded = person.ballot_key.blind(registrar_public)
        presentation = present(
            person.credential,
            ["election_id"],
            person.holder,
            registrar,
            presentation_nonce(blinded),
            int(time.time()),
        )
        registered = registrar_sign(
            found.id,
            "VoterEligibility",
            registrar_key,
            registrar,
            presentation,
            blinded,
            view,
            int(time.time()),
        )
        pending.append(
            action(
                "voting",
                "record_registration",
                election_id=found.id,
                nullifier=registered.nullifier,
                blinded_msg=blinded,
                blind_sig=registered.blind_sig,
            )
        )
        answers.append((person, registered.blind_sig))
        if len(pending) == BATCH:
            demo.send(names["registrar"], *pending)
            pending = []
    if pending:
        demo.send(names["registrar"], *pending)
    again = people[0]
    assert again.ballot_key is not None
    blinded = BallotKey.fresh(found.id).blind(registrar_public)
    second = registrar_sign(
        found.id,
        "VoterEligibility",
        registrar_key,
        registrar,
        present(
            again.credential,
            ["election_id"],
            again.holder,
            registrar,
            presentation_nonce(blinded),
            int(time.time()),
        ),
        blinded,
        view,
        int(time.time()),
    )
    receipt = demo.send(
        names["registrar"],
        action(
            "voting",
            "record_registration",
            election_id=found.id,
            nullifier=second.nullifier,
            blinded_msg=blinded,
            blind_sig=second.blind_sig,
        ),
        expect="voting.already_registered",
    )
    _say(f"A second signature for the same credential is refused: {receipt['code']}")
    for person, blind_sig in answers:
        assert person.ballot_key is not None
        person.ballot_key.finalize(registrar_public, blind_sig)
    return people


def _vote(
    demo: Demo, voting: VotingApi, found: PublishedElection, people: list[Resident]
) -> list[bytes]:
    found = voting.election(found.id)
    context = found.context()
    rng = secrets.SystemRandom()
    revoters = max(1, len(people) // 20)
    challengers = max(1, len(people) // 50)
    _say(
        f"{len(people)} residents vote through the node's relay; {revoters} change their "
        f"mind later, {challengers} challenge a ballot first (Benaloh)"
    )
    held: list[bytes] = []
    for number, person in enumerate(people):
        assert person.ballot_key is not None
        if number < challengers:
            device = Device.start(context, DEVICE, "none")
            ballot, nonce = encrypt_ballot(context, 1, {1: [1, 0]}, device)
            opened = challenge_ballot(context, ballot, nonce)
            raw = ballot.to_bytes(context.group)
            voting.relay(
                found.id,
                ballot_body(
                    person.ballot_key, "challenge", raw, canonical(opened.to_json(context.group))
                ),
            )
        choice = [1, 0] if rng.random() < 0.6 else [0, 1]
        device = Device.start(context, DEVICE, "none")
        ballot, _ = encrypt_ballot(context, 1, {1: choice}, device)
        raw = ballot.to_bytes(context.group)
        voting.relay(found.id, ballot_body(person.ballot_key, "cast", raw))
        held.append(ballot.confirmation_code)
        if (number + 1) % 100 == 0:
            stdout.print(f"  {number + 1} ballots relayed", highlight=False)
    for person in people[:revoters]:
        assert person.ballot_key is not None
        device = Device.start(context, DEVICE, "none")
        ballot, _ = encrypt_ballot(context, 1, {1: [0, 1]}, device)
        voting.relay(
            found.id, ballot_body(person.ballot_key, "cast", ballot.to_bytes(context.group))
        )
        held.append(ballot.confirmation_code)
    _wait_for_counts(voting, found.id, (len(people), revoters, challengers))
    return held[revoters:]


def _wait_for_counts(voting: VotingApi, election_id: bytes, expected: tuple[int, int, int]) -> None:
    """Until the relayed ballots are all committed: (counted, replaced, challenged)."""
    deadline = time.monotonic() + 600
    while True:
        data = voting.election(election_id).data
        now = (int(data["counted"]), int(data["replaced"]), int(data["challenged"]))
        if all(have >= want for have, want in zip(now, expected, strict=True)):
            _say(
                f"On chain: {data['counted']} ballots counted, {data['replaced']} replaced, "
                f"{data['challenged']} challenged; no ballot names its voter"
            )
            return
        if time.monotonic() > deadline:
            fail("voting.demo_timeout", f"ballots not all committed: {data['counted']}")
        time.sleep(0.5)


def _tally(demo: Demo, voting: VotingApi, found: PublishedElection, names: dict[str, str]) -> None:
    present_guardians = [i for i in range(1, len(GUARDIANS) + 1) if i not in ABSENT]
    absent = ", ".join(GUARDIANS[i - 1] for i in ABSENT)
    _say(f"Tally: {absent} are absent; guardians {present_guardians} decrypt (quorum {QUORUM})")
    receipt = demo.send(
        "registry",
        action("voting", "tally", election_id=found.id),
        expect="voting.quorum_not_reached",
    )
    _say(f"Before any guardian decrypts, the tally waits: {receipt['message']}")
    with tempfile.TemporaryDirectory() as scratch:
        homes = {}
        for index in present_guardians:
            homes[index] = Path(scratch) / str(index)
            _GUARDIAN_SECRETS[index].save(homes[index], found.id)
        for _ in range(4):
            for index in present_guardians:
                current = voting.election(found.id)
                step = decrypt_step(voting, homes[index], current)
                if step is not None:
                    name, args = step
                    demo.send(names[GUARDIANS[index - 1]], action("voting", name, **args))
    demo.send("registry", action("voting", "tally", election_id=found.id))


def _report(
    voting: VotingApi, found: PublishedElection, held: list[bytes], group: str
) -> list[int]:
    answer = voting.get(f"/elections/{found.id.decode()}/result")
    labels = [o["label"] for o in MANIFEST["contests"][0]["options"]]  # type: ignore[index]
    counts = answer["counts"][0]
    _say(
        "Result: "
        + ", ".join(f"{label} {count}" for label, count in zip(labels, counts, strict=True))
        + f" (decrypted by guardians {answer['guardians']})"
    )
    _say("The full verification (ElectionGuard §6.2) of the record exported from the chain:")
    with tempfile.TemporaryDirectory() as scratch:
        write_files(voting.record_files(found.id), Path(scratch))
        record = ElectionRecord.from_dir(Path(scratch))
    allowed = (STANDARD.name, group)
    report = verify_record(record, held_codes=held, allowed_parameter_sets=allowed, workers=2)
    stdout.print(report.to_text(), highlight=False)
    if not report.ok:
        fail("voting.verification_failed", f"steps {report.failed_steps} failed")
    return list(counts)
