"""Accounts invariants (I1-I3 of the module docstring) after random sequences of actions.

Transactions go straight into blocks (as a proposer might put them), so wrong signers,
wrong nonces and failing actions are all exercised; the checkers must find nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, city_genesis, key, scratch_chain
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action
from urbis.modules.accounts.invariants import check_invariants, check_transition, snapshot
from urbis.modules.accounts.records import AccountKey
from urbis.sdk.builder import action

PEOPLE = ("alice", "bob", "carol")
NAMES = (*PEOPLE, "k1", "k2", "k3")
"""People with accounts at genesis, and keys that new accounts or rotations may use."""

names = st.sampled_from(NAMES)
people = st.sampled_from(PEOPLE)


def public(name: str) -> bytes:
    return key(name).public_key.raw


@st.composite
def account_keys(draw: Any) -> list[AccountKey]:
    chosen = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    return [AccountKey(public(n), draw(st.integers(1, 3))) for n in chosen]


def actions() -> st.SearchStrategy[Action]:
    return st.one_of(
        st.builds(
            lambda ks, t: action("accounts", "create", keys=ks, threshold=t),
            account_keys(),
            st.integers(1, 4),
        ),
        st.builds(
            lambda n, w: action("accounts", "add_key", key=public(n), weight=w),
            names,
            st.integers(1, 3),
        ),
        st.builds(lambda n: action("accounts", "remove_key", key=public(n)), names),
        st.builds(
            lambda a, b: action("accounts", "rotate_key", old_key=public(a), new_key=public(b)),
            names,
            names,
        ),
        st.builds(lambda t: action("accounts", "set_threshold", threshold=t), st.integers(1, 5)),
        st.builds(
            lambda gs, t, d: action(
                "accounts",
                "set_guardians",
                guardians=[account(g) for g in gs],
                threshold=min(t, len(gs)),
                delay_blocks=d,
            ),
            st.lists(people, min_size=1, max_size=3, unique=True),
            st.integers(1, 3),
            st.integers(1, 2),
        ),
        st.builds(
            lambda who, ks, t: action(
                "accounts", "propose_recovery", account=account(who), new_keys=ks, new_threshold=t
            ),
            names,
            account_keys(),
            st.integers(1, 2),
        ),
        st.builds(lambda who: action("accounts", "approve_recovery", account=account(who)), names),
        st.just(action("accounts", "cancel_recovery")),
        st.builds(lambda who: action("accounts", "execute_recovery", account=account(who)), names),
    )


steps = st.lists(
    st.tuples(
        st.sampled_from((*PEOPLE, *PEOPLE, *NAMES)),  # sender, mostly one who exists
        st.lists(names, max_size=2, unique=True),  # extra signers beside the sender's own key
        st.sampled_from((0, 0, 0, 0, 1, -1)),  # nonce offset: 0 is right, others are rejected
        actions(),
    ),
    min_size=1,
    max_size=15,
)


def run_steps(chain: CityChain, drawn: list[tuple[str, list[str], int, Action]]) -> list[str]:
    """Put each step's transaction in a block; return every invariant problem found."""
    problems = check_invariants(chain.app.store)
    for sender, signers, offset, step in drawn:
        before = snapshot(chain.app.store)
        nonce = max(0, chain.app.next_nonce(account(sender).raw) + offset)
        tx = chain.sign(sender, [step], nonce=nonce, signers=sorted({sender, *signers}))
        result = chain.execute_raw([tx.raw])
        included = Counter(AccountId(r.sender) for r in result.receipts if r.sender)
        problems += check_transition(before, snapshot(chain.app.store), included)
        problems += check_invariants(chain.app.store)
    return problems


@given(drawn=steps)
def test_random_account_actions_keep_every_invariant(
    drawn: list[tuple[str, list[str], int, Action]],
) -> None:
    with scratch_chain(lambda path: CityChain(path, city_genesis(extra_accounts=PEOPLE))) as chain:
        assert run_steps(chain, drawn) == []


def test_checker_finds_a_nonce_that_went_back(tmp_path: Path) -> None:
    """The transition checker can fail: a snapshot taken later, compared the wrong way."""
    chain = CityChain(tmp_path, city_genesis(extra_accounts=PEOPLE))
    before = snapshot(chain.app.store)
    assert chain.run("alice", action("accounts", "set_threshold", threshold=1)).ok
    after = snapshot(chain.app.store)
    assert check_transition(before, after, Counter({account("alice"): 1})) == []
    assert check_transition(after, before)[0].startswith("I2:")
    assert check_transition(before, after, Counter())[0].startswith("I2:")
    chain.close()


def test_checker_finds_an_unreachable_threshold(tmp_path: Path) -> None:
    from urbis.chain.codec import to_wire
    from urbis.crypto.encoding import encode_trusted
    from urbis.modules.accounts import keys
    from urbis.modules.accounts.records import Account

    broken = Account([AccountKey(public("alice"))], 2, 0, [])
    rows = {keys.account(account("alice")): encode_trusted(to_wire(broken))}

    class Rows:
        def scan_prefix(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
            return sorted(rows.items())

    assert [p[:3] for p in check_invariants(Rows())] == ["I1:"]
