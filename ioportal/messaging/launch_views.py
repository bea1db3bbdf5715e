"""Launch a recipient list: preview of the messages, test sends to the service's test
recipients, confirmation (with the estimate of when a paced dispatch's last message goes).

Thin views: decorators, access helper, form, service, redirect or render.
"""

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.middleware import is_htmx
from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.core.numbers import euro_amount
from ioportal.messaging import repeated, selectors, services
from ioportal.messaging.access import (
    get_recipient_list_for_user,
)
from ioportal.messaging.carnet import carnet_need
from ioportal.messaging.dispatch_access import dispatches_visible_to
from ioportal.messaging.forms import (
    ScheduleForm,
)
from ioportal.messaging.list_views import checked
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.preview import payment_box, render_preview
from ioportal.messaging.send_conditions import estimate_last, send_conditions
from ioportal.messaging.windows import (
    Pacing,
    describe_moment,
    is_open,
    next_opening,
    pacing_schedule,
    quota_today,
)
from ioportal.recipients.attachments import list_attachments_summary, row_attachment_names
from ioportal.recipients.models import RecipientChunk, RecipientList, StoredItems
from ioportal.recipients.rendering import fill_message
from ioportal.recipients.testmode import list_test_mode_skips
from ioportal.recipients.validation import ATTACHMENT_KEY

OPERATOR = Membership.Role.OPERATOR
# Words with which a template announces a document: "in allegato", "allegati", "PDF".
ANNOUNCED_ATTACHMENT_RE = re.compile(r"\ballegat|\bpdf\b", re.IGNORECASE)


def _row_payment(row: dict[str, Any]) -> dict[str, Any] | None:
    """The phone's payment box for a row of a list (`preview.payment_box`)."""
    return payment_box(
        amount=row.get("amount"),
        notice_number=row.get("notice_number") or "",
        due_date=row.get("due_date"),
    )


def _row_message(recipient_list: RecipientList, row: dict[str, Any]) -> tuple[str, str]:
    template = recipient_list.template
    return fill_message(
        subject=template.subject,
        markdown=template.markdown,
        variables=row.get("variables") or {},
        known=[str(p["name"]) for p in template.placeholders or []],
    )


