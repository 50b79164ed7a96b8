"""Sign-in to the resident space and the department console: a credential presented from a
wallet over OpenID4VP, bound to an account key held by this browser.

Two facts make a session, and each is checked here:
1. who: the wallet presented a credential of the asked type (ResidentID for residents,
   StaffID for officers); the identity module's OpenID4VP verifier checked it against the
   trust registry, its status and its key binding (`urbis.modules.identity.oid4vp`);
2. which account: this browser signed the request's `state` with a key that is a current
   key of the account it names (`SIGNIN_DOMAIN`), so the session can only act through
   transactions that same browser signs.

The portal's verifier is a department whose key this node serves (`identity_keys`) and
whose on-chain registration allows claims of the asked type; it asks for exactly those
claims, so a registration change shows at the next sign-in.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from urbis.chain.errors import UrbisError, error_class
from urbis.chain.ids import AccountId
from urbis.crypto.keys import verify
from urbis.node.runner import Node

SIGNIN_DOMAIN = b"urbis/portal-signin/v1\x00"
"""What the browser's key signs: this tag, the request's state, the account's 20 bytes."""
SESSION_TTL_S = 30 * 60
SESSIONS_MAX = 10_000
COOKIE = "urbis_session"
RESIDENT_TYPE = "ResidentID"
STAFF_TYPE = "StaffID"

SigninPending = error_class("web.signin_pending", "Sign-in not finished", 409, retry=True)
SigninRefused = error_class("web.signin_refused", "The wallet's answer was refused", 403)
SigninUsed = error_class("web.signin_used", "This sign-in was used already", 409)
BadSigninSignature = error_class("web.bad_signin_signature", "Signature does not verify", 403)
KeyNotOnAccount = error_class("web.key_not_on_account", "Key is not the account's", 403)
NoVerifier = error_class("web.no_verifier", "No verifier for this sign-in", 503)


class PresentationService(Protocol):
    """What the portal needs of an OpenID4VP verifier (the identity module provides it)."""

    def create(self, vct: str) -> dict[str, Any]:
        """A new request: `state`, `link` (openid4vp://…), `expires_at` (unix seconds)."""
        ...

    def result(self, state: str) -> dict[str, Any] | None:
        """None while waiting; then {"status": "verified", "claims": …} or a refusal."""
        ...


class IdentityModuleVerifier:
    """The identity module's OpenID4VP verifier, run by this API process."""

    def __init__(self, app_state: Any, node: Node) -> None:
        self.app_state = app_state
        self.node = node

    def _services(self) -> Any:
        from urbis.modules.identity.service import IdentityServices

        return IdentityServices.of(self.app_state, self.node)

    def _verifier_for(self, vct: str) -> tuple[Any, list[str]]:
        services = self._services()
        for account in sorted(services.keys, key=lambda a: a.raw):
            try:
                registration = self.node.app.query(
                    "identity", "verifier", {"account": account.text}
                )
            except UrbisError:
                continue
            claims = list(registration.get("allowed_claims", {}).get(vct, []))
            if claims:
                return services.verifier(account), claims
        raise NoVerifier(
            f"no department served by this node is a registered verifier of {vct}; register "
            f"one (`urbis id register-verifier`) and name its key in identity_keys"
        )

    def create(self, vct: str) -> dict[str, Any]:
        verifier, claims = self._verifier_for(vct)
        request = verifier.create_request(vct, claims, int(time.time()))
        return {
            "state": request.state,
            "link": request.link,
            "expires_at": request.expires_at,
            "verifier": verifier.account.text,
        }

    def result(self, state: str) -> dict[str, Any] | None:
        from urbis.modules.identity.oid4vci import ProtocolError

        services = self._services()
        for verifier in list(services.verifiers.values()):
            try:
                outcome: dict[str, Any] | None = verifier.result(state)
            except ProtocolError:
                continue
            return outcome
        raise SigninRefused("no sign-in request has this state")


@dataclass
class Session:
    kind: str  # "resident" | "staff"
    account: AccountId
    claims: dict[str, Any]
    expires_at: float


@dataclass
class Sessions:
    """Signed-in browsers of this API process (a restart signs everyone out)."""

    by_id: dict[str, Session] = field(default_factory=dict)
    used_states: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, session_id: str | None, kind: str) -> Session | None:
        if not session_id:
            return None
        with self.lock:
            session = self.by_id.get(session_id)
            if session is None or session.expires_at < time.time():
                self.by_id.pop(session_id, None)
                return None
        return session if session.kind == kind else None

    def open(
        self,
        node: Node,
        service: PresentationService,
        kind: str,
        state: str,
        account_text: str,
        public_key: bytes,
        signature: bytes,
    ) -> str:
        """A session for a verified presentation and a browser key of the named account."""
        outcome = service.result(state)
        if outcome is None or outcome.get("status") == "checking":
            raise SigninPending("the wallet has not answered yet")
        if outcome.get("status") != "verified":
            raise SigninRefused(
                f"the wallet's answer was refused: {outcome.get('code')}: {outcome.get('detail')}"
            )
        expected = RESIDENT_TYPE if kind == "resident" else STAFF_TYPE
        if not str(outcome.get("vct", "")).endswith(expected):
            raise SigninRefused(f"this sign-in needs a {expected}, not {outcome.get('vct')}")
        try:
            account = AccountId.parse(account_text)
        except ValueError as error:
            raise KeyNotOnAccount(str(error)) from None
        message = SIGNIN_DOMAIN + state.encode() + account.raw
        if len(public_key) != 32 or not verify(public_key, message, signature):
            raise BadSigninSignature("the browser's signature over this sign-in does not verify")
        found = node.app.query("accounts", "account", {"id": account.text})
        if public_key.hex() not in {k["key"] for k in found["keys"]}:
            raise KeyNotOnAccount(f"{public_key.hex()[:16]}… is not a current key of {account}")
        session_id = secrets.token_urlsafe(32)
        with self.lock:
            if state in self.used_states:
                raise SigninUsed("this sign-in request opened a session already")
            now = time.time()
            for old in [s for s, v in self.by_id.items() if v.expires_at < now]:
                del self.by_id[old]
            if len(self.by_id) >= SESSIONS_MAX:
                raise SigninPending("too many sessions open; try again shortly")
            self.used_states.add(state)
            self.by_id[session_id] = Session(
                kind, account, dict(outcome.get("claims", {})), now + SESSION_TTL_S
            )
        return session_id

    def close(self, session_id: str | None) -> None:
        with self.lock:
            self.by_id.pop(session_id or "", None)
