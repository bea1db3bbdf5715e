"""The retention purge: personal data of dispatches finished more than the organization's
`retention_days` ago go; counts, outcomes, statistics and the audit log stay."""

import datetime
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.core.models import AuditEvent
from ioportal.dashboard.models import DailyDeliveryStats
from ioportal.dashboard.stats import refresh_daily_stats
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.retention import personal_data_expired
from ioportal.recipients.models import ListAttachment, RecipientChunk
from ioportal.remotecontent.models import Attachment, RemoteContentAccess
from ioportal.remotecontent.services import attachment_create
from ioportal.retention import services as retention
from ioportal.retention.services import PURGED_MASK, retention_purge
from ioportal.sending.services import dispatch_retry_failed
from tests import builders
from tests.remotecontent.conftest import make_pdf

pytestmark = pytest.mark.django_db

NOW = timezone.now()
CODES = ["RSSMRA80A01H501U", "VRDGPP75C15F205S", "BNCLRA90M41F205X"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def finished(
    service,
    author,
    *,
    days_ago: float,
    state=Dispatch.State.COMPLETED,
    fiscal_codes=CODES,
    **fields,
) -> Dispatch:
    """A Premium dispatch that ended `days_ago` days before NOW: one delivered citizen with a
    payment notice, one unreachable, one failed."""
    ended = NOW - datetime.timedelta(days=days_ago)
    dispatch = builders.dispatch(
        service,
        author,
        fiscal_codes,
        state=state,
        feature_level=FeatureLevel.ADVANCED,
        variables=lambda n: {"nome": f"Mario {n}", "importo": "12,50"},
        **fields,
    )
    Dispatch.objects.filter(pk=dispatch.pk).update(
        finished_at=ended if state in retention.FINISHED else None,
        created_at=ended - datetime.timedelta(hours=1),
    )
    deliveries = list(Delivery.objects.filter(dispatch=dispatch).order_by("row_number"))
    Delivery.objects.filter(pk=deliveries[0].pk).update(
        state=Delivery.State.PROCESSED,
        io_message_id=f"01IOMSG{dispatch.pk:06d}",
        submitted_at=ended,
        notice_number="302000100000009424",
        payment_amount=1250,
        read_status="READ",
        last_error_parts=[],
    )
    Delivery.objects.filter(pk=deliveries[1].pk).update(
        state=Delivery.State.SKIPPED, skip_reason="not_on_io"
    )
    if len(deliveries) > 2:
        Delivery.objects.filter(pk=deliveries[2].pk).update(
            state=Delivery.State.FAILED,
            last_error_code="io_unreachable",
            last_error_parts=[{"raw": f"IO rifiuta {fiscal_codes[2]}"}],
        )
    dispatch.refresh_from_db()
    return dispatch


@pytest.fixture
def service(organization):
    return builders.service(organization, premium_enabled=True, test_mode=False)


@pytest.fixture
def old(organization, service, operator_user):
    """A dispatch past the 30 days of its organization, with attachments, IO's accesses and
    its recipient list."""
    organization.retention_days = 30
    organization.save()
    dispatch = finished(service, operator_user, days_ago=31)
    first = dispatch.deliveries.order_by("row_number").first()
    attachment_create(data=make_pdf(), original_name="comune.pdf", dispatch=dispatch)
    own = attachment_create(data=make_pdf(pages=2), original_name="avviso.pdf", delivery=first)
    RemoteContentAccess.objects.create(
        delivery=first,
        attachment=own,
        operation="attachment",
        outcome="ok",
        http_status=200,
        lollipop={"x-pagopa-lollipop-public-key": "sha256:abc"},
    )
    template = builders.template(organization, operator_user)
    recipient_list = builders.recipient_list(template, service, operator_user)
    recipient_list.dispatch = dispatch
    recipient_list.save()
    ListAttachment.objects.create(
        recipient_list=recipient_list, original_name="x.pdf", match_name="x.pdf"
    )
    return dispatch


def outcome_counts(dispatch: Dispatch) -> list[tuple]:
    return list(
        Delivery.objects.filter(dispatch=dispatch)
        .order_by("row_number")
        .values_list(
            "row_number",
            "state",
            "skip_reason",
            "last_error_code",
            "io_message_id",
            "read_status",
            "payment_amount",
            "submitted_at",
            "attempts",
        )
    )


def stats_rows() -> list[tuple]:
    return sorted(
        DailyDeliveryStats.objects.values_list(
            "organization_id", "service_id", "day", "outcome", "deliveries"
        )
    )


def test_purge_removes_every_personal_field_and_keeps_counts_outcomes_stats_and_audit(
    old, django_capture_on_commit_callbacks
):
    files = [a.file.name for a in Attachment.objects.all()]
    assert len(files) == 2 and all(default_storage.exists(name) for name in files)
    refresh_daily_stats()
    stats_before = stats_rows()
    assert stats_before
    outcomes_before = outcome_counts(old)
    audit_before = list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "changes"))

    with django_capture_on_commit_callbacks(execute=True):
        result = retention_purge(now=NOW)

    assert (result.dispatches, result.deliveries) == (1, 3)
    for delivery in Delivery.objects.filter(dispatch=old):
        assert delivery.fiscal_code_encrypted == ""
        assert delivery.fiscal_code_hmac == f"purged:{delivery.pk}"
        assert delivery.fiscal_code_masked == PURGED_MASK
        assert delivery.variables == {}
        assert delivery.notice_number == ""
        assert delivery.last_error_parts == []
    raw = connection.cursor()
    raw.execute("SELECT variables FROM messaging_delivery WHERE dispatch_id = %s", [old.pk])
    assert {row[0] for row in raw.fetchall()} == {""}
    assert not Attachment.objects.exists()
    assert not any(default_storage.exists(name) for name in files)
    assert not ListAttachment.objects.exists()
    assert not RecipientChunk.objects.filter(recipient_list__dispatch=old).exists()
    assert RemoteContentAccess.objects.get().lollipop == {}

    assert outcome_counts(old) == outcomes_before
    old.refresh_from_db()
    assert old.personal_data_purged_at == NOW
    assert (old.subject, old.markdown) == (builders.DISPATCH_SUBJECT, builders.DISPATCH_MARKDOWN)
    assert stats_rows() == stats_before
    DailyDeliveryStats.objects.all().delete()
    refresh_daily_stats()
    assert stats_rows() == stats_before  # recounted from the purged deliveries: the same
    after = list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "changes"))
    assert after[: len(audit_before)] == audit_before
    purge_event = AuditEvent.objects.get(action="retention.purged")
    assert purge_event.changes["deliveries"] == 3
    assert purge_event.target_id == str(old.public_id)
    assert purge_event.organization_id == old.organization_id
    text = " ".join(str(value) for row in after for value in row)
    assert all(code not in text for code in CODES)


