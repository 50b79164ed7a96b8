"""Voting errors and their stable codes (README lists the order each action checks them)."""

from urbis.chain.errors import error_class

ElectionExists = error_class("voting.exists", "Election exists", 409)
ElectionNotFound = error_class("voting.not_found", "Election not found", 404)
UnknownDepartment = error_class("voting.unknown_department", "Unknown department", 404)
BadWindow = error_class("voting.bad_window", "Voting window in the past")
BadManifest = error_class("voting.bad_manifest", "Manifest refused")
ManifestLocked = error_class("voting.manifest_locked", "Manifest fixed by the key ceremony", 409)
NotGuardian = error_class("voting.not_guardian", "Not a guardian of this election", 403)
NotRegistrar = error_class("voting.not_registrar", "Not this election's registrar", 403)
WrongPhase = error_class("voting.wrong_phase", "Not possible in this phase", 409)
AlreadyPosted = error_class("voting.already_posted", "Already posted", 409)
KeysMissing = error_class("voting.keys_missing", "Guardian keys missing", 409, retry=True)
BadGuardianProof = error_class("voting.bad_guardian_proof", "Guardian key proof fails")
BadShareProof = error_class("voting.bad_share_proof", "Share proof fails")
ShareNotFound = error_class("voting.share_not_found", "Share not posted", 404)
BadShareReveal = error_class("voting.bad_share_reveal", "Revealed share does not verify")
AlreadyRegistered = error_class("voting.already_registered", "Nullifier already used", 409)
BadBlindSignature = error_class("voting.bad_blind_signature", "Blind signature does not verify")
RegistrationsExhausted = error_class(
    "voting.registrations_exhausted", "More ballot keys than registrations", 409
)
OutsideWindow = error_class("voting.outside_window", "Outside the voting window", 409)
BadRegistrarSignature = error_class(
    "voting.bad_registrar_signature", "Ballot key lacks a valid registrar signature", 401
)
BadBallotSignature = error_class("voting.bad_ballot_signature", "Ballot not signed by its key", 401)
BadBallot = error_class("voting.bad_ballot", "Ballot refused")
BadElement = error_class("voting.bad_element", "Value outside the group")
BadRangeProof = error_class("voting.bad_range_proof", "Range proof fails")
BadLimitProof = error_class("voting.bad_limit_proof", "Selection-limit proof fails")
OverVote = error_class("voting.over_vote", "More selections than the contest allows")
DuplicateBallot = error_class("voting.duplicate_ballot", "Ballot already on chain", 409)
BadChallenge = error_class("voting.bad_challenge", "Challenged ballot does not open")
BadDecryption = error_class("voting.bad_decryption", "Partial decryption proof fails")
QuorumNotReached = error_class(
    "voting.quorum_not_reached", "Fewer than k guardians", 409, retry=True
)
BadRegistrarKey = error_class("voting.bad_registrar_key", "Registrar key refused")
NoRelay = error_class("voting.no_relay", "This node relays no ballots", 503)
