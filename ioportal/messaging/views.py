"""Compose: templates, dispatch summary and approval, single message, approval settings.

The recipient-list pages are in `messaging.list_views` (upload, mapping, result) and
`messaging.launch_views` (preview, test sends, confirmation). Thin views: decorators, access
helper, form, service, redirect or render.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import mask_fiscal_code
from ioportal.ioservices.models import IOService
from ioportal.ioservices.selectors import ioservices_usable_by
from ioportal.messaging import selectors, services
from ioportal.messaging.access import (
    get_template_for_user,
)
from ioportal.messaging.carnet import carnet_need
from ioportal.messaging.dispatch_access import SUPERVISE, get_dispatch_for_user
from ioportal.messaging.forms import (
    ApprovalPolicyForm,
    PlaceholderFormSet,
    RejectForm,
    SingleMessageForm,
    TemplateForm,
    placeholders_from,
)
from ioportal.messaging.list_views import is_uuid
from ioportal.messaging.models import Dispatch, FeatureLevel
from ioportal.messaging.preview import content_warnings, payment_box, render_preview
from ioportal.messaging.send_conditions import send_conditions
from ioportal.messaging.windows import is_open, next_opening
from ioportal.recipients.testmode import skipped_in_test_mode

OPERATOR = Membership.Role.OPERATOR
SUPERVISOR = Membership.Role.SUPERVISOR
ADMIN = Membership.Role.ADMIN


# --- templates ----------------------------------------------------------------------------


@role_required(OPERATOR)
def template_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    templates = selectors.templates_for_organization(organization=membership.organization)
    return render(request, "messaging/template_list.html", {"templates": templates})


def _template_form_page(
    request: AuthenticatedHttpRequest, membership: Membership, template: Any = None
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
                actor=request.user,
                request=request,
                **fields,
            )
            messages.success(request, _("Modello creato."))
        else:
            old_version = template.version
            template = services.template_update(
                template=template, actor=request.user, request=request, **fields
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
        # What the phone's notes already say (the CTA checks) is not listed twice.
        warnings = [
            warning
            for warning in content_warnings(subject=template.subject, markdown=template.markdown)
            if warning not in preview.notes
        ]
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
def template_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    return _template_form_page(request, membership)


@role_required(OPERATOR)
def template_edit(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    template = get_template_for_user(request, public_id)
    membership = require_role(request, OPERATOR)
    if not template.is_current:
        current = selectors.template_versions(template=template).filter(is_current=True).first()
        if current is not None and request.method == "POST":
            messages.warning(request, _("Stavi modificando una versione superata."))
            return redirect("messaging:template_edit", public_id=current.public_id)
    return _template_form_page(request, membership, template)


# --- dispatches -----------------------------------------------------------------------------


@role_required(OPERATOR)
def dispatch_summary(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """The old address of a dispatch: the one dispatch page is sending:dispatch_detail."""
    dispatch = get_dispatch_for_user(request, public_id)
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


@require_POST
@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def dispatch_approve(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    try:
        services.dispatch_approve(dispatch=dispatch, actor=request.user, request=request)
    except NotAllowed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invio approvato: parte ora o all'orario programmato."))
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


@require_POST
@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def dispatch_reject(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Scrivi il motivo del rifiuto: l'autore lo leggerà."))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    try:
        services.dispatch_reject(
            dispatch=dispatch,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except NotAllowed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invio respinto: l'autore riceverà il motivo."))
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


@role_required(SUPERVISOR)
def approvals(request: AuthenticatedHttpRequest) -> HttpResponse:
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
def single_message(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Compose a message to one citizen. «Invia» leads to the confirmation page (nothing is
    sent yet); the confirmation page's «Modifica» posts the message back here (`modifica`)
    to show the form with every field as it was."""
    membership = require_role(request, OPERATOR)
    form = SingleMessageForm(
        request.POST or None, services=ioservices_usable_by(membership=membership)
    )
    editing = "modifica" in request.POST
    if request.method == "POST" and not editing and form.is_valid():
        return _single_confirm_page(request, membership, form)
    return _single_form_page(request, membership, form)


