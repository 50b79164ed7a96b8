"""Playwright for the portal's browser tests: installed by ./scripts/install-browser."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


def playwright_sync_api() -> ModuleType:
    """Playwright's sync API; a skip where it is not installed, a failure under CI (CI=true),
    where every browser test must run."""
    try:
        import playwright.sync_api as api
    except ImportError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {error}", pytrace=False)
        pytest.skip("playwright is missing: run ./scripts/install-browser", allow_module_level=True)
    return api
