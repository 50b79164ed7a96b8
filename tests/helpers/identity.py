"""Identity test helpers: a verifier's trust view of a test chain, a running city that serves
identity (`identity_city`), and the interop scripts in tests/interop run as processes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.city import CHAIN_ID, CityChain, account, city_home, key
from urbis.chain.tx import Action
from urbis.modules.identity.oid4vp import chain_trust_view
from urbis.sdk.builder import TxBuilder, action
from urbis.sdk.oid4vc import receive_offer
from urbis.sdk.sdjwt import HolderKey, TrustView, _jws


def view(chain: CityChain) -> TrustView:
    return chain_trust_view(chain.app.store)


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

    def receive(self, copies: int = 1) -> tuple[list[str], list[HolderKey]]:
        """Alice's ResidentID copies, received over OpenID4VCI, with their holder keys."""
        offer = self.offer({"given_name": "Alice", "birthdate": "1990-04-01"})
        holders = [HolderKey() for _ in range(copies)]
        now = int(time.time())
        return receive_offer(self.http, offer["uri"], offer["tx_code"], holders, now), holders

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


INTEROP = Path(__file__).resolve().parent.parent / "interop"
"""The independent implementations' scripts (OpenWallet Foundation libraries, from npm)."""


def node_script(script: str, *args: str) -> Any:
    """Run tests/interop/`script` to completion; its one line of JSON output."""
    finished = subprocess.run(
        ["node", script, *args], capture_output=True, text=True, timeout=60, cwd=INTEROP
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


@contextlib.contextmanager
def node_server(script: str, request: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """Start a tests/interop server script; yields its first JSON line and its stdout."""
    server = subprocess.Popen(
        ["node", script, json.dumps(request)],
        cwd=INTEROP,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        yield json.loads(server.stdout.readline()), server.stdout
    finally:
        server.kill()
        server.wait(10)


def private_okp(signer: Any) -> dict[str, str]:
    """An Ed25519 key as a private JWK, for the interop scripts that sign as a department."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return {"kty": "OKP", "crv": "Ed25519", "d": b64(signer.seed), "x": b64(signer.public_key.raw)}
