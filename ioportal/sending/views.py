from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.models import Membership
from ioportal.messaging.models import Delivery
from ioportal.sending import clock, gate, selectors, services, windows
from ioportal.sending.access import (
    ACT_OWN,
    SUPERVISE,
    can_control,
    dispatches_visible_to,
    get_dispatch_for_user,
)
from ioportal.sending.forms import SendWindowsForm
from ioportal.sending.models import SendWindowPolicy
from ioportal.sending.outcomes import describe_delivery
from ioportal.sending.windows import schedule_from_hours

OPERATOR = Membership.Role.OPERATOR


@role_required(OPERATOR)
def dispatch_list(request: HttpRequest) -> HttpResponse:
    """The organization's dispatches, newest first, with counters by state."""
    membership = require_role(request, OPERATOR)
    dispatches = dispatches_visible_to(membership).select_related("service").order_by("-created_at")
    page = Paginator(dispatches, 25).get_page(request.GET.get("page"))
    counts = selectors.counts_by_dispatch(dispatch_ids=[d.pk for d in page])
    rows = [(d, counts.get(d.pk, {})) for d in page]
    return render(request, "sending/dispatch_list.html", {"page": page, "rows": rows})


@role_required(OPERATOR)
def dispatch_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_role(request, OPERATOR)
    dispatch = get_dispatch_for_user(request, public_id)
    counts = selectors.delivery_counts(dispatch=dispatch)
    state = request.GET.get("stato", "")
    deliveries = Delivery.objects.filter(dispatch=dispatch).order_by("row_number", "id")
    if state in Delivery.State.values:
        deliveries = deliveries.filter(state=state)
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    supervisor = membership.has_role(Membership.Role.SUPERVISOR)
    uncertain = (
        list(Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.UNCERTAIN)[:200])
        if supervisor
        else []
    )
    from ioportal.remotecontent import status as premium

    premium_rows = premium.premium_status_rows(deliveries=page.object_list)
    return render(
        request,
        "sending/dispatch_detail.html",
        {
            "dispatch": dispatch,
            "counts": counts,
            "premium": premium.premium_summary(dispatch=dispatch),
            "premium_rows": premium_rows,
            "states": [
                (value, label, counts.get(value, 0)) for value, label in Delivery.State.choices
            ],
            "state_filter": state,
            "page": page,
            "rows": [(d, describe_delivery(d), premium_rows.get(d.pk)) for d in page],
            "can_control": can_control(membership, dispatch),
            "is_supervisor": supervisor,
            "uncertain": [(d, describe_delivery(d)) for d in uncertain],
            "waiting": gate.dispatch_waiting(dispatch, now=clock.now()),
        },
    )


@role_required(Membership.Role.SUPERVISOR)
def dispatch_export_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    """The dispatch's deliveries as CSV (masked fiscal codes), for supervisors. Audited."""
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    from ioportal.remotecontent.status import deliveries_csv

    body = deliveries_csv(dispatch=dispatch, actor=request.user, request=request)  # type: ignore[arg-type]
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="esiti-invio.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _done(request: HttpRequest, dispatch_public_id: object, ok: bool, success: str) -> HttpResponse:
    if ok:
        messages.success(request, success)
    else:
        messages.warning(request, _("L'invio non è in uno stato che consente questa azione."))
    return redirect("sending:dispatch_detail", public_id=dispatch_public_id)


@require_POST
@role_required(OPERATOR)
def dispatch_pause(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, ACT_OWN)
    ok = services.dispatch_pause(dispatch=dispatch, actor=request.user, request=request)  # type: ignore[arg-type]
    return _done(
        request, dispatch.public_id, ok, _("Invio sospeso: nessun nuovo messaggio partirà.")
    )


@require_POST
@role_required(OPERATOR)
def dispatch_resume(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, ACT_OWN)
    ok = services.dispatch_resume(dispatch=dispatch, actor=request.user, request=request)  # type: ignore[arg-type]
    return _done(request, dispatch.public_id, ok, _("Invio ripreso."))


