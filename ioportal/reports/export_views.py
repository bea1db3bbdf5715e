"""Downloads of deliveries as CSV and XLSX: a dispatch's (optionally one outcome group, as on
its page) and the search by fiscal code's. Supervisors and admins only, through the dispatch
access rule (`SUPERVISE`), the same as the search page; each download is audited with its
row count and filters before the file is written. CSV streams from the first row; XLSX
is sent once complete (see `reports.exports`), and one of more than
`EXPORT_XLSX_INLINE_MAX_ROWS` rows is prepared by a worker instead (`reports.prepared`): the
button's POST leads to a page that follows the preparation and offers the download, audited
then. A GET of such an XLSX shows a page with the button (a GET changes nothing)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods, require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core import crypto, spreadsheets
from ioportal.core.downloads import file_slug
from ioportal.core.services import audit_log
from ioportal.messaging import availability
from ioportal.messaging.dispatch_access import SUPERVISE, get_dispatch_for_user
from ioportal.messaging.models import Delivery
from ioportal.reports import exports, prepared
from ioportal.reports.audit import Action
from ioportal.reports.models import PreparedExport
from ioportal.sending import citizen_search
from ioportal.sending.forms import GROUP_LABELS, DeliveryFilterForm
from ioportal.sending.selectors import deliveries_of_citizen_hash

# Seconds between two looks of the preparation page at its export.
REFRESH_SECONDS = 2

OPERATOR = Membership.Role.OPERATOR
SUPERVISOR = Membership.Role.SUPERVISOR


def _download(
    deliveries: QuerySet[Delivery], *, file_format: str, with_dispatch: bool, filename: str
) -> StreamingHttpResponse:
    """CSV streamed as its rows are read; XLSX written whole into a temporary file first,
    then sent in chunks (the file is deleted when the response closes it)."""
    titles = exports.header(with_dispatch=with_dispatch)
    rows = exports.delivery_rows(deliveries, with_dispatch=with_dispatch)
    attachment = f"{filename}.{file_format}"
    response: StreamingHttpResponse
    if file_format == "csv":
        response = StreamingHttpResponse(
            exports.stream_csv(titles, rows), content_type=exports.CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=attachment
        )
        response["X-Accel-Buffering"] = "no"  # nginx: pass the rows on as they come
    else:
        file = exports.write_xlsx(
            titles, rows, sheet_name=_("Consegne"), with_dispatch=with_dispatch
        )
        response = FileResponse(
            file, as_attachment=True, filename=attachment, content_type=exports.XLSX_CONTENT_TYPE
        )
        response.block_size = spreadsheets.CHUNK_BYTES
    response["Cache-Control"] = "no-store"
    return response


def _prepared(
    request: AuthenticatedHttpRequest, what: prepared.Request, rows: int
) -> HttpResponseBase:
    """An XLSX too large to write while the browser waits: on GET a page with the button
    (nothing starts), on POST the preparation (joined if the same one is under way), then
    its page."""
    if request.method != "POST":
        return render(
            request,
            "reports/export_prepare.html",
            {"rows": rows, "limit": settings.EXPORT_XLSX_INLINE_MAX_ROWS, "kind": what.kind},
        )
    membership = require_role(request, SUPERVISOR)
    export = prepared.prepared_export_request(membership=membership, request=what)
    return redirect("reports:prepared_export", public_id=export.public_id)


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def dispatch_deliveries_export(
    request: AuthenticatedHttpRequest, public_id: str, file_format: str
) -> HttpResponseBase:
    """GET or POST (the button): the dispatch's deliveries as `file_format` ("csv" or
    "xlsx"), in row order, filtered by `?esito=` like the dispatch page (an unknown value goes
    back to the page with a message: never every row for a filter not applied), the file
    named after the outcome group. As every sub-URL of a dispatch, 404 for a dispatch the
    member does not see, 403 for one they see but may not export (`dispatch_access`);
    before the dispatch may send (`availability.deliveries_export_refusal`) back to its page
    with the reason. An XLSX of more than EXPORT_XLSX_INLINE_MAX_ROWS rows is prepared
    (`_prepared`)."""
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    refusal = availability.deliveries_export_refusal(dispatch)
    if refusal:
        messages.warning(request, refusal)
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    form = DeliveryFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.warning(
            request,
            _(
                "L'esito «%(value)s» non esiste: scegli uno degli esiti della pagina dell'invio. "
                "Nessun file è stato esportato."
            )
            % {"value": request.GET.get("esito", "")[:40]},
        )
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    group = form.cleaned_data.get("esito", "") if form.is_bound else ""
    deliveries = prepared.dispatch_export_deliveries(dispatch=dispatch, group=group)
    rows = deliveries.count()
    stem = file_slug(dispatch.title) or pgettext("file name", "invio")
    name = f"{pgettext('file name', 'esiti')}-{stem}"
    if group:
        name = f"{name}-{file_slug(GROUP_LABELS[group])}"
    if file_format == "xlsx" and rows > settings.EXPORT_XLSX_INLINE_MAX_ROWS:
        what = prepared.Request(
            kind=PreparedExport.Kind.DISPATCH,
            dispatch=dispatch,
            filters={"esito": group},
            target_label="",
            filename=name,
        )
        return _prepared(request, what, rows)
    audit_log(
        action=Action.DISPATCH_DELIVERIES_EXPORTED,
        actor=request.user,
        organization=dispatch.organization,
        target=dispatch,
        changes={"rows": rows, "format": file_format, "esito": group},
        request=request,
    )
    return _download(deliveries, file_format=file_format, with_dispatch=False, filename=name)


@require_http_methods(["GET", "POST"])
@role_required(SUPERVISOR)
def search_deliveries_export(
    request: AuthenticatedHttpRequest, reference: str, file_format: str
) -> HttpResponseBase:
    """GET or POST: the results of the search kept in the session under `reference`
    (`sending.citizen_search`; every one, not only the first page) as `file_format`, newest
    first, with the dispatch and service of each. No URL holds the code. An unknown
    reference goes back to the search form with a message. A large XLSX is prepared
    (`_prepared`) by the code's keyed hash: the code itself is not kept."""
    membership = require_role(request, SUPERVISOR)
    search = citizen_search.recall(request, reference)
    if search is None:
        messages.warning(request, _("Questa ricerca non è più disponibile: cerca di nuovo."))
        return redirect("sending:delivery_search")
    deliveries = deliveries_of_citizen_hash(
        membership=membership, fiscal_code_hmac=search.fiscal_code_hmac
    )
    rows = deliveries.count()
    filename = f"{pgettext('file name', 'ricerca')}-{timezone.localdate():%Y-%m-%d}"
    if file_format == "xlsx" and rows > settings.EXPORT_XLSX_INLINE_MAX_ROWS:
        what = prepared.Request(
            kind=PreparedExport.Kind.SEARCH,
            dispatch=None,
            filters={"fiscal_code_hmac": search.fiscal_code_hmac},
            target_label=search.fiscal_code_masked,
            filename=filename,
        )
        return _prepared(request, what, rows)
    audit_log(
        action=Action.SEARCH_RESULTS_EXPORTED,
        actor=request.user,
        organization=membership.organization,
        target_label=search.fiscal_code_masked,
        changes={"rows": rows, "format": file_format, "filters": ["codice_fiscale"]},
        request=request,
    )
    return _download(deliveries, file_format=file_format, with_dispatch=True, filename=filename)


