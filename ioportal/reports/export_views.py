"""Downloads of deliveries as CSV and XLSX: a dispatch's (optionally one outcome group, as on
its page) and the search by fiscal code's. Supervisors and admins only, through the dispatch
access rule (`SUPERVISE`), the same as the search page; each download is audited with its
row count and filters before the file is written. CSV streams from the first row; XLSX
is sent once complete (see `reports.exports`)."""

from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core import spreadsheets
from ioportal.core.services import audit_log
from ioportal.messaging import availability
from ioportal.messaging.dispatch_access import SUPERVISE, get_dispatch_for_user
from ioportal.messaging.models import Delivery
from ioportal.reports import exports
from ioportal.reports.audit import Action
from ioportal.sending.forms import DeliveryFilterForm, FiscalCodeSearchForm
from ioportal.sending.selectors import deliveries_of_citizen

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


@role_required(SUPERVISOR)
def dispatch_deliveries_export(
    request: AuthenticatedHttpRequest, public_id: str, file_format: str
) -> HttpResponseBase:
    """GET: the dispatch's deliveries as `file_format` ("csv" or "xlsx"), in row order,
    filtered by `?esito=` like the dispatch page (an unknown value exports every row).
    404 for a dispatch the member does not see, 403 below supervisor; before the dispatch
    may send (`availability.deliveries_export_refusal`) back to its page with the reason."""
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    refusal = availability.deliveries_export_refusal(dispatch)
    if refusal:
        messages.warning(request, refusal)
        return redirect("sending:dispatch_detail", public_id=dispatch.public_id)
    form = DeliveryFilterForm(request.GET or None)
    deliveries = form.apply(Delivery.objects.filter(dispatch=dispatch)).order_by("row_number", "id")
    group = form.cleaned_data.get("esito", "") if form.is_bound and form.is_valid() else ""
    audit_log(
        action=Action.DISPATCH_DELIVERIES_EXPORTED,
        actor=request.user,
        organization=dispatch.organization,
        target=dispatch,
        changes={"rows": deliveries.count(), "format": file_format, "esito": group},
        request=request,
    )
    name = slugify(dispatch.title)[:60] or "invio"
    return _download(
        deliveries, file_format=file_format, with_dispatch=False, filename=f"esiti-{name}"
    )


@role_required(SUPERVISOR)
def search_deliveries_export(
    request: AuthenticatedHttpRequest, file_format: str
) -> HttpResponseBase:
    """GET `?codice_fiscale=`: the search page's results (every one, not only the first page)
    as `file_format`, newest first, with the dispatch and service of each. An invalid or
    missing code goes back to the search page, which says why."""
    membership = require_role(request, SUPERVISOR)
    form = FiscalCodeSearchForm(request.GET or None)
    if not form.is_valid():
        return HttpResponseRedirect(
            reverse("sending:delivery_search") + "?" + request.GET.urlencode()
        )
    deliveries = deliveries_of_citizen(
        membership=membership, fiscal_code=form.cleaned_data["codice_fiscale"]
    )
    first = deliveries.values_list("fiscal_code_masked", flat=True).first()
    audit_log(
        action=Action.SEARCH_RESULTS_EXPORTED,
        actor=request.user,
        organization=membership.organization,
        target_label=first or "",
        changes={"rows": deliveries.count(), "format": file_format, "filters": ["codice_fiscale"]},
        request=request,
    )
    return _download(
        deliveries,
        file_format=file_format,
        with_dispatch=True,
        filename=f"ricerca-{timezone.localdate():%Y-%m-%d}",
    )
