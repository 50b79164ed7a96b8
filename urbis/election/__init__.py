# Spec notation (α, β, ℓ, σ, ...) is kept in text so it reads against the spec.
# ruff: noqa: RUF002, RUF003
"""ElectionGuard 2.1 cryptography for Urbis: a library with no chain code in it.

Modules, and what to call in what order:

``group``      `STANDARD` (the spec's 4096-bit group), `REDUCED` (3072-bit), `TOY` (tests only).
               `group.element(x)` / `group.exponent(x)` check every received value; errors
               carry a stable `code` (`election.element_zero`, `..._out_of_range`,
               `..._not_in_subgroup`, `election.exponent_out_of_range`).
``hash``       H, H_q and every §5.5 encoding: `parameter_base_hash(group, n, k)`,
               `election_base_hash(h_p, manifest_bytes)`, `extended_base_hash(...)`, ...
``ceremony``   1. each guardian i: `generate_guardian(group, h_p, i, k)` -> (secret, public);
               2. anyone: `verify_guardian_key(group, h_p, public, k)` (Verification 2);
               3. guardian i for each ℓ != i: `encrypt_share(group, h_p, secret_i, public_ℓ)`;
               4. guardian ℓ: `receive_share(...)` (raises `ShareInvalid`: the complaint);
                  then `key_share(group, ℓ, {j: (P_j(ℓ), P̂_j(ℓ))}, n)` with its `own_share`;
               5. `joint_keys(group, publics)` -> (K, K̂).
``ballot``     6. `ElectionContext.build(group, n, k, manifest_bytes, publics)`: H_B, K, K̂, H_E;
               7. `Device.start(context, label, "simple")`;
               8. `encrypt_ballot(context, style, {contest: [values]}, device)` -> (ballot, ξ_B);
               9. validators: `verify_ballot(context, ballot)` -> `BallotCheck` naming the failed
                  check (`.raise_for_failure()` raises its coded error);
               10. Benaloh challenge: `challenge_ballot(context, ballot, ξ_B)` publishes the
                  selection nonces; `verify_challenged(context, ballot, challenged)`.
``tally``      11. `aggregate(context, ballots)`; 12. per guardian `commit` -> `reveal` ->
               (`challenges`) -> `respond`; 13. `combine(...)` -> `TallyResult`
               (`QuorumNotMet` says how many guardians are still needed).
               `decrypt_tally(...)` runs all rounds in one process.
``record``     `ElectionRecord` with `to_dir(path)` / `from_dir(path)`; every type has
               `to_json(group)` / `from_json(group, data)` with element checks on decode;
               `EncryptedBallot.to_bytes/from_bytes` are the canonical ledger bytes.
``verify``     THE VERIFIER, written apart from the encryption code (imports group, hash and
               record only): `verify_record(record) -> Report`, one named check per §6.2 step.
"""
