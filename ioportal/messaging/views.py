"""Compose: templates, recipient lists, preview, test send, launch, approval, single message.

Thin views: decorators, access helper, form, service, redirect or render.
"""

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.models import Membership, User
from ioportal.core.errors import NotAllowed
from ioportal.ioservices.selectors import ioservices_usable_by
from ioportal.messaging import lists, selectors, services
from ioportal.messaging.access import (
    get_recipient_list_for_user,
    get_template_for_user,
)
from ioportal.messaging.dispatch_access import SUPERVISE, get_dispatch_for_user
from ioportal.messaging.forms import (
    ApprovalPolicyForm,
    MappingForm,
    PlaceholderFormSet,
    RejectForm,
    ScheduleForm,
    SingleMessageForm,
    TemplateForm,
    UploadForm,
    placeholders_from,
)
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.preview import content_warnings, render_preview
from ioportal.messaging.send_conditions import estimate_last, send_conditions
from ioportal.messaging.windows import Pacing, is_open, next_opening
from ioportal.recipients import services as recipient_services
from ioportal.recipients.models import RecipientChunk, RecipientList, StoredItems, row_cells
from ioportal.recipients.numbers import (
    ENGLISH,
    ITALIAN,
    NUMBER_FORMAT_CHOICES,
    NUMBER_FORMATS,
    number_format_name,
)
from ioportal.recipients.parsing import ImportChoiceNeeded, ImportFileError, delimiter_label
from ioportal.recipients.rendering import fill_message
from ioportal.recipients.services import rejected_problems
from ioportal.recipients.testmode import list_test_mode_skips
from ioportal.recipients.validation import format_cents, mapping_errors
from ioportal.remotecontent.services import (
    AttachmentUploadError,
    list_attachments_summary,
    list_attachments_upload,
)

OPERATOR = Membership.Role.OPERATOR
SUPERVISOR = Membership.Role.SUPERVISOR
ADMIN = Membership.Role.ADMIN
REJECTED_SHOWN = 200


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- templates ----------------------------------------------------------------------------


