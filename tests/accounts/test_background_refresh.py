"""The idle timeout and pages that refresh themselves; htmx requests sent to sign in."""

import re
import time

from django.conf import settings
from django.test import Client
from django.urls import reverse

from ioportal.accounts.middleware import SESSION_ACTIVE_AT_KEY

LIST = reverse("sending:dispatch_list")
LOGIN = reverse("accounts:login")
PAGE_URL = "http://testserver/invii/?page=1"
# What the polling rows of the dispatch list send (templates/sending/_history_rows.html).
POLL = {
    "HTTP_HX_REQUEST": "true",
    "HTTP_HX_TRIGGER": "history-rows",
    "HTTP_X_BACKGROUND_REFRESH": "history-rows",
    "HTTP_HX_CURRENT_URL": PAGE_URL,
}


def set_active_at(client: Client, seconds_ago: float) -> float:
    session = client.session
    session[SESSION_ACTIVE_AT_KEY] = value = time.time() - seconds_ago
    session.save()
    return value


def test_every_polling_element_names_itself():
    # A self-refreshing element sends its own id as the marker, so the refresh is told
    # apart from the user's requests (see is_background_refresh).
    polling = re.compile(r"<[a-z]+ [^>]*hx-trigger=\"every [^>]*>")
    found = 0
    for path in (settings.BASE_DIR / "templates").rglob("*.html"):
        for tag in polling.findall(path.read_text()):
            found += 1
            element_id = re.search(r' id="([^"]+)"', tag)
            assert element_id, path
            marker = f"""hx-headers='{{"X-Background-Refresh": "{element_id[1]}"}}'"""
            assert marker in tag, path
    assert found >= 6


def test_a_background_refresh_does_not_move_the_idle_deadline(client, login, operator_user):
    login(operator_user)
    before = set_active_at(client, 30)
    assert client.get(LIST, **POLL).status_code == 200
    assert client.session[SESSION_ACTIVE_AT_KEY] == before


def test_a_users_request_moves_the_idle_deadline(client, login, operator_user):
    login(operator_user)
    before = set_active_at(client, 30)
    assert client.get(LIST).status_code == 200
    assert client.session[SESSION_ACTIVE_AT_KEY] > before


def test_an_htmx_click_inside_a_polling_element_counts_as_activity(client, login, operator_user):
    # The child inherits the marker header but triggers with its own id (or none).
    login(operator_user)
    before = set_active_at(client, 30)
    click = {**POLL, "HTTP_HX_TRIGGER": "some-button"}
    assert client.get(LIST, **click).status_code == 200
    assert client.session[SESSION_ACTIVE_AT_KEY] > before


def test_the_session_ends_after_the_idle_time_despite_polling(client, login, operator_user):
    login(operator_user)
    set_active_at(client, settings.SESSION_COOKIE_AGE - 5)
    for _ in range(3):
        assert client.get(LIST, **POLL).status_code == 200
    set_active_at(client, settings.SESSION_COOKIE_AGE + 1)
    response = client.get(LIST, **POLL)
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{LOGIN}?next=%2Finvii%2F%3Fpage%3D1"
    assert client.get(LIST).url.startswith(LOGIN)


def test_an_htmx_request_after_expiry_moves_the_window_to_the_login(client, login, operator_user):
    login(operator_user)
    client.logout()
    response = client.get(LIST, **POLL)
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{LOGIN}?next=%2Finvii%2F%3Fpage%3D1"
    assert response.content == b""
    assert "HX-Request" in response["Vary"]


def test_an_htmx_request_without_a_local_page_goes_to_the_bare_login(client):
    response = client.get(
        LIST, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://elsewhere.example//x"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == LOGIN


def test_a_normal_request_after_expiry_keeps_the_usual_redirect(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={LIST}"
    assert "HX-Redirect" not in response
