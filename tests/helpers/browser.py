"""Playwright for the portal's browser tests: installed by ./scripts/install-browser."""

from __future__ import annotations

from types import ModuleType

from tests.helpers import missing_tool


def playwright_sync_api() -> ModuleType:
    """Playwright's sync API; a skip where it is not installed, a failure under CI (CI=true),
    where every browser test must run."""
    try:
        import playwright.sync_api as api
    except ImportError as error:
        missing_tool(f"playwright is missing ({error}): run ./scripts/install-browser")
    return api
