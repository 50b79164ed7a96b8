"""The city portal: a public explorer, the resident space and the department console,
served as HTML by the node's API process at `/` (see README.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(api: FastAPI) -> None:
    """Add the portal's pages and its static files to the node's API (after /v1)."""
    from urbis.web.routes import router

    api.include_router(router())
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
