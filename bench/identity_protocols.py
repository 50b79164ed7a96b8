"""Identity protocol figures: Status List Tokens, OpenID4VCI issuance, OpenID4VP sign-in,
each beside a same-run baseline (the chain's JSON list; issuing or verifying in-process).

    python bench/identity_protocols.py [--rounds 30]

A node serving identity runs in this process on a loopback port (50 ms blocks); the
wallet side runs over real HTTP. Issuance includes the status allocation transaction and
the wait for its block, which dominates.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.city import account
from tests.helpers.identity import IdentityCity, identity_city
from urbis.sdk.bundle import keys_in_did_document
from urbis.sdk.oid4vc import open_request, receive_offer, respond
from urbis.sdk.sdjwt import HolderKey, StatusReference, issue, present, verify_presentation


def median_ms(rounds: int, work: Callable[[], object]) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder, identity_city(Path(folder)) as city:
        status_figures(city, rounds)
        issuance_figures(city, rounds)
        presentation_figures(city, rounds)


def status_figures(city: IdentityCity, rounds: int) -> None:
    issuer = account(IdentityCity.ISSUER).text
    token_url = f"{city.url}/identity/status/{issuer}/1"
    json_url = f"{city.url}/v1/identity/status/{issuer}/1"
    token = median_ms(rounds, lambda: city.http.get(token_url).raise_for_status())
    plain = median_ms(rounds, lambda: city.http.get(json_url).raise_for_status())
    print(
        f"Status List Token, 1,048,576 entries of 2 bits: median {token:.1f} ms per fetch "
        f"(read 64 pages, DEFLATE, sign EdDSA)  baseline JSON list: {plain:.1f} ms"
    )


def issuance_figures(city: IdentityCity, rounds: int) -> None:
    def flow(copies: int) -> None:
        offer = city.offer({"given_name": "Alice", "birthdate": "1990-04-01"})
        holders = [HolderKey() for _ in range(copies)]
        receive_offer(city.http, offer["uri"], offer["tx_code"], holders, int(time.time()))

    one = median_ms(rounds, lambda: flow(1))
    ten = median_ms(max(rounds // 3, 3), lambda: flow(10))
    from tests.helpers.city import key

    signer, holder = key(IdentityCity.ISSUER), HolderKey()

    def direct() -> None:
        issue(
            signer,
            "https://city.example/identity/issuers/x",
            "ResidentID",
            {"given_name": "Alice", "age_over_18": True},
            ["given_name", "age_over_18"],
            holder.jwk,
            1_800_000_000,
            1_900_000_000,
            StatusReference("x", 1, 7, "https://c"),
        )

    baseline = median_ms(rounds * 10, direct)
    print(
        f"OpenID4VCI pre-authorised flow (offer, token, nonce, proofs, allocation tx and its "
        f"block, credentials): median {one:.0f} ms for 1 copy, {ten:.0f} ms for a batch of 10  "
        f"baseline in-process issue(): {baseline:.2f} ms per credential"
    )


def presentation_figures(city: IdentityCity, rounds: int) -> None:
    offer = city.offer({"given_name": "Alice", "birthdate": "1990-04-01"})
    holder = HolderKey()
    (credential,) = receive_offer(
        city.http, offer["uri"], offer["tx_code"], [holder], int(time.time())
    )

    def did_keys(did: str) -> list[bytes]:
        return keys_in_did_document(city.http.get(f"{city.url}/v1/dids/{did}").json(), 2**62)

    def registration(verifier: str) -> dict[str, list[str]] | None:
        return dict(
            city.http.get(f"{city.url}/v1/identity/verifiers/{verifier}").json()["allowed_claims"]
        )

    def sign_in() -> None:
        request = city.request()
        asked = open_request(request["link"], did_keys, registration, int(time.time()))
        shown = present(
            credential, asked.claims, holder, asked.client_id, asked.nonce, int(time.time())
        )
        respond(city.http, asked, shown)

    whole = median_ms(rounds, sign_in)
    from urbis.modules.identity.oid4vp import chain_trust_view

    view = chain_trust_view(city.node.app.store)
    counter = iter(range(10**9))

    def direct() -> None:
        nonce = f"n{next(counter)}"
        shown = present(credential, ["age_over_18"], holder, "aud", nonce, int(time.time()))
        verify_presentation(shown, view, "aud", nonce, int(time.time()))

    baseline = median_ms(rounds * 10, direct)
    print(
        f"OpenID4VP sign-in (signed request, wallet checks it against the chain, presents, "
        f"direct_post, verifier checks trust, status, key binding): median {whole:.0f} ms  "
        f"baseline present + verify in-process: {baseline:.2f} ms"
    )


if __name__ == "__main__":
    main()
