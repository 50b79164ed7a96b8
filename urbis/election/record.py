# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF002, RUF003
"""The election record (§3.7) as plain dataclasses, and its JSON files on disk.

Both sides read these types: the encryption side fills them, the verifier only reads them.
Every decode checks what it reads (Z_p^r membership for group elements, Z_q range for
exponents, fixed lengths for hashes), so a record or a transaction payload with a bad value
stops at the edge with a coded error.

Directory layout written by `ElectionRecord.to_dir(path)` (one JSON object per file, keys in
the order given; large integers as uppercase fixed-width hex as the serialization draft says):

    election_parameters.json   the draft's shape: fixed_parameters (spec version, p, q, g),
                               varying_parameters (n, k); urbis_parameter_set, urbis_cofactor_r
    election_manifest.bin      the manifest's exact bytes (H_B is computed over these)
    hashes.json                h_p, h_b
    guardians/guardian_<i>.public_key.json   commitments, κ_i, proofs (one file per guardian)
    joint_election_public_key.json           K, K̂
    hashes_ext.json            h_e
    devices.json               per device: S_device, H_DI, chaining mode, ordered confirmation
                               codes, closing hash
    ballots/<code>.json        one encrypted ballot per file (cast or challenged), named by its
                               confirmation code
    challenged/<code>.json     the published nonces and selections of a challenged ballot
    encrypted_tally.json       (A, B) per contest option
    tally.json                 per contest option: t, T, the proof (c, v), the guardians' shares
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gmpy2 import mpz

from urbis.election.group import ElectionCryptoError, Group, group_named


class RecordInvalid(ElectionCryptoError):
    code = "election.record_invalid"


class ManifestInvalid(ElectionCryptoError):
    code = "election.manifest_invalid"


@contextlib.contextmanager
def decoding(what: str, error: type[ElectionCryptoError] | None = None) -> Iterator[None]:
    """Turn a missing field or a wrong type while decoding `what` into a coded error
    (`RecordInvalid` unless another class is given); coded errors pass through."""
    try:
        yield
    except ElectionCryptoError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as cause:
        raise (error or RecordInvalid)(f"{what} is malformed: {cause!r}") from None


def _hash_hex(value: bytes) -> str:
    return value.hex().upper()


def _hash_from_hex(text: Any, what: str, length: int = 32) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except (TypeError, ValueError):
        raise RecordInvalid(f"{what} is not hex") from None
    if len(raw) != length:
        raise RecordInvalid(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


# -- manifest -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContestOption:
    index: int
    label: str
    selection_limit: int
    """Effective option selection limit R (serialization draft, 'Selection Limits')."""


@dataclass(frozen=True)
class Contest:
    index: int
    label: str
    selection_limit: int
    """Effective contest selection limit L."""
    options: tuple[ContestOption, ...]


@dataclass(frozen=True)
class BallotStyle:
    index: int
    label: str
    contests: tuple[int, ...]


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest, kept beside its exact bytes (`raw`), which are what H_B hashes.

    Format (serialization draft): {"label", "contests": [{"label", "selection_limit"?,
    "options": [{"label", "selection_limit"?}]}], "ballot_styles": [{"label", "contests": [..]}]}.
    A contest limit is an integer or "NO_LIMIT"; an option limit an integer or "CONTEST_LIMIT";
    both default to 1.
    """

    raw: bytes
    label: str
    contests: tuple[Contest, ...]
    styles: tuple[BallotStyle, ...]

    def contest(self, index: int) -> Contest:
        if not 1 <= index <= len(self.contests):
            raise ManifestInvalid(f"no contest with index {index}")
        return self.contests[index - 1]

    def style(self, index: int) -> BallotStyle:
        if not 1 <= index <= len(self.styles):
            raise ManifestInvalid(f"no ballot style with index {index}")
        return self.styles[index - 1]

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ManifestInvalid(f"manifest is not UTF-8 JSON: {error}") from None
        if not isinstance(data, dict):
            raise ManifestInvalid("manifest must be a JSON object")
        try:
            return cls._from_json(raw, data)
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ManifestInvalid):
                raise
            raise ManifestInvalid(f"manifest is malformed: {error!r}") from None

    @classmethod
    def _from_json(cls, raw: bytes, data: Mapping[str, Any]) -> Manifest:
        label = _label(data["label"], "manifest label")
        contests: list[Contest] = []
        for c_index, c_data in enumerate(data["contests"], start=1):
            stated = c_data.get("selection_limit", 1)
            if stated != "NO_LIMIT" and not _small_int(stated):
                raise ManifestInvalid(f"contest {c_index}: bad selection_limit {stated!r}")
            stated_options = []
            for o_data in c_data["options"]:
                o_stated = o_data.get("selection_limit", 1)
                if o_stated == "CONTEST_LIMIT":
                    if stated == "NO_LIMIT":
                        raise ManifestInvalid(f"contest {c_index}: CONTEST_LIMIT under NO_LIMIT")
                    o_stated = stated
                elif not _small_int(o_stated):
                    raise ManifestInvalid(f"contest {c_index}: bad option limit {o_stated!r}")
                stated_options.append((_label(o_data["label"], "option label"), int(o_stated)))
            if not stated_options:
                raise ManifestInvalid(f"contest {c_index} has no options")
            total = sum(limit for _, limit in stated_options)
            limit = total if stated == "NO_LIMIT" else min(int(stated), total)
            options = tuple(
                ContestOption(o_index, o_label, min(o_limit, limit))
                for o_index, (o_label, o_limit) in enumerate(stated_options, start=1)
            )
            if len({o.label for o in options}) != len(options):
                raise ManifestInvalid(f"contest {c_index}: option labels are not unique")
            contests.append(
                Contest(c_index, _label(c_data["label"], "contest label"), limit, options)
            )
        if len({c.label for c in contests}) != len(contests):
            raise ManifestInvalid("contest labels are not unique")
        styles: list[BallotStyle] = []
        for s_index, s_data in enumerate(data["ballot_styles"], start=1):
            indices = tuple(sorted({int(i) for i in s_data["contests"]}))
            if not indices or indices[0] < 1 or indices[-1] > len(contests):
                raise ManifestInvalid(f"ballot style {s_index} names an unknown contest")
            styles.append(BallotStyle(s_index, _label(s_data["label"], "style label"), indices))
        if not styles:
            raise ManifestInvalid("manifest has no ballot style")
        return cls(raw, label, tuple(contests), tuple(styles))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: property names MUST be unique (serialization draft)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ManifestInvalid(f"manifest repeats the property {key!r}")
        out[key] = value
    return out


