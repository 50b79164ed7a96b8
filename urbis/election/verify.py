"""The independent verifier: §6.2 Verifications 1-14 over an election record.

Written apart from the encryption side on purpose: it imports the group, the hash encodings
and the record types, never `ballot`, `ceremony` or `tally`, so a mistake there cannot hide a
mistake here. Every check recomputes from the published record alone.

`verify_record(record) -> Report`. The report has one entry per step (1..14) with how many
items passed and which failed; step 12 (contest data) and the pre-encrypted-ballot steps do
not apply to Urbis elections and are reported as such. Step 8 also checks that the device
logs and the ballots agree one to one, so a ballot removed from the record is found through
the hash chain; `held_codes` adds the confirmation codes voters kept, each of which must be
in the record.
"""

# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gmpy2
from gmpy2 import mpz

from urbis.election import hash as eghash
from urbis.election.group import (
    STANDARD,
    ElectionCryptoError,
    Group,
    chain_member,
    chain_powers,
    chain_product,
    power_chain,
)
from urbis.election.record import (
    CAST,
    CHALLENGED,
    Ciphertext,
    ElectionRecord,
    EncryptedBallot,
    Manifest,
    RangeProof,
)

STEP_NAMES = {
    1: "parameter validation",
    2: "guardian public-key validation",
    3: "election public-key validation",
    4: "extended base hash validation",
    5: "uniqueness of selection encryption identifiers",
    6: "well-formedness of selection encryptions",
    7: "adherence to vote limits",
    8: "validation of confirmation codes",
    9: "correctness of ballot aggregation",
    10: "correctness of tally decryptions",
    11: "validation of contents of tallies",
    12: "correctness of decryptions of contest data",
    13: "correctness of decryptions for challenged ballots",
    14: "validation of well-formedness and content of challenged ballots",
}


@dataclass
class StepResult:
    step: int
    name: str
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    applicable: bool = True
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def check(self, condition: bool, label: str) -> bool:
        if condition:
            self.passed += 1
        else:
            self.failures.append(label)
        return condition


@dataclass
class Report:
    """Per-step results; `ok` only if every applicable step passed."""

    steps: list[StepResult]

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def step(self, number: int) -> StepResult:
        return next(s for s in self.steps if s.step == number)

    @property
    def failed_steps(self) -> list[int]:
        return [s.step for s in self.steps if not s.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [
                {
                    "step": s.step,
                    "name": s.name,
                    "applicable": s.applicable,
                    "passed": s.passed,
                    "failed": len(s.failures),
                    "failures": s.failures[:50],
                    "note": s.note,
                }
                for s in self.steps
            ],
        }

    def to_text(self) -> str:
        lines = []
        for s in self.steps:
            status = ("PASS" if s.ok else "FAIL") if s.applicable else "n/a "
            line = f"{status}  {s.step:>2}. {s.name}: {s.passed} passed, {len(s.failures)} failed"
            if s.note:
                line += f" ({s.note})"
            lines.append(line)
            lines.extend(f"        - {failure}" for failure in s.failures[:10])
            if len(s.failures) > 10:
                lines.append(f"        ... and {len(s.failures) - 10} more")
        lines.append("verification " + ("PASSED" if self.ok else "FAILED"))
        return "\n".join(lines)


