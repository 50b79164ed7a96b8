"""A whole election in one process: key ceremony, ballots, challenges, tally, record.

For tests, the bench and demos that need a complete, valid record without a ledger. Each
step calls the public API the way guardians, devices and the tally would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from urbis.election import ballot as egballot
from urbis.election import ceremony, tally
from urbis.election import hash as eghash
from urbis.election.group import Group
from urbis.election.record import CHALLENGED, DeviceLog, ElectionRecord, GuardianPublicKey


@dataclass
class Guardians:
    """The outcome of an honest key ceremony: every public key and every key share."""

    public: list[GuardianPublicKey]
    secrets: list[ceremony.GuardianSecret]
    shares: list[ceremony.GuardianKeyShare]


def run_ceremony(group: Group, n: int, k: int) -> Guardians:
    """All n guardians generate keys, exchange and check every share, and sum their own."""
    h_p = eghash.parameter_base_hash(group, n, k)
    pairs = [ceremony.generate_guardian(group, h_p, i, k) for i in range(1, n + 1)]
    received: dict[int, dict[int, tuple[int, int]]] = {i: {} for i in range(1, n + 1)}
    for sender, sender_key in pairs:
        ceremony.verify_guardian_key(group, h_p, sender_key, k)
        for receiver, receiver_key in pairs:
            if receiver.index == sender.index:
                received[sender.index][sender.index] = ceremony.own_share(group, sender)
                continue
            share = ceremony.encrypt_share(group, h_p, sender, receiver_key)
            received[receiver.index][sender.index] = ceremony.receive_share(
                group, h_p, receiver, receiver_key, sender_key, share
            )
    shares = [ceremony.key_share(group, i, received[i], n) for i in range(1, n + 1)]
    return Guardians([p for _, p in pairs], [s for s, _ in pairs], shares)


def run_election(
    group: Group,
    n: int,
    k: int,
    manifest: bytes,
    votes: Sequence[dict[int, Sequence[int]]],
    *,
    challenged: Sequence[int] = (),
    devices: int = 1,
    available: Sequence[int] | None = None,
    guardians: Guardians | None = None,
) -> tuple[ElectionRecord, egballot.ElectionContext, Guardians]:
    """Encrypt `votes` (style 1) round-robin over `devices` simple-chaining devices; the
    ballots at positions in `challenged` are challenged and opened; decrypt with the
    guardians in `available` (default 1..k)."""
    guardians = guardians or run_ceremony(group, n, k)
    context = egballot.ElectionContext.build(group, n, k, manifest, guardians.public)
    device_list = [egballot.Device.start(context, f"device-{d + 1}") for d in range(devices)]
    ballots = []
    openings = []
    for position, vote in enumerate(votes):
        device = device_list[position % devices]
        encrypted, nonce = egballot.encrypt_ballot(context, 1, vote, device)
        if position in challenged:
            encrypted = encrypted.with_state(CHALLENGED)
            openings.append(egballot.challenge_ballot(context, encrypted, nonce))
        ballots.append(encrypted)
    encrypted_tally = tally.aggregate(context, ballots)
    chosen = list(available or range(1, k + 1))
    result = tally.decrypt_tally(
        context,
        guardians.public,
        [guardians.shares[i - 1] for i in chosen],
        encrypted_tally,
        max_tally=len(votes) * max(c.selection_limit for c in context.manifest.contests),
    )

    logs = [
        DeviceLog(d.label, d.device_hash, d.chaining, tuple(d.codes), d.close(context))
        for d in device_list
    ]
    record = ElectionRecord(
        group=group,
        n=n,
        k=k,
        manifest=manifest,
        h_p=context.h_p,
        h_b=context.h_b,
        guardians=list(guardians.public),
        joint_key=context.joint_key,
        joint_data_key=context.joint_data_key,
        h_e=context.h_e,
        ballots=ballots,
        challenged=openings,
        devices=logs,
        encrypted_tally=encrypted_tally,
        tally=result,
    )
    return record, context, guardians