def _small_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**31


def _label(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise ManifestInvalid(f"{what} must be a non-empty string without outer whitespace")
    return value


# -- proofs and ciphertexts -------------------------------------------------------------------


@dataclass(frozen=True)
class CoefficientProof:
    """The compact Schnorr proof (c, v_0..v_k) of eq. 11 / 13."""

    challenge: mpz
    responses: tuple[mpz, ...]

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "challenge": group.q_hex(self.challenge),
            "responses": [group.q_hex(v) for v in self.responses],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> CoefficientProof:
        return cls(
            group.exponent_from_hex(data["challenge"], "proof challenge"),
            tuple(group.exponent_from_hex(v, "proof response") for v in data["responses"]),
        )


@dataclass(frozen=True)
class GuardianPublicKey:
    """What guardian i publishes: commitments K_i,j and K̂_i,j, κ_i, and both proofs."""

    index: int
    commitments: tuple[mpz, ...]
    data_commitments: tuple[mpz, ...]
    kappa: mpz
    proof: CoefficientProof
    data_proof: CoefficientProof

    @property
    def vote_key(self) -> mpz:
        """K_i = K_i,0."""
        return self.commitments[0]

    @property
    def data_key(self) -> mpz:
        """K̂_i = K̂_i,0."""
        return self.data_commitments[0]

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.index,
            "coefficient_commitments": [group.p_hex(x) for x in self.commitments],
            "data_coefficient_commitments": [group.p_hex(x) for x in self.data_commitments],
            "communication_public_key": group.p_hex(self.kappa),
            "coefficient_proof": self.proof.to_json(group),
            "data_coefficient_proof": self.data_proof.to_json(group),
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> GuardianPublicKey:
        """Decode with every element checked; the proofs are checked by Verification 2."""
        try:
            return cls(
                int(data["i"]),
                tuple(group.element_from_hex(x, "K_i,j") for x in data["coefficient_commitments"]),
                tuple(
                    group.element_from_hex(x, "K̂_i,j") for x in data["data_coefficient_commitments"]
                ),
                group.element_from_hex(data["communication_public_key"], "κ_i"),
                CoefficientProof.from_json(group, data["coefficient_proof"]),
                CoefficientProof.from_json(group, data["data_coefficient_proof"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ElectionCryptoError):
                raise
            raise RecordInvalid(f"guardian public key is malformed: {error!r}") from None


@dataclass(frozen=True)
class Ciphertext:
    """(α, β) = (g^ξ, K^(σ+ξ))  (eq. 31)."""

    alpha: mpz
    beta: mpz

    def to_json(self, group: Group) -> dict[str, Any]:
        return {"alpha": group.p_hex(self.alpha), "beta": group.p_hex(self.beta)}

    @classmethod
    def from_json(
        cls, group: Group, data: Mapping[str, Any], *, subgroup: bool = True
    ) -> Ciphertext:
        return cls(
            group.element_from_hex(data["alpha"], "ciphertext alpha", subgroup=subgroup),
            group.element_from_hex(data["beta"], "ciphertext beta", subgroup=subgroup),
        )


@dataclass(frozen=True)
class RangeProof:
    """Disjunctive Chaum-Pedersen range proof: c_0..c_R and v_0..v_R (eq. 57-61)."""

    challenges: tuple[mpz, ...]
    responses: tuple[mpz, ...]

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "c": [group.q_hex(c) for c in self.challenges],
            "v": [group.q_hex(v) for v in self.responses],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> RangeProof:
        challenges = tuple(group.exponent_from_hex(c, "proof challenge") for c in data["c"])
        responses = tuple(group.exponent_from_hex(v, "proof response") for v in data["v"])
        if len(challenges) != len(responses) or not challenges:
            raise RecordInvalid("a range proof has as many challenges as responses (at least 1)")
        return cls(challenges, responses)


@dataclass(frozen=True)
class EncryptedSelection:
    option: int
    ciphertext: Ciphertext
    proof: RangeProof

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "option": self.option,
            "ciphertext": self.ciphertext.to_json(group),
            "proof": self.proof.to_json(group),
        }

    @classmethod
    def from_json(
        cls, group: Group, data: Mapping[str, Any], *, subgroup: bool = True
    ) -> EncryptedSelection:
        return cls(
            int(data["option"]),
            Ciphertext.from_json(group, data["ciphertext"], subgroup=subgroup),
            RangeProof.from_json(group, data["proof"]),
        )


@dataclass(frozen=True)
class EncryptedContest:
    contest: int
    selections: tuple[EncryptedSelection, ...]
    limit_proof: RangeProof
    contest_hash: bytes

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "contest": self.contest,
            "selections": [s.to_json(group) for s in self.selections],
            "limit_proof": self.limit_proof.to_json(group),
            "contest_hash": _hash_hex(self.contest_hash),
        }

    @classmethod
    def from_json(
        cls, group: Group, data: Mapping[str, Any], *, subgroup: bool = True
    ) -> EncryptedContest:
        return cls(
            int(data["contest"]),
            tuple(
                EncryptedSelection.from_json(group, s, subgroup=subgroup)
                for s in data["selections"]
            ),
            RangeProof.from_json(group, data["limit_proof"]),
            _hash_from_hex(data["contest_hash"], "contest hash"),
        )


@dataclass(frozen=True)
class EncryptedBallotNonce:
    """C_ξB = (C0, C1, (c_B, v_B)): ξ_B encrypted to K̂ with a Schnorr proof (eq. 34-38)."""

    c0: mpz
    c1: bytes
    challenge: mpz
    response: mpz

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "c0": group.p_hex(self.c0),
            "c1": _hash_hex(self.c1),
            "challenge": group.q_hex(self.challenge),
            "response": group.q_hex(self.response),
        }

    @classmethod
    def from_json(
        cls, group: Group, data: Mapping[str, Any], *, subgroup: bool = True
    ) -> EncryptedBallotNonce:
        return cls(
            group.element_from_hex(data["c0"], "ballot nonce C0", subgroup=subgroup),
            _hash_from_hex(data["c1"], "ballot nonce C1"),
            group.exponent_from_hex(data["challenge"], "ballot nonce challenge"),
            group.exponent_from_hex(data["response"], "ballot nonce response"),
        )


