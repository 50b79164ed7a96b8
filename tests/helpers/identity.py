"""A verifier's trust view read straight from a test chain's committed state."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tests.helpers.city import CityChain
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action
from urbis.modules.identity.keeper import keys_at, read_trust, status_of
from urbis.sdk.builder import action
from urbis.sdk.sdjwt import TrustView


def view(chain: CityChain) -> TrustView:
    store = chain.app.store
    return TrustView(
        key_at=lambda did, t: keys_at(store, AccountId.parse(did), t),
        trusted_at=lambda vct, issuer, t: read_trust(
            store, vct, AccountId.parse(issuer)
        ).trusted_at(t),
        status_of=lambda issuer, list_id, index: status_of(
            store, AccountId.parse(issuer), list_id, index
        ),
    )


def define_type(
    vct: str, claims: Sequence[str], disclosable: Sequence[str] | None = None, days: int = 365
) -> Action:
    """The registry defines a credential type (its schema named by a hash of its name)."""
    return action(
        "identity",
        "define_type",
        vct=vct,
        schema_hash=hashlib.sha256(vct.encode()).digest(),
        claims=list(claims),
        disclosable=list(claims if disclosable is None else disclosable),
        validity_days=days,
    )
