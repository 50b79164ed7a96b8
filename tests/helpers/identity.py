"""A verifier's trust view read straight from a test chain's committed state."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.city import CHAIN_ID, CityChain, account, city_home, key
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action
from urbis.modules.identity.keeper import keys_at, read_trust, status_of
from urbis.sdk.builder import TxBuilder, action
from urbis.sdk.sdjwt import TrustView, _jws


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


RESIDENT_CLAIMS = ("given_name", "family_name", "birthdate", "age_over_18", "age_over_65")


class IdentityCity:
    """A running test city whose API serves identity for `registry` (issuer) and
    `finance` (a registered verifier), at `url`, which is also its public_url."""

    ISSUER = "registry"
    VERIFIER = "finance"

    def __init__(self, node: Any, url: str) -> None:
        self.node = node
        self.url = url
        self.http = httpx.Client(timeout=30)

    def run(self, sender: str, module: str, name: str, /, **args: Any) -> dict[str, Any]:
        """One action, signed and committed through the API; its receipt (asserted ok)."""
        nonce = self.node.app.next_nonce(account(sender).raw)
        height = self.node.app.store.version
        tx = TxBuilder(CHAIN_ID).add(module, name, **args).sign([key(sender)], nonce, height + 100)
        answer = self.http.post(
            f"{self.url}/v1/txs?wait=commit", json={"tx": base64.b64encode(tx.raw).decode()}
        ).json()
        assert answer["receipt"]["ok"], answer
        receipt: dict[str, Any] = answer["receipt"]
        return receipt

    def found(self, claims: Sequence[str] = RESIDENT_CLAIMS) -> None:
        """The registry defines ResidentID, trusts itself, opens status list 1 (2 bits) and
        registers the verifier for age_over_18."""
        self.run(
            "registry",
            "governance",
            "grant_role",
            department="registry",
            role="trust_admin",
            account=account("registry"),
        )
        define = define_type("ResidentID", claims)
        self.run("registry", define.module, define.name, **define.args)
        self.run(
            "registry", "identity", "trust_issuer", vct="ResidentID", issuer=account(self.ISSUER)
        )
        self.run(self.ISSUER, "identity", "create_status_list", list_id=1, size=1 << 20, bits=2)
        self.run(
            "registry",
            "identity",
            "register_verifier",
            verifier=account(self.VERIFIER),
            name="Sign-in portal",
            allowed_claims={"ResidentID": ["age_over_18"]},
        )

    def signed(self, signer: str, audience: str, **payload: Any) -> dict[str, str]:
        """A department's signed request body (offers, presentation requests)."""
        body = {"aud": audience, "iat": int(time.time()), "jti": secrets.token_hex(8), **payload}
        return {"request": _jws({"alg": "EdDSA"}, body, key(signer).sign)}

    def offer(self, claims: dict[str, Any], signer: str = ISSUER) -> dict[str, Any]:
        issuer = f"{self.url}/identity/issuers/{account(self.ISSUER).text}"
        answer = self.http.post(
            f"{issuer}/offers",
            json=self.signed(signer, f"{issuer}/offers", vct="ResidentID", claims=claims),
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def request(self, claims: Sequence[str] = ("age_over_18",)) -> dict[str, Any]:
        """The verifier asks for `claims` of a ResidentID; the link and where to read the result."""
        endpoint = f"{self.url}/identity/verifiers/{account(self.VERIFIER).text}/requests"
        answer = self.http.post(
            endpoint,
            json=self.signed(self.VERIFIER, endpoint, vct="ResidentID", claims=list(claims)),
        )
        result: dict[str, Any] = answer.json()
        return result


@contextlib.contextmanager
def identity_city(
    path: Path, found: bool = True, status_signers: str = ""
) -> Iterator[IdentityCity]:
    """A node serving identity on a loopback port (its own public_url), keys in its home."""
    from tests.helpers.process import serving
    from urbis.node.runner import Node

    home = city_home(path, block_interval_ms=50)
    for name in (IdentityCity.ISSUER, IdentityCity.VERIFIER):
        home.keystore.create(name, "", key(name))
    config = home.load_config()
    config.identity_keys = f"{IdentityCity.ISSUER},{IdentityCity.VERIFIER}"
    config.status_signers = status_signers
    home.save_config(config)
    node = Node(home)
    node.start()
    try:
        with serving(node) as url:
            node.config.public_url = url
            city = IdentityCity(node, url)
            if found:
                city.found()
            yield city
            city.http.close()
    finally:
        node.stop()
