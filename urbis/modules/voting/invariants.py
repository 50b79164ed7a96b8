"""Checkers for the voting invariants (README "Invariants"), over a committed store.

Each returns a description of every violation; empty means the invariant holds. They read
the store by prefix, so they are for tests and audits, not for block execution.
"""

from __future__ import annotations

from typing import Any

from urbis.election.record import Ciphertext, EncryptedBallot
from urbis.modules.voting import electionguard as eg
from urbis.modules.voting import keys
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.records import Election

SCAN_MAX = 10**7


def elections(store: Any) -> list[Election]:
    found = []
    prefix = keys.PREFIX + b"election/"
    for key, _ in store.scan_prefix(prefix, SCAN_MAX):
        election = VotingView(store).election(key[len(prefix) :])
        assert election is not None
        found.append(election)
    return found


def check_counts(store: Any) -> list[str]:
    """V1 and V2: the counters agree with the keys under them."""
    problems = []
    for election in elections(store):
        name = election.id.decode()
        registered = store.scan_prefix(keys.registration(election.id, b""), SCAN_MAX)
        if election.registrations != len(registered):
            problems.append(f"{name}: registrations {election.registrations} != {len(registered)}")
        ballot_keys = store.scan_prefix(keys.ballot_key(election.id, b""), SCAN_MAX)
        if election.ballot_keys != len(ballot_keys):
            problems.append(f"{name}: ballot_keys {election.ballot_keys} != {len(ballot_keys)}")
        if election.ballot_keys > election.registrations:
            problems.append(f"{name}: more ballot keys than registrations")
        if election.counted != election.ballot_keys:
            problems.append(f"{name}: counted {election.counted} != {election.ballot_keys}")
        if election.counted + election.replaced != election.next_ballot:
            problems.append(f"{name}: counted + replaced != {election.next_ballot}")
    return problems


def check_joint_key(store: Any) -> list[str]:
    """V3: the joint key is set exactly when every share is confirmed or revealed."""
    problems = []
    for election in elections(store):
        view = VotingView(store)
        n = len(election.guardians)
        complete = all(
            (share := view.share(election.id, d, r)) is not None
            and share.status in ("confirmed", "revealed")
            for d in range(1, n + 1)
            for r in range(1, n + 1)
            if d != r
        )
        if complete != bool(election.joint_key):
            problems.append(f"{election.id.decode()}: shares complete {complete}, joint key set")
    return problems


def check_ballot_keys(store: Any) -> list[str]:
    """V4: each ballot key's last ballot is counted, every other ballot is replaced."""
    problems = []
    for election in elections(store):
        view = VotingView(store)
        last = {
            key[len(keys.ballot_key(election.id, b"")) :]: int.from_bytes(value, "big")
            for key, value in store.scan_prefix(keys.ballot_key(election.id, b""), SCAN_MAX)
        }
        for seq in range(election.next_ballot):
            ballot = view.ballot(election.id, seq)
            if ballot is None:
                problems.append(f"{election.id.decode()}: ballot {seq} missing")
                continue
            expected = "counted" if last.get(ballot.ballot_key) == seq else "replaced"
            if ballot.status != expected:
                problems.append(f"{election.id.decode()}: ballot {seq} is {ballot.status}")
    return problems


def check_aggregate(store: Any) -> list[str]:
    """V5: the stored aggregate is the product of the counted ballots' ciphertexts."""
    problems = []
    for election in elections(store):
        raw = VotingView(store).aggregate(election.id)
        if raw is None:
            if election.counted:
                problems.append(f"{election.id.decode()}: ballots counted but no aggregate")
            continue
        group = eg.group(election.group)
        product: dict[tuple[int, int], Ciphertext] = {
            key: Ciphertext(1, 1) for key in eg.read_aggregate(group, raw)
        }
        for seq in range(election.next_ballot):
            ballot = VotingView(store).ballot(election.id, seq)
            if ballot is None or ballot.status != "counted":
                continue
            for contest in EncryptedBallot.from_bytes(group, ballot.ballot).contests:
                for selection in contest.selections:
                    key = (contest.contest, selection.option)
                    old = product[key]
                    product[key] = Ciphertext(
                        old.alpha * selection.ciphertext.alpha % group.p,
                        old.beta * selection.ciphertext.beta % group.p,
                    )
        stored = eg.read_aggregate(group, raw)
        if {k: (int(c.alpha), int(c.beta)) for k, c in stored.items()} != {
            k: (int(c.alpha), int(c.beta)) for k, c in product.items()
        }:
            problems.append(f"{election.id.decode()}: aggregate != product of counted ballots")
    return problems


CHECKERS = (check_counts, check_joint_key, check_ballot_keys, check_aggregate)


def check_all(store: Any) -> list[str]:
    return [problem for checker in CHECKERS for problem in checker(store)]
