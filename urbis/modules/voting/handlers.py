"""Voting handlers: each checks everything first, then writes (README lists the order)."""

from __future__ import annotations

import dataclasses

from urbis.chain.context import Context, StateReader
from urbis.chain.ids import AccountId
from urbis.crypto import blindrsa
from urbis.crypto.encoding import decode_trusted, encode
from urbis.crypto.keys import verify as ed25519_verify
from urbis.modules.voting import electionguard as eg
from urbis.modules.voting import keys
from urbis.modules.voting.errors import (
    AlreadyPosted,
    AlreadyRegistered,
    BadBallotSignature,
    BadBlindSignature,
    BadRegistrarKey,
    BadRegistrarSignature,
    BadWindow,
    DuplicateBallot,
    ElectionExists,
    ElectionNotFound,
    KeysMissing,
    ManifestLocked,
    NotGuardian,
    NotRegistrar,
    OutsideWindow,
    QuorumNotReached,
    RegistrationsExhausted,
    ShareNotFound,
    UnknownDepartment,
    WrongPhase,
)
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.needs import GovernanceView
from urbis.modules.voting.protocol import ballot_key_message, ballot_message
from urbis.modules.voting.records import (
    AmendManifest,
    Cast,
    CastBallot,
    Challenge,
    ChallengedBallot,
    CloseElection,
    ComplainShare,
    ConfirmShare,
    CreateElection,
    Decryption,
    Election,
    GuardianKey,
    JoinTally,
    PostDecryption,
    PostGuardianKey,
    PostShare,
    RecordRegistration,
    Registration,
    Result,
    RevealShare,
    Share,
    Tally,
)


def _election(ctx: Context, election_id: bytes) -> Election:
    election = VotingView(ctx.state).election(election_id)
    if election is None:
        raise ElectionNotFound(f"no election {election_id.decode(errors='replace')}")
    return election


def _guardian_index(election: Election, account: AccountId) -> int:
    """1-based, the ElectionGuard index: the guardian's place in the creation order."""
    if account not in election.guardians:
        raise NotGuardian(f"{account} is not a guardian of {election.id.decode()}")
    return election.guardians.index(account) + 1


def _phase(election: Election, *allowed: str) -> None:
    if election.phase not in allowed:
        raise WrongPhase(
            f"election {election.id.decode()} is in phase {election.phase}; "
            f"this needs {' or '.join(allowed)}",
            phase=election.phase,
        )


def _save(ctx: Context, election: Election) -> None:
    ctx.state.put_record(keys.election(election.id), election)


# -- setting up ---------------------------------------------------------------------------


def create_election(ctx: Context, sender: AccountId, args: CreateElection) -> None:
    if VotingView(ctx.state).election(args.id) is not None:
        raise ElectionExists(f"election {args.id.decode()} exists")
    if ctx.view("governance", GovernanceView).department(args.department) is None:
        raise UnknownDepartment(f"no department {args.department}")
    if args.opens_at_height <= ctx.block.height:
        raise BadWindow(
            f"the window must open after this block ({ctx.block.height}), "
            f"not at {args.opens_at_height}"
        )
    if sender in args.guardians:
        raise NotGuardian("the commission that runs the election may not be one of its guardians")
    try:
        blindrsa.load_public_key(args.registrar_key)
    except blindrsa.BlindSignatureError as error:
        raise BadRegistrarKey(str(error)) from None
    n = len(args.guardians)
    h_p, h_b = eg.base_hashes(args.group, n, args.quorum, args.manifest)
    election = Election(
        id=args.id,
        department=args.department,
        title=args.title,
        manifest=args.manifest,
        group=args.group,
        guardians=list(args.guardians),
        quorum=args.quorum,
        opens_at_height=args.opens_at_height,
        closes_at_height=args.closes_at_height,
        eligibility_vct=args.eligibility_vct,
        registrar=args.registrar,
        registrar_key=args.registrar_key,
        created_by=sender,
        created_at_height=ctx.block.height,
        phase="ceremony",
        parameter_hash=h_p,
        base_hash=h_b,
    )
    _save(ctx, election)
    closing = keys.closing(args.closes_at_height)
    raw = ctx.state.get(closing)
    ids = [] if raw is None else list(decode_trusted(raw))
    ctx.state.put(closing, encode([*ids, args.id]))
    ctx.emit(
        "voting.created",
        election=args.id.decode(),
        department=args.department,
        guardians=n,
        quorum=args.quorum,
        opens_at_height=args.opens_at_height,
        closes_at_height=args.closes_at_height,
        base_hash=h_b.hex(),
    )