CAST = "cast"
CHALLENGED = "challenged"


@dataclass(frozen=True)
class EncryptedBallot:
    """An encrypted ballot as it enters the record (§3.7); `state` is cast or challenged."""

    id_b: bytes
    h_i: bytes
    style: int
    contests: tuple[EncryptedContest, ...]
    ballot_nonce: EncryptedBallotNonce
    device: str
    chaining_field: bytes
    confirmation_code: bytes
    state: str = CAST

    def with_state(self, state: str) -> EncryptedBallot:
        return EncryptedBallot(
            self.id_b,
            self.h_i,
            self.style,
            self.contests,
            self.ballot_nonce,
            self.device,
            self.chaining_field,
            self.confirmation_code,
            state,
        )

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "selection_encryption_identifier": _hash_hex(self.id_b),
            "selection_encryption_identifier_hash": _hash_hex(self.h_i),
            "ballot_style": self.style,
            "contests": [c.to_json(group) for c in self.contests],
            "encrypted_ballot_nonce": self.ballot_nonce.to_json(group),
            "device": self.device,
            "chaining_field": _hash_hex(self.chaining_field),
            "confirmation_code": _hash_hex(self.confirmation_code),
            "state": self.state,
        }

    @classmethod
    def from_json(
        cls, group: Group, data: Mapping[str, Any], *, subgroup: bool = True
    ) -> EncryptedBallot:
        """Decode and check every value. `subgroup=False` defers only the Z_p^r membership
        test of α, β and C0 to `verify_ballot(..., check_elements=True)`, which does it in
        the same pass as the proofs; the ledger uses that pair, never one without the other."""
        try:
            state = data.get("state", CAST)
            if state not in (CAST, CHALLENGED):
                raise RecordInvalid(f"ballot state must be cast or challenged, not {state!r}")
            device = data["device"]
            if not isinstance(device, str):
                raise RecordInvalid("ballot device must be a string")
            return cls(
                _hash_from_hex(data["selection_encryption_identifier"], "id_B"),
                _hash_from_hex(data["selection_encryption_identifier_hash"], "H_I"),
                int(data["ballot_style"]),
                tuple(
                    EncryptedContest.from_json(group, c, subgroup=subgroup)
                    for c in data["contests"]
                ),
                EncryptedBallotNonce.from_json(
                    group, data["encrypted_ballot_nonce"], subgroup=subgroup
                ),
                device,
                _hash_from_hex(data["chaining_field"], "chaining field", 36),
                _hash_from_hex(data["confirmation_code"], "confirmation code"),
                state,
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ElectionCryptoError):
                raise
            raise RecordInvalid(f"encrypted ballot is malformed: {error!r}") from None

    def to_bytes(self, group: Group) -> bytes:
        """Canonical bytes for a ledger: compact JSON, keys in the order above."""
        return json.dumps(self.to_json(group), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, group: Group, raw: bytes, *, subgroup: bool = True) -> EncryptedBallot:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RecordInvalid("encrypted ballot is not UTF-8 JSON") from None
        if not isinstance(data, dict):
            raise RecordInvalid("encrypted ballot must be a JSON object")
        return cls.from_json(group, data, subgroup=subgroup)