@role_required(OPERATOR)
def list_preview(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Step 4: each citizen's message as the IO app shows it, one row at a time; test send."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := checked(recipient_list)) is not None:
        return redirect_to
    valid = StoredItems(recipient_list, RecipientChunk.Kind.VALID, recipient_list.valid_count)
    page = Paginator(valid, 1).get_page(request.GET.get("riga"))
    row = page.object_list[0] if page.object_list else None
    preview = None
    row_attachments: list[str] = []
    if row is not None:
        subject, markdown = _row_message(recipient_list, row)
        preview = render_preview(subject=subject, markdown=markdown)
        if recipient_list.template.feature_level == FeatureLevel.ADVANCED:
            row_attachments = row_attachment_names(
                recipient_list=recipient_list,
                own_name=str((row.get("variables") or {}).get(ATTACHMENT_KEY) or ""),
            )
    return render(
        request,
        "messaging/list_preview.html",
        {
            "list": recipient_list,
            "page": page,
            "row": row,
            "row_payment": _row_payment(row) if row else None,
            "preview": preview,
            "row_attachments": row_attachments,
            "test_recipients": services.recipients_for_test_send(recipient_list.service),
            **_test_outcomes(request, recipient_list),
        },
    )


def _test_outcomes(
    request: AuthenticatedHttpRequest, recipient_list: RecipientList
) -> dict[str, Any]:
    """The recent test sends made from this list, and whether one is still going."""
    sends = selectors.recent_test_sends(recipient_list=recipient_list)
    pending = any(
        d.state not in Delivery.FINAL
        for send in sends
        for d in send.test_deliveries  # type: ignore[attr-defined]
    )
    return {"list": recipient_list, "test_sends": sends, "test_pending": pending}


@role_required(OPERATOR)
def list_test_sends(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """The outcome of the test sends alone, polled by the preview page until they end."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    return render(request, "messaging/_test_outcomes.html", _test_outcomes(request, recipient_list))


@require_POST
@role_required(OPERATOR)
def list_test_send(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := checked(recipient_list)) is not None:
        return redirect_to
    valid = StoredItems(recipient_list, RecipientChunk.Kind.VALID, recipient_list.valid_count)
    if not recipient_list.valid_count:
        messages.error(request, _("L'elenco non ha righe valide: non c'è nulla da provare."))
        return redirect("messaging:list_result", public_id=recipient_list.public_id)
    try:
        index = int(request.POST.get("riga", "1"))
    except ValueError:
        index = 1
    if not valid:
        return redirect("messaging:list_result", public_id=recipient_list.public_id)
    index = min(max(index, 1), len(valid))
    services.dispatch_send_test(
        recipient_list=recipient_list, row=valid[index - 1], actor=request.user, request=request
    )
    sent = _("Messaggio di prova inviato ai destinatari di test: l'esito compare qui sotto.")
    if is_htmx(request):
        context = _test_outcomes(request, recipient_list)
        return render(request, "messaging/_test_outcomes.html", {**context, "test_message": sent})
    messages.success(request, sent)
    url = reverse("messaging:list_preview", args=[recipient_list.public_id])
    return redirect(f"{url}?riga={index}#prove")


@role_required(OPERATOR)
def list_confirm(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Step 5: the summary, the schedule, and the launch (idempotent on the list's token)."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if request.method == "POST" and recipient_list.dispatch_id is not None:
        messages.info(request, _("Questo invio era già stato avviato."))
    if (redirect_to := checked(recipient_list)) is not None:
        return redirect_to
    membership = require_role(request, OPERATOR)
    # Test mode skips some valid rows without calling IO: the rest are those really sent to,
    # the count the button, the estimate and the deadline's check are about.
    skips = list_test_mode_skips(recipient_list)
    to_send = max(0, recipient_list.valid_count - skips)
    form = ScheduleForm(
        request.POST or None,
        organization=membership.organization,
        recipients=to_send,
    )
    estimate_only = "stima" in request.POST
    if request.method == "POST" and not estimate_only and not to_send:
        # The button is disabled, and a request made anyway is refused: no dispatch of 0.
        messages.error(request, str(services.NOBODY_TO_SEND))
        return redirect("messaging:list_confirm", public_id=recipient_list.public_id)
    if request.method == "POST" and form.is_valid() and not estimate_only:
        if str(recipient_list.launch_token) != request.POST.get("launch_token"):
            messages.error(request, _("Il modulo non corrisponde a questo elenco: riprova."))
            return redirect("messaging:list_confirm", public_id=recipient_list.public_id)
        try:
            dispatch, created = services.dispatch_launch_list(
                recipient_list=recipient_list,
                actor=request.user,
                scheduled_at=form.cleaned_data["scheduled_at"],
                send_by=form.cleaned_data.get("send_by"),
                daily_cap=form.cleaned_data.get("daily_cap"),
                request=request,
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("messaging:list_result", public_id=recipient_list.public_id)
        except NotAllowed as exc:
            messages.error(request, exc.message)
            return redirect("messaging:list_result", public_id=recipient_list.public_id)
        if not created:
            messages.info(request, _("Questo invio era già stato avviato."))
        elif dispatch.state == Dispatch.State.AWAITING_APPROVAL:
            messages.success(request, _("Invio creato: attende l'approvazione di un supervisore."))
        elif dispatch.state == Dispatch.State.SCHEDULED and dispatch.scheduled_at is not None:
            messages.success(
                request,
                _("Invio programmato per %(at)s.") % {"at": describe_moment(dispatch.scheduled_at)},
            )
        else:
            messages.success(request, _("Invio avviato."))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    first = recipient_list.items(RecipientChunk.Kind.VALID, 0, 1)
    sample = None
    sample_payment = None
    if first:
        subject, markdown = _row_message(recipient_list, first[0])
        sample = render_preview(subject=subject, markdown=markdown)
        # The payment box of the same row, as on the preview page: a text speaking of
        # "the button below" shows it.
        sample_payment = _row_payment(first[0])
    policy = selectors.approval_policy(organization=membership.organization)
    is_premium = recipient_list.template.feature_level == FeatureLevel.ADVANCED
    found = repeated.repeated_content(recipient_list)
    need = None
    if is_premium:
        need = carnet_need(service=recipient_list.service, needed=to_send)
    attachments = list_attachments_summary(recipient_list=recipient_list)
    return render(
        request,
        "messaging/list_confirm.html",
        {
            "list": recipient_list,
            "form": form,
            "sample": sample,
            "sample_payment": sample_payment,
            "total_amount": euro_amount(recipient_list.total_amount),
            "needs_approval": policy.requires_approval(
                recipients=to_send,
                feature_level=recipient_list.template.feature_level,
            ),
            "is_premium": is_premium,
            "carnet_need": need,
            "carnet_hint_service": (
                recipient_list.service
                if is_premium and need is None and membership.has_role(Membership.Role.ADMIN)
                else None
            ),
            "attachments": attachments,
            "no_pdf": is_premium and not (attachments["shared"] or attachments["accepted"]),
            "announces_pdf": announces_attachment(recipient_list.template),
            "test_mode_skips": skips,
            "to_send": to_send,
            "estimate": _send_estimate(membership, form, to_send),
            "repeated": found,
            # An earlier dispatch is linked only for a member who sees it (dispatch_access).
            "repeated_visible": set(
                dispatches_visible_to(membership)
                .filter(pk__in=[earlier.pk for earlier, _count in found.dispatches])
                .values_list("pk", flat=True)
            ),
        },
    )


def announces_attachment(template: Any) -> bool:
    """Whether a template's name or texts speak of a document sent with the message ("in
    allegato", "PDF"): the confirmation page warns louder when none is attached. Templates
    have no flag of their own for attachments, which stay optional (the operator decides)."""
    text = " ".join((template.name, template.subject, template.markdown))
    return bool(ANNOUNCED_ATTACHMENT_RE.search(text))


def _send_estimate(membership: Membership, form: ScheduleForm, count: int) -> dict[str, Any]:
    """When the last message would go, for the confirmation page: from the count, the
    account's rate, the organization's send windows and the pacing typed. A form with errors
    gets no estimate (`refused`): the one of another start or pacing would contradict them;
    nor does a list of which nobody is sent to (`nothing`).
    `per_day`: with a deadline that spreads the messages over more than one day, the share of
    the first day (the even spread, within the cap)."""
    organization = membership.organization
    per_minute = round(send_conditions().deliveries_per_second(organization) * 60)
    if form.is_bound and not form.is_valid():
        return {"refused": True, "per_minute": per_minute}
    if not count:  # every valid row skipped (test mode): nothing goes to IO
        return {"nothing": True, "per_minute": per_minute}
    now = timezone.now()
    start, pacing = now, Pacing()
    if form.is_bound:
        data = form.cleaned_data
        start = data.get("scheduled_at") or now
        pacing = Pacing(daily_cap=data.get("daily_cap"), send_by=data.get("send_by"))
    limited = send_conditions().schedule_for(organization.pk)
    schedule = pacing_schedule(limited, pacing)
    opens_at = None if is_open(schedule, start) else next_opening(schedule, start)
    per_day = None
    if pacing.send_by is not None and count:
        first = opens_at or start
        per_day = quota_today(schedule, pacing, first, remaining=count, used_today=0)
    return {
        "refused": False,
        "last": estimate_last(organization=organization, count=count, start=start, pacing=pacing),
        "per_minute": per_minute,
        "limited": limited is not None,
        "opens_at": opens_at,
        "pacing": pacing,
        "per_day": per_day if per_day is not None and per_day < count else None,
    }