def amend_manifest(ctx: Context, sender: AccountId, args: AmendManifest) -> None:
    election = _election(ctx, args.id)
    if election.department != args.department:
        raise UnknownDepartment(f"election {args.id.decode()} belongs to {election.department}")
    view = VotingView(ctx.state)
    posted = [i for i in range(1, len(election.guardians) + 1) if view.guardian_key(args.id, i)]
    if election.phase != "ceremony" or posted:
        raise ManifestLocked(
            f"guardian keys are bound to H_B since the ceremony began; "
            f"election {args.id.decode()} can no longer change its manifest"
        )
    _, h_b = eg.base_hashes(election.group, len(election.guardians), election.quorum, args.manifest)
    _save(ctx, dataclasses.replace(election, manifest=args.manifest, base_hash=h_b))
    ctx.emit("voting.manifest_amended", election=args.id.decode(), base_hash=h_b.hex())


# -- key ceremony -------------------------------------------------------------------------------


def post_guardian_key(ctx: Context, sender: AccountId, args: PostGuardianKey) -> None:
    election = _election(ctx, args.election_id)
    index = _guardian_index(election, sender)
    _phase(election, "ceremony")
    view = VotingView(ctx.state)
    if view.guardian_key(args.election_id, index) is not None:
        raise AlreadyPosted(f"guardian {index} already posted its keys")
    eg.guardian_key(
        election.group, election.parameter_hash, args.public_key, index, election.quorum
    )
    record = GuardianKey(index, sender, args.public_key, ctx.block.height)
    ctx.state.put_record(keys.guardian_key(args.election_id, index), record)
    ctx.emit("voting.guardian_key_posted", election=args.election_id.decode(), guardian=index)


def _all_keys(ctx: Context, election: Election) -> list[GuardianKey]:
    view = VotingView(ctx.state)
    found = [view.guardian_key(election.id, i) for i in range(1, len(election.guardians) + 1)]
    missing = [i + 1 for i, key in enumerate(found) if key is None]
    if missing:
        raise KeysMissing(f"guardians {missing} have not posted their keys yet", missing=missing)
    return [key for key in found if key is not None]


def post_share(ctx: Context, sender: AccountId, args: PostShare) -> None:
    election = _election(ctx, args.election_id)
    dealer = _guardian_index(election, sender)
    _phase(election, "ceremony")
    n = len(election.guardians)
    if not 1 <= args.recipient <= n or args.recipient == dealer:
        raise NotGuardian(f"recipient must be another guardian, 1 to {n}")
    _all_keys(ctx, election)
    if VotingView(ctx.state).share(args.election_id, dealer, args.recipient) is not None:
        raise AlreadyPosted(f"share {dealer}->{args.recipient} already posted")
    eg.encrypted_share(
        election.group, election.parameter_hash, args.encrypted, dealer, args.recipient
    )
    share = Share(dealer, args.recipient, args.encrypted, "posted")
    ctx.state.put_record(keys.share(args.election_id, dealer, args.recipient), share)
    ctx.emit(
        "voting.share_posted",
        election=args.election_id.decode(),
        dealer=dealer,
        recipient=args.recipient,
    )


def _posted_share(ctx: Context, election: Election, dealer: int, recipient: int) -> Share:
    share = VotingView(ctx.state).share(election.id, dealer, recipient)
    if share is None:
        raise ShareNotFound(f"share {dealer}->{recipient} has not been posted")
    return share


def confirm_share(ctx: Context, sender: AccountId, args: ConfirmShare) -> None:
    election = _election(ctx, args.election_id)
    recipient = _guardian_index(election, sender)
    _phase(election, "ceremony")
    share = _posted_share(ctx, election, args.dealer, recipient)
    if share.status != "posted":
        raise AlreadyPosted(f"share {args.dealer}->{recipient} is already {share.status}")
    _set_share(ctx, election, dataclasses.replace(share, status="confirmed"))
    ctx.emit(
        "voting.share_confirmed",
        election=args.election_id.decode(),
        dealer=args.dealer,
        recipient=recipient,
    )
    _finish_ceremony_if_complete(ctx, election)


