"""Pages shown to a signed-in user are never kept by a browser or proxy cache."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ioportal.accounts.models import Membership, Organization
from ioportal.messaging.models import Dispatch
from tests import builders
from tests.conftest import verified_login
from tests.test_hostile_input import _build_objects

# (URL name, the object whose id it takes): one page of each kind that shows personal data.
PAGES = [
    ("dashboard:dashboard", None),
    ("dashboard:audit_list", None),
    ("messaging:template_edit", "template"),
    ("messaging:list_mapping", "list"),  # samples of the file's columns
    ("messaging:list_result", "list"),
    ("messaging:list_preview", "list"),  # a citizen's message, fiscal code included
    ("messaging:list_confirm", "list"),
    ("messaging:list_rejected_csv", "list"),
    ("messaging:approvals", None),
    ("sending:dispatch_list", None),
    ("sending:dispatch_detail", "dispatch"),  # the deliveries
    ("reports:dispatch_deliveries_csv", "dispatch"),
    ("reports:dispatch_deliveries_xlsx", "dispatch"),
    ("sending:delivery_detail", "delivery"),  # the message of one citizen
    ("sending:delivery_search", None),
    ("accounts:member_list", None),
    ("ioservices:detail", "service"),
    ("remotecontent:list", None),
]


@pytest.mark.parametrize(("name", "kind"), PAGES)
def test_signed_in_pages_are_not_stored(
    name: str,
    kind: str | None,
    organization: Organization,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    admin = builders.user(Membership.Role.ADMIN, organization)
    objects = _build_objects(organization, admin, 1)
    if name.startswith("reports:dispatch_deliveries"):
        # Exports exist once a dispatch may send (messaging.availability).
        Dispatch.objects.filter(public_id=objects.ids["dispatch"]).update(
            state=Dispatch.State.RUNNING
        )
    client = verified_login(Client(), admin)
    url = reverse(name, args=[objects.ids[kind]] if kind else [])
    response = client.get(url)
    assert response.status_code == 200, url
    assert "no-store" in response["Cache-Control"]


def test_pages_for_anonymous_visitors_keep_their_own_rules(client: Client) -> None:
    response = client.get("/account/password/reimposta/inviata/")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
