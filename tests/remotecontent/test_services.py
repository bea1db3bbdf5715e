"""Storage, deletion, retention, third_party_data and monthly counts."""

import os
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone, translation

from ioportal.core.io_texts import reason_text
from ioportal.messaging.models import FeatureLevel
from ioportal.recipients.pdf import PdfValidationError
from ioportal.remotecontent import services
from ioportal.remotecontent.models import Attachment, RemoteContentConfiguration
from ioportal.remotecontent.selectors import monthly_message_counts
from ioportal.remotecontent.tasks import attachments_retention
from tests.remotecontent.conftest import CITIZEN, CONFIGURATION_ID, OTHER_CITIZEN, make_pdf


def test_attachment_is_stored_under_a_random_name(make_delivery, add_attachment, media_root):
    delivery = make_delivery()
    attachment = add_attachment(delivery=delivery, name="../../etc/passwd.pdf", data=make_pdf())
    assert attachment.original_name == "passwd.pdf"
    assert attachment.file.name.startswith("attachments/")
    assert "passwd" not in attachment.file.name
    assert (media_root / attachment.file.name).exists()
    assert attachment.validated and attachment.size > 0 and len(attachment.sha256) == 64
    assert attachment.pdfa_declared == "" and "PDF/A" in reason_text(attachment.warnings[0])


def test_refused_file_stores_nothing(make_delivery, media_root):
    delivery = make_delivery()
    with pytest.raises(PdfValidationError):
        services.attachment_create(
            data=make_pdf(javascript=True), original_name="x.pdf", delivery=delivery
        )
    assert not Attachment.objects.exists()
    assert not (media_root / "attachments").exists() or not os.listdir(media_root / "attachments")


def test_attachment_needs_exactly_one_owner(make_delivery):
    delivery = make_delivery()
    with pytest.raises(ValueError):
        services.attachment_create(
            data=make_pdf(), original_name="a.pdf", dispatch=delivery.dispatch, delivery=delivery
        )


@pytest.mark.django_db(transaction=True)
def test_delete_for_dispatch_removes_rows_and_files(make_delivery, add_attachment, media_root):
    delivery = make_delivery()
    shared = add_attachment(dispatch=delivery.dispatch)
    own = add_attachment(delivery=delivery)
    paths = [media_root / shared.file.name, media_root / own.file.name]
    assert services.attachments_delete_for(dispatch=delivery.dispatch) == 2
    assert not Attachment.objects.exists()
    assert not any(path.exists() for path in paths)


@pytest.mark.django_db(transaction=True)
def test_cleanup_deletes_expired_and_orphans(make_delivery, add_attachment, media_root, settings):
    settings.REMOTE_CONTENT_RETENTION_DAYS = 30
    delivery = make_delivery()
    old = add_attachment(delivery=delivery)
    recent = add_attachment(delivery=delivery)
    Attachment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    orphan = default_storage.save("attachments/orphan.pdf", __import__("io").BytesIO(b"%PDF-"))
    two_hours_ago = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(media_root / orphan, (two_hours_ago, two_hours_ago))
    result = attachments_retention()  # the daily worker schedule
    assert result == {"expired": 1, "orphans": 1}
    assert list(Attachment.objects.all()) == [recent]
    assert not (media_root / old.file.name).exists()
    assert (media_root / recent.file.name).exists()
    assert services.attachments_cleanup() == {"expired": 0, "orphans": 0}


def test_third_party_data_for_premium_with_attachments(make_delivery, add_attachment, rc):
    delivery = make_delivery()
    assert services.third_party_data_for(delivery) is None  # Premium, but no files
    add_attachment(dispatch=delivery.dispatch)
    assert services.third_party_data_for(delivery) == {
        "id": str(delivery.public_id),
        "configuration_id": CONFIGURATION_ID,
        "has_attachments": True,
    }


def test_third_party_data_for_standard_is_none(make_delivery, add_attachment, rc):
    delivery = make_delivery(feature_level=FeatureLevel.STANDARD)
    add_attachment(delivery=delivery)
    assert services.third_party_data_for(delivery) is None


