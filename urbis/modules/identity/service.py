"""The identity services a department's node runs in its API process.

A node serves issuance (OpenID4VCI), Status List Tokens and verification
(OpenID4VP) for the departments whose keys its config names (`identity_keys`,
key names in HOME/keys, unlocked with URBIS_PASSPHRASE or the dev city's empty
passphrase). Those keys are the departments' account keys: the same keys the
chain lists for the account, so the issuer metadata is read from chain and a
rotation shows there within a block (see the module README for why).

Requests that act for a department (an offer with a resident's claims, a
verifier's presentation request) must be signed by one of the department's
current keys (`check_signed_request`); the endpoints a wallet calls are open.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey, verify
from urbis.modules.identity.keeper import allocated, read_list
from urbis.modules.identity.metadata import account_keys
from urbis.modules.identity.oid4vci import IssuerService, ProtocolError, served_key
from urbis.modules.identity.oid4vp import (
    PresentationVerifier,
    chain_trust_view,
    chain_trusted_now,
)
from urbis.sdk.builder import TxBuilder
from urbis.sdk.identity_urls import issuer_url, status_url
from urbis.sdk.sdjwt import CredentialRejected, _parse_jws
from urbis.sdk.statuslist import sign_token

SIGNED_REQUEST_AGE_MAX_S = 120
"""An officer's signed request older (or newer) than this is refused: replays stay short."""
ALLOCATION_WAIT_S = 30.0
ALLOCATION_EXPIRY_BLOCKS = 100


def _open(keystore: Any, name: str) -> PrivateKey | None:
    from urbis.sdk.keystore import KeyStoreError

    for passphrase in (os.environ.get("URBIS_PASSPHRASE", ""), ""):
        try:
            key: PrivateKey = keystore.load(name, passphrase)
            return key
        except KeyStoreError:
            continue
    return None


def load_keys(node: Any) -> dict[AccountId, PrivateKey]:
    """The configured departments' keys, by account (a key that will not open is skipped)."""
    from urbis.sdk.keystore import KeyStore

    keystore = KeyStore(node.home.path / "keys")
    keys: dict[AccountId, PrivateKey] = {}
    for name in node.config.identity_key_names:
        key = _open(keystore, name)
        if key is not None:
            keys[keystore.info(name).account] = key
    return keys


def load_status_signers(node: Any) -> dict[AccountId, tuple[AccountId, PrivateKey]]:
    """Keyless list owners (contracts) -> the department (account, key) signing their tokens."""
    from urbis.sdk.keystore import KeyStore

    keystore = KeyStore(node.home.path / "keys")
    signers: dict[AccountId, tuple[AccountId, PrivateKey]] = {}
    for owner, name in node.config.status_signer_names.items():
        key = _open(keystore, name)
        try:
            account = AccountId.parse(owner)
        except ValueError:
            continue
        if key is not None:
            signers[account] = (keystore.info(name).account, key)
    return signers


def status_list_token(
    state: Any,
    base: str,
    owner: AccountId,
    list_id: int,
    signer: AccountId,
    key: PrivateKey,
    now: int,
) -> str:
    """The Status List Token of `owner`'s list in `state`, signed by `signer`'s `key`."""
    from urbis.modules.identity.module import packed_list

    bits, packed = packed_list(state, owner, list_id)
    return sign_token(
        key,
        key.public_key.hex()[:16],
        issuer_url(base, signer.text),
        status_url(base, owner.text, list_id),
        bits,
        packed,
        now,
    )


