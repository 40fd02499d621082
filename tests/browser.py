"""The web page tests' browser: Debian's Chromium driven by Playwright, and what the page shows."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"  # screenshots, kept by CI
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium; skipped where it is missing, except under CI, which installs it."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must run the browser tests, not skip them
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def probabilities_on(page) -> dict[str, float]:
    """The page's shown probabilities, in percent, by label."""
    rows = page.locator(".bar-row").all_inner_texts()
    values: dict[str, float] = {}
    for row in rows:
        match = re.match(r"(\S+)\s+([\d.]+) %", row.replace("\n", " "))
        assert match, f"not a label and a percentage: {row!r}"
        label, percent = match.groups()
        values[label] = float(percent)
    return values