def complain_share(ctx: Context, sender: AccountId, args: ComplainShare) -> None:
    election = _election(ctx, args.election_id)
    recipient = _guardian_index(election, sender)
    _phase(election, "ceremony")
    share = _posted_share(ctx, election, args.dealer, recipient)
    if share.status != "posted":
        raise AlreadyPosted(f"share {args.dealer}->{recipient} is already {share.status}")
    _set_share(ctx, election, dataclasses.replace(share, status="complained"))
    _save(ctx, dataclasses.replace(election, complaints=election.complaints + 1))
    ctx.emit(
        "voting.share_complaint",
        election=args.election_id.decode(),
        dealer=args.dealer,
        recipient=recipient,
    )


def reveal_share(ctx: Context, sender: AccountId, args: RevealShare) -> None:
    election = _election(ctx, args.election_id)
    dealer = _guardian_index(election, sender)
    _phase(election, "ceremony")
    share = _posted_share(ctx, election, dealer, args.recipient)
    if share.status != "complained":
        raise WrongPhase(f"share {dealer}->{args.recipient} has no complaint to answer")
    dealer_key = VotingView(ctx.state).guardian_key(election.id, dealer)
    assert dealer_key is not None, "a posted share implies posted keys"
    parsed = eg.guardian_key(
        election.group, election.parameter_hash, dealer_key.public_key, dealer, election.quorum
    )
    eg.check_revealed_share(election.group, parsed, args.recipient, args.value)
    _set_share(ctx, election, dataclasses.replace(share, status="revealed"))
    ctx.emit(
        "voting.share_revealed",
        election=args.election_id.decode(),
        dealer=dealer,
        recipient=args.recipient,
    )
    _finish_ceremony_if_complete(ctx, election)


def _set_share(ctx: Context, election: Election, share: Share) -> None:
    ctx.state.put_record(keys.share(election.id, share.dealer, share.recipient), share)


def _finish_ceremony_if_complete(ctx: Context, election: Election) -> None:
    """Record K, K̂ and H_E once every share is confirmed (or revealed and verified)."""
    view = VotingView(ctx.state)
    n = len(election.guardians)
    for dealer in range(1, n + 1):
        for recipient in range(1, n + 1):
            if dealer == recipient:
                continue
            share = view.share(election.id, dealer, recipient)
            if share is None or share.status not in ("confirmed", "revealed"):
                return
    stored = _all_keys(ctx, election)
    parsed = [
        eg.guardian_key(
            election.group, election.parameter_hash, key.public_key, key.index, election.quorum
        )
        for key in stored
    ]
    joint, h_e = eg.joint_key(election.group, election.base_hash, parsed)
    current = view.election(election.id)
    assert current is not None
    _save(ctx, dataclasses.replace(current, phase="open", joint_key=joint, extended_base_hash=h_e))
    ctx.emit("voting.keys_ready", election=election.id.decode(), extended_base_hash=h_e.hex())


# -- eligibility -------------------------------------------------------------------------------


def record_registration(ctx: Context, sender: AccountId, args: RecordRegistration) -> None:
    election = _election(ctx, args.election_id)
    if sender != election.registrar:
        raise NotRegistrar(f"{sender} is not the registrar of {election.id.decode()}")
    if ctx.block.height >= election.closes_at_height or election.phase in ("closed", "tallied"):
        raise OutsideWindow(f"registration closed at block {election.closes_at_height}")
    if VotingView(ctx.state).registration(args.election_id, args.nullifier) is not None:
        raise AlreadyRegistered(
            "this credential already received its blind signature for this election"
        )
    numbers = blindrsa.load_public_key(election.registrar_key).public_numbers()
    if len(args.blind_sig) != (numbers.n.bit_length() + 7) // 8 or pow(
        int.from_bytes(args.blind_sig, "big"), numbers.e, numbers.n
    ) != int.from_bytes(args.blinded_msg, "big"):
        raise BadBlindSignature("blind_sig is not the registrar key's signature on blinded_msg")
    registration = Registration(args.nullifier, args.blinded_msg, args.blind_sig, ctx.block.height)
    ctx.state.put_record(keys.registration(args.election_id, args.nullifier), registration)
    _save(ctx, dataclasses.replace(election, registrations=election.registrations + 1))
    ctx.emit(
        "voting.registered",
        election=args.election_id.decode(),
        registrations=election.registrations + 1,
    )


