"""Pages and downloads of the proofs of sending (reports.proofs).

Who: a proof shows the fiscal code in clear, so it follows the rule of "mostra" on the
delivery page (sending.views.delivery_reveal): whoever sees the delivery (operators included)
may download its proof. The ZIP of a whole dispatch is a bulk export of personal data, like
the outcomes CSV: supervisors and admins only (dispatch_access.SUPERVISE). Downloads are POST
with CSRF, as the reveal is, and each is one audit event.
"""

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from ioportal.accounts.access import current_membership, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.services import audit_log
from ioportal.messaging.dispatch_access import (
    SUPERVISE,
    allowed,
    get_delivery_for_user,
    get_dispatch_for_user,
)
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.retention import personal_data_until
from ioportal.reports import proofs
from ioportal.reports.audit import Action

OPERATOR = Membership.Role.OPERATOR
SUPERVISOR = Membership.Role.SUPERVISOR


def _delivery_page(
    request: HttpRequest, delivery: Delivery, refusal: str, status: int = 200
) -> HttpResponse:
    dispatch = delivery.dispatch
    context = {
        "delivery": delivery,
        "dispatch": dispatch,
        "refusal": refusal,
        "until": personal_data_until(dispatch),
        "retention_days": dispatch.organization.retention_days,
        "content_sha256": "" if refusal else proofs.delivery_content_sha256(delivery),
        "can_zip": allowed(current_membership(request), dispatch, SUPERVISE)
        and not proofs.dispatch_proof_refusal(dispatch),
    }
    return render(request, "reports/proof_delivery.html", context, status=status)


@role_required(OPERATOR)
def delivery_proof(request: HttpRequest, public_id: str) -> HttpResponse:
    """The proof page of one delivery: what the proof holds, until when it is available, and
    the download button; or why there is no proof."""
    delivery = get_delivery_for_user(request, public_id)
    return _delivery_page(request, delivery, proofs.proof_refusal(delivery))


@require_POST
@role_required(OPERATOR)
def delivery_proof_pdf(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """The proof of one delivery as PDF, audited as a reveal of its fiscal code. Without a
    proof (no IO id, data purged, fiscal code not readable) the page says why (409)."""
    delivery = get_delivery_for_user(request, public_id)
    try:
        body = proofs.proof_pdf(delivery)
    except proofs.ProofUnavailable as exc:
        return _delivery_page(request, delivery, exc.message, status=409)
    audit_log(
        action=Action.DELIVERY_PROOF_DOWNLOADED,
        actor=request.user,
        organization=delivery.dispatch.organization,
        target=delivery,
        target_label=f"{delivery.dispatch.title} – {delivery.fiscal_code_masked}",
        changes={"io_message_id": delivery.io_message_id},
        request=request,
    )
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{proofs.proof_filename(delivery)}"'
    response["Cache-Control"] = "no-store"
    return response


def _dispatch_page(
    request: HttpRequest, dispatch: Dispatch, refusal: str, status: int = 200
) -> HttpResponse:
    context = {
        "dispatch": dispatch,
        "refusal": refusal,
        "count": 0 if refusal else proofs.proof_deliveries(dispatch).count(),
        "until": personal_data_until(dispatch),
        "retention_days": dispatch.organization.retention_days,
    }
    return render(request, "reports/proof_dispatch.html", context, status=status)


@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def dispatch_proofs(request: HttpRequest, public_id: str) -> HttpResponse:
    """The page of a dispatch's proofs: how many, until when, and the ZIP download."""
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    return _dispatch_page(request, dispatch, proofs.dispatch_proof_refusal(dispatch))


@require_POST
@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def dispatch_proofs_zip(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponseBase:
    """Every proof of a dispatch in one ZIP, streamed (one PDF in memory at a time), audited
    once with the number of proofs. Without proofs the page says why (409)."""
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    refusal = proofs.dispatch_proof_refusal(dispatch)
    if refusal:
        return _dispatch_page(request, dispatch, refusal, status=409)
    count = proofs.proof_deliveries(dispatch).count()
    audit_log(
        action=Action.DISPATCH_PROOFS_DOWNLOADED,
        actor=request.user,
        organization=dispatch.organization,
        target=dispatch,
        target_label=dispatch.title,
        changes={"proofs": count},
        request=request,
    )
    response = StreamingHttpResponse(
        proofs.dispatch_proofs_zip(dispatch), content_type="application/zip"
    )
    name = f"{pgettext('file name', 'prove-invio')}-{dispatch.public_id}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