@dataclass(frozen=True)
class ChallengedBallot:
    """A Benaloh challenge's published data: per contest, the selections σ_i,j and the
    encryption nonces ξ_i,j (§3.6.7); the ballot nonce ξ_B itself is not published."""

    confirmation_code: bytes
    selections: Mapping[int, tuple[int, ...]]
    nonces: Mapping[int, tuple[mpz, ...]]

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "confirmation_code": _hash_hex(self.confirmation_code),
            "contests": [
                {
                    "contest": contest,
                    "selections": list(self.selections[contest]),
                    "nonces": [group.q_hex(x) for x in self.nonces[contest]],
                }
                for contest in sorted(self.selections)
            ],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> ChallengedBallot:
        selections: dict[int, tuple[int, ...]] = {}
        nonces: dict[int, tuple[mpz, ...]] = {}
        try:
            for entry in data["contests"]:
                contest = int(entry["contest"])
                values = tuple(int(v) for v in entry["selections"])
                if any(v < 0 for v in values):
                    raise RecordInvalid("a selection is negative")
                selections[contest] = values
                nonces[contest] = tuple(
                    group.exponent_from_hex(x, "selection nonce") for x in entry["nonces"]
                )
                if len(nonces[contest]) != len(values):
                    raise RecordInvalid("one nonce per selection")
            return cls(
                _hash_from_hex(data["confirmation_code"], "confirmation code"), selections, nonces
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ElectionCryptoError):
                raise
            raise RecordInvalid(f"challenged ballot is malformed: {error!r}") from None


