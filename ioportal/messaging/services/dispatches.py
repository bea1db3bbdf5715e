"""Launching dispatches: a checked list, a single citizen, a test send.

Views call these functions; they never talk to IO. A launched dispatch is handed to the
sending pipeline (`ioportal.sending`) by `pipeline.wake_pipeline` (the `dispatch_ready`
signal) once the transaction has committed.
"""

import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ioportal.accounts.models import Organization, User
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import SANDBOX_FISCAL_CODE, normalize_fiscal_code
from ioportal.core.services import audit_log
from ioportal.ioservices.models import IOService
from ioportal.messaging.audit import Action
from ioportal.messaging.models import Dispatch, FeatureLevel
from ioportal.messaging.services.approvals import approval_required
from ioportal.messaging.services.pipeline import wake_on_commit
from ioportal.messaging.services.preparation import (
    attach_list_files,
    create_deliveries,
    dispatch_prepare,
    enqueue_preparation,
)
from ioportal.recipients.models import CHUNK_ROWS, RecipientChunk, RecipientList
from ioportal.recipients.testmode import list_test_mode_skips

# Lists up to this many valid rows get their deliveries inside the launch request (a
# fraction of a second); bigger ones from the `prepare_dispatch` worker task.
PREPARE_INLINE_MAX = CHUNK_ROWS
# The pacing of a list dispatch (`dispatch_launch(pacing=…)`), as Dispatch fields.
PACING_FIELDS = ("send_by", "daily_cap")
# Why a list is not launched when test mode would skip every valid row (the confirmation
# page says it too, beside its disabled button).
NOBODY_TO_SEND = gettext_lazy(
    "Nessun cittadino riceverebbe il messaggio: il servizio è in modalità di prova "
    "e nessun destinatario è tra quelli autorizzati."
)


def _validate_schedule(scheduled_at: datetime | None) -> None:
    if scheduled_at is not None and scheduled_at <= timezone.now():
        raise ValidationError(_("L'orario programmato deve essere nel futuro."))


# --- launching a list -----------------------------------------------------------------------


