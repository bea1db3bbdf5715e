"""Every answer under /io/remote-content/ is an RFC 7807 problem, whichever layer refused the
request: unknown paths, other methods, malformed ids, NUL bytes."""

import pytest
from django.test import Client

from ioportal.remotecontent.models import RemoteContentAccess
from tests.remotecontent.conftest import CITIZEN, CONFIGURATION_ID, HEADER

BASE = "/io/remote-content/"
PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == status
    assert body["title"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize(
    "path",
    ["messages/{id}", "messages/{id}/precondition", "messages/{id}/allegato.pdf"],
)
def test_other_methods_than_get_are_a_405_problem(client: Client, rc, method, path) -> None:
    url = BASE + CONFIGURATION_ID + "/" + path.format(id="01JA1PHA0C0NF1G00000000099")
    response = getattr(client, method)(url, headers={HEADER: rc.key})
    assert_problem(response, 405)
    assert response["Allow"] == "GET"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "unknown",
        f"{CONFIGURATION_ID}",
        f"{CONFIGURATION_ID}/messages",
        f"{CONFIGURATION_ID}/altro/01JA1PHA0C0NF1G00000000099",
        # Something after the id is not the id.
        f"{CONFIGURATION_ID}EXTRA/messages/01JA1PHA0C0NF1G00000000099",
        f"{CONFIGURATION_ID[:-1]}/messages/01JA1PHA0C0NF1G00000000099",
        f"{CONFIGURATION_ID.lower()}/messages/01JA1PHA0C0NF1G00000000099",
    ],
)
def test_unknown_paths_are_a_404_problem_and_reach_no_configuration(
    client: Client, rc, path
) -> None:
    response = client.get(BASE + path, headers={HEADER: rc.key}, HTTP_FISCAL_CODE=CITIZEN)
    assert_problem(response, 404)
    assert not RemoteContentAccess.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        BASE + "%00/messages/x",
        BASE + CONFIGURATION_ID + "/messages/%00",
        BASE + CONFIGURATION_ID + "/messages/x?a=%00",
    ],
)
def test_nul_bytes_are_a_400_problem_without_a_session(client: Client, rc, url) -> None:
    response = client.get(url, headers={HEADER: rc.key}, HTTP_FISCAL_CODE=CITIZEN)
    assert_problem(response, 400)
    assert "Set-Cookie" not in response


def test_a_nul_in_the_fiscal_code_header_is_a_400_problem(client: Client, rc) -> None:
    url = BASE + CONFIGURATION_ID + "/messages/01JA1PHA0C0NF1G00000000099"
    response = client.get(url, headers={HEADER: rc.key}, HTTP_FISCAL_CODE=CITIZEN + "\x00")
    assert_problem(response, 400)


def test_a_failure_inside_a_view_is_a_500_problem(client: Client, rc, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("ioportal.remotecontent.io_views._Call.resolve", broken)
    client.raise_request_exception = False
    url = BASE + CONFIGURATION_ID + "/messages/01JA1PHA0C0NF1G00000000099"
    response = client.get(url, headers={HEADER: rc.key}, HTTP_FISCAL_CODE=CITIZEN)
    assert_problem(response, 500)