def test_purge_is_idempotent(old):
    assert retention_purge(now=NOW).dispatches == 1
    first_state = outcome_counts(old)
    assert retention_purge(now=NOW).dispatches == 0
    assert retention.dispatch_purge_personal_data(dispatch=old, now=NOW) is None
    assert outcome_counts(old) == first_state
    assert AuditEvent.objects.filter(action="retention.purged").count() == 1


def test_a_purge_interrupted_halfway_is_finished_by_the_next_run(old, monkeypatch):
    monkeypatch.setattr(retention, "CHUNK", 1)
    original = retention._purge_dispatch_data

    def crash(dispatch):
        raise RuntimeError("worker stopped")

    monkeypatch.setattr(retention, "_purge_dispatch_data", crash)
    with pytest.raises(RuntimeError):
        retention_purge(now=NOW)
    assert not Delivery.objects.filter(dispatch=old, fiscal_code_encrypted__gt="").exists()
    old.refresh_from_db()
    assert old.personal_data_purged_at is None
    monkeypatch.setattr(retention, "_purge_dispatch_data", original)
    assert retention_purge(now=NOW).deliveries == 3
    assert not Attachment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_purge_once(organization, service, operator_user):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers: two runs at once need PostgreSQL")
    organization.retention_days = 30
    organization.save()
    dispatches = [finished(service, operator_user, days_ago=40) for _ in range(4)]
    results = []

    def run():
        try:
            results.append(retention_purge(now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result.dispatches for result in results) == 4
    assert AuditEvent.objects.filter(action="retention.purged").count() == 4
    assert not Delivery.objects.filter(
        dispatch__in=dispatches, fiscal_code_encrypted__gt=""
    ).exists()


def test_each_organization_keeps_its_own_days(organization, other_organization, operator_user):
    organization.retention_days = 30
    organization.save()
    other_organization.retention_days = 365
    other_organization.save()
    ours = builders.service(organization)
    theirs = builders.service(other_organization)
    other_author = builders.user(Membership.Role.OPERATOR, other_organization)
    due = finished(ours, operator_user, days_ago=30.001)
    kept = finished(ours, operator_user, days_ago=29.999)
    theirs_kept = finished(theirs, other_author, days_ago=364)
    theirs_due = finished(theirs, other_author, days_ago=366)
    assert retention_purge(now=NOW).dispatches == 2
    purged = set(Dispatch.objects.filter(personal_data_purged_at__isnull=False))
    assert purged == {due, theirs_due}
    for dispatch in (kept, theirs_kept):
        assert not Delivery.objects.filter(dispatch=dispatch, fiscal_code_encrypted="").exists()


@pytest.mark.parametrize(
    "state",
    [
        Dispatch.State.RUNNING,
        Dispatch.State.PAUSED,
        Dispatch.State.SCHEDULED,
        Dispatch.State.AWAITING_APPROVAL,
        Dispatch.State.PREPARING,
        Dispatch.State.DRAFT,
    ],
)
def test_a_dispatch_not_finished_is_never_purged(organization, service, operator_user, state):
    organization.retention_days = 30
    organization.save()
    dispatch = finished(service, operator_user, days_ago=400, state=state)
    # Even with an old end time left over (a completed dispatch reopened to retry).
    Dispatch.objects.filter(pk=dispatch.pk).update(finished_at=NOW - datetime.timedelta(days=400))
    assert retention_purge(now=NOW).dispatches == 0
    assert not Delivery.objects.filter(dispatch=dispatch, fiscal_code_encrypted="").exists()


@pytest.mark.parametrize("state", [Dispatch.State.CANCELLED, Dispatch.State.REJECTED])
def test_cancelled_and_rejected_dispatches_are_purged_too(
    organization, service, operator_user, state
):
    organization.retention_days = 30
    organization.save()
    finished(service, operator_user, days_ago=31, state=state)
    assert retention_purge(now=NOW).deliveries == 3


def test_a_single_message_loses_its_text(organization, service, operator_user):
    organization.retention_days = 30
    organization.save()
    single = finished(
        service,
        operator_user,
        days_ago=31,
        fiscal_codes=CODES[:2],
        kind=Dispatch.Kind.SINGLE,
        title="Mario Rossi, via Roma 1",
        subject="Mario Rossi, via Roma 1",
        markdown="Gentile Mario Rossi, il suo permesso…",
    )
    retention_purge(now=NOW)
    single.refresh_from_db()
    assert "Rossi" not in single.title + single.subject + single.markdown


def test_a_purged_or_expired_dispatch_cannot_be_sent_again(old, operator_user):
    assert personal_data_expired(old, timezone.now())
    with pytest.raises(NotAllowed):
        dispatch_retry_failed(dispatch=old, actor=operator_user)
    retention_purge(now=NOW)
    old.refresh_from_db()
    with pytest.raises(NotAllowed):
        dispatch_retry_failed(dispatch=old, actor=operator_user)
    assert Delivery.objects.filter(dispatch=old, state=Delivery.State.FAILED).count() == 1


def test_pages_after_the_purge_say_the_data_were_deleted(client, login, supervisor_user, old):
    login(supervisor_user)
    until = timezone.localdate(old.finished_at + datetime.timedelta(days=30))
    before = client.get(reverse("sending:dispatch_detail", args=[old.public_id])).content
    assert f"restano disponibili fino al {until:%d/%m/%Y}" in before.decode()
    retention_purge(now=NOW)
    dispatch_page = client.get(reverse("sending:dispatch_detail", args=[old.public_id]))
    assert dispatch_page.status_code == 200
    assert "sono stati cancellati il" in dispatch_page.content.decode()
    delivery = old.deliveries.order_by("row_number").first()
    page = client.get(reverse("sending:delivery_detail", args=[delivery.public_id]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "politica di conservazione dei dati" in body and "Mario" not in body
    assert 'id="personal-data-purged"' in body
    reveal = client.post(reverse("sending:delivery_reveal", args=[delivery.public_id]))
    assert reveal.status_code == 302
    shown = client.get(reveal.url).content.decode()
    assert "Il codice fiscale è stato cancellato" in shown
    assert not AuditEvent.objects.filter(action="delivery.fiscal_code_shown").exists()


def test_schedule_is_registered():
    from ioportal.core.management.commands.schedule_tasks import app_schedules

    assert ("ioportal.retention.tasks.purge_personal_data", 60) in {
        (func, minutes) for func, _name, minutes in app_schedules()
    }


def test_the_task_runs_the_purge(old):
    from ioportal.retention.tasks import purge_personal_data

    assert purge_personal_data() == 1


def test_admin_sets_the_retention_days_on_the_retention_page(
    client, login, admin_user, organization
):
    login(admin_user)
    settings_page = client.get(reverse("accounts:organization_settings")).content.decode()
    url = reverse("retention:settings")
    assert url == "/conservazione/" and url in settings_page
    page = client.get(url).content.decode()
    assert "Predefinito: 365 giorni" in page and 'value="365"' in page
    for wrong in ("-1", "0", "29", "3651", ""):
        refused = client.post(url, {"retention_days": wrong})
        assert refused.status_code == 200
        assert "Indica un numero di giorni da 30 a 3650." in refused.content.decode()
    organization.refresh_from_db()
    assert organization.retention_days == 365
    assert client.post(url, {"retention_days": "90"}).status_code == 302  # nothing due
    organization.refresh_from_db()
    assert organization.retention_days == 90
    event = AuditEvent.objects.get(action="org.updated")
    assert event.changes["retention_days"] == [365, 90]


def test_a_shorter_retention_that_purges_asks_for_confirmation(
    client, login, admin_user, operator_user, organization, service
):
    finished(service, operator_user, days_ago=100)
    finished(service, operator_user, days_ago=50, fiscal_codes=CODES[:2])
    kept = finished(service, operator_user, days_ago=10)
    login(admin_user)
    url = reverse("retention:settings")
    asked = client.post(url, {"retention_days": "40"})
    assert asked.status_code == 200
    page = " ".join(asked.content.decode().split())
    assert 'id="retention-purge-preview"' in page
    assert "2 invii" in page and "con 5 messaggi" in page
    # No reachability check is counted: none is mentioned.
    assert "queste verifiche" not in page and "verifiche di raggiungibilità" not in page
    oldest = timezone.localtime(NOW - datetime.timedelta(days=100)).strftime("%d/%m/%Y")
    assert f"il più vecchio il {oldest}" in page
    assert 'name="confirmed" value="on"' in page
    organization.refresh_from_db()
    assert organization.retention_days == 365  # nothing saved without the confirmation
    assert not AuditEvent.objects.filter(action="org.updated").exists()

    assert client.post(url, {"retention_days": "40", "confirmed": "on"}).status_code == 302
    organization.refresh_from_db()
    assert organization.retention_days == 40
    assert retention_purge(now=timezone.now()).dispatches == 2
    kept.refresh_from_db()
    assert kept.personal_data_purged_at is None

    # Longer, or shorter with nothing due: saved at once.
    assert client.post(url, {"retention_days": "400"}).status_code == 302
    assert client.post(url, {"retention_days": "30"}).status_code == 302
    organization.refresh_from_db()
    assert organization.retention_days == 30


def test_operators_and_supervisors_cannot_change_the_days(
    client, login, supervisor_user, organization
):
    login(supervisor_user)
    url = reverse("retention:settings")
    assert client.get(url).status_code == 403
    assert client.post(url, {"retention_days": "30", "confirmed": "on"}).status_code == 403
    organization.refresh_from_db()
    assert organization.retention_days == 365


def test_the_command_runs_the_purge(old):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("retention_purge", stdout=out)
    assert out.getvalue().strip() == "dispatches purged: 1, deliveries: 3"


@pytest.mark.parametrize(
    "page", ["list_mapping", "list_result", "list_rejected_csv", "list_preview", "list_confirm"]
)
def test_the_list_pages_of_a_purged_dispatch_do_not_fail(client, login, operator_user, old, page):
    login(operator_user)
    url = reverse(f"messaging:{page}", args=[old.recipient_list.public_id])
    retention_purge(now=NOW)
    assert client.get(url, follow=True).status_code == 200


def test_the_confirmation_counts_reachability_checks_too(
    client, login, admin_user, operator_user, organization, service
):
    """Reachability checks lose their rows after the same retention: the confirmation says
    how many (even when no dispatch is due) and the checks' purge then removes them."""
    from ioportal.reachability.models import ReachabilityCheck
    from ioportal.reachability.services import reachability_checks_purge_expired

    def check(days_ago: float, codes: list[str]) -> ReachabilityCheck:
        made = builders.reachability_check(service, operator_user, codes)
        ReachabilityCheck.objects.filter(pk=made.pk).update(
            state=ReachabilityCheck.State.DONE,
            finished_at=NOW - datetime.timedelta(days=days_ago),
        )
        return made

    check(100, CODES)
    check(60, CODES[:2])
    check(10, CODES)  # kept
    login(admin_user)
    url = reverse("retention:settings")
    asked = client.post(url, {"retention_days": "40"})
    assert asked.status_code == 200
    page = " ".join(asked.content.decode().split())
    assert 'id="retention-purge-preview"' in page
    assert "2 verifiche di raggiungibilità, con 5 codici fiscali" in page
    assert " invii, con " not in page  # no dispatch is due
    assert "questi invii" not in page and "di queste verifiche non potranno" in page
    organization.refresh_from_db()
    assert organization.retention_days == 365
    assert client.post(url, {"retention_days": "40", "confirmed": "on"}).status_code == 302
    assert reachability_checks_purge_expired(now=timezone.now()) == 2


def test_the_retention_days_tell_a_wrong_number_as_other_whole_number_fields(
    client, login, admin_user, organization
):
    """Not a whole number: WholeNumberField's own message; out of range: the range sentence,
    in the reader's language."""
    login(admin_user)
    url = reverse("retention:settings")
    for wrong in ("1.5", "abc"):
        page = client.post(url, {"retention_days": wrong}).content.decode()
        assert "Scrivi un numero intero, senza decimali" in page
        assert "Indica un numero di giorni" not in page
    english = client.post(url, {"retention_days": "1.000"}, HTTP_ACCEPT_LANGUAGE="en")
    page = english.content.decode()
    assert "Indica un numero di giorni" not in page
    assert "Write a whole number" in page
    page = client.post(url, {"retention_days": "5000"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Enter a number of days from 30 to 3650." in page
    organization.refresh_from_db()
    assert organization.retention_days == 365


def test_the_confirmation_groups_the_days_thousands(
    client, login, admin_user, operator_user, organization, service
):
    """ "Passando da 1.000 a 30 giorni" (1,000 in English), as every other count is shown."""
    organization.retention_days = 1000
    organization.save(update_fields=["retention_days"])
    finished(service, operator_user, days_ago=100)
    login(admin_user)
    url = reverse("retention:settings")
    page = " ".join(client.post(url, {"retention_days": "30"}).content.decode().split())
    assert "Passando da 1.000 a 30 giorni" in page
    english = client.post(url, {"retention_days": "30"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "1,000" in english.content.decode()
