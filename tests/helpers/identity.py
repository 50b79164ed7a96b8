"""A verifier's trust view read straight from a test chain's committed state."""

from __future__ import annotations

from tests.helpers.city import CityChain
from urbis.chain.ids import AccountId
from urbis.modules.identity.keeper import keys_at, read_trust, status_of
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