# -- casting --------------------------------------------------------------------------------


def _check_ballot_key(
    election: Election, ballot_key: bytes, key_prefix: bytes, registrar_signature: bytes
) -> None:
    public = blindrsa.load_public_key(election.registrar_key)
    try:
        blindrsa.verify(
            public, key_prefix + ballot_key_message(election.id, ballot_key), registrar_signature
        )
    except blindrsa.BlindSignatureError:
        raise BadRegistrarSignature(
            "the ballot key carries no valid registrar signature for this election"
        ) from None


def _check_window(height: int, election: Election) -> None:
    if not election.opens_at_height <= height < election.closes_at_height:
        raise OutsideWindow(
            f"voting is open from block {election.opens_at_height} until before block "
            f"{election.closes_at_height}; this is block {height}",
            opens_at_height=election.opens_at_height,
            closes_at_height=election.closes_at_height,
        )


def check_ballot(
    state: StateReader, height: int, kind: str, args: Cast | Challenge
) -> tuple[Election, eg.CheckedBallot]:
    """Everything about a ballot that needs no write: window, phase, the registrar's
    signature on the ballot key, the ballot key's signature, every proof (and a challenge's
    nonces). CheckTx runs it (module `admit`) and execution runs it again."""
    election = VotingView(state).election(args.election_id)
    if election is None:
        raise ElectionNotFound(f"no election {args.election_id.decode(errors='replace')}")
    _check_window(height, election)
    _phase(election, "open")
    _check_ballot_key(election, args.ballot_key, args.key_prefix, args.registrar_signature)
    if not ed25519_verify(
        args.ballot_key, ballot_message(kind, args.election_id, args.ballot), args.signature
    ):
        raise BadBallotSignature(f"the {kind} ballot is not signed by its ballot key")
    checked = eg.checked_ballot(election, args.ballot)
    if isinstance(args, Challenge):
        eg.check_challenge(election, checked, args.nonces)
    return election, checked


def check_cast_state(
    view: VotingView, election: Election, args: Cast, checked: eg.CheckedBallot
) -> int | None:
    """What a cast needs of the election's state: a new confirmation code, and room under
    the registrations for a new ballot key. Returns the key's previous ballot, if any."""
    if view.ballot_of_code(args.election_id, checked.code) is not None:
        raise DuplicateBallot(f"a ballot with confirmation code {checked.code.hex()} is on chain")
    previous_seq = view.ballot_of_key(args.election_id, args.ballot_key)
    if previous_seq is None and election.ballot_keys >= election.registrations:
        raise RegistrationsExhausted(
            f"{election.ballot_keys} ballot keys have voted and only {election.registrations} "
            "residents registered: the registrar signed a key it did not record"
        )
    return previous_seq


def cast(ctx: Context, sender: AccountId, args: Cast) -> None:
    """Sender is whichever relay submitted it; nothing here names the resident."""
    election, checked = check_ballot(ctx.state, ctx.block.height, "cast", args)
    view = VotingView(ctx.state)
    previous_seq = check_cast_state(view, election, args, checked)
    aggregate = view.aggregate(args.election_id)
    replaced = 0
    if previous_seq is not None:
        previous = view.ballot(args.election_id, previous_seq)
        assert previous is not None
        aggregate = eg.aggregate_remove(election, aggregate, previous.ballot)
        ctx.state.put_record(
            keys.ballot(args.election_id, previous_seq),
            dataclasses.replace(previous, status="replaced"),
        )
        replaced = 1
    aggregate = eg.aggregate_add(election, aggregate, checked)
    seq = election.next_ballot
    ballot = CastBallot(
        seq=seq,
        ballot_key=args.ballot_key,
        key_prefix=args.key_prefix,
        registrar_signature=args.registrar_signature,
        ballot=args.ballot,
        signature=args.signature,
        confirmation_code=checked.code,
        status="counted",
        cast_at_height=ctx.block.height,
    )
    ctx.state.put_record(keys.ballot(args.election_id, seq), ballot)
    ctx.state.put(keys.ballot_key(args.election_id, args.ballot_key), seq.to_bytes(8, "big"))
    ctx.state.put(keys.code(args.election_id, checked.code), seq.to_bytes(8, "big"))
    ctx.state.put(keys.aggregate(args.election_id), aggregate)
    _save(
        ctx,
        dataclasses.replace(
            election,
            next_ballot=seq + 1,
            ballot_keys=election.ballot_keys + (0 if previous_seq is not None else 1),
            counted=election.counted + 1 - replaced,
            replaced=election.replaced + replaced,
        ),
    )
    ctx.emit(
        "voting.cast",
        election=args.election_id.decode(),
        confirmation_code=checked.code.hex(),
        replaces=previous_seq is not None,
    )


