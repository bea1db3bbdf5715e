"""Versions, launch idempotency, approval (four eyes), test sends, rejected-rows export."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.models import AuditEvent
from ioportal.messaging import services
from ioportal.messaging.audit import Action
from ioportal.messaging.models import ApprovalPolicy, Delivery, Dispatch, Notification
from ioportal.recipients.audit import Action as RecipientsAction
from ioportal.recipients.models import RecipientList
from ioportal.recipients.rendering import delivery_content
from ioportal.recipients.services import rejected_rows_csv
from ioportal.recipients.tasks import purge_expired_lists
from tests import builders


@pytest.fixture
def checked(service, organization, operator_user):
    template = builders.template(organization, operator_user)
    return builders.recipient_list(template, service, operator_user)


def test_list_counts_and_reasons(checked):
    assert (checked.valid_count, checked.rejected_count) == (2, 2)
    assert checked.total_amount == 0  # amounts here are placeholders, not payment notices
    lines = [r["line"] for r in checked.get_rejected()]
    assert lines == [4, 5]


def test_template_edit_versions_only_when_used(checked, operator_user, woken):
    template = checked.template
    services.dispatch_launch_list(recipient_list=checked, actor=operator_user)
    new = services.template_update(
        template=template, actor=operator_user, subject="Avviso TARI nuovo"
    )
    assert new.pk != template.pk and new.version == 2 and new.is_current
    template.refresh_from_db()
    assert not template.is_current and template.subject == "Avviso TARI 2026"
    assert Dispatch.objects.get().template == template


def test_launch_is_idempotent(checked, operator_user, woken, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, created = services.dispatch_launch_list(recipient_list=checked, actor=operator_user)
    again, created_again = services.dispatch_launch_list(
        recipient_list=checked, actor=operator_user
    )
    assert created and not created_again and first == again
    assert Dispatch.objects.count() == 1
    assert first.state == Dispatch.State.RUNNING and first.launch_token == checked.launch_token
    assert woken == [checked.organization_id]
    deliveries = list(first.deliveries.order_by("row_number"))
    assert [reveal_fiscal_code(d.fiscal_code_encrypted) for d in deliveries] == [
        "RSSMRA85T10A562S",
        "VRDGPP75C15F205S",
    ]
    subject, markdown = delivery_content(first, deliveries[1])
    # Values are content: markdown-escaped in the body, never markup.
    assert "Bruno {{ x }} \\<b\\>" in markdown and "30,00 euro" in markdown
    checked.refresh_from_db()
    assert checked.state == RecipientList.State.LAUNCHED and not checked.chunks.exists()
    assert AuditEvent.objects.filter(action=Action.DISPATCH_LAUNCHED).count() == 1


def test_the_launch_refuses_a_list_test_mode_would_skip_entirely(
    organization, operator_user, woken
):
    """Whoever calls it, the launch itself refuses a list of which no citizen is authorised
    while the service is in test mode: nothing is created, the list stays as it was. Once one
    of them is authorised the same list is launched; once launched, the launch gives the
    dispatch back even if the service no longer reaches anybody."""
    template = builders.template(organization, operator_user)
    testing = builders.service(organization, test_mode=True, authorized_recipients=[])
    recipient_list = builders.recipient_list(template, testing, operator_user)
    assert recipient_list.valid_count == 2
    with pytest.raises(NotAllowed) as refused:
        services.dispatch_launch_list(recipient_list=recipient_list, actor=operator_user)
    assert refused.value.message == (
        "Nessun cittadino riceverebbe il messaggio: il servizio è in modalità di prova "
        "e nessun destinatario è tra quelli autorizzati."
    )
    assert not Dispatch.objects.exists() and not Delivery.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.DISPATCH_LAUNCHED).exists()
    recipient_list.refresh_from_db()
    assert recipient_list.state == RecipientList.State.VALIDATED
    assert recipient_list.dispatch_id is None and recipient_list.chunks.exists()

    testing.authorized_recipients = ["VRDGPP75C15F205S"]
    testing.save()
    dispatch, created = services.dispatch_launch_list(
        recipient_list=recipient_list, actor=operator_user
    )
    assert created and dispatch.deliveries.count() == 2
    testing.authorized_recipients = []
    testing.save()
    again, created_again = services.dispatch_launch_list(
        recipient_list=recipient_list, actor=operator_user
    )
    assert again == dispatch and not created_again


def test_scheduled_launch(checked, operator_user, woken, django_capture_on_commit_callbacks):
    when = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch, _ = services.dispatch_launch_list(
            recipient_list=checked, actor=operator_user, scheduled_at=when
        )
    assert dispatch.state == Dispatch.State.SCHEDULED and woken
    with pytest.raises(ValidationError):
        services.dispatch_launch_list(
            recipient_list=checked, actor=operator_user, scheduled_at=timezone.now()
        )


def test_approval_flow(
    checked, operator_user, supervisor_user, organization, woken, django_capture_on_commit_callbacks
):
    ApprovalPolicy.objects.create(organization=organization, threshold=1)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch, _ = services.dispatch_launch_list(recipient_list=checked, actor=operator_user)
    assert dispatch.state == Dispatch.State.AWAITING_APPROVAL and woken == []
    with pytest.raises(NotAllowed):
        services.dispatch_approve(dispatch=dispatch, actor=operator_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.dispatch_approve(dispatch=dispatch, actor=supervisor_user)
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING and dispatch.approved_by == supervisor_user
    assert woken == [organization.pk]
    with pytest.raises(NotAllowed, match="non è più in attesa"):
        services.dispatch_approve(dispatch=dispatch, actor=supervisor_user)
    note = Notification.objects.get(user=operator_user)
    assert "ha approvato" in note.text
    assert AuditEvent.objects.filter(action=Action.DISPATCH_APPROVED).exists()


def test_reject_needs_reason_and_cancels(
    checked, operator_user, supervisor_user, organization, woken
):
    ApprovalPolicy.objects.create(organization=organization, always_for_premium=False, threshold=0)
    dispatch, _ = services.dispatch_launch_list(recipient_list=checked, actor=operator_user)
    with pytest.raises(ValidationError):
        services.dispatch_reject(dispatch=dispatch, actor=supervisor_user, reason="  ")
    services.dispatch_reject(dispatch=dispatch, actor=supervisor_user, reason="Importi errati")
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.REJECTED
    assert dispatch.rejection_reason == "Importi errati"
    assert not Delivery.objects.filter(dispatch=dispatch).exclude(state="cancelled").exists()
    note = Notification.objects.get(user=operator_user)
    assert "ha respinto il tuo invio" in note.text and "Importi errati" in note.text
    with translation.override("en"):  # stored untranslated: read in the author's language
        assert "rejected your dispatch" in note.text and "Importi errati" in note.text
    event = AuditEvent.objects.get(action=Action.DISPATCH_REJECTED)
    assert event.changes == {"reason": "Importi errati"}


def test_premium_always_needs_approval(organization):
    policy = ApprovalPolicy(organization=organization, always_for_premium=True)
    assert policy.requires_approval(recipients=1, feature_level="advanced")
    assert not policy.requires_approval(recipients=1000, feature_level="standard")


def test_supervisor_cannot_approve_own(service, organization):
    author = builders.user(Membership.Role.SUPERVISOR, organization)
    template = builders.template(organization, author)
    recipient_list = builders.recipient_list(template, service, author)
    ApprovalPolicy.objects.create(organization=organization, threshold=0)
    dispatch, _ = services.dispatch_launch_list(recipient_list=recipient_list, actor=author)
    with pytest.raises(NotAllowed, match="hai creato tu"):
        services.dispatch_approve(dispatch=dispatch, actor=author)


def test_send_test_goes_to_authorized_recipients(checked, operator_user, woken, service):
    service.authorized_recipients = ["AAAAAA00A00A000A", "rssmra85t10a562s"]
    service.save()
    row = checked.get_valid()[1]
    dispatch = services.dispatch_send_test(recipient_list=checked, row=row, actor=operator_user)
    assert dispatch.kind == Dispatch.Kind.TEST and dispatch.state == Dispatch.State.RUNNING
    codes = [reveal_fiscal_code(d.fiscal_code_encrypted) for d in dispatch.deliveries.all()]
    assert sorted(codes) == ["AAAAAA00A00A000A", "RSSMRA85T10A562S"]
    assert all(d.variables["nome"] == "Bruno {{ x }} <b>" for d in dispatch.deliveries.all())


def test_single_message_idempotent(organization, service, operator_user, woken):
    import uuid

    token = uuid.uuid4()
    kwargs = dict(
        organization=organization,
        service=service,
        actor=operator_user,
        fiscal_code="rssmra85t10a562s",
        subject="Documento pronto",
        markdown="Il documento è pronto {{ x }}." * 5,
        launch_token=token,
    )
    first, created = services.dispatch_create_single(**kwargs)
    second, created_again = services.dispatch_create_single(**kwargs)
    assert created and not created_again and first == second
    delivery = first.deliveries.get()
    assert delivery_content(first, delivery)[1].startswith("Il documento è pronto {{ x }}.")


def test_rejected_csv_neutralises_formulas(service, organization):
    from ioportal.accounts.models import User

    author = User.objects.create(username="a")
    template = builders.template(organization, author)
    data = b'Codice fiscale;Nome;Importo\n=HYPERLINK("x");+SUM(1);-3\n'
    recipient_list = builders.recipient_list(template, service, author, data=data)
    body = rejected_rows_csv(recipient_list=recipient_list, actor=author)
    assert body.startswith("\ufeff")
    assert '"\'=HYPERLINK(""x"")"' in body and '"\'+SUM(1)"' in body and '"\'-3"' in body
    assert AuditEvent.objects.filter(action=RecipientsAction.RECIPIENTS_REJECTED_EXPORTED).exists()


def test_template_edit_in_place_when_unused(checked, operator_user):
    template = checked.template
    same = services.template_update(template=template, actor=operator_user, name="TARI")
    assert same.pk == template.pk and same.version == 1
    checked.refresh_from_db()
    assert checked.state == RecipientList.State.UPLOADED  # must be checked again
    assert AuditEvent.objects.filter(action=Action.TEMPLATE_UPDATED).exists()


def test_expired_lists_are_purged_by_the_hourly_task(checked):
    assert purge_expired_lists() == 0  # not expired yet
    RecipientList.objects.filter(pk=checked.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert purge_expired_lists() >= 1
    assert not RecipientList.objects.filter(pk=checked.pk).exists()


def test_a_ready_dispatch_wakes_the_sending_pipeline(monkeypatch, organization):
    """messaging signals `dispatch_ready`; the sending app, built on it, enqueues workers."""
    from ioportal.messaging.signals import dispatch_ready

    queued: list[tuple] = []
    monkeypatch.setattr(
        "ioportal.sending.triggers.async_task", lambda *args, **kwargs: queued.append(args)
    )
    dispatch_ready.send(sender=None, organization_id=organization.pk)
    assert queued and queued[0] == ("ioportal.sending.tasks.run_account", organization.pk)


def test_a_dispatch_that_starts_running_records_when(
    checked, operator_user, supervisor_user, organization, service, woken
):
    """The history's start date and "Avviati di recente" sort read `started_at`: every way
    into RUNNING sets it (launch, approval, single message, test send)."""
    import uuid

    launched, _ = services.dispatch_launch_list(recipient_list=checked, actor=operator_user)
    launched.refresh_from_db()
    assert launched.state == Dispatch.State.RUNNING and launched.started_at is not None

    single, _ = services.dispatch_create_single(
        organization=organization,
        service=service,
        actor=operator_user,
        fiscal_code="RSSMRA85T10A562S",
        subject="Documento pronto",
        markdown="Il documento è pronto allo sportello." * 3,
        launch_token=uuid.uuid4(),
    )
    assert single.state == Dispatch.State.RUNNING and single.started_at is not None

    ApprovalPolicy.objects.create(organization=organization, threshold=0)
    waiting, _ = services.dispatch_create_single(
        organization=organization,
        service=service,
        actor=operator_user,
        fiscal_code="RSSMRA85T10A562S",
        subject="Documento pronto",
        markdown="Il documento è pronto allo sportello." * 3,
        launch_token=uuid.uuid4(),
    )
    assert waiting.state == Dispatch.State.AWAITING_APPROVAL and waiting.started_at is None
    services.dispatch_approve(dispatch=waiting, actor=supervisor_user)
    waiting.refresh_from_db()
    assert waiting.state == Dispatch.State.RUNNING and waiting.started_at is not None
