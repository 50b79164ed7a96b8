"""The portal's URLs. Each page is a plain function of a Reader (explorer.py); this file
turns requests into Readers and errors into HTML pages with their codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from urbis.api.deps import HEIGHT_MAX, problem
from urbis.chain.errors import UrbisError
from urbis.web import elections, explorer, processes, spaces
from urbis.web.i18n import LANGUAGES
from urbis.web.layout import Reader, reader
from urbis.web.signin import (
    COOKIE,
    RESIDENT_TYPE,
    SESSION_TTL_S,
    STAFF_TYPE,
    IdentityModuleVerifier,
    PresentationService,
    Sessions,
)

LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def router() -> APIRouter:
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    def html(view: Callable[..., tuple[Any, int]]) -> Callable[..., Response]:
        """Run a page; an UrbisError becomes an HTML page with its code, never a traceback."""

        def respond(request: Request, *args: Any, **kwargs: Any) -> Response:
            r = reader(request)
            try:
                body, status = view(r, *args, **kwargs)
            except UrbisError as error:
                body, status = explorer.error_page(r, error, error.http_status)
            response = HTMLResponse(body, status_code=status)
            choice = request.query_params.get("lang")
            if choice in LANGUAGES:
                response.set_cookie("lang", choice, max_age=LANG_COOKIE_MAX_AGE_S, samesite="lax")
            response.headers["Content-Security-Policy"] = CSP
            return response

        return respond

    @router.get("/")
    def home(request: Request) -> Response:
        return html(explorer.home)(request)

    @router.get("/blocks/{height}")
    def block(request: Request, height: Annotated[int, Path(ge=0, le=HEIGHT_MAX)]) -> Response:
        return html(explorer.block)(request, height)

    @router.get("/txs/{tx_id}")
    def transaction(request: Request, tx_id: str) -> Response:
        return html(explorer.transaction)(request, tx_id)

    @router.get("/accounts/{account_id}")
    def account(request: Request, account_id: str) -> Response:
        return html(explorer.account)(request, account_id)

    @router.get("/dids/{did:path}")
    def did(request: Request, did: str) -> Response:
        return html(explorer.did)(request, did)

    @router.get("/documents")
    def documents(request: Request) -> Response:
        return html(explorer.documents)(request)

    @router.get("/documents/lookup")
    def document_lookup(request: Request, hash: str = "") -> Response:
        return RedirectResponse(f"/documents/{quote(hash.strip().lower())}", status_code=303)

    @router.get("/documents/{digest}")
    def document(request: Request, digest: str) -> Response:
        return html(explorer.document)(request, digest)

    @router.get("/invoices/{invoice_id}")
    def invoice(request: Request, invoice_id: str) -> Response:
        return html(explorer.invoice)(request, invoice_id)

    @router.get("/datasets")
    def datasets(request: Request) -> Response:
        return html(explorer.datasets)(request)

    @router.get("/datasets/{dataset_id}/{version}")
    def dataset(
        request: Request, dataset_id: str, version: Annotated[int, Path(ge=1, le=2**32 - 1)]
    ) -> Response:
        return html(explorer.dataset)(request, dataset_id, version)

    @router.get("/money")
    def money(request: Request) -> Response:
        return html(explorer.money_page)(request)

    @router.get("/contracts")
    def contracts(request: Request) -> Response:
        return html(explorer.contracts)(request)

    @router.get("/contracts/{ref}")
    def contract(request: Request, ref: str) -> Response:
        return html(explorer.contract)(request, ref)

    @router.get("/procedures")
    def procedures(request: Request) -> Response:
        return html(processes.procedures)(request)

    @router.get("/procedures/{ref}/{subject}")
    def procedure(request: Request, ref: str, subject: str) -> Response:
        return html(processes.procedure)(request, ref, subject)

    @router.get("/elections")
    def elections_page(request: Request) -> Response:
        return html(elections.elections)(request)

    @router.get("/elections/{election_id}")
    def election(request: Request, election_id: str) -> Response:
        return html(elections.election)(request, election_id)

    @router.get("/elections/{election_id}/verification")
    def election_verification(request: Request, election_id: str) -> Response:
        return html(elections.verification)(request, election_id)

    @router.get("/resident")
    def resident(request: Request) -> Response:
        return space(request, "resident")

    @router.get("/department")
    def department(request: Request) -> Response:
        return space(request, "staff")

    def space(request: Request, kind: str) -> Response:
        r = reader(request)
        session = sessions_of(request).get(request.cookies.get(COOKIE), kind)
        if session is not None:
            show = spaces.resident_space if kind == "resident" else spaces.department_console
            return html(lambda r: show(r, session))(request)
        wanted = RESIDENT_TYPE if kind == "resident" else STAFF_TYPE
        try:
            created: dict[str, Any] | None = verifier_of(request, r).create(wanted)
            problem = ""
        except UrbisError as error:
            created, problem = None, f"{error.code}: {error.message}"
        except Exception as error:  # the identity service refusing (oid4vp.*, identity.*)
            created, problem = None, f"{getattr(error, 'code', 'web.signin_unavailable')}: {error}"
        response = html(lambda r: spaces.signin_page(r, kind, created, problem))(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        """The browser, once the wallet answered: its key's signature over the request."""
        r = reader(request)
        try:
            body = await request.json()
            kind = body["kind"] if body.get("kind") in ("resident", "staff") else "resident"
            session_id = await run_in_threadpool(
                sessions_of(request).open,
                r.node,
                verifier_of(request, r),
                kind,
                str(body["state"]),
                str(body["account"]),
                bytes.fromhex(str(body["public_key"])),
                bytes.fromhex(str(body["signature"])),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return problem(400, "web.bad_signin", "Bad sign-in", "send state, account, "
                           "public_key and signature (hex) as JSON")
        except UrbisError as error:
            return problem(error.http_status, error.code, error.title, error.message)
        response = JSONResponse({"signed_in": True, "kind": kind})
        response.set_cookie(COOKIE, session_id, max_age=SESSION_TTL_S, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    @router.post("/signout")
    def signout(request: Request) -> Response:
        sessions_of(request).close(request.cookies.get(COOKIE))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/search")
    def search(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
        r: Reader = reader(request)
        target = explorer.search_target(r, q)
        if target is None:
            return html(lambda r: explorer.no_match(r, q))(request)
        return RedirectResponse(target, status_code=303)

    return router


def sessions_of(request: Request) -> Sessions:
    state = request.app.state
    if not hasattr(state, "portal_sessions"):
        state.portal_sessions = Sessions()
    sessions: Sessions = state.portal_sessions
    return sessions


def verifier_of(request: Request, r: Reader) -> PresentationService:
    """The OpenID4VP verifier the portal signs people in with (tests may set another)."""
    found = getattr(request.app.state, "portal_verifier", None)
    if found is None:
        found = IdentityModuleVerifier(request.app.state, r.node)
    service: PresentationService = found
    return service


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
"""Only the portal's own scripts run: a value shown on a page can never become code.
Inline styles are allowed for the charts' legend swatches only."""
