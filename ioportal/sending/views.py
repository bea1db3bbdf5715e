import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.middleware import is_htmx
from ioportal.accounts.models import Membership
from ioportal.core.crypto import DecryptionError
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.numbers import grouped
from ioportal.core.services import audit_log
from ioportal.messaging import windows
from ioportal.messaging.dispatch_access import (
    ACT_OWN,
    SUPERVISE,
    dispatches_visible_to,
    get_delivery_for_user,
    get_dispatch_for_user,
)
from ioportal.messaging.models import Delivery
from ioportal.messaging.retention import personal_data_purged
from ioportal.messaging.windows import schedule_from_hours
from ioportal.sending import citizen_search, clock, gate, pages, selectors, services
from ioportal.sending.audit import Action
from ioportal.sending.forms import (
    CancelConfirmForm,
    FiscalCodeSearchForm,
    HistoryFilterForm,
    MarkSentConfirmForm,
)
from ioportal.sending.models import SendWindowPolicy, UncertainResolution
from ioportal.sending.window_forms import SendWindowsForm

OPERATOR = Membership.Role.OPERATOR
HISTORY_PAGE_SIZE = 25
SEARCH_LIMIT = 200


@role_required(OPERATOR)
def dispatch_list(request: HttpRequest) -> HttpResponse:
    """The history: the organization's dispatches the member may see, filtered, sorted and
    paginated, with outcome counts and a bar each. An htmx request (the page refreshing
    itself while something is sending) gets only the rows."""
    membership = require_role(request, OPERATOR)
    form = HistoryFilterForm(request.GET or None, membership=membership)
    dispatches = form.apply(
        dispatches_visible_to(membership).select_related("service", "created_by", "approved_by")
    )
    page = Paginator(dispatches, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = pages.history_context(request, page)
    context["form"] = form
    context["search_form"] = FiscalCodeSearchForm()
    context["can_search"] = membership.has_role(Membership.Role.SUPERVISOR)
    # Who decides about uncertain outcomes (dispatch_access SUPERVISE): the rows link there.
    context["can_supervise"] = membership.has_role(Membership.Role.SUPERVISOR)
    template = "sending/_history_rows.html" if is_htmx(request) else "sending/dispatch_list.html"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@role_required(OPERATOR)
def dispatch_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """The one page of a dispatch: content as sent, people, timeline, outcomes, actions by
    role and the deliveries."""
    membership = require_role(request, OPERATOR)
    dispatch = get_dispatch_for_user(request, public_id)
    return render(
        request,
        "sending/dispatch_detail.html",
        {
            **pages.dispatch_context(request, membership, dispatch),
            "waiting": gate.dispatch_waiting(dispatch, now=clock.now()),
            "send_windows": gate.schedule_for(organization_id=dispatch.organization_id) is not None,
        },
    )


@role_required(OPERATOR)
def dispatch_progress(request: HttpRequest, public_id: str) -> HttpResponse:
    """The outcome block of a dispatch, polled by its page while it is sending, with its
    history swapped out of band (started, paused, cancelled, finished: one query more)."""
    membership = require_role(request, OPERATOR)
    dispatch = get_dispatch_for_user(request, public_id)
    response = render(
        request,
        "sending/_dispatch_refresh.html",
        {**pages.progress_context(membership, dispatch), "timeline": pages.timeline(dispatch)},
    )
    return response


@role_required(OPERATOR)
def delivery_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """One delivery's story: the message as the citizen got it, IO calls, status history,
    Premium read / payment status and IO's downloads. Fiscal code masked."""
    delivery = get_delivery_for_user(request, public_id)
    return render(request, "sending/delivery_detail.html", pages.delivery_context(delivery))


@require_POST
@role_required(OPERATOR)
def delivery_reveal(request: HttpRequest, public_id: str) -> HttpResponse:
    """Show the fiscal code in clear ("mostra"), audited as a read of personal data."""
    delivery = get_delivery_for_user(request, public_id)
    if personal_data_purged(delivery.dispatch):
        messages.info(
            request,
            _(
                "Il codice fiscale è stato cancellato secondo la politica di conservazione "
                "dei dati dell'ente."
            ),
        )
        return redirect("sending:delivery_detail", public_id=delivery.public_id)
    try:
        clear = reveal_fiscal_code(delivery.fiscal_code_encrypted)
    except DecryptionError:
        messages.error(
            request, _("Il codice fiscale non è leggibile (chiave di cifratura errata).")
        )
        return redirect("sending:delivery_detail", public_id=delivery.public_id)
    audit_log(
        action=Action.DELIVERY_FISCAL_CODE_SHOWN,
        actor=request.user,
        organization=delivery.dispatch.organization,
        target=delivery,
        target_label=f"{delivery.dispatch.title} – {delivery.fiscal_code_masked}",
        request=request,
    )
    context = pages.delivery_context(delivery)
    context["fiscal_code_clear"] = clear
    response = render(request, "sending/delivery_detail.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@role_required(Membership.Role.SUPERVISOR)
def delivery_search(request: HttpRequest) -> HttpResponse:
    """The search form. POST (CSRF) with a valid code keeps the search in the session
    (`citizen_search.remember`) and redirects to its results, whose URL holds an opaque
    reference, never the code; an invalid code is said on the form."""
    require_role(request, Membership.Role.SUPERVISOR)
    form = FiscalCodeSearchForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        search = citizen_search.remember(request, form.cleaned_data["codice_fiscale"])
        return redirect("sending:delivery_search_results", reference=search.reference)
    response = render(request, "sending/delivery_search.html", {"form": form, "results": None})
    response["Cache-Control"] = "no-store"
    return response


@role_required(Membership.Role.SUPERVISOR)
def delivery_search_results(request: HttpRequest, reference: str) -> HttpResponse:
    """One citizen across every dispatch of the organization, for a search kept in the
    session under `reference`: exact match through the keyed hash (the code is never stored
    in clear), audited at each showing. An unknown reference (another session's, or too
    old) goes back to the form with a message."""
    membership = require_role(request, Membership.Role.SUPERVISOR)
    search = citizen_search.recall(request, reference)
    if search is None:
        messages.warning(request, _("Questa ricerca non è più disponibile: cerca di nuovo."))
        return redirect("sending:delivery_search")
    results = list(
        selectors.deliveries_of_citizen_hash(
            membership=membership, fiscal_code_hmac=search.fiscal_code_hmac
        ).select_related("dispatch__service", "dispatch__created_by")[:SEARCH_LIMIT]
    )
    audit_log(
        action=Action.DELIVERY_SEARCHED,
        actor=request.user,
        organization=membership.organization,
        target_label=search.fiscal_code_masked,  # with results or none
        changes={"results": len(results)},
        request=request,
    )
    response = render(
        request,
        "sending/delivery_search.html",
        {
            "form": FiscalCodeSearchForm(),
            "search": search,
            "results": pages.search_rows(results),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _done(request: HttpRequest, dispatch_public_id: object, success: str) -> HttpResponse:
    messages.success(request, success)
    return redirect("sending:dispatch_detail", public_id=dispatch_public_id)


def _nothing_changed(request: HttpRequest, dispatch_public_id: object, text: str) -> HttpResponse:
    """A bulk action that found nothing to do: said as such, never as a success."""
    messages.warning(request, text)
    return redirect("sending:dispatch_detail", public_id=dispatch_public_id)


def _refused(request: HttpRequest, dispatch_public_id: object, error: NotAllowed) -> HttpResponse:
    messages.warning(request, error.message)
    return redirect("sending:dispatch_detail", public_id=dispatch_public_id)


@require_POST
@role_required(OPERATOR)
def dispatch_pause(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, ACT_OWN)
    try:
        services.dispatch_pause(dispatch=dispatch, actor=request.user, request=request)
    except NotAllowed as error:
        return _refused(request, dispatch.public_id, error)
    return _done(request, dispatch.public_id, _("Invio sospeso: nessun nuovo messaggio partirà."))


@require_POST
@role_required(OPERATOR)
def dispatch_resume(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, ACT_OWN)
    try:
        services.dispatch_resume(dispatch=dispatch, actor=request.user, request=request)
    except NotAllowed as error:
        return _refused(request, dispatch.public_id, error)
    return _done(request, dispatch.public_id, _("Invio ripreso."))


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def dispatch_cancel(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Cancel a dispatch, which cannot be undone: GET shows what would stop and asks for a
    confirmation; POST cancels only with the confirmation ticked (else the page again,
    nothing changed)."""
    dispatch = get_dispatch_for_user(request, public_id, ACT_OWN)
    if dispatch.state not in services.CANCELLABLE:
        return _refused(request, dispatch.public_id, NotAllowed(services.STATE_REFUSED))
    form = CancelConfirmForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return render(
            request,
            "sending/dispatch_cancel.html",
            {
                "dispatch": dispatch,
                "form": form,
                "not_started": services.dispatch_not_started(dispatch),
                # The state in the dispatch page's words.
                "state_text": pages.dispatch_state_text(
                    dispatch, selectors.outcomes(dispatch=dispatch)
                ),
            },
            status=400 if request.method == "POST" else 200,
        )
    # The messages a cancel stops, counted as the confirmation counted them (those test
    # mode would skip are not among them).
    not_started = services.dispatch_not_started(dispatch)
    try:
        services.dispatch_cancel(dispatch=dispatch, actor=request.user, request=request)
    except NotAllowed as error:
        return _refused(request, dispatch.public_id, error)
    count = not_started.count
    if not_started.at_most:
        done = ngettext(
            "Invio annullato: al massimo %(count)s messaggio non sarà inviato.",
            "Invio annullato: al massimo %(count)s messaggi non saranno inviati.",
            count,
        )
    else:
        done = ngettext(
            "Invio annullato: %(count)s messaggio non sarà inviato.",
            "Invio annullato: %(count)s messaggi non saranno inviati.",
            count,
        )
    return _done(request, dispatch.public_id, done % {"count": grouped(count)})


@require_POST
@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def dispatch_retry_failed(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    try:
        count = services.dispatch_retry_failed(
            dispatch=dispatch, actor=request.user, request=request
        )
    except NotAllowed as error:
        return _refused(request, dispatch.public_id, error)
    if not count:
        return _nothing_changed(
            request,
            dispatch.public_id,
            _("Nessun messaggio non riuscito da ritentare: nulla è cambiato."),
        )
    return _done(
        request,
        dispatch.public_id,
        ngettext(
            "Nuovo tentativo programmato per %(count)s messaggio non riuscito.",
            "Nuovo tentativo programmato per %(count)s messaggi non riusciti.",
            count,
        )
        % {"count": grouped(count)},
    )


@require_POST
@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def uncertain_resolve(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    selected = request.POST.getlist("delivery")
    ids = list(
        Delivery.objects.filter(dispatch=dispatch, public_id__in=_uuids(selected)).values_list(
            "pk", flat=True
        )
    )
    decision = request.POST.get("decision", "")
    if ids and decision == UncertainResolution.Decision.MARK_SENT:
        # Marking as sent closes them for good: a page names them and asks for a tick
        # (the form's second step; without the tick the page again, 400, nothing changed).
        chosen = list(
            Delivery.objects.filter(
                dispatch=dispatch, pk__in=ids, state=Delivery.State.UNCERTAIN
            ).order_by("row_number", "id")[: pages.UNCERTAIN_SHOWN]
        )
        confirming = request.POST.get("step") == "confirm"
        form = MarkSentConfirmForm(request.POST if confirming else None)
        if chosen and not form.is_valid():
            return render(
                request,
                "sending/uncertain_mark_sent.html",
                {"dispatch": dispatch, "form": form, "chosen": chosen},
                status=400 if confirming else 200,
            )
    try:
        count = services.deliveries_resolve_uncertain(
            dispatch=dispatch,
            delivery_ids=ids,
            decision=decision,
            actor=request.user,
            confirmed=request.POST.get("confirm") == "1",
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    if not count:
        return _nothing_changed(
            request,
            dispatch.public_id,
            _("Nessuno dei destinatari scelti ha ancora un esito incerto: nulla è cambiato."),
        )
    return _done(
        request,
        dispatch.public_id,
        ngettext(
            "Esito incerto risolto per %(count)s destinatario.",
            "Esiti incerti risolti per %(count)s destinatari.",
            count,
        )
        % {"count": grouped(count)},
    )


def _uuids(values: list[str]) -> list[str]:
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
