"""The endpoints IO calls: shapes, content types, errors that reveal nothing, the log."""

import hashlib
import json

import pytest
from django.test import Client

from ioportal.messaging.models import FeatureLevel
from ioportal.remotecontent.models import RemoteContentAccess
from ioportal.remotecontent.selectors import delivery_access_summary, dispatch_access_counts
from tests.remotecontent.conftest import (
    CITIZEN,
    CONFIGURATION_ID,
    HEADER,
    OTHER_CITIZEN,
    make_pdf,
)

BASE = f"/io/remote-content/{CONFIGURATION_ID}"
Outcome = RemoteContentAccess.Outcome


def call(client: Client, path: str, key: str | None, fiscal_code: str | None = CITIZEN, **extra):
    headers = {HEADER: key} if key is not None else {}
    if fiscal_code is not None:
        extra["HTTP_FISCAL_CODE"] = fiscal_code
    return client.get(f"{BASE}{path}", headers=headers, **extra)


@pytest.fixture
def delivery(make_delivery, add_attachment, rc):
    delivery = make_delivery(CITIZEN)
    add_attachment(dispatch=delivery.dispatch, name="informativa.pdf")
    add_attachment(delivery=delivery, name="avviso TARI è.pdf")
    return delivery


def test_details_list_the_shared_and_own_attachments(client, delivery, rc):
    response = call(client, f"/messages/{delivery.public_id}", rc.key)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert [a["name"] for a in body["attachments"]] == ["informativa.pdf", "avviso TARI è.pdf"]
    for attachment in body["attachments"]:
        assert set(attachment) == {"id", "url", "content_type", "name", "category"}
        assert attachment["content_type"] == "application/pdf"
        assert attachment["category"] == "DOCUMENT"


def test_attachment_download_returns_the_bytes(client, delivery, rc):
    data = make_pdf(pages=2, pdfa=True)
    own = delivery.attachments.get()
    own.file.open("wb")
    own.file.write(data)
    own.file.close()
    details = call(client, f"/messages/{delivery.public_id}", rc.key).json()
    url = next(a["url"] for a in details["attachments"] if a["id"] == str(own.public_id))
    # The app's query string is appended by IO and ignored.
    response = call(client, f"/messages/{delivery.public_id}/{url}?download=1", rc.key)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment;" in response["Content-Disposition"]
    assert "filename*=utf-8''avviso%20TARI%20%C3%A8.pdf" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(data).hexdigest()


def test_wrong_fiscal_code_gets_the_same_404_as_an_unknown_id(client, delivery, rc):
    wrong = call(client, f"/messages/{delivery.public_id}", rc.key, fiscal_code=OTHER_CITIZEN)
    unknown = call(client, "/messages/3f0e2a4c-9d1b-4c7e-8a55-0c6f1e2d3b4a", rc.key)
    garbage = call(client, "/messages/000003", rc.key)
    for response in (wrong, unknown, garbage):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.content == wrong.content
    body = json.loads(wrong.content)
    assert body["status"] == 404 and body["title"] and body["detail"]
    # The wrong citizen cannot download either, even knowing the file's id.
    attachment = delivery.attachments.get()
    response = call(
        client, f"/messages/{delivery.public_id}/{attachment.public_id}", rc.key, OTHER_CITIZEN
    )
    assert response.status_code == 404 and response.content == wrong.content


def test_another_citizens_attachment_is_not_served(client, delivery, make_delivery, rc):
    other = make_delivery(OTHER_CITIZEN)
    other_file = other.dispatch.attachments.get()  # shared: allowed for both
    own_of_first = delivery.attachments.get()
    response = call(
        client, f"/messages/{other.public_id}/{own_of_first.public_id}", rc.key, OTHER_CITIZEN
    )
    assert response.status_code == 404
    response = call(
        client, f"/messages/{other.public_id}/{other_file.public_id}", rc.key, OTHER_CITIZEN
    )
    assert response.status_code == 200


@pytest.mark.parametrize("key", [None, "", "sbagliata"])
def test_missing_or_wrong_key_is_401(client, delivery, rc, key):
    response = call(client, f"/messages/{delivery.public_id}", key)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert "attachments" not in response.content.decode()


def test_unknown_configuration_is_the_same_401(client, delivery, rc):
    good = call(client, f"/messages/{delivery.public_id}", "sbagliata")
    response = client.get(
        f"/io/remote-content/01JBETA00C0NF1G00000000001/messages/{delivery.public_id}",
        headers={HEADER: rc.key},
        HTTP_FISCAL_CODE=CITIZEN,
    )
    assert response.status_code == 401 and response.content == good.content