@require_POST
@role_required(OPERATOR)
def dispatch_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, ACT_OWN)
    count = services.dispatch_cancel(dispatch=dispatch, actor=request.user, request=request)  # type: ignore[arg-type]
    return _done(
        request,
        dispatch.public_id,
        count >= 0,
        ngettext(
            "Invio annullato: %(count)s messaggio non sarà inviato.",
            "Invio annullato: %(count)s messaggi non saranno inviati.",
            count,
        )
        % {"count": count},
    )


@require_POST
@role_required(Membership.Role.SUPERVISOR)
def dispatch_retry_failed(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    try:
        actor: Any = request.user
        count = services.dispatch_retry_failed(dispatch=dispatch, actor=actor, request=request)
    except ValidationError:
        count = -1
    return _done(
        request,
        dispatch.public_id,
        count >= 0,
        ngettext(
            "Nuovo tentativo programmato per %(count)s messaggio non riuscito.",
            "Nuovo tentativo programmato per %(count)s messaggi non riusciti.",
            count,
        )
        % {"count": count},
    )


@require_POST
@role_required(Membership.Role.SUPERVISOR)
def uncertain_resolve(request: HttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    selected = request.POST.getlist("delivery")
    ids = list(
        Delivery.objects.filter(dispatch=dispatch, public_id__in=_uuids(selected)).values_list(
            "pk", flat=True
        )
    )
    try:
        count = services.deliveries_resolve_uncertain(
            dispatch=dispatch,
            delivery_ids=ids,
            decision=request.POST.get("decision", ""),
            actor=request.user,  # type: ignore[arg-type]
            confirmed=request.POST.get("confirm") == "1",
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    return _done(
        request, dispatch.public_id, True, _("Esiti incerti risolti: %(count)s.") % {"count": count}
    )


def _uuids(values: list[str]) -> list[str]:
    import uuid

    result = []
    for value in values:
        try:
            result.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return result


# --- send windows ---------------------------------------------------------------------------


@role_required(Membership.Role.ADMIN)
def send_windows(request: HttpRequest) -> HttpResponse:
    """The organization's send windows (admins). "Usa il modello" fills the form with the
    preset without saving it; "Salva" saves, audited."""
    membership = require_role(request, Membership.Role.ADMIN)
    organization = membership.organization
    if request.method == "POST" and "preset" in request.POST:
        form = SendWindowsForm.preset()
        messages.info(
            request,
            _("Modello «giorni feriali 8–20, festività escluse» inserito: controlla e salva."),
        )
    elif request.method == "POST":
        form = SendWindowsForm(request.POST)
        if form.is_valid():
            services.send_windows_update(
                organization=organization,
                actor=request.user,  # type: ignore[arg-type]
                enabled=form.cleaned_data["enabled"],
                hours=form.cleaned_data["hours"],
                skip_holidays=form.cleaned_data["skip_holidays"],
                request=request,
            )
            messages.success(request, _("Finestre di invio salvate."))
            return redirect("sending:send_windows")
    else:
        policy = SendWindowPolicy.objects.filter(organization=organization).first()
        stored = None
        if policy is not None and policy.hours:
            stored = schedule_from_hours(policy.hours, skip_holidays=policy.skip_holidays)
        form = SendWindowsForm(
            initial=SendWindowsForm.initial_for(
                enabled=bool(policy and policy.enabled),
                schedule=stored or windows.PRESET_WORKING_DAYS,
            )
        )
    now = clock.now()
    schedule = gate.schedule_for(organization_id=organization.pk, cached=False)
    language = "en_US" if get_language() == "en" else "it_IT"
    return render(
        request,
        "sending/send_windows.html",
        {
            "form": form,
            "days": form.days(),
            "limited": schedule is not None,
            "open_now": windows.is_open(schedule, now),
            "closes_at": windows.closing(schedule, now),
            "opens_at": windows.next_opening(schedule, now),
            "holidays": windows.upcoming_holidays(windows.local_day(now), language=language)[:8],
        },
    )