def dispatch_launch_list(
    *,
    recipient_list: RecipientList,
    actor: User,
    scheduled_at: datetime | None = None,
    request: HttpRequest | None = None,
    send_by: datetime | None = None,
    daily_cap: int | None = None,
) -> tuple[Dispatch, bool]:
    """Create the dispatch of a checked list; its deliveries (one per valid row) follow.

    `send_by` and `daily_cap` pace it (`ioportal.messaging.windows`; checked by the
    confirmation form against the account's rate and the send windows).

    The dispatch starts PREPARING, a state the sending pipeline never picks up. A list of up
    to PREPARE_INLINE_MAX valid rows is prepared at once, in this transaction; a bigger one by
    the `prepare_dispatch` task, enqueued after commit, so the request returns at once and the
    dispatch page shows the progress. When every delivery exists the dispatch waits for
    approval when the organization's policy asked for it at launch; otherwise it is running
    (or scheduled) and the pipeline is woken. The list's rows are erased.

    Idempotent: the list's `launch_token` becomes the dispatch's, so double clicks, reloads
    and two tabs all get the one dispatch back, with `created` False.
    Raises NotAllowed when the list is not checked or has no valid rows, or when its
    service is in test mode and none of its valid rows is an authorised recipient
    (`NOBODY_TO_SEND`: test mode would skip them all, `recipients.testmode`): no dispatch of
    0 citizens, whoever calls; ValidationError for a scheduled time not in the future.
    """
    _validate_schedule(scheduled_at)
    try:
        return _launch_list(
            recipient_list=recipient_list,
            actor=actor,
            scheduled_at=scheduled_at,
            request=request,
            pacing={"send_by": send_by, "daily_cap": daily_cap},
        )
    except IntegrityError:
        # Another request launched the same list between our check and our insert.
        existing = Dispatch.objects.filter(launch_token=recipient_list.launch_token).first()
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _launch_list(
    *,
    recipient_list: RecipientList,
    actor: User,
    scheduled_at: datetime | None,
    request: HttpRequest | None,
    pacing: dict[str, Any],
) -> tuple[Dispatch, bool]:
    locked = RecipientList.objects.select_for_update().get(pk=recipient_list.pk)
    existing = Dispatch.objects.filter(launch_token=locked.launch_token).first()
    if existing is not None:
        return existing, False
    if locked.state != RecipientList.State.VALIDATED or locked.valid_count == 0:
        raise NotAllowed(_("L'elenco non è stato controllato o non ha righe valide."))
    # Test mode skips the rows of citizens not authorised without calling IO: the approval
    # threshold counts only those really sent to.
    to_send = max(0, locked.valid_count - list_test_mode_skips(locked))
    if not to_send:
        raise NotAllowed(NOBODY_TO_SEND)
    template = locked.template
    needs_approval = approval_required(locked.organization, to_send, template.feature_level)
    dispatch = Dispatch.objects.create(
        organization=locked.organization,
        service=locked.service,
        template=template,
        kind=Dispatch.Kind.LIST,
        title=f"{template.name} – {locked.file_name}"[:200],
        subject=template.subject,
        markdown=template.markdown,
        placeholders=template.placeholders,
        feature_level=template.feature_level,
        state=Dispatch.State.PREPARING,
        approval_required=needs_approval,
        deliveries_expected=locked.valid_count,
        prepared_at=timezone.now(),
        scheduled_at=scheduled_at,
        source_name=locked.file_name[:255],
        launch_token=locked.launch_token,
        created_by=actor,
        origin=locked.origin,
        **pacing,
    )
    locked.dispatch = dispatch
    locked.state = RecipientList.State.LAUNCHED
    locked.save()
    # The valid rows stay until they are deliveries; nothing else is needed any more.
    locked.erase(RecipientChunk.Kind.ROWS, RecipientChunk.Kind.REJECTED)
    audit_log(
        action=(Action.DISPATCH_APPROVAL_REQUESTED if needs_approval else Action.DISPATCH_LAUNCHED),
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={
            "deliveries": locked.valid_count,
            "scheduled_at": str(scheduled_at or ""),
            **({"origin": str(locked.origin.public_id)} if locked.origin else {}),
            **({"repeated_excluded": locked.repeated_excluded} if locked.repeated_excluded else {}),
            **{name: str(pacing[name]) for name in PACING_FIELDS if pacing.get(name) is not None},
        },
        request=request,
    )
    if locked.valid_count <= PREPARE_INLINE_MAX:
        dispatch_prepare(dispatch_id=dispatch.pk)
        dispatch.refresh_from_db()
    else:
        dispatch_id = dispatch.pk
        transaction.on_commit(lambda: enqueue_preparation(dispatch_id=dispatch_id))
    return dispatch, True


# --- single citizen -----------------------------------------------------------------------


def dispatch_create_single(
    *,
    organization: Organization,
    service: IOService,
    actor: User,
    fiscal_code: str,
    subject: str,
    markdown: str,
    launch_token: uuid.UUID,
    feature_level: str = FeatureLevel.STANDARD,
    due_date: datetime | None = None,
    amount: int | None = None,
    notice_number: str = "",
    invalid_after_due_date: bool = False,
    request: HttpRequest | None = None,
) -> tuple[Dispatch, bool]:
    """A dispatch to one citizen with the text as written (no placeholders are filled).

    Idempotent on `launch_token` (the confirmation's token): a second call, even one racing
    the first, returns the dispatch of the first with False. Approval rules apply as for
    lists. The caller has validated the content with IO's rules. Raises NotAllowed when the
    token is that of another organization's dispatch.
    """
    try:
        return _create_single(
            organization=organization,
            service=service,
            actor=actor,
            fiscal_code=fiscal_code,
            subject=subject,
            markdown=markdown,
            launch_token=launch_token,
            feature_level=feature_level,
            due_date=due_date,
            amount=amount,
            notice_number=notice_number,
            invalid_after_due_date=invalid_after_due_date,
            request=request,
        )
    except IntegrityError:
        # Another request created the dispatch of the same token between our check and our
        # insert (a double click on the confirmation).
        existing = Dispatch.objects.filter(launch_token=launch_token).first()
        if existing is None:
            raise
        return _own_single(existing, organization), False


