"""Known answers for the §5 hashes, from the spec's parameters and an independent implementation.

The vectors in tests/election_vectors/electionguard_cs_kat.json come from the public
Sharkbait-Software/electionguard-cs repository (its test/kat/vectors.json, generated there
from the specification text); they are taken as data. Each test pushes the vector's inputs
through this library's own functions, never through a re-statement of the formula.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from urbis.election import hash as eghash
from urbis.election.group import STANDARD

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "election_vectors" / "electionguard_cs_kat.json").read_text("utf-8")
)
MAIN = VECTORS["main_chain"]


def test_standard_parameters_are_the_spec_values() -> None:
    """§3.1.1: p - 1 = q·r, g = 2^r mod p, g has order q, and the fixed top/bottom bits."""
    p, q, r, g = STANDARD.p, STANDARD.q, STANDARD.r, STANDARD.g
    assert q == 2**256 - 189
    assert p - 1 == q * r
    assert g == pow(2, int(r), int(p))
    assert pow(int(g), int(q), int(p)) == 1
    assert int(p) >> (4096 - 256) == 2**256 - 1
    assert int(p) & (2**256 - 1) == 2**256 - 1
    assert int(p).bit_length() == 4096


@pytest.mark.parametrize(
    "vector", VECTORS["parameter_base_hash"], ids=lambda v: f"n{v['n']}k{v['k']}"
)
def test_parameter_base_hash_known_answers(vector: dict[str, Any]) -> None:
    """H_P for (n=5, k=3), (n=3, k=2) and (1, 1) in the standard group (eq. 4)."""
    assert (
        eghash.parameter_base_hash(STANDARD, vector["n"], vector["k"]).hex().upper()
        == vector["expected_hex"]
    )


@pytest.mark.parametrize("vector", VECTORS["election_base_hash"])
def test_election_base_hash_known_answers(vector: dict[str, Any]) -> None:
    """H_B over the manifest's exact bytes, empty and multi-byte UTF-8 included (eq. 5)."""
    h_b = eghash.election_base_hash(
        bytes.fromhex(vector["H_P_hex"]), bytes.fromhex(vector["manifest_hex"])
    )
    assert h_b.hex().upper() == vector["expected_hex"]


def test_main_chain_h_p_h_b_h_e_h_i_h_di() -> None:
    """The whole chain H_P -> H_B -> H_E (K = g^5, K̂ = g^7) -> H_I -> H_DI, link by link."""
    h_p = eghash.parameter_base_hash(STANDARD, MAIN["n"], MAIN["k"])
    assert h_p.hex().upper() == MAIN["H_P_hex"]
    h_b = eghash.election_base_hash(h_p, bytes.fromhex(MAIN["manifest_hex"]))
    assert h_b.hex().upper() == MAIN["H_B_hex"]
    joint = STANDARD.g_pow(MAIN["K_exponent"])
    joint_data = STANDARD.g_pow(MAIN["K_hat_exponent"])
    h_e = eghash.extended_base_hash(STANDARD, h_b, joint, joint_data)
    assert h_e.hex().upper() == MAIN["H_E_hex"]
    h_i = eghash.identifier_hash(h_e, bytes.fromhex(MAIN["id_B_hex"]))
    assert h_i.hex().upper() == MAIN["H_I_hex"]
    assert eghash.device_hash(h_e, MAIN["S_device"]).hex().upper() == MAIN["H_DI_hex"]


@pytest.mark.parametrize("vector", VECTORS["device_info_hash"], ids=lambda v: repr(v["S_device"]))
def test_device_hash_known_answers(vector: dict[str, Any]) -> None:
    h_e = bytes.fromhex(vector["H_E_hex"])
    assert eghash.device_hash(h_e, vector["S_device"]).hex().upper() == vector["expected_hex"]


@pytest.mark.parametrize(
    "vector", VECTORS["guardian_share_kdf_key"], ids=lambda v: f"k{v['i']}{v['l']}"
)
def test_share_key_known_answers(vector: dict[str, Any]) -> None:
    """k_i,l (eq. 16) with kappa_l = g^e, alpha = g^xi, beta = kappa_l^xi (as derived)."""
    kappa = STANDARD.g_pow(vector["kappa_exponent"])
    alpha = STANDARD.g_pow(vector["xi"])
    beta = STANDARD.pow(kappa, vector["xi"])
    key = eghash.share_key(
        STANDARD, bytes.fromhex(vector["H_P_hex"]), vector["i"], vector["l"], kappa, alpha, beta
    )
    assert key.hex().upper() == vector["expected_hex"]


@pytest.mark.parametrize("vector", VECTORS["contest_hash"])
def test_contest_hash_known_answer(vector: dict[str, Any]) -> None:
    cts = [(STANDARD.g_pow(a), STANDARD.g_pow(b)) for a, b in vector["ciphertext_exponents"]]
    chi = eghash.contest_hash(STANDARD, bytes.fromhex(vector["H_I_hex"]), vector["l"], cts)
    assert chi.hex().upper() == vector["expected_hex"]


@pytest.mark.parametrize("vector", VECTORS["confirmation_code"], ids=lambda v: v["name"])
def test_confirmation_code_known_answers(vector: dict[str, Any]) -> None:
    code = eghash.confirmation_code(
        bytes.fromhex(vector["H_I_hex"]),
        [bytes.fromhex(h) for h in vector["contest_hashes_hex"]],
        bytes.fromhex(vector["B_C_hex"]),
    )
    assert code.hex().upper() == vector["expected_hex"]


def test_chain_start_and_close_known_answers() -> None:
    """H_0 (eq. 74-75) and the closing hash (eq. 77-78) of a simple-chaining device."""
    chain = VECTORS["chain"]
    h_e = bytes.fromhex(chain["H_E_hex"])
    first, h_0 = eghash.chain_start(h_e, bytes.fromhex(chain["H_DI_hex"]))
    assert h_0.hex().upper() == chain["H_0_hex"]
    closing = eghash.chain_close(h_e, bytes.fromhex(chain["H_last_hex"]), first)
    assert closing.hex().upper() == chain["closing_hex"]


def test_serialization_draft_h_p_is_the_v2_0_formula() -> None:
    """The serialization draft's example h_p (2B3B025E...) is H(ver "v2.0.0"; 0x00, p, q, g),
    v2.0's H_P without n and k; v2.1's H_P (eq. 4) adds n and k and the new version bytes."""
    ver_2_0 = b"v2.0.0" + bytes(26)
    h_p_2_0 = eghash.H(
        ver_2_0,
        b"\x00",
        STANDARD.p_to_bytes(STANDARD.p),
        STANDARD.q_to_bytes(STANDARD.q),
        STANDARD.p_to_bytes(STANDARD.g),
    )
    draft_h_p = "2B3B025E50E09C119CBA7E9448ACD1CABC9447EF39BF06327D81C665CDD86296"
    assert h_p_2_0.hex().upper() == draft_h_p
    assert eghash.parameter_base_hash(STANDARD, 5, 3) != h_p_2_0
