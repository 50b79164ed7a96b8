"""Two nodes replaying the same blocks reach the same app hash, block by block."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, anchor, doc_hash, key, replay
from urbis.modules.accounts.records import AccountKey
from urbis.sdk.builder import action

operations = st.lists(
    st.tuples(
        st.sampled_from(["land", "finance", "registry", "mayor"]),
        st.sampled_from(["anchor", "revoke", "grant", "create", "propose", "approve"]),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=25,
)


def action_for(sender: str, kind: str, n: int) -> object:
    if kind == "anchor":
        return anchor(sender if sender != "mayor" else "land", f"doc-{n}")
    if kind == "revoke":
        return action(
            "documents", "revoke", department="land", hash=doc_hash(f"doc-{n}"), reason="r"
        )
    if kind == "grant":
        return action(
            "governance", "grant_role", department="land", role=f"role{n}", account=account(sender)
        )
    if kind == "create":
        return action(
            "accounts",
            "create",
            keys=[AccountKey(key(f"resident-{n}").public_key.raw)],
            threshold=1,
        )
    if kind == "propose":
        return action(
            "governance",
            "submit_proposal",
            title=f"p{n}",
            action={
                "module": "governance",
                "name": "add_department",
                "args": {"id": f"dept{n}", "name": "D", "admin": account(sender).raw},
            },
        )
    return action("governance", "approve_proposal", id=n)


@settings(max_examples=25)  # each example replays a whole chain
@given(ops=operations, block_sizes=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_replay_gives_identical_app_hash(
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[str, str, int]],
    block_sizes: list[int],
) -> None:
    folder = tmp_path_factory.mktemp("det")
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    source = CityChain(folder / "a")
    position = 0
    for size in block_sizes * 5:
        for sender, kind, n in ops[position : position + size]:
            source.submit(source.sign(sender, [action_for(sender, kind, n)]))  # type: ignore[list-item]
        position += size
        source.block()
        if position >= len(ops):
            break
    target = CityChain(folder / "b")
    replay(source, target)
    assert target.app.info() == source.app.info()
    source.close()
    target.close()


def test_different_genesis_gives_different_root(tmp_path: Path) -> None:
    from tests.helpers.city import city_genesis

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = CityChain(tmp_path / "a")
    b = CityChain(tmp_path / "b", genesis=city_genesis("other-city"))
    assert a.app.info().app_hash != b.app.info().app_hash
