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
AXE_SOURCE = AXE.read_text(encoding="utf-8") if AXE.exists() else ""
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


class ConsoleErrors(list[str]):
    """What the browser reported as an error while a test ran: console errors (CSP
    violations included), uncaught exceptions and failed requests. A page that works logs
    none; a test that provokes one on purpose removes it (`console_errors.clear()`)."""

    def watch(self, page) -> None:  # type: ignore[no-untyped-def]
        page.on(
            "console",
            lambda message: (
                self.append(f"{page.url}: {message.text}") if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: self.append(f"{page.url}: uncaught {error}"))


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


def new_page(browser, base_url: str, console_errors: ConsoleErrors, **options):  # type: ignore[no-untyped-def]
    """A page on a fresh context, under the portal's real Content-Security-Policy (axe-core
    is injected through the DevTools protocol, which the policy does not govern)."""
    context = browser.new_context(
        base_url=base_url,
        locale="it-IT",
        viewport={"width": 1280, "height": 900},
        **options,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    console_errors.watch(page)
    return page


@pytest.fixture
def page(browser, live_server, transactional_db, console_errors):  # type: ignore[no-untyped-def]
    page = new_page(browser, live_server.url, console_errors)
    yield page
    page.context.close()
    assert not console_errors, "the browser logged errors:\n" + "\n".join(console_errors)


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
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(AXE_SOURCE)
        violations = page.evaluate(
            """async () => (await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
            })).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: accessibility violations {bad}"

    return check