def verify_record(
    record: ElectionRecord,
    *,
    held_codes: Iterable[bytes] = (),
    allowed_parameter_sets: Sequence[str] = (STANDARD.name,),
    workers: int = 1,
    only: Collection[int] | None = None,
) -> Report:
    """Run Verifications 1-14 on `record`.

    `allowed_parameter_sets` is the standard group only, as the spec requires; tests may
    allow the toy set. `workers` > 1 checks ballots (steps 6-7) in that many processes.
    `only` runs a subset of steps (the others are reported as not run), for benchmarks.
    """
    steps = {number: StepResult(number, name) for number, name in STEP_NAMES.items()}
    chosen = set(STEP_NAMES) if only is None else set(only)
    manifest = _parse_manifest(record, steps[1])
    runs: list[tuple[tuple[int, ...], Callable[[], None]]] = [
        ((1,), lambda: _verify_parameters(record, steps[1], allowed_parameter_sets)),
        ((2,), lambda: _verify_guardians(record, steps[2])),
        ((3,), lambda: _verify_joint_keys(record, steps[3])),
        ((4,), lambda: _verify_extended_hash(record, steps[4])),
        ((5,), lambda: _verify_identifiers(record, steps[5])),
    ]
    if manifest is not None:
        runs += [
            ((6, 7), lambda: _verify_ballots(record, manifest, steps[6], steps[7], workers)),
            ((8,), lambda: _verify_codes(record, manifest, steps[8], held_codes)),
            ((9,), lambda: _verify_aggregation(record, manifest, steps[9])),
            ((10,), lambda: _verify_tally(record, steps[10])),
            ((11,), lambda: _verify_tally_contents(record, manifest, steps[11])),
            ((13, 14), lambda: _verify_challenged(record, manifest, steps[13], steps[14])),
        ]
    else:
        for number in (6, 7, 8, 9, 10, 11, 13, 14):
            steps[number].failures.append("the manifest cannot be read")
    for numbers, run in runs:
        if not chosen & set(numbers):
            continue
        try:
            run()
        except (ElectionCryptoError, ValueError, KeyError, IndexError, TypeError) as error:
            # A malformed record must give a failed step, never a traceback.
            steps[numbers[0]].failures.append(f"the record is malformed here: {error!r}")
    steps[12].applicable = False
    steps[12].note = "no contest data fields in Urbis ballots"
    for number in set(STEP_NAMES) - chosen - {12}:
        steps[number] = StepResult(number, STEP_NAMES[number], applicable=False, note="not run")
    return Report([steps[n] for n in sorted(steps)])


# -- steps 1-5 ----------------------------------------------------------------------------------


def _parse_manifest(record: ElectionRecord, step: StepResult) -> Manifest | None:
    try:
        return Manifest.parse(record.manifest)
    except ElectionCryptoError as error:
        step.failures.append(f"manifest: {error}")
        return None


def _verify_parameters(record: ElectionRecord, step: StepResult, allowed: Sequence[str]) -> None:
    group = record.group
    step.check(
        record.spec_version == eghash.SPEC_VERSION, f"1.A spec version {record.spec_version!r}"
    )
    step.check(group.name in allowed, f"1.B-D parameter set {group.name} is not {list(allowed)}")
    declared = record.declared_parameters
    if declared:
        step.check(declared.get("p") == group.p_hex(group.p), "1.B the large prime p differs")
        step.check(declared.get("q") == group.q_hex(group.q), "1.C the small prime q differs")
        step.check(declared.get("g") == group.p_hex(group.g), "1.D the generator g differs")
    step.check(1 <= record.k <= record.n, f"1.E quorum k={record.k} outside 1..n={record.n}")
    step.check(
        eghash.parameter_base_hash(group, record.n, record.k) == record.h_p,
        "1.E H_P != H(ver; 0x00, p, q, g, n, k)",
    )
    step.check(
        eghash.election_base_hash(record.h_p, record.manifest) == record.h_b,
        "1.F H_B != H(H_P; 0x01, manifest)",
    )


def _verify_guardians(record: ElectionRecord, step: StepResult) -> None:
    group = record.group
    p, q = group.p, group.q
    indices = [g.index for g in record.guardians]
    step.check(
        indices == list(range(1, record.n + 1)), f"guardians must be 1..{record.n}, got {indices}"
    )
    for guardian in record.guardians:
        i = guardian.index
        elements = (*guardian.commitments, *guardian.data_commitments, guardian.kappa)
        if not step.check(
            len(guardian.commitments) == record.k == len(guardian.data_commitments),
            f"guardian {i}: needs {record.k} commitments of each kind",
        ):
            continue
        step.check(
            all(group.is_element(x) for x in elements), f"2.A guardian {i}: a key is not in Z_p^r"
        )
        for label, commitments, proof in (
            (b"pk vote", guardian.commitments, guardian.proof),
            (b"pk data", guardian.data_commitments, guardian.data_proof),
        ):
            responses = proof.responses
            if not step.check(
                len(responses) == record.k + 1 and all(0 <= v < q for v in responses),
                f"2.B guardian {i}: {label.decode()} responses must be k+1 values in Z_q",
            ):
                continue
            bases = [*commitments, guardian.kappa]
            h_values = [
                gmpy2.powmod(group.g, v, p) * gmpy2.powmod(base, proof.challenge, p) % p
                for v, base in zip(responses, bases, strict=True)
            ]
            challenge = eghash.keygen_challenge(
                group, record.h_p, label, i, commitments, guardian.kappa, h_values
            )
            step.check(
                challenge == proof.challenge, f"2.C guardian {i}: {label.decode()} challenge"
            )