@dataclass(frozen=True)
class DeviceLog:
    """One device's ballots in order, for Verification 8 (chaining, §3.4.4)."""

    device: str
    device_hash: bytes
    chaining: str
    """"none" or "simple"."""
    codes: tuple[bytes, ...]
    closing_hash: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "device": self.device,
            "device_hash": _hash_hex(self.device_hash),
            "chaining": self.chaining,
            "confirmation_codes": [_hash_hex(c) for c in self.codes],
        }
        if self.closing_hash is not None:
            out["closing_hash"] = _hash_hex(self.closing_hash)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceLog:
        chaining = data["chaining"]
        if chaining not in ("none", "simple"):
            raise RecordInvalid(f"chaining mode must be none or simple, not {chaining!r}")
        closing = data.get("closing_hash")
        return cls(
            str(data["device"]),
            _hash_from_hex(data["device_hash"], "device hash"),
            chaining,
            tuple(_hash_from_hex(c, "confirmation code") for c in data["confirmation_codes"]),
            None if closing is None else _hash_from_hex(closing, "closing hash"),
        )


@dataclass(frozen=True)
class DecryptionShare:
    """Guardian i's part of one tally decryption: M_i, commitment (a_i, b_i), response v_i."""

    guardian: int
    partial: mpz
    a: mpz
    b: mpz
    response: mpz

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "i": self.guardian,
            "m_i": group.p_hex(self.partial),
            "a_i": group.p_hex(self.a),
            "b_i": group.p_hex(self.b),
            "v_i": group.q_hex(self.response),
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> DecryptionShare:
        return cls(
            int(data["i"]),
            group.element_from_hex(data["m_i"], "M_i"),
            group.element_from_hex(data["a_i"], "a_i"),
            group.element_from_hex(data["b_i"], "b_i"),
            group.exponent_from_hex(data["v_i"], "v_i"),
        )


@dataclass(frozen=True)
class DecryptedOption:
    """One decrypted tally entry: t, T = K^t, the proof (c, v) of eq. 90-93, and the shares."""

    contest: int
    option: int
    tally: int
    value: mpz
    challenge: mpz
    response: mpz
    shares: tuple[DecryptionShare, ...] = ()

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "contest": self.contest,
            "option": self.option,
            "t": self.tally,
            "T": group.p_hex(self.value),
            "c": group.q_hex(self.challenge),
            "v": group.q_hex(self.response),
            "shares": [s.to_json(group) for s in self.shares],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> DecryptedOption:
        tally = data["t"]
        if not isinstance(tally, int) or isinstance(tally, bool) or tally < 0:
            raise RecordInvalid("a tally is a non-negative integer")
        return cls(
            int(data["contest"]),
            int(data["option"]),
            tally,
            group.element_from_hex(data["T"], "T"),
            group.exponent_from_hex(data["c"], "c"),
            group.exponent_from_hex(data["v"], "v"),
            tuple(DecryptionShare.from_json(group, s) for s in data.get("shares", [])),
        )