def challenge(ctx: Context, sender: AccountId, args: Challenge) -> None:
    """A Benaloh challenge: the ballot opens with its nonces, and is never counted."""
    election, checked = check_ballot(ctx.state, ctx.block.height, "challenge", args)
    seq = election.challenged
    record = ChallengedBallot(seq, args.ballot, args.nonces, checked.code, ctx.block.height)
    ctx.state.put_record(keys.challenged(args.election_id, seq), record)
    _save(ctx, dataclasses.replace(election, challenged=seq + 1))
    ctx.emit(
        "voting.challenged",
        election=args.election_id.decode(),
        confirmation_code=checked.code.hex(),
    )


# -- tally ----------------------------------------------------------------------------------------


def close_election(ctx: Context, sender: AccountId, args: CloseElection) -> None:
    """After the window, anyone fixes the aggregate (end_block does it at the close height
    itself; this is for an election whose close block passed while it was not open)."""
    election = _election(ctx, args.election_id)
    _phase(election, "open")
    if ctx.block.height < election.closes_at_height:
        raise OutsideWindow(f"voting is open until block {election.closes_at_height}")
    _close(ctx, election)


def _close(ctx: Context, election: Election) -> None:
    if VotingView(ctx.state).aggregate(election.id) is None:
        ctx.state.put(keys.aggregate(election.id), eg.empty_aggregate(election))
    _save(ctx, dataclasses.replace(election, phase="closed"))
    ctx.emit(
        "voting.closed",
        election=election.id.decode(),
        counted=election.counted,
        needs_guardians=election.quorum,
    )


def close_due(ctx: Context) -> None:
    """end_block: at an election's close height its aggregate is fixed, with no transaction
    needed. An election still in its key ceremony then is left as it is (it never opened)."""
    raw = ctx.state.get(keys.closing(ctx.block.height))
    if raw is None:
        return
    for election_id in decode_trusted(raw):
        election = VotingView(ctx.state).election(election_id)
        if election is not None and election.phase == "open":
            _close(ctx, election)


def join_tally(ctx: Context, sender: AccountId, args: JoinTally) -> None:
    election = _election(ctx, args.election_id)
    index = _guardian_index(election, sender)
    _phase(election, "closed")
    if index in election.tally_guardians:
        raise AlreadyPosted(f"guardian {index} already joined the decryption")
    if len(election.tally_guardians) >= election.quorum:
        raise AlreadyPosted(
            f"guardians {election.tally_guardians} already form the quorum of {election.quorum}"
        )
    joined = [*election.tally_guardians, index]
    _save(ctx, dataclasses.replace(election, tally_guardians=joined))
    ctx.state.put_record(keys.decryption(args.election_id, index), Decryption(index))
    ctx.emit(
        "voting.tally_joined",
        election=args.election_id.decode(),
        guardian=index,
        more_needed=election.quorum - len(joined),
    )


def _decryptions(ctx: Context, election: Election) -> list[Decryption]:
    view = VotingView(ctx.state)
    found = [view.decryption(election.id, i) for i in sorted(election.tally_guardians)]
    return [d for d in found if d is not None]


def _waiting(step: str, items: list[Decryption], attribute: str) -> None:
    missing = [d.guardian for d in items if not getattr(d, attribute)]
    if missing:
        raise WrongPhase(f"the {step} step waits for guardians {missing}", missing=missing)