def _verify_joint_keys(record: ElectionRecord, step: StepResult) -> None:
    group = record.group
    product, data_product = mpz(1), mpz(1)
    for guardian in record.guardians:
        product = product * guardian.commitments[0] % group.p
        data_product = data_product * guardian.data_commitments[0] % group.p
    step.check(product == record.joint_key, "3.A K != ∏ K_i")
    step.check(data_product == record.joint_data_key, "3.B K̂ != ∏ K̂_i")


def _verify_extended_hash(record: ElectionRecord, step: StepResult) -> None:
    h_e = eghash.extended_base_hash(
        record.group, record.h_b, record.joint_key, record.joint_data_key
    )
    step.check(h_e == record.h_e, "4.A H_E != H(H_B; 0x14, K, K̂)")


def _verify_identifiers(record: ElectionRecord, step: StepResult) -> None:
    seen: set[bytes] = set()
    for ballot in record.ballots:
        code = ballot.confirmation_code.hex().upper()[:16]
        step.check(ballot.id_b not in seen, f"5.A ballot {code}: id_B repeated")
        seen.add(ballot.id_b)
        step.check(
            eghash.identifier_hash(record.h_e, ballot.id_b) == ballot.h_i,
            f"5.B ballot {code}: H_I != H(H_E; 0x20, id_B)",
        )


# -- steps 6-7: ballot proofs -----------------------------------------------------------------


@dataclass(frozen=True)
class _ProofContext:
    group: Group
    joint_key: mpz
    h_e: bytes
    manifest: Manifest


def _range_ok(
    context: _ProofContext,
    h_i: bytes,
    contest: int,
    option: int | None,
    ciphertext: Ciphertext,
    proof: RangeProof,
    limit: int,
    chains: tuple[list[mpz], list[mpz]],
) -> bool:
    """Verification 6.1-6.D / 7.3-7.D for one proof, from the equations, given the squaring
    chains of α and β (`power_chain`) from which the powers α^c_j, β^c_j are taken."""
    group = context.group
    p, q = group.p, group.q
    if len(proof.challenges) != limit + 1 or len(proof.responses) != limit + 1:
        return False
    if not all(0 <= c < q for c in proof.challenges) or not all(
        0 <= v < q for v in proof.responses
    ):
        return False
    g_table = group.fixed_base(group.g)
    k_table = group.fixed_base(context.joint_key)
    alpha_powers = chain_powers(group, chains[0], proof.challenges)
    beta_powers = chain_powers(group, chains[1], proof.challenges)
    commitments = []
    for j, (c_j, v_j) in enumerate(zip(proof.challenges, proof.responses, strict=True)):
        a_j = g_table.pow(v_j) * alpha_powers[j] % p
        w_j = (v_j - j * c_j) % q
        b_j = k_table.pow(w_j) * beta_powers[j] % p
        commitments.append((a_j, b_j))
    c = eghash.range_challenge(
        group, h_i, contest, option, ciphertext.alpha, ciphertext.beta, commitments
    )
    return bool(c == sum(proof.challenges) % q)


def _member_chains(group: Group, ct: Ciphertext) -> tuple[list[mpz], list[mpz]] | None:
    """6.A: α, β ∈ Z_p^r (range, then x^q = 1 read off the squaring chain); their chains."""
    if not (0 < ct.alpha < group.p and 0 < ct.beta < group.p):
        return None
    alpha_chain, beta_chain = power_chain(group, ct.alpha), power_chain(group, ct.beta)
    if not (chain_member(group, alpha_chain) and chain_member(group, beta_chain)):
        return None
    return alpha_chain, beta_chain


