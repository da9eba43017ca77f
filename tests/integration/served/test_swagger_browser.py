"""Swagger UI in a real headless Chromium, offline: the page loads, lists the OSB operations, and runs them.

The browser is Debian's ``chromium`` (installed by ``scripts/ensure-chromium`` when missing), driven by
Playwright through ``executable_path``, so no browser build is downloaded. Every request that does not go to
the loopback broker is aborted and recorded: the page must need nothing from the internet.
"""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect, sync_playwright

from tests.integration.served.conftest import ServedBroker

ROOT = Path(__file__).resolve().parents[3]

# As Debian's Chromium runs here as root on a closed network: no sandbox (root), and no background
# connections to Google's services, which would only be refused.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium, installed by the project's script if it is missing."""
    result = subprocess.run(  # noqa: S603 - the project's own script, no shell
        [str(ROOT / "scripts" / "ensure-chromium")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        message = f"Chromium is not available: {result.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_swagger_ui_works_offline_and_tries_the_catalog(
    browser: Browser, served_broker: ServedBroker
) -> None:
    """Offline, the page lists the OSB operations and "Try it out" on the catalog with a token answers 200."""
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        if urllib.parse.urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context = browser.new_context()
    try:
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.goto(f"{served_broker.url}/")
        expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        listed = page.locator(".opblock-summary-path").all_inner_texts()
        listed_paths = {text.replace("\u200b", "").strip() for text in listed}
        assert {
            "/oauth/v2/catalog",
            "/oauth/v2/service_instances/{instance_id}",
            "/oauth/v2/service_instances/{instance_id}/last_operation",
            "/oauth/v2/service_instances/{instance_id}/service_bindings/{binding_id}",
        } <= listed_paths

        page.locator("button.authorize").first.click()
        page.locator(".modal-ux input").first.fill(served_broker.token("broker:write"))
        page.locator(".modal-ux button.authorize").first.click()
        page.locator(".modal-ux button.btn-done").first.click()

        catalog = page.locator("#operations-OSB-OauthV2CatalogCatalog")
        catalog.locator(".opblock-summary").click()
        catalog.locator("button.try-out__btn").click()
        version = catalog.locator('tr[data-param-name="X-Broker-API-Version"] input')
        expect(version).to_have_value("2.14")
        catalog.locator("button.execute").click()
        status = catalog.locator(".live-responses-table .response .response-col_status").first
        expect(status).to_have_text("200", timeout=30_000)
        body = catalog.locator(".live-responses-table .response-col_description pre").first.inner_text()
        assert "kymaruntime" in body
    finally:
        context.close()
    assert blocked == []