def test_third_party_data_needs_a_registered_configuration(
    make_delivery, add_attachment, premium_service, rc
):
    delivery = make_delivery()
    add_attachment(delivery=delivery)
    rc.configuration.delete()  # after the service named it
    with pytest.raises(services.RemoteContentNotConfigured, match="non è registrata"):
        services.third_party_data_for(delivery)
    premium_service.remote_content_configuration_id = ""
    premium_service.save()
    delivery.refresh_from_db()
    with pytest.raises(services.RemoteContentNotConfigured, match="non ha una configurazione"):
        services.third_party_data_for(delivery)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", "Il servizio non ha una configurazione per i contenuti remoti"),
        ("en", "The service has no remote content configuration"),
    ],
)
def test_missing_configuration_is_stored_untranslated(
    make_delivery, add_attachment, premium_service, language, expected
):
    """The worker's language does not matter: the outcome is read in the reader's."""
    from ioportal.messaging.models import Delivery
    from ioportal.sending import steps

    premium_service.remote_content_configuration_id = ""
    premium_service.save()
    delivery = make_delivery()
    add_attachment(delivery=delivery)
    delivery.refresh_from_db()
    worker = "en" if language == "it" else "it"
    with translation.override(worker):
        _message, _code, detail = steps.prepare_message(delivery, CITIZEN, premium_service)
    Delivery.objects.filter(pk=delivery.pk).update(last_error_parts=detail)
    delivery.refresh_from_db()
    with translation.override(language):
        assert expected in delivery.last_error_text


def test_configuration_key_is_stored_hashed(rc):
    stored = RemoteContentConfiguration.objects.get()
    assert rc.key not in str(stored.__dict__)
    assert stored.key_last4 == rc.key[-4:]
    assert services.key_matches(stored, rc.key)
    assert not services.key_matches(stored, rc.key + "x")
    assert len(rc.key) >= 40


@pytest.mark.parametrize("name", ["x_api_key", "Authorization", "fiscal-code", "a", "x pagopa"])
def test_bad_header_names_are_refused(name):
    with pytest.raises(ValidationError):
        services.validate_header_name(name)


PROXY_HEADERS = [
    "X-Forwarded-For",
    "x-forwarded-host",
    "X-Forwarded-Proto",
    "Forwarded",
    "Via",
    "X-Real-IP",
    "Host",
    "Content-Length",
    "Connection",
    "Keep-Alive",
    "Transfer-Encoding",
    "TE",
    "Trailer",
    "Upgrade",
    "Proxy-Authorization",
    "Proxy-Connection",
]


@pytest.mark.parametrize("name", PROXY_HEADERS)
def test_headers_a_proxy_sets_are_refused_as_the_reserved_ones(name):
    with pytest.raises(ValidationError) as caught:
        services.validate_header_name(name)
    assert caught.value.code == "header_name_reserved"


@pytest.mark.parametrize("name", ["X-Ioportal-Key", "X-Api-Key", "Ente-Chiave", "X-Forwarder"])
def test_other_header_names_are_accepted(name):
    assert services.validate_header_name(name) == name


def test_monthly_counts_split_premium_and_standard(make_delivery, organization):
    now = timezone.now()
    for index, code in enumerate([CITIZEN, OTHER_CITIZEN]):
        make_delivery(code, io_message_id=f"P{index}", state="processed", submitted_at=now)
    make_delivery(
        CITIZEN,
        feature_level=FeatureLevel.STANDARD,
        io_message_id="S1",
        state="submitted",
        submitted_at=now,
    )
    make_delivery(OTHER_CITIZEN, feature_level=FeatureLevel.STANDARD)  # never reached IO
    rows = monthly_message_counts(organization=organization)
    assert len(rows) == 1
    assert rows[0]["premium"] == 2 and rows[0]["standard"] == 1 and rows[0]["total"] == 3
    assert rows[0]["service_name"] == "Tributi"
