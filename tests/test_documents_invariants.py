"""Documents invariants (I1-I3 of the module docstring) after random sequences of anchors,
batches, revocations and supersessions by notaries of two departments (and by others)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, doc_hash, scratch_chain
from urbis.chain.tx import Action
from urbis.modules.documents.invariants import check_invariants, check_transition, snapshot
from urbis.sdk.builder import action

departments = st.sampled_from(("land", "finance"))
hashes = st.sampled_from(("a", "b", "c", "d")).map(doc_hash)


def actions() -> st.SearchStrategy[Action]:
    return st.one_of(
        st.builds(
            lambda d, h: action("documents", "anchor", department=d, hash=h, doc_type="deed"),
            departments,
            hashes,
        ),
        st.builds(
            lambda d, h: action(
                "documents", "anchor_batch", department=d, root=h, count=3, doc_type="deed"
            ),
            departments,
            hashes,
        ),
        st.builds(
            lambda d, h: action("documents", "revoke", department=d, hash=h, reason="void"),
            departments,
            hashes,
        ),
        st.builds(
            lambda d, old, new: action(
                "documents", "supersede", department=d, old_hash=old, new_hash=new, doc_type="v2"
            ),
            departments,
            hashes,
            hashes,
        ),
    )


steps = st.lists(st.tuples(st.booleans(), actions()), min_size=1, max_size=15)
"""(impostor, action): the department's own notary sends it, or registry's, who lacks the role."""


def run_steps(chain: CityChain, drawn: list[tuple[bool, Action]]) -> list[str]:
    problems = check_invariants(chain.app.store)
    for impostor, step in drawn:
        sender = "registry" if impostor else str(step.args["department"])
        before = snapshot(chain.app.store)
        receipt = chain.run_as_next(sender, step)
        acted = [str(step.args["department"])] if receipt.ok else []
        problems += check_transition(before, snapshot(chain.app.store), acted)
        problems += check_invariants(chain.app.store)
    return problems


@given(drawn=steps)
def test_random_document_actions_keep_every_invariant(drawn: list[tuple[bool, Action]]) -> None:
    with scratch_chain() as chain:
        assert run_steps(chain, drawn) == []


def test_checker_finds_a_deleted_record(tmp_path: Path) -> None:
    chain = CityChain(tmp_path)
    before = snapshot(chain.app.store)
    anchor = action("documents", "anchor", department="land", hash=doc_hash("a"), doc_type="d")
    assert chain.run("land", anchor).ok
    after = snapshot(chain.app.store)
    assert check_transition(before, after) == [] and check_invariants(chain.app.store) == []
    assert [p[:3] for p in check_transition(after, before)] == ["I1:"]
    chain.close()
