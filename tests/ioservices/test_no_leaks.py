"""No page, response, log line or audit row ever contains a stored key: every page reachable
from the dashboard is fetched, as admin, supervisor and installation superuser."""

import logging
import re
from urllib.parse import urljoin, urlparse

import pytest
import responses
from django.urls import reverse

from ioportal.accounts.models import Membership
from ioportal.ioservices import services
from ioportal.ioservices.models import ServiceCheck
from ioportal.ioservices.tasks import ioservice_check
from tests import builders
from tests.ioservices.conftest import (
    IO_BASE,
    NEW_KEY,
    PRIMARY_KEY,
    SECONDARY_KEY,
    assert_no_key_in,
    assert_no_key_in_audit,
)

HREF_RE = re.compile(r'href="([^"#]+)"')
SKIP = ("/static/", "/admin/", "/i18n/", "/account/uscita/")


def crawl(client, start="/", limit=200):
    """GET every same-site page reachable from `start`; returns {path: body}."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        path = queue.pop()
        if path in seen or path.startswith(SKIP):
            continue
        response = client.get(path)
        body = response.content.decode(errors="replace")
        seen[path] = body
        for href in HREF_RE.findall(body):
            target = urlparse(urljoin(path, href.replace("&amp;", "&")))
            if target.netloc:
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen:
                queue.append(link)
    return seen


@pytest.fixture
def busy_service(service, organization):
    """A service with a finished check, a key switch and edits in the audit trail."""
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, f"{IO_BASE}/profiles", json={"sender_allowed": True})
        check = ServiceCheck.objects.create(service=service)
        ioservice_check(check.pk)
    services.ioservice_key_rejected(service=service, key_slot="primary")
    services.ioservice_update(service=service, actor="test", primary_key=NEW_KEY)
    return service


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.SUPERVISOR])
def test_every_page_is_free_of_keys(client, login, organization, busy_service, role, caplog):
    caplog.set_level(logging.DEBUG)
    login(builders.user(role, organization))
    pages = crawl(client)
    assert len(pages) >= 5, sorted(pages)
    assert reverse("ioservices:detail", args=[busy_service.public_id]) in pages
    assert reverse("dashboard:audit_list") in pages
    if role == Membership.Role.ADMIN:
        assert reverse("ioservices:edit", args=[busy_service.public_id]) in pages
    for path, body in pages.items():
        assert_no_key_in(body, PRIMARY_KEY, SECONDARY_KEY, NEW_KEY, where=path)
    assert_no_key_in(caplog.text, PRIMARY_KEY, SECONDARY_KEY, NEW_KEY, where="logs")
    assert_no_key_in_audit(PRIMARY_KEY, SECONDARY_KEY, NEW_KEY)


def test_superuser_pages_are_free_of_keys(client, login, organization, busy_service):
    root = builders.user(Membership.Role.ADMIN, organization, username="root", superuser=True)
    login(root)
    pages = crawl(client)
    assert reverse("accounts:organization_list") in pages
    for path, body in pages.items():
        assert_no_key_in(body, PRIMARY_KEY, SECONDARY_KEY, NEW_KEY, where=path)


def test_error_pages_of_the_form_are_free_of_keys(client, login, admin_user, busy_service):
    login(admin_user)
    url = reverse("ioservices:edit", args=[busy_service.public_id])
    response = client.post(
        url,
        {
            "service_id": "!!",
            "name": "",
            "primary_key": SECONDARY_KEY,
            "secondary_key": PRIMARY_KEY,
        },
    )
    assert response.status_code == 200
    assert_no_key_in(response.content.decode(), PRIMARY_KEY, SECONDARY_KEY, NEW_KEY)