@require_POST
@role_required(OPERATOR)
def single_message_confirm(request: AuthenticatedHttpRequest) -> HttpResponse:
    """«Conferma e invia»: the message of the confirmation page, checked again as the form
    checks it and against the page's digest, becomes the dispatch (once per launch token,
    however many clicks)."""
    membership = require_role(request, OPERATOR)
    form = SingleMessageForm(request.POST, services=ioservices_usable_by(membership=membership))
    if not form.is_valid():
        return _single_form_page(request, membership, form)
    if not form.confirmation_matches(
        request.POST.get("conferma", ""),
        organization_id=membership.organization_id,
        user_id=request.user.pk,
    ):
        messages.error(
            request,
            _(
                "Il messaggio non è stato inviato: quello confermato non corrisponde "
                "all'anteprima. Controlla i campi e premi di nuovo «Invia»."
            ),
        )
        return _single_form_page(request, membership, form, status=400)
    data = form.cleaned_data
    try:
        dispatch, created = services.dispatch_create_single(
            organization=membership.organization,
            service=data["service"],
            actor=request.user,
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
    except NotAllowed as exc:
        messages.error(request, exc.message)
        return _single_form_page(request, membership, form, status=400)
    if not created:
        messages.info(request, _("Questo messaggio era già stato inviato."))
    elif dispatch.state == Dispatch.State.AWAITING_APPROVAL:
        messages.success(request, _("Messaggio creato: attende l'approvazione."))
    else:
        messages.success(request, _("Messaggio in invio."))
    return redirect("sending:dispatch_detail", public_id=dispatch.public_id)


def _window_opens_at(membership: Membership) -> Any:
    """When the organization's send window opens, or None while it is open."""
    conditions = send_conditions()
    schedule = conditions.schedule_for(membership.organization_id)
    now = conditions.now()
    return None if is_open(schedule, now) else next_opening(schedule, now)


def _single_form_page(
    request: AuthenticatedHttpRequest,
    membership: Membership,
    form: SingleMessageForm,
    status: int = 200,
) -> HttpResponse:
    preview = None
    if form.is_bound and form.data.get("subject") is not None:
        preview = render_preview(
            subject=form.data.get("subject", ""), markdown=form.data.get("markdown", "")
        )
    return render(
        request,
        "messaging/single.html",
        {"form": form, "preview": preview, "window_opens_at": _window_opens_at(membership)},
        status=status,
    )


def _single_confirm_page(
    request: AuthenticatedHttpRequest, membership: Membership, form: SingleMessageForm
) -> HttpResponse:
    """The message as the app will show it, the content checks of the template and list
    pages, and what the send will do (approval, test mode, Premium carnet, send window)."""
    data = form.cleaned_data
    service: IOService = data["service"]
    is_premium = data["feature_level"] == FeatureLevel.ADVANCED
    need = carnet_need(service=service, needed=1) if is_premium else None
    policy = selectors.approval_policy(organization=membership.organization)
    return render(
        request,
        "messaging/single_confirm.html",
        {
            "form": form,
            "digest": form.confirmation_digest(
                organization_id=membership.organization_id, user_id=request.user.pk
            ),
            "service": service,
            "feature_level_label": FeatureLevel(data["feature_level"]).label,
            "fiscal_code_masked": mask_fiscal_code(data["fiscal_code"]),
            "preview": render_preview(subject=data["subject"], markdown=data["markdown"]),
            "warnings": content_warnings(
                subject=data["subject"], markdown=data["markdown"], recipients=1
            ),
            # The phone's payment box, as every other preview draws it.
            "payment": payment_box(
                amount=data.get("amount_cents"),
                notice_number=data.get("notice_number") or "",
                due_date=data.get("due"),
            ),
            "is_premium": is_premium,
            "carnet_need": need,
            "carnet_hint_service": (
                service if is_premium and need is None and membership.has_role(ADMIN) else None
            ),
            "needs_approval": policy.requires_approval(
                recipients=1, feature_level=data["feature_level"]
            ),
            "test_mode_skip": skipped_in_test_mode(service, data["fiscal_code"]),
            "window_opens_at": _window_opens_at(membership),
        },
    )


# --- settings and notifications ---------------------------------------------------------


@role_required(ADMIN)
def approval_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, ADMIN)
    policy = selectors.approval_policy(organization=membership.organization)
    form = ApprovalPolicyForm(
        request.POST or None,
        initial={"threshold": policy.threshold, "always_for_premium": policy.always_for_premium},
    )
    if request.method == "POST" and form.is_valid():
        services.approval_policy_update(
            organization=membership.organization,
            actor=request.user,
            threshold=form.cleaned_data["threshold"],
            always_for_premium=form.cleaned_data["always_for_premium"],
            request=request,
        )
        messages.success(request, _("Regola di approvazione salvata."))
        return redirect("messaging:approval_settings")
    return render(request, "messaging/approval_settings.html", {"form": form})


@require_POST
@role_required(OPERATOR)
def notifications_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    ids = [i for i in request.POST.getlist("notification") if is_uuid(i)]
    services.notifications_mark_read(
        user=request.user, organization=membership.organization, ids=ids
    )
    return redirect("dashboard:dashboard")