def post_decryption(ctx: Context, sender: AccountId, args: PostDecryption) -> None:
    election = _election(ctx, args.election_id)
    index = _guardian_index(election, sender)
    _phase(election, "closed")
    if len(election.tally_guardians) < election.quorum:
        more = election.quorum - len(election.tally_guardians)
        raise QuorumNotReached(
            f"{len(election.tally_guardians)} guardian(s) joined; {more} more must join first",
            more_needed=more,
        )
    if index not in election.tally_guardians:
        raise NotGuardian(f"guardian {index} is not among the decrypting guardians")
    aggregate = VotingView(ctx.state).aggregate(args.election_id)
    assert aggregate is not None, "a closed election has its aggregate"
    available = sorted(election.tally_guardians)
    all_steps = _decryptions(ctx, election)
    mine = next(d for d in all_steps if d.guardian == index)
    if getattr(mine, args.step):
        raise AlreadyPosted(f"guardian {index} already sent its {args.step}")
    if args.step == "commit":
        eg.decryption_commit(election, aggregate, index, args.payload)
        updated = dataclasses.replace(mine, commit=args.payload)
    elif args.step == "reveal":
        _waiting("reveal", all_steps, "commit")
        commit = eg.decryption_commit(election, aggregate, index, mine.commit)
        eg.decryption_reveal(election, aggregate, available, commit, args.payload)
        updated = dataclasses.replace(mine, reveal=args.payload)
    else:
        _waiting("response", all_steps, "reveal")
        commit = eg.decryption_commit(election, aggregate, index, mine.commit)
        reveal = eg.decryption_reveal(election, aggregate, available, commit, mine.reveal)
        guardians = eg.guardian_keys(election, [k.public_key for k in _all_keys(ctx, election)])
        eg.check_response(
            election,
            guardians,
            aggregate,
            available,
            commit,
            reveal,
            election.decryption_challenges,
            args.payload,
        )
        updated = dataclasses.replace(mine, response=args.payload)
    ctx.state.put_record(keys.decryption(args.election_id, index), updated)
    steps = [updated if d.guardian == index else d for d in all_steps]
    changed = election
    if args.step == "reveal" and all(d.reveal for d in steps):
        changed = dataclasses.replace(
            election, decryption_challenges=_challenges(election, aggregate, steps)
        )
    if args.step == "response":
        changed = dataclasses.replace(election, decryptions=election.decryptions + 1)
    if changed is not election:
        _save(ctx, changed)
    ctx.emit(
        "voting.decryption_step",
        election=args.election_id.decode(),
        guardian=index,
        step=args.step,
    )


def _challenges(election: Election, aggregate: bytes, steps: list[Decryption]) -> bytes:
    available = sorted(election.tally_guardians)
    commits = [eg.decryption_commit(election, aggregate, d.guardian, d.commit) for d in steps]
    reveals = [
        eg.decryption_reveal(election, aggregate, available, c, d.reveal)
        for c, d in zip(commits, steps, strict=True)
    ]
    return eg.decryption_challenges(election, aggregate, available, commits, reveals)


def tally(ctx: Context, sender: AccountId, args: Tally) -> None:
    """Combine the quorum's decryptions; with fewer guardians, say how many more it needs."""
    election = _election(ctx, args.election_id)
    _phase(election, "closed")
    joined = len(election.tally_guardians)
    if joined < election.quorum or election.decryptions < election.quorum:
        missing = election.quorum - min(joined, election.decryptions)
        raise QuorumNotReached(
            f"{election.decryptions} of the {election.quorum} guardians needed have decrypted "
            f"({joined} joined); the tally needs {missing} more",
            decrypted=election.decryptions,
            more_needed=missing,
        )
    aggregate = VotingView(ctx.state).aggregate(args.election_id)
    assert aggregate is not None
    available = sorted(election.tally_guardians)
    steps = _decryptions(ctx, election)
    commits = [eg.decryption_commit(election, aggregate, d.guardian, d.commit) for d in steps]
    reveals = [
        eg.decryption_reveal(election, aggregate, available, c, d.reveal)
        for c, d in zip(commits, steps, strict=True)
    ]
    guardians = eg.guardian_keys(election, [k.public_key for k in _all_keys(ctx, election)])
    tally_raw, counts = eg.combine(
        election,
        guardians,
        aggregate,
        available,
        commits,
        reveals,
        {d.guardian: d.response for d in steps},
    )
    ctx.state.put_record(
        keys.result(args.election_id), Result(tally_raw, counts, available, ctx.block.height)
    )
    _save(ctx, dataclasses.replace(election, phase="tallied"))
    ctx.emit(
        "voting.tallied", election=args.election_id.decode(), counts=counts, guardians=available
    )
