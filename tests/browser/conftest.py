"""Playwright on Debian's Chromium against the live test server; no browser downloads."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import User
from tests.conftest import PASSWORD, require_service

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the tests
# themselves are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require_service("Chromium", os.path.exists(CHROMIUM), "run `make test` to install it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db):  # type: ignore[no-untyped-def]
    # bypass_csp only lets the test inject axe-core; the portal's own policy stays strict.
    context = browser.new_context(
        base_url=live_server.url,
        locale="it-IT",
        bypass_csp=True,
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def current_token(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{value:06d}"


@pytest.fixture
def sign_in() -> Callable[..., None]:
    def do(page, user: User) -> None:  # type: ignore[no-untyped-def]
        page.goto("/account/accesso/")
        page.get_by_label("Nome utente").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Accedi").click()
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            page.get_by_label("Codice a 6 cifre").fill(current_token(user))
            page.get_by_role("button", name="Verifica").click()
        page.wait_for_load_state()

    return do


@pytest.fixture
def axe_check() -> Callable[..., None]:
    """Run axe-core on the current page; fail on serious or critical violations."""

    def check(page, name: str) -> None:  # type: ignore[no-untyped-def]
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
            })).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: accessibility violations {bad}"

    return check
