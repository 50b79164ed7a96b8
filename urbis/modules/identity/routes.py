"""Identity: DID documents under /v1/dids, types, trust and status lists under /v1/identity;
under /identity and /.well-known what standard wallets and verifiers dereference
(issuer metadata, did:web, type metadata, Status List Tokens) and the OpenID4VCI and
OpenID4VP endpoints."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from urbis.api.deps import (
    PROBLEM_BASE,
    U32_MAX,
    NodeDep,
    state_answer,
)
from urbis.chain.errors import BadQuery, NotFound
from urbis.chain.ids import AccountId
from urbis.modules.identity import keys, metadata
from urbis.modules.identity.keeper import read_list, read_trust
from urbis.modules.identity.oid4vci import ProtocolError
from urbis.modules.identity.records import PAGE_BYTES
from urbis.modules.identity.service import IdentityServices
from urbis.modules.identity.types import derive_claims
from urbis.node.runner import Node
from urbis.sdk.identity_urls import ISSUERS, issuer_url, status_url
from urbis.sdk.statuslist import MEDIA_TYPE, TTL_S

TYPES_MAX = 10_000
"""Credential types the issuer metadata lists at most (a city defines a handful)."""


def router() -> APIRouter:
    router = APIRouter(tags=["identity"])

    def query(node: Node, name: str, **params: str) -> Any:
        return node.app.query("identity", name, params)

    @router.get("/v1/dids/{did}", summary="A DID document: current keys (JWK), key history")
    def did(did: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "did", did=did)
        return result

    @router.get("/v1/identity/types/{vct}", summary="A credential type")
    def credential_type(vct: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "type", vct=vct)
        return result

    @router.get("/v1/identity/trust/{vct}", summary="Issuers trusted for a type, with periods")
    def trust(vct: str, node: NodeDep) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = query(node, "trust", vct=vct)
        return result

    @router.get(
        "/v1/identity/status/{issuer}/{list_id}",
        summary="A Token Status List (lst: DEFLATE, base64url), or one entry",
    )
    def status_list(
        issuer: str,
        list_id: Annotated[int, Path(ge=0, le=U32_MAX)],
        node: NodeDep,
        index: Annotated[int | None, Query(ge=0, le=U32_MAX)] = None,
    ) -> dict[str, Any]:
        if index is not None:
            entry: dict[str, Any] = query(
                node, "status", issuer=issuer, list_id=str(list_id), index=str(index)
            )
            return entry
        result: dict[str, Any] = query(node, "status_list", issuer=issuer, list_id=str(list_id))
        return result

    @router.get("/v1/identity/verifiers/{account_id}", summary="What a verifier may request")
    def verifier(account_id: str, node: NodeDep) -> dict[str, Any]:
        result: dict[str, Any] = query(node, "verifier", account=account_id)
        return result

    # -- what wallets and verifiers dereference (under the city's public_url) ---------------

    def services(request: Request, node: Node) -> IdentityServices:
        return IdentityServices.of(request.app.state, node)

    def account_in(path: str, marker: str = ISSUERS) -> AccountId:
        """The account at the end of a `…/identity/issuers/<account>` path."""
        _, found, tail = f"/{path}".rpartition(marker)
        try:
            if not found or "/" in tail:
                raise ValueError(f"no {marker}<account> in {path!r}")
            return AccountId.parse(tail)
        except ValueError as error:
            raise BadQuery(str(error)) from None

    def account_param(text: str) -> AccountId:
        try:
            return AccountId.parse(text)
        except ValueError as error:
            raise BadQuery(str(error)) from None

    def refused(error: ProtocolError) -> JSONResponse:
        body = {
            **error.body(),
            "type": PROBLEM_BASE + error.code,
            "status": error.status,
            "detail": error.detail,
        }
        headers = {"Cache-Control": "no-store"}
        if error.status == 401:
            headers["WWW-Authenticate"] = f'Bearer error="{error.error}"'
        return JSONResponse(body, status_code=error.status, headers=headers)

    async def form_of(request: Request) -> dict[str, str]:
        body = await request.body()
        try:
            return dict(parse_qsl(body.decode(), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return {}

    async def json_of(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except (ValueError, RecursionError):
            return None

    @router.get(
        "/.well-known/jwt-vc-issuer/{path:path}",
        summary="JWT VC Issuer Metadata: the issuer and its current keys (jwks)",
    )
    def jwt_vc_issuer(path: str, node: NodeDep) -> dict[str, Any]:
        return metadata.jwt_vc_issuer(node.app.store, node.config.base_url, account_in(path))

    @router.get(
        "/.well-known/openid-credential-issuer/{path:path}",
        summary="OpenID4VCI Credential Issuer Metadata",
    )
    def credential_issuer(path: str, node: NodeDep) -> dict[str, Any]:
        account = account_in(path)
        store = node.app.store
        types = sorted(
            key[len(keys.TYPE_PREFIX) :].decode()
            for key, _ in store.scan_prefix(keys.TYPE_PREFIX, TYPES_MAX)
        )
        trusted = [t for t in types if read_trust(store, t, account).current]
        return metadata.credential_issuer(store, node.config.base_url, account, trusted)

    @router.get(
        "/.well-known/oauth-authorization-server/{path:path}",
        summary="OAuth metadata of the issuer's pre-authorised code flow",
    )
    def authorization_server(path: str, node: NodeDep) -> dict[str, Any]:
        return metadata.authorization_server(node.config.base_url, account_in(path))

    @router.get("/identity/issuers/{account}", summary="An issuer: where its metadata is")
    def issuer(account: str, node: NodeDep) -> dict[str, Any]:
        target = account_param(account)
        metadata.account_keys(node.app.store, target)  # NotFound for no such account
        base = node.config.base_url
        return {
            "issuer": issuer_url(base, target.text),
            "did": target.did,
            **metadata.metadata_urls(base, target),
        }

    @router.get("/identity/issuers/{account}/did.json", summary="The issuer's did:web document")
    def did_web(account: str, node: NodeDep) -> dict[str, Any]:
        return metadata.did_web_document(
            node.app.store, node.config.base_url, account_param(account)
        )

    @router.get("/identity/types/{name:path}", summary="SD-JWT VC Type Metadata of a vct")
    def type_metadata(name: str, node: NodeDep) -> dict[str, Any]:
        return metadata.type_metadata(node.app.store, node.config.base_url, name)

    @router.get(
        "/identity/status/{issuer}/{list_id}",
        summary="A Status List Token (application/statuslist+jwt); ?prove=true: JSON + proofs",
        responses={200: {"content": {MEDIA_TYPE: {}}}},
    )
    def status_token(
        issuer: str,
        list_id: Annotated[int, Path(ge=0, le=U32_MAX)],
        request: Request,
        node: NodeDep,
        prove: bool = False,
    ) -> Any:
        owner = account_param(issuer)
        if prove:
            return proved_list(node, owner, list_id)
        try:
            token = services(request, node).status_token(owner, list_id, int(time.time()))
        except ProtocolError as error:
            return refused(error)
        return Response(token, media_type=MEDIA_TYPE, headers={"Cache-Control": f"max-age={TTL_S}"})

    # -- OpenID4VCI ---------------------------------------------------------------------------

    @router.post(
        "/identity/issuers/{account}/offers",
        summary="A credential offer (signed by the department): link and transaction code",
    )
    async def offer(account: str, request: Request, node: NodeDep) -> Any:
        issuer_id = account_param(account)
        service = services(request, node)
        body = await json_of(request)
        try:
            signed = service.check_signed_request(
                issuer_id,
                body.get("request") if isinstance(body, dict) else None,
                issuer_url(node.config.base_url, issuer_id.text) + "/offers",
            )
            vct, claims = signed.get("vct"), signed.get("claims")
            list_id = signed.get("status_list", 1)
            if not isinstance(vct, str) or not isinstance(claims, dict) or type(list_id) is not int:
                raise ProtocolError(
                    "oid4vci.bad_offer",
                    "invalid_request",
                    "the signed request needs vct, claims (an object), status_list",
                )
            record = metadata.credential_type(node.app.store, vct)
            if not read_trust(node.app.store, vct, issuer_id).current:
                raise ProtocolError(
                    "oid4vci.not_trusted",
                    "invalid_request",
                    f"{issuer_id} is not trusted for {vct}",
                    403,
                )
            values = derive_claims(vct, claims, datetime.now(tz=UTC).date())
            values = {k: v for k, v in values.items() if k in claims or k in record.claims}
            unknown = sorted(set(values) - set(record.claims))
            if unknown:
                raise ProtocolError(
                    "oid4vci.unknown_claim",
                    "invalid_request",
                    f"{vct} has no claim(s) {', '.join(unknown)}",
                )
            return service.issuer.offer(
                issuer_id,
                vct,
                values,
                list(record.disclosable),
                record.validity_days * 86_400,
                list_id,
                int(time.time()),
            )
        except ProtocolError as error:
            return refused(error)
        except ValueError as error:
            return refused(ProtocolError("oid4vci.bad_offer", "invalid_request", str(error)))

    @router.post(
        "/identity/issuers/{account}/token", summary="OAuth token endpoint (pre-authorised code)"
    )
    async def token(account: str, request: Request, node: NodeDep) -> Any:
        form = await form_of(request)
        try:
            answer = services(request, node).issuer.token(
                account_param(account), form, int(time.time())
            )
        except ProtocolError as error:
            return refused(error)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @router.post("/identity/issuers/{account}/nonce", summary="OpenID4VCI nonce endpoint")
    def nonce(account: str, request: Request, node: NodeDep) -> Any:
        account_param(account)
        answer = services(request, node).issuer.nonce(int(time.time()))
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @router.post(
        "/identity/issuers/{account}/credential",
        summary="OpenID4VCI credential endpoint: one SD-JWT VC per key proof",
    )
    async def credential(account: str, request: Request, node: NodeDep) -> Any:
        service = services(request, node)
        issuer_id = account_param(account)
        body = await json_of(request)
        try:
            checked = service.issuer.check_request(
                issuer_id, request.headers.get("authorization", ""), body, int(time.time())
            )
            offer_ = checked.grant.offer
            indexes = await service.allocate(
                issuer_id, offer_.list_id, len(checked.holder_jwks), request.app.state.waiters
            )
            answer = service.issuer.issue(checked, indexes, int(time.time()))
        except ProtocolError as error:
            return refused(error)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    # -- OpenID4VP ----------------------------------------------------------------------------

    @router.post(
        "/identity/verifiers/{account}/requests",
        summary="A presentation request (signed by the verifier): the openid4vp:// link",
    )
    async def presentation_request(account: str, request: Request, node: NodeDep) -> Any:
        verifier_id = account_param(account)
        service = services(request, node)
        body = await json_of(request)
        try:
            signed = service.check_signed_request(
                verifier_id,
                body.get("request") if isinstance(body, dict) else None,
                f"{node.config.base_url}/identity/verifiers/{verifier_id.text}/requests",
            )
            vct, claims = signed.get("vct"), signed.get("claims")
            if (
                not isinstance(vct, str)
                or not isinstance(claims, list)
                or not all(isinstance(c, str) for c in claims)
            ):
                raise ProtocolError(
                    "oid4vp.bad_request",
                    "invalid_request",
                    "the signed request needs vct and claims",
                )
            created = service.verifier(verifier_id).create_request(vct, claims, int(time.time()))
        except ProtocolError as error:
            return refused(error)
        return {
            "state": created.state,
            "link": created.link,
            "client_id": created.client_id,
            "response_uri": created.response_uri,
            "expires_at": created.expires_at,
            "result": f"{created.response_uri.removesuffix('/response')}/requests/{created.state}",
        }

    @router.post(
        "/identity/verifiers/{account}/response",
        summary="OpenID4VP direct_post: the wallet's vp_token for a request",
    )
    async def presentation_response(account: str, request: Request, node: NodeDep) -> Any:
        form = await form_of(request)
        try:
            verifier = services(request, node).verifier(account_param(account))
            verifier.receive(form, int(time.time()))
        except ProtocolError as error:
            return refused(error)
        return JSONResponse({}, headers={"Cache-Control": "no-store"})

    @router.get(
        "/identity/verifiers/{account}/requests/{state}",
        summary="What came of a presentation request: waiting, verified claims or a code",
    )
    def presentation_result(account: str, state: str, request: Request, node: NodeDep) -> Any:
        try:
            outcome = services(request, node).verifier(account_param(account)).result(state)
        except ProtocolError as error:
            return refused(error)
        return outcome or {"status": "waiting"}

    return router


def proved_list(node: Node, owner: AccountId, list_id: int) -> dict[str, Any]:
    """The list as JSON with a Merkle proof of its record and of every page, for those who
    check it against the ledger rather than trust a signature."""
    store = node.app.store
    status_list = read_list(store, owner, list_id)
    if status_list is None:
        raise NotFound(f"{owner} has no status list {list_id}")
    pages = -(-status_list.size * status_list.bits // (PAGE_BYTES * 8))
    listing = node.app.query(
        "identity", "status_list", {"issuer": owner.text, "list_id": str(list_id)}
    )
    record = state_answer(node, keys.status_list(owner, list_id), None, True)
    page_proofs = [
        state_answer(node, keys.status_page(owner, list_id, page), record.height, True).proof
        for page in range(pages)
    ]
    return {
        **listing,
        "uri": status_url(node.config.base_url, owner.text, list_id),
        "height": record.height,
        "list_proof": record.model_dump(),
        "page_proofs": [None if p is None else p.model_dump() for p in page_proofs],
    }