def _prepared_context(export: PreparedExport) -> dict[str, object]:
    is_dispatch = export.kind == PreparedExport.Kind.DISPATCH
    group = export.parameters.get("esito", "") if is_dispatch else ""
    return {
        "export": export,
        "available": prepared.prepared_export_available(export),
        "outcome_label": GROUP_LABELS.get(group, ""),
        "active": export.state in PreparedExport.ACTIVE,
        "refresh_seconds": REFRESH_SECONDS,
    }


@role_required(SUPERVISOR)
def prepared_export_page(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """The page of a prepared export: being prepared (it refreshes by itself), ready (the
    download button, until when), failed (why) or no longer available. Only its requester,
    while still allowed to export it (`prepared.get_prepared_export_for_user`)."""
    export = prepared.get_prepared_export_for_user(request, public_id)
    return render(request, "reports/prepared_export.html", _prepared_context(export))


@role_required(SUPERVISOR)
def prepared_export_status(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """The status part of the page, for htmx's refresh."""
    export = prepared.get_prepared_export_for_user(request, public_id)
    return render(request, "reports/_prepared_status.html", _prepared_context(export))


@require_POST
@login_required
def prepared_export_download(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponseBase:
    """POST (CSRF): the prepared file, decrypted as it is sent, audited. Back to the page
    with a message when it is not ready, expired or unreadable."""
    require_role(request, SUPERVISOR)
    export = prepared.get_prepared_export_for_user(request, public_id)
    try:
        content = prepared.prepared_export_stream(
            export=export, actor=request.user, request=request
        )
    except crypto.DecryptionError:
        messages.error(
            request,
            _("Il file non si può leggere con le chiavi di cifratura attuali: esportalo di nuovo."),
        )
        return redirect("reports:prepared_export", public_id=export.public_id)
    if content is None:
        messages.warning(request, _("Il file non è più disponibile: esportalo di nuovo."))
        return redirect("reports:prepared_export", public_id=export.public_id)
    response = StreamingHttpResponse(content, content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{export.filename}.xlsx"
    )
    response["Content-Length"] = str(export.size)
    response["Cache-Control"] = "no-store"
    return response