@dataclass(frozen=True)
class TallyResult:
    """The decrypted tally: the guardians who took part (U) and one entry per contest option.

    Labels are carried beside indices so Verification 11 can compare them with the manifest."""

    available: tuple[int, ...]
    options: tuple[DecryptedOption, ...]
    labels: Mapping[int, tuple[str, Mapping[int, str]]] = field(default_factory=dict)

    def to_json(self, group: Group) -> dict[str, Any]:
        return {
            "available_guardians": list(self.available),
            "contests": [
                {
                    "contest": contest,
                    "label": self.labels[contest][0],
                    "options": [
                        {"option": o, "label": label}
                        for o, label in sorted(self.labels[contest][1].items())
                    ],
                }
                for contest in sorted(self.labels)
            ],
            "results": [o.to_json(group) for o in self.options],
        }

    @classmethod
    def from_json(cls, group: Group, data: Mapping[str, Any]) -> TallyResult:
        labels = {
            int(c["contest"]): (
                str(c["label"]),
                {int(o["option"]): str(o["label"]) for o in c["options"]},
            )
            for c in data.get("contests", [])
        }
        return cls(
            tuple(int(i) for i in data["available_guardians"]),
            tuple(DecryptedOption.from_json(group, o) for o in data["results"]),
            labels,
        )


# -- the whole record -------------------------------------------------------------------------


@dataclass
class ElectionRecord:
    """Everything §3.7 lists for an election without pre-encrypted ballots or contest data."""

    group: Group
    n: int
    k: int
    manifest: bytes
    h_p: bytes
    h_b: bytes
    guardians: list[GuardianPublicKey]
    joint_key: mpz
    joint_data_key: mpz
    h_e: bytes
    ballots: list[EncryptedBallot] = field(default_factory=list)
    challenged: list[ChallengedBallot] = field(default_factory=list)
    devices: list[DeviceLog] = field(default_factory=list)
    encrypted_tally: dict[tuple[int, int], Ciphertext] = field(default_factory=dict)
    tally: TallyResult | None = None
    spec_version: str = "v2.1.0"
    declared_parameters: dict[str, str] = field(default_factory=dict)
    """p, q, g as the record's files state them (hex), for Verification 1.B-1.D; empty means
    the record was built in memory from `group` itself."""

    def to_dir(self, path: str | Path) -> None:
        """Write the record as the JSON files listed in this module's docstring."""
        root = Path(path)
        group = self.group
        (root / "guardians").mkdir(parents=True, exist_ok=True)
        (root / "ballots").mkdir(exist_ok=True)
        (root / "challenged").mkdir(exist_ok=True)
        _write(
            root / "election_parameters.json",
            _parameters_json(group, self.spec_version, self.n, self.k),
        )
        (root / "election_manifest.bin").write_bytes(self.manifest)
        _write(root / "hashes.json", {"h_p": _hash_hex(self.h_p), "h_b": _hash_hex(self.h_b)})
        for guardian in self.guardians:
            _write(
                root / "guardians" / f"guardian_{guardian.index}.public_key.json",
                guardian.to_json(group),
            )
        _write(
            root / "joint_election_public_key.json",
            {
                "joint_election_public_key": group.p_hex(self.joint_key),
                "joint_ballot_data_public_key": group.p_hex(self.joint_data_key),
            },
        )
        _write(root / "hashes_ext.json", {"h_e": _hash_hex(self.h_e)})
        _write(root / "devices.json", {"devices": [d.to_json() for d in self.devices]})
        for ballot in self.ballots:
            _write(
                root / "ballots" / f"{_hash_hex(ballot.confirmation_code)}.json",
                ballot.to_json(group),
            )
        for challenged in self.challenged:
            _write(
                root / "challenged" / f"{_hash_hex(challenged.confirmation_code)}.json",
                challenged.to_json(group),
            )
        _write(
            root / "encrypted_tally.json",
            {
                "options": [
                    {"contest": c, "option": o, **ct.to_json(group)}
                    for (c, o), ct in sorted(self.encrypted_tally.items())
                ]
            },
        )
        if self.tally is not None:
            _write(root / "tally.json", self.tally.to_json(group))

    @classmethod
    def from_dir(cls, path: str | Path) -> ElectionRecord:
        """Read a record written by `to_dir` (or by the ledger's export), checking every value."""
        root = Path(path)
        try:
            params = _parameters_from_json(_read(root / "election_parameters.json"))
            group = group_named(params["parameter_set"])
            hashes = _read(root / "hashes.json")
            keys = _read(root / "joint_election_public_key.json")
            guardians = sorted(
                (
                    GuardianPublicKey.from_json(group, _read(file))
                    for file in (root / "guardians").glob("guardian_*.public_key.json")
                ),
                key=lambda g: g.index,
            )
            ballots = [
                EncryptedBallot.from_json(group, _read(file))
                for file in sorted((root / "ballots").glob("*.json"))
            ]
            challenged = [
                ChallengedBallot.from_json(group, _read(file))
                for file in sorted((root / "challenged").glob("*.json"))
            ]
            devices = [DeviceLog.from_json(d) for d in _read(root / "devices.json")["devices"]]
            encrypted_tally = {
                (int(o["contest"]), int(o["option"])): Ciphertext.from_json(group, o)
                for o in _read(root / "encrypted_tally.json")["options"]
            }
            tally_file = root / "tally.json"
            tally = TallyResult.from_json(group, _read(tally_file)) if tally_file.exists() else None
            record = cls(
                group=group,
                n=int(params["n"]),
                k=int(params["k"]),
                manifest=(root / "election_manifest.bin").read_bytes(),
                h_p=_hash_from_hex(hashes["h_p"], "h_p"),
                h_b=_hash_from_hex(hashes["h_b"], "h_b"),
                guardians=guardians,
                joint_key=group.element_from_hex(keys["joint_election_public_key"], "K"),
                joint_data_key=group.element_from_hex(keys["joint_ballot_data_public_key"], "K̂"),
                h_e=_hash_from_hex(_read(root / "hashes_ext.json")["h_e"], "h_e"),
                ballots=ballots,
                challenged=challenged,
                devices=devices,
                encrypted_tally=encrypted_tally,
                tally=tally,
                spec_version=str(params["spec_version"]),
                declared_parameters={k: str(params[k]) for k in ("p", "q", "g")},
            )
            return record
        except (KeyError, TypeError, ValueError, OSError) as error:
            if isinstance(error, ElectionCryptoError):
                raise
            raise RecordInvalid(
                f"election record at {root} is incomplete or malformed: {error!r}"
            ) from None