@dataclass
class IdentityServices:
    """Per API process: the issuer service, one verifier per served department, and the
    lock that keeps this node's allocation transactions in nonce order."""

    node: Any
    keys: dict[AccountId, PrivateKey]
    issuer: IssuerService
    status_signers: dict[AccountId, tuple[AccountId, PrivateKey]] = field(default_factory=dict)
    verifiers: dict[AccountId, PresentationVerifier] = field(default_factory=dict)
    seen_requests: dict[str, int] = field(default_factory=dict)
    allocation_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, app_state: Any, node: Any) -> IdentityServices:
        services: IdentityServices | None = getattr(app_state, "identity_services", None)
        if services is None:
            keys = load_keys(node)
            services = cls(
                node, keys, IssuerService(node.config.base_url, keys), load_status_signers(node)
            )
            app_state.identity_services = services
        return services

    @property
    def base(self) -> str:
        return str(self.node.config.base_url)

    def key_of(self, account: AccountId) -> PrivateKey:
        return served_key(self.keys, account)

    def verifier(self, account: AccountId) -> PresentationVerifier:
        with self.lock:
            verifier = self.verifiers.get(account)
            if verifier is None:
                store = self.node.app.store

                def registration() -> dict[str, list[str]] | None:
                    from urbis.chain.codec import from_wire
                    from urbis.crypto.encoding import decode_trusted
                    from urbis.modules.identity import keys
                    from urbis.modules.identity.records import VerifierRegistration

                    raw = store.get(keys.verifier(account))
                    if raw is None:
                        return None
                    return from_wire(VerifierRegistration, decode_trusted(raw)).allowed_claims

                verifier = PresentationVerifier(
                    self.base,
                    account,
                    self.key_of(account),
                    lambda: chain_trust_view(store),
                    registration,
                    chain_trusted_now(store),
                )
                self.verifiers[account] = verifier
            return verifier

    def status_token(self, owner: AccountId, list_id: int, now: int) -> str:
        """The Status List Token of a list, from the latest committed block.

        Signed by the list owner's key, or, for a keyless owner (a contract), by the
        department configured for it (`status_signers`), whose issuer URL is then `iss`.
        """
        signer, key = self.status_signers.get(owner) or (owner, self.key_of(owner))
        with self.node.driver.block_lock:
            return status_list_token(
                self.node.app.store, self.base, owner, list_id, signer, key, now
            )

    def check_signed_request(self, account: AccountId, jws: Any, audience: str) -> dict[str, Any]:
        """The payload of a request signed by one of `account`'s current keys, for `audience`,
        fresh and not seen before (`identity.bad_signed_request`)."""

        def bad(why: str) -> ProtocolError:
            return ProtocolError("identity.bad_signed_request", "invalid_request", why, 401)

        if not isinstance(jws, str):
            raise bad('send {"request": "<JWS signed by the department key>"}')
        try:
            header, payload, signing_input, signature = _parse_jws(jws)
        except CredentialRejected as error:
            raise bad(error.detail) from None
        keys = account_keys(self.node.app.store, account)
        if header.get("alg") != "EdDSA" or not any(
            verify(k, signing_input, signature) for k in keys
        ):
            raise bad(f"not signed by a current key of {account}")
        now = int(time.time())
        issued_at, nonce = payload.get("iat"), payload.get("jti")
        if payload.get("aud") != audience:
            raise bad(f"aud must be {audience}")
        if type(issued_at) is not int or abs(now - issued_at) > SIGNED_REQUEST_AGE_MAX_S:
            raise bad("iat is missing or stale")
        if not isinstance(nonce, str) or not nonce:
            raise bad("jti (a fresh random string) is required")
        with self.lock:
            for old in [
                n for n, t in self.seen_requests.items() if t < now - 2 * SIGNED_REQUEST_AGE_MAX_S
            ]:
                del self.seen_requests[old]
            if nonce in self.seen_requests:
                raise bad("this signed request was sent before")
            self.seen_requests[nonce] = now
        return payload

    async def allocate(
        self, issuer: AccountId, list_id: int, count: int, waiters: Any
    ) -> list[int]:
        """Hand out `count` random free entries of the issuer's list, committed on chain."""
        from starlette.concurrency import run_in_threadpool

        from urbis.chain.errors import UrbisError

        key = self.key_of(issuer)
        node = self.node
        async with self.allocation_lock:
            store = node.app.store
            status_list = read_list(store, issuer, list_id)
            if status_list is None:
                raise ProtocolError(
                    "oid4vci.no_status_list",
                    "server_error",
                    f"{issuer} has no status list {list_id}; create it first",
                    500,
                )
            chosen: set[int] = set()
            while len(chosen) < count:
                index = secrets.randbelow(status_list.size)
                if index not in chosen and not allocated(store, issuer, list_id, index):
                    chosen.add(index)
            indexes = sorted(chosen, key=lambda _: secrets.randbits(32))
            tx = (
                TxBuilder(node.app.chain_id, issuer)
                .add("identity", "allocate_status", list_id=list_id, indexes=indexes)
                .sign(
                    [key], node.app.next_nonce(issuer.raw), store.version + ALLOCATION_EXPIRY_BLOCKS
                )
            )
            future = waiters.register(tx.id)
            try:
                await run_in_threadpool(node.submit, tx.raw)
                receipt = await asyncio.wait_for(future, ALLOCATION_WAIT_S)
            except (UrbisError, TimeoutError) as error:
                waiters.forget(tx.id, future)
                raise ProtocolError(
                    "oid4vci.allocation_failed", "server_error", f"status allocation: {error}", 503
                ) from None
            if not receipt.ok:
                raise ProtocolError(
                    "oid4vci.allocation_failed",
                    "server_error",
                    f"{receipt.code}: {receipt.message}",
                    503,
                )
            return indexes
