"""A POST-only URL opened with GET (a download button's address typed or bookmarked) answers
405 with the portal's Italian page and the Allow header, never a blank page. Every URL of
the URLconf is walked, so a new POST-only view is covered without editing this test."""

from typing import Any

from django.test import Client

from ioportal.accounts.models import Membership, Organization
from tests import builders
from tests.conftest import verified_login
from tests.test_hostile_input import _build_objects, _routes, _urls


def test_every_post_only_url_answers_get_with_a_page(
    organization: Organization, other_organization: Organization, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    admin = builders.user(Membership.Role.ADMIN, organization)
    own = _build_objects(organization, admin, 1)
    other = _build_objects(
        other_organization, builders.user(Membership.Role.ADMIN, other_organization), 2
    )
    client = Client(raise_request_exception=False)
    verified_login(client, admin)
    post_only: list[str] = []
    blank: list[str] = []
    for route in _routes():
        if route.template.startswith(("/admin/", "/io/")):
            continue
        urls = [url for url, kind in _urls(route, own, other) if kind == "own"]
        if route.name.startswith("reports:") and "<uuid:public_id>" in route.template:
            # The shared walk fills some report ids with "1"; these take a dispatch's.
            urls.append(route.template.replace("<uuid:public_id>", own.ids["dispatch"]))
        for url in urls:
            response = client.get(url)
            if response.status_code != 405:
                continue
            post_only.append(route.name)
            text = response.content.decode()
            if "Questa pagina si apre solo dal pulsante" not in text or "POST" not in (
                response.get("Allow", "")
            ):
                blank.append(url)
    assert {
        "reports:dispatch_proofs_zip",
        "reports:handoff_download",
        "messaging:list_exclude_repeated",
    } <= set(post_only), post_only
    assert not blank, blank
