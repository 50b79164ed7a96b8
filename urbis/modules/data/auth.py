"""Signed requests to a node's datastore: who reads, proven by an account key.

A reader (a person's SDK, or a grantee's node replicating) signs each request with one of
its account's Ed25519 keys. The node checks the key is the account's (on chain), the
signature, and that the time is within `SKEW_MS_MAX` of its own clock. Reads are not
state changes, so one key of a multisig account suffices.

Headers:
  Urbis-Account:   the account id (text form)
  Urbis-Key:       the signing public key, hex
  Urbis-Time:      milliseconds since the epoch, decimal
  Urbis-Signature: hex Ed25519 signature over request_message(...)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey, verify
from urbis.modules.data.errors import BadRequestSignature, StaleRequest

SKEW_MS_MAX = 300_000
"""Five minutes: clocks of city machines agree that well, and a captured request is
useless to a replayer after that (reads only return what the signer may see anyway)."""


def request_message(method: str, target: str, time_ms: int, body: bytes) -> bytes:
    """What the signature covers: method, path with query, time, and the body's SHA-256."""
    return b"\n".join(
        [
            b"urbis data request v1",
            method.upper().encode(),
            target.encode(),
            str(time_ms).encode(),
            hashlib.sha256(body).hexdigest().encode(),
        ]
    )


def sign_request(
    key: PrivateKey, account: AccountId, method: str, target: str, body: bytes = b""
) -> dict[str, str]:
    now = time.time_ns() // 1_000_000
    signature = key.sign(request_message(method, target, now, body))
    return {
        "Urbis-Account": account.text,
        "Urbis-Key": key.public_key.raw.hex(),
        "Urbis-Time": str(now),
        "Urbis-Signature": signature.hex(),
    }


def signed_by(
    headers: Mapping[str, str], method: str, target: str, body: bytes, account_keys: object
) -> AccountId | None:
    """The account that signed the request, None if it is unsigned; raises if it is signed
    badly. `account_keys(account)` returns the account's current public keys."""
    account_text = headers.get("urbis-account")
    if account_text is None:
        return None
    try:
        account = AccountId.parse(account_text)
        key = bytes.fromhex(headers.get("urbis-key", ""))
        time_ms = int(headers.get("urbis-time", ""))
        signature = bytes.fromhex(headers.get("urbis-signature", ""))
    except ValueError:
        raise BadRequestSignature(
            "Urbis-Account, -Key, -Time and -Signature are malformed"
        ) from None
    now = time.time_ns() // 1_000_000
    if abs(now - time_ms) > SKEW_MS_MAX:
        raise StaleRequest(f"request time {time_ms} is more than {SKEW_MS_MAX} ms from {now}")
    keys = account_keys(account)  # type: ignore[operator]
    if key not in keys:
        raise BadRequestSignature(f"key {key.hex()[:16]}… is not a key of {account.text}")
    if len(signature) != 64 or not verify(
        key, request_message(method, target, time_ms, body), signature
    ):
        raise BadRequestSignature("the request signature does not verify")
    return account