def test_regenerated_key_replaces_the_old_one(client, delivery, rc, admin_user):
    from ioportal.remotecontent.services import rc_configuration_regenerate_key

    new_key = rc_configuration_regenerate_key(configuration=rc.configuration, actor=admin_user)
    assert call(client, f"/messages/{delivery.public_id}", rc.key).status_code == 401
    assert call(client, f"/messages/{delivery.public_id}", new_key).status_code == 200


@pytest.mark.parametrize("fiscal_code", [None, "rssmra80a01h501u", "RSSMRA80A01H501U,X"])
def test_missing_or_malformed_fiscal_code_is_400(client, delivery, rc, fiscal_code):
    response = call(client, f"/messages/{delivery.public_id}", rc.key, fiscal_code=fiscal_code)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 400


def test_standard_message_is_not_served(client, make_delivery, add_attachment, rc):
    delivery = make_delivery(CITIZEN, feature_level=FeatureLevel.STANDARD)
    response = call(client, f"/messages/{delivery.public_id}", rc.key)
    assert response.status_code == 404


def test_attachment_not_ready_is_503_with_retry_after(client, delivery, rc, settings):
    settings.REMOTE_CONTENT_RETRY_AFTER_SECONDS = 17
    attachment = delivery.attachments.get()
    attachment.validated = False
    attachment.save()
    response = call(client, f"/messages/{delivery.public_id}/{attachment.public_id}", rc.key)
    assert response.status_code == 503
    assert response["Retry-After"] == "17"
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 503


def test_precondition_is_404_problem(client, delivery, rc):
    response = call(client, f"/messages/{delivery.public_id}/precondition", rc.key)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_only_get_is_allowed(client, delivery, rc):
    response = client.post(
        f"{BASE}/messages/{delivery.public_id}", headers={HEADER: rc.key}, HTTP_FISCAL_CODE=CITIZEN
    )
    assert response.status_code == 405


def test_lollipop_headers_are_recorded_never_fatal(client, delivery, rc):
    response = call(
        client,
        f"/messages/{delivery.public_id}",
        rc.key,
        HTTP_X_PAGOPA_LOLLIPOP_ORIGINAL_METHOD="GET",
        HTTP_X_PAGOPA_LOLLIPOP_ASSERTION_REF="sha256-abc",
        HTTP_X_PAGOPA_LOLLIPOP_USER_ID=CITIZEN,
        HTTP_X_PAGOPA_LOLLIPOP_AUTH_JWT="not-even-a-jwt",
        HTTP_SIGNATURE="sig1=:garbage:",
    )
    assert response.status_code == 200
    record = RemoteContentAccess.objects.get().lollipop
    assert record["x-pagopa-lollipop-original-method"] == "GET"
    assert record["user_id_matches"] is True
    assert record["x-pagopa-lollipop-auth-jwt"].startswith("sha256:")
    assert CITIZEN not in json.dumps(record)


def test_every_call_is_logged_and_summarised(client, delivery, make_delivery, rc):
    attachment = delivery.attachments.get()
    call(client, f"/messages/{delivery.public_id}", rc.key)
    call(client, f"/messages/{delivery.public_id}", rc.key)
    call(client, f"/messages/{delivery.public_id}/{attachment.public_id}", rc.key)
    call(client, f"/messages/{delivery.public_id}", rc.key, fiscal_code=OTHER_CITIZEN)
    call(client, f"/messages/{delivery.public_id}", "sbagliata")
    outcomes = sorted(RemoteContentAccess.objects.values_list("outcome", flat=True))
    assert outcomes == sorted(
        [Outcome.OK, Outcome.OK, Outcome.OK, Outcome.WRONG_RECIPIENT, Outcome.UNAUTHORIZED]
    )
    summary = delivery_access_summary(delivery=delivery)
    assert summary["opened"] is True and summary["open_count"] == 2
    assert summary["downloads"] == [
        {
            "attachment_id": attachment.public_id,
            "name": attachment.original_name,
            "count": 1,
            "first_at": summary["downloads"][0]["first_at"],
        }
    ]
    assert summary["refused"] == 1  # the wrong fiscal code; the bad key names no delivery
    untouched = make_delivery(OTHER_CITIZEN)
    assert delivery_access_summary(delivery=untouched)["opened"] is False
    assert dispatch_access_counts(dispatch=delivery.dispatch) == {"opened": 1, "downloaded": 1}
    # No fiscal code in clear anywhere in the log.
    for row in RemoteContentAccess.objects.values():
        assert CITIZEN not in json.dumps(row, default=str)
        assert OTHER_CITIZEN not in json.dumps(row, default=str)