def _check_ballot(
    context: _ProofContext, ballot: EncryptedBallot
) -> tuple[int, list[str], int, list[str]]:
    """Steps 6 and 7 for one ballot: (passed6, failures6, passed7, failures7)."""
    group = context.group
    name = ballot.confirmation_code.hex().upper()[:16]
    passed6, failed6, passed7, failed7 = 0, [], 0, []
    try:
        style = context.manifest.style(ballot.style)
    except ElectionCryptoError:
        return 0, [f"ballot {name}: unknown ballot style {ballot.style}"], 0, []
    if tuple(c.contest for c in ballot.contests) != style.contests:
        failed7.append(f"ballot {name}: contests differ from ballot style {ballot.style}")
    for encrypted in ballot.contests:
        try:
            contest = context.manifest.contest(encrypted.contest)
        except ElectionCryptoError:
            failed6.append(f"ballot {name}: unknown contest {encrypted.contest}")
            continue
        if tuple(s.option for s in encrypted.selections) != tuple(o.index for o in contest.options):
            failed6.append(
                f"ballot {name} contest {contest.index}: options differ from the manifest"
            )
            continue
        alpha_bar, beta_bar = mpz(1), mpz(1)
        chains = []
        for selection, option in zip(encrypted.selections, contest.options, strict=True):
            ct = selection.ciphertext
            label = f"ballot {name} contest {contest.index} option {option.index}"
            pair = _member_chains(group, ct)
            if pair is None:
                failed6.append(f"6.A {label}: α or β not in Z_p^r")
                continue
            chains.append(pair)
            if _range_ok(
                context,
                ballot.h_i,
                contest.index,
                option.index,
                ct,
                selection.proof,
                option.selection_limit,
                pair,
            ):
                passed6 += 1
            else:
                failed6.append(f"6.B-D {label}: range proof")
            alpha_bar = alpha_bar * ct.alpha % group.p
            beta_bar = beta_bar * ct.beta % group.p
        aggregate = Ciphertext(alpha_bar, beta_bar)
        if 0 < len(chains) <= 4:  # the product's chain from the selections' chains is cheaper
            bar_chains = (
                chain_product(group, [a for a, _ in chains]),
                chain_product(group, [b for _, b in chains]),
            )
        else:
            bar_chains = (power_chain(group, alpha_bar), power_chain(group, beta_bar))
        if _range_ok(
            context,
            ballot.h_i,
            contest.index,
            None,
            aggregate,
            encrypted.limit_proof,
            contest.selection_limit,
            bar_chains,
        ):
            passed7 += 1
        else:
            failed7.append(f"7.B-D ballot {name} contest {contest.index}: selection-limit proof")
    return passed6, failed6, passed7, failed7


_WORKER_CONTEXT: _ProofContext | None = None


