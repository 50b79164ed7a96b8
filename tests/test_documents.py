"""Documents: anchor, batch, revoke, supersede, each failure with its code."""

from __future__ import annotations

from tests.helpers.city import CityChain, anchor, doc_hash
from urbis.crypto.merkle import merkle_path, merkle_root, verify_merkle_path
from urbis.sdk.builder import action
from urbis.state import verify_state_proof


def record(chain: CityChain, label: str) -> dict[str, object]:
    result: dict[str, object] = chain.query("documents", "document", hash=doc_hash(label).hex())
    return result


def test_anchor_records_who_when_and_is_provable(chain: CityChain) -> None:
    receipt = chain.run("land", anchor("land", "deed-1"))
    assert receipt.ok and receipt.events[0].type == "documents.anchored"
    view = record(chain, "deed-1")
    assert view["status"] == "valid" and view["anchored_at_height"] == 1
    assert view["tx_id"] == receipt.tx_id.hex()
    header = chain.app.blocks.header(1)
    assert header is not None
    proof = chain.app.store.prove(b"documents/doc/" + doc_hash("deed-1"), 1)
    verify_state_proof(proof, header.header.app_hash)


def test_anchoring_twice_is_documents_already_anchored(chain: CityChain) -> None:
    assert chain.run("land", anchor("land", "deed-1")).ok
    assert chain.run("land", anchor("land", "deed-1")).code == "documents.already_anchored"


def test_revoke_then_revoke_again_is_documents_already_revoked(chain: CityChain) -> None:
    chain.run("land", anchor("land", "deed-1"))
    revoke = action(
        "documents", "revoke", department="land", hash=doc_hash("deed-1"), reason="error"
    )
    assert chain.run("land", revoke).ok
    assert record(chain, "deed-1")["status"] == "revoked"
    assert chain.run("land", revoke).code == "documents.already_revoked"


def test_other_department_revoking_is_documents_wrong_department(chain: CityChain) -> None:
    chain.run("land", anchor("land", "deed-1"))
    receipt = chain.run(
        "finance",
        action("documents", "revoke", department="finance", hash=doc_hash("deed-1"), reason="x"),
    )
    assert receipt.code == "documents.wrong_department"


def test_revoking_unknown_is_documents_not_found(chain: CityChain) -> None:
    receipt = chain.run(
        "land",
        action("documents", "revoke", department="land", hash=doc_hash("nothing"), reason="x"),
    )
    assert receipt.code == "documents.not_found"


def supersede(old: str, new: str) -> object:
    return action(
        "documents",
        "supersede",
        department="land",
        old_hash=doc_hash(old),
        new_hash=doc_hash(new),
        doc_type="deed",
    )


def test_supersede_links_both_versions(chain: CityChain) -> None:
    chain.run("land", anchor("land", "v1"))
    receipt = chain.run(
        "land",
        supersede("v1", "v2"),
    )
    assert receipt.ok
    assert record(chain, "v1")["superseded_by"] == doc_hash("v2").hex()
    assert record(chain, "v2")["supersedes"] == doc_hash("v1").hex()
    again = chain.run(
        "land",
        supersede("v1", "v3"),
    )
    assert again.code == "documents.not_current"


def test_batch_root_proves_each_document(chain: CityChain) -> None:
    hashes = [doc_hash(f"permit-{i}") for i in range(9)]
    root = merkle_root(hashes)
    receipt = chain.run(
        "land",
        action(
            "documents",
            "anchor_batch",
            department="land",
            root=root,
            count=len(hashes),
            doc_type="permit",
        ),
    )
    assert receipt.ok
    assert chain.query("documents", "document", hash=root.hex())["batch_count"] == 9
    assert verify_merkle_path(hashes[4], merkle_path(hashes, 4), root)


def test_query_bad_hash_is_query_bad_request(chain: CityChain) -> None:
    try:
        chain.query("documents", "document", hash="zz")
        raise AssertionError("accepted")
    except Exception as error:
        assert getattr(error, "code", "") == "query.bad_request"
