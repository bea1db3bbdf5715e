import os
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.downloads import file_slug
from ioportal.core.spreadsheets import CHUNK_BYTES
from ioportal.core.spreadsheets import CONTENT_TYPE as XLSX_CONTENT_TYPE
from ioportal.ioservices.selectors import ioservices_usable_by
from ioportal.reachability import exports, services
from ioportal.reachability.access import checks_visible_to, get_check_for_user
from ioportal.reachability.forms import CheckUploadForm
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.recipients.parsing import ImportChoiceNeeded, ImportFileError, parse_table

OPERATOR = Membership.Role.OPERATOR
SUPERVISOR = Membership.Role.SUPERVISOR
PAGE_SIZE = 25
REFRESH_SECONDS = 3
CONTENT_TYPES = {
    exports.CSV: "text/csv; charset=utf-8",
    exports.XLSX: XLSX_CONTENT_TYPE,
}


@role_required(OPERATOR)
def check_list(request: HttpRequest) -> HttpResponse:
    """The checks the member may see, newest first."""
    membership = require_role(request, OPERATOR)
    checks = checks_visible_to(membership).order_by("-created_at", "-id")
    page = Paginator(checks, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reachability/check_list.html", {"page": page})


@role_required(OPERATOR)
def check_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upload a list and choose the service: the check starts at once in the background."""
    membership = require_role(request, OPERATOR)
    usable = ioservices_usable_by(membership=membership)
    form = CheckUploadForm(request.POST or None, request.FILES or None, services=usable)
    if request.method == "POST" and form.is_valid():
        check = _check_upload(request, membership, form)
        if check is not None:
            return redirect("reachability:check_detail", public_id=check.public_id)
    return render(
        request, "reachability/check_new.html", {"form": form, "has_services": usable.exists()}
    )


def _check_upload(
    request: AuthenticatedHttpRequest, membership: Membership, form: CheckUploadForm
) -> ReachabilityCheck | None:
    """Read the submitted file, or the one kept for a question, into a check (None when it
    could not be: the reasons are on the form). A readable file that needs an answer (a
    sheet, hidden rows, a separator, the column) is kept as the compose keeps it
    (`PendingUpload`), and deleted once read into a check or refused. The file's warnings
    (`ParsedTable.warnings`) are shown with the column question and on the check's page, as
    the message import shows them on its mapping page."""
    organization, actor = membership.organization, request.user
    submitted = form.submitted_file(organization=organization, actor=actor)
    if submitted is None:
        return None
    file_name, data, pending = submitted
    table = None
    try:
        table = parse_table(
            data=data, filename=file_name, options=form.read_options(), mapping=False
        )
        column = services.fiscal_code_column(table.headers, form.cleaned_data["column"])
    except ImportChoiceNeeded as exc:
        # A sheet, hidden rows, a separator, or the fiscal-code column (NoFiscalCodeColumn):
        # within the size limit, parse_table refuses a larger file before any question.
        pending = form.keep_for_question(
            organization=organization, actor=actor, file_name=file_name, data=data, pending=pending
        )
        form.offer(exc, table.warnings if table is not None else ())
        return None
    except ImportFileError as exc:
        if pending is not None:
            pending.delete()
        form.add_error("file", str(exc))
        return None
    check = services.reachability_check_create(
        service=form.cleaned_data["service"],
        table=table,
        column=column,
        source_name=file_name,
        actor=actor,
        request=request,
    )
    if pending is not None:
        pending.delete()
    return check


def _detail_context(request: HttpRequest, check: ReachabilityCheck) -> dict[str, object]:
    membership = require_role(request, OPERATOR)
    counts = [
        ("reachable", check.reachable),
        ("not_on_io", check.not_on_io),
        ("blocked", check.blocked),
        ("not_authorized", check.not_authorized),
        ("error", check.errors),
    ]
    labels = dict(ReachabilityRow.Result.choices)
    available_until = None
    if check.finished_at and not check.purged_at:
        available_until = check.finished_at + timedelta(days=check.organization.retention_days)
    return {
        "available_until": available_until,
        "check": check,
        "counts": [(key, labels[key], n) for key, n in counts],
        "active": check.is_active,
        "refresh_seconds": REFRESH_SECONDS,
        "can_reveal": membership.has_role(SUPERVISOR),
    }


@role_required(OPERATOR)
def check_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """A check: its progress (refreshed while it runs), counts, refused rows, downloads."""
    check = get_check_for_user(request, public_id)
    return render(request, "reachability/check_detail.html", _detail_context(request, check))


@role_required(OPERATOR)
def check_progress(request: HttpRequest, public_id: str) -> HttpResponse:
    """The progress block alone, polled by the check's page while it runs."""
    check = get_check_for_user(request, public_id)
    return render(request, "reachability/_progress.html", _detail_context(request, check))


def export_stem(check: ReachabilityCheck) -> str:
    """A check's export file name without extension: "verifica-raggiungibilita-" and the slug
    of the uploaded file's name without its extension ("elenco-imu"), or the check's local
    date (YYYY-MM-DD) when nothing is left of the name; as dispatch exports carry their
    title (core.downloads.file_slug)."""
    stem = file_slug(os.path.splitext(check.source_name)[0])
    if not stem and check.created_at:
        stem = f"{timezone.localtime(check.created_at):%Y-%m-%d}"
    word = pgettext("file name", "verifica-raggiungibilita")
    return f"{word}-{stem}" if stem else word


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def check_export(
    request: AuthenticatedHttpRequest, public_id: str, file_format: str
) -> HttpResponseBase:
    """The result as CSV or XLSX: masked fiscal codes (GET), or in clear (POST with CSRF,
    `in_chiaro=1`) for supervisors and admins only (403 for operators); a GET asking for
    codes in clear is refused (405, POST only). Audited as an export. 404 once the rows
    were deleted at the end of the retention period."""
    if request.method == "GET" and "in_chiaro" in request.GET:
        return HttpResponseNotAllowed(["POST"])
    check = get_check_for_user(request, public_id)
    if file_format not in CONTENT_TYPES or check.purged_at:
        raise Http404
    in_clear = request.method == "POST" and request.POST.get("in_chiaro") == "1"
    if in_clear and not require_role(request, OPERATOR).has_role(SUPERVISOR):
        raise PermissionDenied
    body = exports.export(
        check=check,
        file_format=file_format,
        in_clear=in_clear,
        actor=request.user,
        request=request,
    )
    suffix = f"-{pgettext('file name', 'in-chiaro')}" if in_clear else ""
    response = FileResponse(
        body,
        as_attachment=True,
        filename=f"{export_stem(check)}{suffix}.{file_format}",
        content_type=CONTENT_TYPES[file_format],
    )
    response.block_size = CHUNK_BYTES
    response["Cache-Control"] = "no-store"
    return response