def _worker_init(context: _ProofContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


def _worker_check(ballot: EncryptedBallot) -> tuple[int, list[str], int, list[str]]:
    assert _WORKER_CONTEXT is not None
    return _check_ballot(_WORKER_CONTEXT, ballot)


def _verify_ballots(
    record: ElectionRecord, manifest: Manifest, step6: StepResult, step7: StepResult, workers: int
) -> None:
    context = _ProofContext(record.group, record.joint_key, record.h_e, manifest)
    results: Iterable[tuple[int, list[str], int, list[str]]]
    if workers > 1 and len(record.ballots) > 50:
        with multiprocessing.get_context("fork").Pool(workers, _worker_init, (context,)) as pool:
            results = pool.map(_worker_check, record.ballots, chunksize=32)
    else:
        results = [_check_ballot(context, ballot) for ballot in record.ballots]
    for passed6, failed6, passed7, failed7 in results:
        step6.passed += passed6
        step6.failures.extend(failed6)
        step7.passed += passed7
        step7.failures.extend(failed7)


# -- step 8: confirmation codes and chains ------------------------------------------------------


def _verify_codes(
    record: ElectionRecord, manifest: Manifest, step: StepResult, held_codes: Iterable[bytes]
) -> None:
    group = record.group
    by_code: dict[bytes, EncryptedBallot] = {}
    for ballot in record.ballots:
        name = ballot.confirmation_code.hex().upper()[:16]
        hashes = []
        for encrypted in ballot.contests:
            chi = eghash.contest_hash(
                group,
                ballot.h_i,
                encrypted.contest,
                [(s.ciphertext.alpha, s.ciphertext.beta) for s in encrypted.selections],
            )
            step.check(
                chi == encrypted.contest_hash, f"8.A ballot {name} contest {encrypted.contest}"
            )
            hashes.append(chi)
        code = eghash.confirmation_code(ballot.h_i, hashes, ballot.chaining_field)
        step.check(code == ballot.confirmation_code, f"8.B ballot {name}: H_C")
        step.check(code not in by_code, f"8.B ballot {name}: confirmation code repeated")
        by_code[ballot.confirmation_code] = ballot
    logged: set[bytes] = set()
    for log in record.devices:
        device_hash = eghash.device_hash(record.h_e, log.device)
        step.check(device_hash == log.device_hash, f"8.C device {log.device!r}: H_DI")
        if log.chaining == "none":
            expected_field = eghash.NO_CHAINING + device_hash
            for code in log.codes:
                found = by_code.get(code)
                if step.check(
                    found is not None,
                    f"8.D device {log.device!r}: code {code.hex()[:16]} has no ballot",
                ):
                    assert found is not None
                    step.check(
                        found.chaining_field == expected_field,
                        f"8.D ballot {code.hex()[:16]}: B_C",
                    )
                    step.check(found.device == log.device, f"8.D ballot {code.hex()[:16]}: device")
                logged.add(code)
            continue
        first, previous = eghash.chain_start(record.h_e, device_hash)
        for position, code in enumerate(log.codes, start=1):
            entry = by_code.get(code)
            label = f"device {log.device!r} ballot {position}"
            if step.check(entry is not None, f"8.E {label}: code {code.hex()[:16]} has no ballot"):
                assert entry is not None
                step.check(
                    entry.chaining_field == eghash.SIMPLE_CHAINING + previous,
                    f"8.E {label}: B_C does not chain to the previous code (a ballot is missing)",
                )
                step.check(entry.device == log.device, f"8.E {label}: device")
            logged.add(code)
            previous = code
        if log.codes:
            closing = eghash.chain_close(record.h_e, log.codes[-1], first)
            step.check(log.closing_hash == closing, f"8.G device {log.device!r}: closing hash")
    for code in by_code:
        step.check(code in logged, f"8 ballot {code.hex().upper()[:16]} is on no device log")
    for code in held_codes:
        step.check(
            code in by_code,
            f"8 a voter's confirmation code {code.hex().upper()[:16]} is not in the record",
        )


# -- steps 9-11: tally ----------------------------------------------------------------------


def _verify_aggregation(record: ElectionRecord, manifest: Manifest, step: StepResult) -> None:
    p = record.group.p
    if not record.encrypted_tally and record.tally is None:
        step.applicable = False
        step.note = "no tally in the record yet"
        return
    for contest in manifest.contests:
        for option in contest.options:
            key = (contest.index, option.index)
            big_a, big_b = mpz(1), mpz(1)
            for ballot in record.ballots:
                if ballot.state != CAST:
                    continue
                for encrypted in ballot.contests:
                    if encrypted.contest != contest.index:
                        continue
                    for selection in encrypted.selections:
                        if selection.option == option.index:
                            big_a = big_a * selection.ciphertext.alpha % p
                            big_b = big_b * selection.ciphertext.beta % p
            published = record.encrypted_tally.get(key)
            if step.check(published is not None, f"9 option {key} has no encrypted tally"):
                assert published is not None
                step.check(published.alpha == big_a, f"9.A option {key}: A != ∏ α")
                step.check(published.beta == big_b, f"9.B option {key}: B != ∏ β")


def _lagrange(q: mpz, available: Sequence[int], i: int) -> mpz:
    numerator, denominator = mpz(1), mpz(1)
    for other in available:
        if other != i:
            numerator = numerator * other % q
            denominator = denominator * (other - i) % q
    return numerator * gmpy2.invert(denominator, q) % q


def _verify_tally(record: ElectionRecord, step: StepResult) -> None:
    group = record.group
    p, q = group.p, group.q
    tally = record.tally
    if tally is None:
        step.applicable = False
        step.note = "no decrypted tally in the record yet"
        return
    available = list(tally.available)
    step.check(
        len(available) >= record.k
        and len(set(available)) == len(available)
        and all(1 <= i <= record.n for i in available),
        f"10 available guardians {available}: need {record.k} distinct of 1..{record.n}",
    )
    weights = {i: _lagrange(q, available, i) for i in available}
    public = {}
    for i in available:
        product = mpz(1)
        for guardian in record.guardians:
            for m, commitment in enumerate(guardian.commitments):
                product = product * gmpy2.powmod(commitment, pow(i, m, int(q)), p) % p
        public[i] = product
    for entry in tally.options:
        key = (entry.contest, entry.option)
        ciphertext = record.encrypted_tally.get(key)
        if not step.check(ciphertext is not None, f"10 option {key}: no encrypted tally"):
            continue
        assert ciphertext is not None
        step.check(0 <= entry.response < q, f"10.A option {key}: v not in Z_q")
        m = ciphertext.beta * gmpy2.invert(entry.value, p) % p
        a = (
            gmpy2.powmod(group.g, entry.response, p)
            * gmpy2.powmod(record.joint_key, entry.challenge, p)
            % p
        )
        b = (
            gmpy2.powmod(ciphertext.alpha, entry.response, p)
            * gmpy2.powmod(m, entry.challenge, p)
            % p
        )
        challenge = eghash.decryption_challenge(
            group,
            record.h_e,
            entry.contest,
            entry.option,
            ciphertext.alpha,
            ciphertext.beta,
            a,
            b,
            m,
        )
        step.check(challenge == entry.challenge, f"10.B option {key}: the decryption proof fails")
        step.check(
            gmpy2.powmod(record.joint_key, entry.tally, p) == entry.value,
            f"10.C option {key}: T != K^t",
        )
        if entry.shares:
            # Note 3.7: each guardian's share must match its response, and the shares must
            # combine to M, so a forged share is pinned on its guardian.
            shares = {s.guardian: s for s in entry.shares}
            if not step.check(sorted(shares) == sorted(available), f"10 option {key}: shares ≠ U"):
                continue
            combined = mpz(1)
            response_sum = mpz(0)
            for i in available:
                share = shares[i]
                c_i = entry.challenge * weights[i] % q
                a_i = gmpy2.powmod(group.g, share.response, p) * gmpy2.powmod(public[i], c_i, p) % p
                b_i = (
                    gmpy2.powmod(ciphertext.alpha, share.response, p)
                    * gmpy2.powmod(share.partial, c_i, p)
                    % p
                )
                step.check(
                    a_i == share.a and b_i == share.b,
                    f"10 option {key}: guardian {i}'s partial decryption does not verify",
                )
                combined = combined * gmpy2.powmod(share.partial, weights[i], p) % p
                response_sum = (response_sum + share.response) % q
            step.check(combined == m, f"10 option {key}: the shares do not combine to M")
            step.check(response_sum == entry.response, f"10 option {key}: Σ v_i != v")


def _verify_tally_contents(record: ElectionRecord, manifest: Manifest, step: StepResult) -> None:
    tally = record.tally
    if tally is None:
        step.applicable = False
        step.note = "no decrypted tally in the record yet"
        return
    labels = tally.labels
    decrypted = {(o.contest, o.option) for o in tally.options}
    for index, (label, options) in labels.items():
        contest = next((c for c in manifest.contests if c.index == index), None)
        if not step.check(
            contest is not None and contest.label == label,
            f"11.A contest label {label!r} not in the manifest",
        ):
            continue
        assert contest is not None
        manifest_options = {o.index: o.label for o in contest.options}
        for option_index, option_label in options.items():
            step.check(
                manifest_options.get(option_index) == option_label,
                f"11.B contest {label!r}: option label {option_label!r} not in the manifest",
            )
        for option_index, option_label in manifest_options.items():
            step.check(
                options.get(option_index) == option_label and (index, option_index) in decrypted,
                f"11.C contest {label!r}: option {option_label!r} missing from the tally",
            )
    used = {c.contest for b in record.ballots for c in b.contests}
    for index in sorted(used):
        step.check(index in labels, f"11.D contest {index} is on a ballot but not in the tally")


# -- steps 13-14: challenged ballots ---------------------------------------------------------


def _verify_challenged(
    record: ElectionRecord, manifest: Manifest, step13: StepResult, step14: StepResult
) -> None:
    group = record.group
    p = group.p
    ballots = {b.confirmation_code: b for b in record.ballots}
    k_table = group.fixed_base(record.joint_key)
    g_table = group.fixed_base(group.g)
    published = {c.confirmation_code for c in record.challenged}
    for ballot in record.ballots:
        if ballot.state == CHALLENGED:
            step13.check(
                ballot.confirmation_code in published,
                f"13 challenged ballot {ballot.confirmation_code.hex()[:16]}: no published nonces",
            )
    for challenged in record.challenged:
        name = challenged.confirmation_code.hex().upper()[:16]
        opened = ballots.get(challenged.confirmation_code)
        if not step13.check(
            opened is not None and opened.state == CHALLENGED, f"13 {name}: no challenged ballot"
        ):
            continue
        assert opened is not None
        ballot = opened
        try:
            style = manifest.style(ballot.style)
        except ElectionCryptoError:
            step14.failures.append(f"14.A {name}: unknown ballot style")
            continue
        step14.check(
            set(challenged.selections) <= set(style.contests), f"14.A {name}: contest off the style"
        )
        step14.check(
            set(style.contests) <= set(challenged.selections), f"14.B {name}: style contest missing"
        )
        hashes = []
        for encrypted in ballot.contests:
            contest = manifest.contest(encrypted.contest)
            values = challenged.selections.get(contest.index, ())
            nonces = challenged.nonces.get(contest.index, ())
            if not step14.check(
                len(values) == len(contest.options) == len(nonces),
                f"14.C-D {name} contest {contest.index}: options differ from the manifest",
            ):
                hashes.append(encrypted.contest_hash)
                continue
            step14.check(
                all(v <= o.selection_limit for v, o in zip(values, contest.options, strict=True)),
                f"14.E {name} contest {contest.index}: a selection exceeds its limit",
            )
            step14.check(
                sum(values) <= contest.selection_limit,
                f"14.F {name} contest {contest.index}: selections exceed the contest limit",
            )
            recomputed = [
                (g_table.pow(xi), k_table.pow(v + xi) % p)
                for v, xi in zip(values, nonces, strict=True)
            ]
            published_cts = [(s.ciphertext.alpha, s.ciphertext.beta) for s in encrypted.selections]
            step13.check(
                recomputed == published_cts,
                f"13.1-2 {name} contest {contest.index}: nonces do not reproduce the ciphertexts",
            )
            hashes.append(eghash.contest_hash(group, ballot.h_i, contest.index, recomputed))
        code = eghash.confirmation_code(ballot.h_i, hashes, ballot.chaining_field)
        step13.check(code == ballot.confirmation_code, f"13.B {name}: H_C")
    if not record.challenged and not any(b.state == CHALLENGED for b in record.ballots):
        step13.note = step14.note = "no challenged ballots"


def main(argv: Sequence[str] | None = None) -> int:
    """`python3 -m urbis.election.verify RECORD_DIR [--held CODE ...] [--json]`: verify an
    exported record with no node at all. Exit 0 if every applicable step passed, 1 if not,
    2 if the record cannot be read."""
    import argparse
    import json
    import sys

    from urbis.election.record import RecordInvalid

    parser = argparse.ArgumentParser(
        prog="python3 -m urbis.election.verify",
        description="Run ElectionGuard 2.1 Verifications 1-14 on an election record directory.",
        epilog="example: python3 -m urbis.election.verify ./record --held 9C8CAD03...",
    )
    parser.add_argument(
        "record", help="directory written by ElectionRecord.to_dir / urbis vote export"
    )
    parser.add_argument(
        "--held", nargs="*", default=[], help="confirmation codes voters kept (hex)"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes for the ballot proofs")
    parser.add_argument("--allow-toy", action="store_true", help="accept the toy test group")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        record = ElectionRecord.from_dir(args.record)
        held = [bytes.fromhex(code) for code in args.held]
    except (RecordInvalid, ElectionCryptoError, ValueError) as error:
        print(f"{getattr(error, 'code', 'election.record_invalid')}: {error}", file=sys.stderr)
        return 2
    allowed = (STANDARD.name, "toy-256") if args.allow_toy else (STANDARD.name,)
    report = verify_record(
        record, held_codes=held, allowed_parameter_sets=allowed, workers=args.workers
    )
    print(json.dumps(report.to_json(), indent=1) if args.json else report.to_text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