def _parameters_json(group: Group, spec_version: str, n: int, k: int) -> dict[str, Any]:
    """`election_parameters.json` in the serialization draft's shape (fixed and varying
    parameters), with the Urbis parameter-set name and the cofactor r as extensions."""
    numbers = [int(part) for part in spec_version.lstrip("v").split(".")]
    fixed: dict[str, Any] = {"ElectionGuard_Design_Specification_version": {"number": numbers}}
    if group.q == 2**256 - 189:
        fixed["generation_parameters"] = {
            "q_bits_total": 256,
            "p_bits_total": int(group.p).bit_length(),
            "p_bits_msb_fixed_1": 256,
            "p_middle_bits_source": "ln_2",
            "p_bits_lsb_fixed_1": 256,
        }
    fixed["field"] = {"q": group.q_hex(group.q)}
    fixed["group"] = {
        "p": group.p_hex(group.p),
        "g": group.p_hex(group.g),
        "q": group.q_hex(group.q),
    }
    return {
        "fixed_parameters": fixed,
        "varying_parameters": {"n": n, "k": k, "ballot_chaining": "Allowed"},
        "urbis_parameter_set": group.name,
        "urbis_cofactor_r": format(int(group.r), "X"),
    }


def _parameters_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    fixed = data["fixed_parameters"]
    numbers = fixed["ElectionGuard_Design_Specification_version"]["number"]
    if not isinstance(numbers, list) or not all(isinstance(x, int) for x in numbers):
        raise RecordInvalid("the specification version must be a list of integers")
    return {
        "spec_version": "v" + ".".join(str(x) for x in numbers),
        "parameter_set": data["urbis_parameter_set"],
        "p": fixed["group"]["p"],
        "q": fixed["group"]["q"],
        "g": fixed["group"]["g"],
        "n": data["varying_parameters"]["n"],
        "k": data["varying_parameters"]["k"],
    }


def _write(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RecordInvalid(f"{path.name} is not JSON: {error}") from None
