"""Identity invariants (I1-I3 of the module docstring) after random sequences of registry
actions, trust grants and withdrawals, and status list changes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, city_genesis, role_grant, scratch_chain
from tests.helpers.identity import define_type
from urbis.chain.tx import Action
from urbis.modules.identity.invariants import check_invariants, check_transition, snapshot
from urbis.sdk.builder import action

ISSUERS = ("transit", "land")
vcts = st.sampled_from(("ResidentID", "TransitPass"))
issuers = st.sampled_from(ISSUERS)


def define(vct: str) -> Action:
    return define_type(vct, ["zone", "age_over_18"])


def registry_actions() -> st.SearchStrategy[Action]:
    return st.one_of(
        st.builds(define, vcts),
        st.builds(
            lambda v, i: action("identity", "trust_issuer", vct=v, issuer=account(i)), vcts, issuers
        ),
        st.builds(
            lambda v, i: action("identity", "withdraw_issuer", vct=v, issuer=account(i)),
            vcts,
            issuers,
        ),
        st.builds(
            lambda v, c: action(
                "identity",
                "register_verifier",
                verifier=account("transit"),
                name="bus",
                allowed_claims={v: c},
            ),
            vcts,
            st.lists(st.sampled_from(("zone", "age_over_18", "birthdate")), unique=True),
        ),
    )


def issuer_actions() -> st.SearchStrategy[Action]:
    return st.one_of(
        st.builds(
            lambda i, size, bits: action(
                "identity", "create_status_list", list_id=i, size=size, bits=bits
            ),
            st.integers(0, 1),
            st.sampled_from((1024, 40_000)),
            st.sampled_from((1, 2, 8)),
        ),
        st.builds(
            lambda i, index, status: action(
                "identity", "set_status", list_id=i, index=index, status=status
            ),
            st.integers(0, 1),
            st.sampled_from((0, 1, 1023, 1024, 39_999)),
            st.integers(0, 3),
        ),
        st.builds(
            lambda i, indexes: action("identity", "allocate_status", list_id=i, indexes=indexes),
            st.integers(0, 1),
            st.lists(
                st.sampled_from((0, 1, 1023, 1024, 32_767, 32_768, 39_999, 40_000)),
                min_size=1,
                max_size=3,
                unique=True,
            ),
        ),
    )


steps = st.lists(
    st.one_of(
        st.tuples(st.just("registry"), registry_actions()),
        st.tuples(issuers, issuer_actions()),
    ),
    min_size=1,
    max_size=15,
)


def run_steps(chain: CityChain, drawn: list[tuple[str, Action]]) -> list[str]:
    problems = check_invariants(chain.app.store)
    for sender, step in drawn:
        before = snapshot(chain.app.store)
        chain.run_as_next(sender, step)
        problems += check_transition(before, snapshot(chain.app.store))
        problems += check_invariants(chain.app.store)
    return problems


def identity_city(path: Path) -> CityChain:
    chain = CityChain(path, city_genesis(extra_accounts=("transit",)))
    grant = role_grant("registry", "trust_admin")
    assert chain.run("registry", grant).ok
    return chain


@given(drawn=steps)
def test_random_identity_actions_keep_every_invariant(drawn: list[tuple[str, Action]]) -> None:
    with scratch_chain(identity_city) as chain:
        assert run_steps(chain, drawn) == []


def test_checker_finds_a_rewritten_trust_period(tmp_path: Path) -> None:
    chain = identity_city(tmp_path)
    assert chain.run("registry", define("TransitPass")).ok
    assert chain.run(
        "registry", action("identity", "trust_issuer", vct="TransitPass", issuer=account("transit"))
    ).ok
    before = snapshot(chain.app.store)
    assert chain.run(
        "registry",
        action("identity", "withdraw_issuer", vct="TransitPass", issuer=account("transit")),
    ).ok
    after = snapshot(chain.app.store)
    assert check_transition(before, after) == [] and check_invariants(chain.app.store) == []
    assert [p[:3] for p in check_transition(after, before)] == ["I2:"]
    chain.close()


def test_checker_finds_a_handed_out_index_taken_back(tmp_path: Path) -> None:
    chain = identity_city(tmp_path)
    assert chain.run("transit", action("identity", "create_status_list", list_id=0, size=40_000)).ok
    before = snapshot(chain.app.store)
    allocate = action("identity", "allocate_status", list_id=0, indexes=[5, 39_999])
    assert chain.run("transit", allocate).ok
    after = snapshot(chain.app.store)
    assert check_transition(before, after) == [] and check_invariants(chain.app.store) == []
    assert [p[:3] for p in check_transition(after, before)] == ["I4:", "I4:"]
    again = chain.run("transit", action("identity", "allocate_status", list_id=0, indexes=[5]))
    assert again.code == "identity.index_allocated"
    chain.close()
