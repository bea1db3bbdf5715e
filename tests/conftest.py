"""Shared fixtures: the network guard, organizations, users by role, signed-in clients."""

import os
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership, Organization, User
from tests import builders, network_guard
from tests.builders import PASSWORD
from tests.processes import Clusters

__all__ = ["PASSWORD", "confirmation_fields", "require_service", "send_single", "verified_login"]


def require_service(name: str, available: bool, how: str) -> None:
    """Skip when a service is missing, except in CI where every test must run."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI: {how}")
    pytest.skip(f"{name} not available: {how}")


# What `make run` reads to place its processes; a developer's values (shell or `.env`) must
# not change what a test expects.
RUN_ONLY_VARIABLES = ("HOST", "PORT", "FAKEIO_PORT")


def pytest_configure(config: pytest.Config) -> None:
    network_guard.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    network_guard.uninstall()


@pytest.fixture(autouse=True)
def _no_network_beyond_localhost() -> Iterator[None]:
    """Fails a test that tried to reach another machine (tests/network_guard.py)."""
    network_guard.attempts.clear()
    yield
    network_guard.fail_on_attempts()


@pytest.fixture(autouse=True)
def _language_of_the_site() -> Iterator[None]:
    """Each test starts in the site's language: a request in another language (the test
    client's Accept-Language) leaves that language active in the thread after it."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _numbering_from_one() -> None:
    builders.reset_numbering()


@pytest.fixture(autouse=True)
def _without_run_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RUN_ONLY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_send_windows() -> Iterator[None]:
    """Each test reads organizations' send windows afresh (ids are reused across tests)."""
    from ioportal.sending import gate

    gate.forget()
    yield
    gate.forget()


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Clusters]:
    """Real qcluster processes with the fast pipeline settings; stopped after the test."""
    started = Clusters(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def organization(db: None) -> Organization:
    return builders.organization()


@pytest.fixture
def other_organization(db: None) -> Organization:
    return builders.organization("Comune Altro", "00123450587")


def verified_login(client: Client, user: User) -> Client:
    """Sign in as `user` with the second factor already passed (a confirmed TOTP device)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="default", defaults={"confirmed": True}
    )
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def citizen_search(client: Client, fiscal_code: str) -> str:
    """POST the search of `fiscal_code` as the signed-in supervisor; the reference of the
    results page it redirects to (the URL holds it, never the code)."""
    from django.urls import reverse

    response = client.post(reverse("sending:delivery_search"), {"codice_fiscale": fiscal_code})
    assert response.status_code == 302, response.content.decode()
    assert fiscal_code.upper() not in response["Location"].upper()
    reference = response["Location"].rstrip("/").rsplit("/", 1)[1]
    assert response["Location"] == reverse("sending:delivery_search_results", args=[reference])
    return reference


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def confirmation_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the single message's confirmation page, as a browser posts them
    (the CSRF token aside)."""
    form = page[page.index('action="/messaggi/singolo/conferma/"') :]
    parser = _HiddenInputs()
    parser.feed(form[: form.index("</form>")])
    parser.fields.pop("csrfmiddlewaretoken", None)
    return parser.fields


def send_single(client: Client, data: dict[str, object]) -> object:
    """Send a message to one citizen as the operator does: the form («Invia»), then the
    confirmation page («Conferma e invia»). The response of the confirmation."""
    from django.urls import reverse

    page = client.post(reverse("messaging:single"), data)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="single-confirm"' in text, text
    return client.post(reverse("messaging:single_confirm"), confirmation_fields(text))


@pytest.fixture
def login(client: Client) -> Callable[[User], Client]:
    def do(user: User) -> Client:
        return verified_login(client, user)

    return do


@pytest.fixture
def admin_user(organization: Organization) -> User:
    return builders.user(Membership.Role.ADMIN, organization, username="admin")


@pytest.fixture
def supervisor_user(organization: Organization) -> User:
    return builders.user(Membership.Role.SUPERVISOR, organization, username="supervisor")


@pytest.fixture
def operator_user(organization: Organization) -> User:
    return builders.user(Membership.Role.OPERATOR, organization, username="operator")


@pytest.fixture(autouse=True)
def _fresh_limiter_rows() -> Iterator[None]:
    """The limiter remembers which accounts have their row; a test's rollback removes rows,
    and every IO call (the IO gateway's) takes a token, so forget them around each test."""
    from ioportal.sending import limiter

    limiter._known_rows.clear()
    yield
    limiter._known_rows.clear()