def _own_single(dispatch: Dispatch, organization: Organization) -> Dispatch:
    if dispatch.organization_id != organization.pk:
        raise NotAllowed(
            _("Il modulo non corrisponde a questo ente: compila di nuovo il messaggio.")
        )
    return dispatch


@transaction.atomic
def _create_single(
    *,
    organization: Organization,
    service: IOService,
    actor: User,
    fiscal_code: str,
    subject: str,
    markdown: str,
    launch_token: uuid.UUID,
    feature_level: str = FeatureLevel.STANDARD,
    due_date: datetime | None = None,
    amount: int | None = None,
    notice_number: str = "",
    invalid_after_due_date: bool = False,
    request: HttpRequest | None = None,
) -> tuple[Dispatch, bool]:
    existing = Dispatch.objects.filter(launch_token=launch_token).first()
    if existing is not None:
        return _own_single(existing, organization), False
    needs_approval = approval_required(organization, 1, feature_level)
    dispatch = Dispatch.objects.create(
        organization=organization,
        service=service,
        kind=Dispatch.Kind.SINGLE,
        title=subject[:200],
        subject=subject,
        markdown=markdown,
        placeholders=[],
        feature_level=feature_level,
        state=Dispatch.State.AWAITING_APPROVAL if needs_approval else Dispatch.State.RUNNING,
        started_at=None if needs_approval else timezone.now(),
        launch_token=launch_token,
        created_by=actor,
    )
    create_deliveries(
        dispatch,
        [
            {
                "line": 1,
                "fiscal_code": normalize_fiscal_code(fiscal_code),
                "variables": {},
                "due_date": due_date.isoformat() if due_date else None,
                "amount": amount,
                "notice_number": notice_number,
                "invalid_after_due_date": invalid_after_due_date,
            }
        ],
    )
    audit_log(
        action=(Action.DISPATCH_APPROVAL_REQUESTED if needs_approval else Action.DISPATCH_LAUNCHED),
        actor=actor,
        organization=organization,
        target=dispatch,
        changes={"deliveries": 1, "kind": "single"},
        request=request,
    )
    wake_on_commit(dispatch)
    return dispatch, True


# --- test sends -----------------------------------------------------------------------------


def recipients_for_test_send(service: IOService) -> list[str]:
    """The service's authorized recipients, or IO's sandbox fiscal code when it has none."""
    codes = [normalize_fiscal_code(str(c)) for c in (service.authorized_recipients or [])]
    return list(dict.fromkeys(c for c in codes if c)) or [SANDBOX_FISCAL_CODE]


@transaction.atomic
def dispatch_send_test(
    *,
    recipient_list: RecipientList,
    row: dict[str, Any],
    actor: User,
    request: HttpRequest | None = None,
) -> Dispatch:
    """Send the message rendered for `row` to the service's test recipients.

    Goes through the normal pipeline as a dispatch of kind `test` (no approval needed): its
    deliveries carry `row`'s values and payment data with the test recipients' fiscal codes,
    and a Premium message the list's shared file and the row's own file (copies). The
    dispatch names `recipient_list` (`Dispatch.test_list`): only that list's pages show it.
    """
    template = recipient_list.template
    dispatch = Dispatch.objects.create(
        organization=recipient_list.organization,
        service=recipient_list.service,
        template=template,
        kind=Dispatch.Kind.TEST,
        title=(_("Prova: %(name)s") % {"name": template.name})[:200],
        subject=template.subject,
        markdown=template.markdown,
        placeholders=template.placeholders,
        feature_level=template.feature_level,
        state=Dispatch.State.RUNNING,
        started_at=timezone.now(),
        source_name=recipient_list.file_name[:255],
        created_by=actor,
        test_list=recipient_list,
    )
    rows = [
        {**row, "fiscal_code": code, "line": row.get("line")}
        for code in recipients_for_test_send(recipient_list.service)
    ]
    create_deliveries(dispatch, rows)
    attachments = attach_list_files(recipient_list=recipient_list, dispatch=dispatch, test=True)
    audit_log(
        action=Action.DISPATCH_TEST_SENT,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={
            "recipients": len(rows),
            "list": str(recipient_list.public_id),
            "row": row.get("line"),
            "attachments": attachments,
        },
        request=request,
    )
    wake_on_commit(dispatch)
    return dispatch