@role_required(OPERATOR)
def template_list(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    templates = selectors.templates_for_organization(organization=membership.organization)
    return render(request, "messaging/template_list.html", {"templates": templates})


def _template_form_page(
    request: HttpRequest, membership: Membership, template: Any = None
) -> HttpResponse:
    usable = ioservices_usable_by(membership=membership)
    data = request.POST if request.method == "POST" else None
    form = TemplateForm(data, instance=template, services=usable)
    formset = PlaceholderFormSet(
        data, prefix="ph", initial=(template.placeholders if template else None)
    )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        placeholders, added = placeholders_from(formset, fields["subject"], fields["markdown"])
        fields["placeholders"] = placeholders
        if template is None:
            template = services.template_create(
                organization=membership.organization,
                actor=_user(request),
                request=request,
                **fields,
            )
            messages.success(request, _("Modello creato."))
        else:
            old_version = template.version
            template = services.template_update(
                template=template, actor=_user(request), request=request, **fields
            )
            if template.version != old_version:
                messages.success(
                    request,
                    _(
                        "Il modello era già stato usato: è stata creata la versione %(v)s. Gli "
                        "invii passati conservano la versione con cui sono partiti."
                    )
                    % {"v": template.version},
                )
            else:
                messages.success(request, _("Modello salvato."))
        if added:
            messages.info(
                request,
                _("Aggiunti come testo obbligatorio i segnaposto usati nel testo: %(names)s.")
                % {"names": ", ".join(added)},
            )
        return redirect("messaging:template_edit", public_id=template.public_id)
    preview = warnings = None
    if template is not None:
        preview = render_preview(subject=template.subject, markdown=template.markdown)
        warnings = content_warnings(
            subject=template.subject, markdown=template.markdown, recipients=2
        )
    return render(
        request,
        "messaging/template_form.html",
        {
            "form": form,
            "formset": formset,
            "template": template,
            "preview": preview,
            "warnings": warnings,
            "versions": selectors.template_versions(template=template) if template else [],
        },
    )


@role_required(OPERATOR)
def template_create(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    return _template_form_page(request, membership)


@role_required(OPERATOR)
def template_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    template = get_template_for_user(request, public_id)
    membership = require_role(request, OPERATOR)
    if not template.is_current:
        current = selectors.template_versions(template=template).filter(is_current=True).first()
        if current is not None and request.method == "POST":
            messages.warning(request, _("Stavi modificando una versione superata."))
            return redirect("messaging:template_edit", public_id=current.public_id)
    return _template_form_page(request, membership, template)


# --- recipient lists ------------------------------------------------------------------------


@role_required(OPERATOR)
def compose(request: HttpRequest) -> HttpResponse:
    """Step 1: template, service and the recipients' file."""
    membership = require_role(request, OPERATOR)
    templates = selectors.templates_for_organization(organization=membership.organization)
    usable = ioservices_usable_by(membership=membership)
    initial: dict[str, Any] = {}
    if request.GET.get("modello"):
        chosen = (
            templates.filter(public_id=request.GET["modello"]).first()
            if _is_uuid(request.GET["modello"])
            else None
        )
        if chosen is not None:
            initial = {"template": chosen, "service": chosen.default_service}
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        templates=templates,
        services=usable,
        initial=initial,
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and (created := _compose_upload(request, membership, form)) is not None
    ):
        return redirect("messaging:list_mapping", public_id=created.public_id)
    return render(
        request,
        "messaging/compose.html",
        {"form": form, "has_templates": templates.exists(), "has_services": usable.exists()},
    )


def _compose_upload(
    request: HttpRequest, membership: Membership, form: UploadForm
) -> RecipientList | None:
    """Read the submitted file, or the one kept for a choice, into a list (None when it could
    not be: the reasons are on the form). A file that needs a choice is kept (`PendingUpload`)
    so that the choice does not mean selecting it again; it is deleted once read into a list
    or refused."""
    actor = _user(request)
    upload = form.cleaned_data["file"]
    pending = None
    if form.cleaned_data.get("pending_file"):
        pending = recipient_services.pending_upload_get(
            organization=membership.organization,
            actor=actor,
            public_id=form.cleaned_data["pending_file"],
        )
    if upload:
        file_name, data = upload.name, upload.read()
    elif pending is not None:
        file_name, data = pending.file_name, recipient_services.pending_upload_read(pending)
    else:
        form.add_error(
            "file",
            _("Il file caricato prima non è più disponibile (è scaduto): selezionalo di nuovo."),
        )
        return None
    shared, bundle = (
        form.cleaned_data.get("shared_pdf"),
        form.cleaned_data.get("attachments_zip"),
    )
    try:
        with transaction.atomic():
            recipient_list = lists.recipient_list_upload(
                organization=membership.organization,
                actor=actor,
                template=form.cleaned_data["template"],
                service=form.cleaned_data["service"],
                file_name=file_name,
                data=data,
                options=form.read_options(),
                number_format=form.cleaned_data["number_format"],
                request=request,
            )
            if shared or bundle:
                counts = list_attachments_upload(
                    recipient_list=recipient_list,
                    shared_name=shared.name if shared else "",
                    shared_data=shared.read() if shared else None,
                    zip_upload=bundle,
                )
                if counts["refused"]:
                    messages.warning(
                        request,
                        ngettext(
                            "%(n)s file dello ZIP è stato rifiutato: la riga che lo indica "
                            "sarà scartata con il motivo.",
                            "%(n)s file dello ZIP sono stati rifiutati: le righe che li "
                            "indicano saranno scartate con il motivo.",
                            counts["refused"],
                        )
                        % {"n": counts["refused"]},
                    )
    except (ImportChoiceNeeded, AttachmentUploadError) as exc:
        # The file itself is readable once the choice is made: keep it for the next step.
        if upload or pending is None:
            pending = recipient_services.pending_upload_store(
                organization=membership.organization,
                actor=actor,
                file_name=file_name,
                data=data,
                replaces=pending,
            )
        form.keep_file(pending)
        if isinstance(exc, ImportChoiceNeeded):
            form.offer(exc)
        else:
            form.add_error(exc.field, exc.messages)
        return None
    except ImportFileError as exc:
        if pending is not None:
            pending.delete()
        form.add_error("file", str(exc))
        return None
    if pending is not None:
        pending.delete()
    return recipient_list


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _not_launched(recipient_list: RecipientList) -> HttpResponse | None:
    if recipient_list.dispatch_id is not None:
        return redirect("sending:dispatch_detail", public_id=recipient_list.dispatch.public_id)  # type: ignore[union-attr]
    return None


@role_required(OPERATOR)
def list_mapping(request: HttpRequest, public_id: str) -> HttpResponse:
    """Step 2: which column holds the fiscal code, each placeholder and the special fields."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (done := _not_launched(recipient_list)) is not None:
        return done
    form = MappingForm(
        request.POST if request.method == "POST" else None,
        headers=recipient_list.headers,
        template=recipient_list.template,
        saved=recipient_list.column_mapping,
        payments_allowed=recipient_list.service.effective_max_payment_amount > 0,
    )
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        spec = lists.message_spec(
            template=recipient_list.template,
            service=recipient_list.service,
            recipient_list=recipient_list,
        )
        problems = mapping_errors(headers=recipient_list.headers, mapping=mapping, spec=spec)
        for target, problem in problems.items():
            form.add_error(f"map_{target}", problem)
        if not problems:
            lists.recipient_list_validate(recipient_list=recipient_list, mapping=mapping)
            return redirect("messaging:list_result", public_id=recipient_list.public_id)
    sample = [row_cells(item) for item in recipient_list.items(RecipientChunk.Kind.ROWS, 0, 3)]
    return render(
        request,
        "messaging/list_mapping.html",
        {
            "form": form,
            "list": recipient_list,
            "sample": sample,
            "delimiter": delimiter_label(recipient_list.delimiter)
            if recipient_list.file_format == "csv"
            else "",
            "number_format": dict(NUMBER_FORMAT_CHOICES).get(recipient_list.number_format, ""),
            "other_number_format": _other_number_format(recipient_list),
        },
    )


@require_POST
@role_required(OPERATOR)
def list_number_format(request: HttpRequest, public_id: str) -> HttpResponse:
    """Read the list's numbers in the other convention, without a new upload; a checked list
    is checked again (`recipient_list_change_number_format`)."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (done := _not_launched(recipient_list)) is not None:
        return done
    chosen = str(request.POST.get("number_format", ""))
    names = dict(NUMBER_FORMAT_CHOICES)
    if chosen not in names:
        messages.error(request, _("Scegli il formato dei numeri."))
        return redirect("messaging:list_mapping", public_id=recipient_list.public_id)
    recipient_list = lists.recipient_list_change_number_format(
        recipient_list=recipient_list, number_format=chosen
    )
    messages.success(
        request, _("Numeri del file letti nel formato: %(format)s.") % {"format": names[chosen]}
    )
    if recipient_list.state == RecipientList.State.VALIDATED:
        return redirect("messaging:list_result", public_id=recipient_list.public_id)
    return redirect("messaging:list_mapping", public_id=recipient_list.public_id)


def _other_number_format(recipient_list: RecipientList) -> dict[str, str]:
    """The convention the list is not read with: {"code", "name"}, for its button."""
    code = ENGLISH if recipient_list.number_format != ENGLISH else ITALIAN
    return {"code": code, "name": number_format_name(code), "example": NUMBER_FORMATS[code].example}


def _checked(recipient_list: RecipientList) -> HttpResponse | None:
    if (done := _not_launched(recipient_list)) is not None:
        return done
    if recipient_list.state != RecipientList.State.VALIDATED:
        return redirect("messaging:list_mapping", public_id=recipient_list.public_id)
    return None


@role_required(OPERATOR)
def list_result(request: HttpRequest, public_id: str) -> HttpResponse:
    """Step 3: counts, each rejected row with its line and reason, file warnings."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := _checked(recipient_list)) is not None:
        return redirect_to
    rejected = [
        {**row, "problems": rejected_problems(row)}
        for row in recipient_list.items(RecipientChunk.Kind.REJECTED, 0, REJECTED_SHOWN)
    ]
    template = recipient_list.template
    return render(
        request,
        "messaging/list_result.html",
        {
            "list": recipient_list,
            "rejected": rejected,
            "rejected_more": max(0, recipient_list.rejected_count - len(rejected)),
            "total_amount": format_cents(recipient_list.total_amount),
            "attachments": list_attachments_summary(recipient_list=recipient_list),
            "other_number_format": _other_number_format(recipient_list),
            "test_mode_skips": list_test_mode_skips(recipient_list),
            "warnings": content_warnings(
                subject=template.subject,
                markdown=template.markdown,
                recipients=recipient_list.valid_count,
            ),
        },
    )


@role_required(OPERATOR)
def list_rejected_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := _checked(recipient_list)) is not None:
        return redirect_to
    body = recipient_services.rejected_rows_csv(
        recipient_list=recipient_list, actor=_user(request), request=request
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="righe-scartate.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _row_message(recipient_list: RecipientList, row: dict[str, Any]) -> tuple[str, str]:
    template = recipient_list.template
    return fill_message(
        subject=template.subject,
        markdown=template.markdown,
        variables=row.get("variables") or {},
        known=[str(p["name"]) for p in template.placeholders or []],
    )


@role_required(OPERATOR)
def list_preview(request: HttpRequest, public_id: str) -> HttpResponse:
    """Step 4: each citizen's message as the IO app shows it, one row at a time; test send."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := _checked(recipient_list)) is not None:
        return redirect_to
    valid = StoredItems(recipient_list, RecipientChunk.Kind.VALID, recipient_list.valid_count)
    page = Paginator(valid, 1).get_page(request.GET.get("riga"))
    row = page.object_list[0] if page.object_list else None
    preview = None
    if row is not None:
        subject, markdown = _row_message(recipient_list, row)
        preview = render_preview(subject=subject, markdown=markdown)
    return render(
        request,
        "messaging/list_preview.html",
        {
            "list": recipient_list,
            "page": page,
            "row": row,
            "row_amount": format_cents(row["amount"]) if row and row.get("amount") else "",
            "preview": preview,
            "test_recipients": services.recipients_for_test_send(recipient_list.service),
            **_test_outcomes(request, recipient_list),
        },
    )


def _test_outcomes(request: HttpRequest, recipient_list: RecipientList) -> dict[str, Any]:
    """The user's recent test sends with this template, and whether one is still going."""
    sends = selectors.recent_test_sends(
        template=recipient_list.template, user=_user(request), since=recipient_list.created_at
    )
    pending = any(
        d.state not in Delivery.FINAL
        for send in sends
        for d in send.test_deliveries  # type: ignore[attr-defined]
    )
    return {"list": recipient_list, "test_sends": sends, "test_pending": pending}


@role_required(OPERATOR)
def list_test_sends(request: HttpRequest, public_id: str) -> HttpResponse:
    """The outcome of the test sends alone, polled by the preview page until they end."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    return render(request, "messaging/_test_outcomes.html", _test_outcomes(request, recipient_list))


@require_POST
@role_required(OPERATOR)
def list_test_send(request: HttpRequest, public_id: str) -> HttpResponse:
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := _checked(recipient_list)) is not None:
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
        recipient_list=recipient_list, row=valid[index - 1], actor=_user(request), request=request
    )
    sent = _("Messaggio di prova inviato ai destinatari di test: l'esito compare qui sotto.")
    if request.headers.get("HX-Request") == "true":
        context = _test_outcomes(request, recipient_list)
        return render(request, "messaging/_test_outcomes.html", {**context, "test_message": sent})
    messages.success(request, sent)
    url = reverse("messaging:list_preview", args=[recipient_list.public_id])
    return redirect(f"{url}?riga={index}#prove")


@role_required(OPERATOR)
def list_confirm(request: HttpRequest, public_id: str) -> HttpResponse:
    """Step 5: the summary, the schedule, and the launch (idempotent on the list's token)."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if request.method == "POST" and recipient_list.dispatch_id is not None:
        messages.info(request, _("Questo invio era già stato avviato."))
    if (redirect_to := _checked(recipient_list)) is not None:
        return redirect_to
    membership = require_role(request, OPERATOR)
    form = ScheduleForm(
        request.POST or None,
        organization=membership.organization,
        recipients=recipient_list.valid_count,
    )
    estimate_only = "stima" in request.POST
    if request.method == "POST" and form.is_valid() and not estimate_only:
        if str(recipient_list.launch_token) != request.POST.get("launch_token"):
            messages.error(request, _("Il modulo non corrisponde a questo elenco: riprova."))
            return redirect("messaging:list_confirm", public_id=recipient_list.public_id)
        try:
            dispatch, created = services.dispatch_launch_list(
                recipient_list=recipient_list,
                actor=_user(request),
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
        else:
            messages.success(request, _("Invio avviato."))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    first = recipient_list.items(RecipientChunk.Kind.VALID, 0, 1)
    sample = None
    if first:
        subject, markdown = _row_message(recipient_list, first[0])
        sample = render_preview(subject=subject, markdown=markdown)
    policy = selectors.approval_policy(organization=membership.organization)
    return render(
        request,
        "messaging/list_confirm.html",
        {
            "list": recipient_list,
            "form": form,
            "sample": sample,
            "total_amount": format_cents(recipient_list.total_amount),
            "needs_approval": policy.requires_approval(
                recipients=recipient_list.valid_count,
                feature_level=recipient_list.template.feature_level,
            ),
            "is_premium": recipient_list.template.feature_level == FeatureLevel.ADVANCED,
            "attachments": list_attachments_summary(recipient_list=recipient_list),
            "test_mode_skips": list_test_mode_skips(recipient_list),
            "estimate": _send_estimate(membership, form, recipient_list.valid_count),
        },
    )


def _send_estimate(membership: Membership, form: ScheduleForm, count: int) -> dict[str, Any]:
    """When the last message would go, for the confirmation page: from the count, the
    account's rate, the organization's send windows and the pacing typed (when valid)."""
    now = timezone.now()
    start, pacing = now, Pacing()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        start = data.get("scheduled_at") or now
        pacing = Pacing(daily_cap=data.get("daily_cap"), send_by=data.get("send_by"))
    organization = membership.organization
    schedule = send_conditions().schedule_for(organization.pk)
    return {
        "last": estimate_last(organization=organization, count=count, start=start, pacing=pacing),
        "per_minute": round(send_conditions().deliveries_per_second(organization) * 60),
        "limited": schedule is not None,
        "opens_at": None if is_open(schedule, start) else next_opening(schedule, start),
        "pacing": pacing,
    }


# --- dispatches -----------------------------------------------------------------------------


@role_required(OPERATOR)
def dispatch_summary(request: HttpRequest, public_id: str) -> HttpResponse:
    """The old address of a dispatch: the one dispatch page is sending:dispatch_detail."""
    dispatch = get_dispatch_for_user(request, public_id)
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


@require_POST
@role_required(SUPERVISOR)
def dispatch_approve(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    try:
        services.dispatch_approve(dispatch=dispatch, actor=_user(request), request=request)
    except NotAllowed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invio approvato: parte ora o all'orario programmato."))
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


@require_POST
@role_required(SUPERVISOR)
def dispatch_reject(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Scrivi il motivo del rifiuto: l'autore lo leggerà."))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    try:
        services.dispatch_reject(
            dispatch=dispatch,
            actor=_user(request),
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except NotAllowed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invio respinto: l'autore riceverà il motivo."))
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


@role_required(SUPERVISOR)
def approvals(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, SUPERVISOR)
    return render(
        request,
        "messaging/approvals.html",
        {
            "dispatches": selectors.dispatches_awaiting_approval(
                organization=membership.organization
            )
        },
    )


# --- single message -------------------------------------------------------------------------


@role_required(OPERATOR)
def single_message(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    form = SingleMessageForm(
        request.POST or None, services=ioservices_usable_by(membership=membership)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        dispatch, created = services.dispatch_create_single(
            organization=membership.organization,
            service=data["service"],
            actor=_user(request),
            fiscal_code=data["fiscal_code"],
            subject=data["subject"],
            markdown=data["markdown"],
            feature_level=data["feature_level"],
            launch_token=data["launch_token"],
            due_date=data["due"],
            amount=data["amount_cents"],
            notice_number=data.get("notice_number") or "",
            invalid_after_due_date=bool(data.get("invalid_after_due_date")),
            request=request,
        )
        if not created:
            messages.info(request, _("Questo messaggio era già stato inviato."))
        elif dispatch.state == Dispatch.State.AWAITING_APPROVAL:
            messages.success(request, _("Messaggio creato: attende l'approvazione."))
        else:
            messages.success(request, _("Messaggio in invio."))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    preview = None
    if form.is_bound and form.data.get("subject") is not None:
        preview = render_preview(
            subject=form.data.get("subject", ""), markdown=form.data.get("markdown", "")
        )
    conditions = send_conditions()
    schedule = conditions.schedule_for(membership.organization_id)
    now = conditions.now()
    return render(
        request,
        "messaging/single.html",
        {
            "form": form,
            "preview": preview,
            "window_opens_at": None if is_open(schedule, now) else next_opening(schedule, now),
        },
    )


# --- settings and notifications ---------------------------------------------------------


@role_required(ADMIN)
def approval_settings(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, ADMIN)
    policy = selectors.approval_policy(organization=membership.organization)
    form = ApprovalPolicyForm(
        request.POST or None,
        initial={"threshold": policy.threshold, "always_for_premium": policy.always_for_premium},
    )
    if request.method == "POST" and form.is_valid():
        services.approval_policy_update(
            organization=membership.organization,
            actor=_user(request),
            threshold=form.cleaned_data["threshold"],
            always_for_premium=form.cleaned_data["always_for_premium"],
            request=request,
        )
        messages.success(request, _("Regola di approvazione salvata."))
        return redirect("messaging:approval_settings")
    return render(request, "messaging/approval_settings.html", {"form": form})


@require_POST
@role_required(OPERATOR)
def notifications_read(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    ids = [i for i in request.POST.getlist("notification") if _is_uuid(i)]
    services.notifications_mark_read(
        user=_user(request), organization=membership.organization, ids=ids
    )
    return redirect("dashboard:dashboard")
