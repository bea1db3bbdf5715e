"""The remote-content server IO calls when a citizen opens a Premium message.

Spec: shared/io-spec/io-backend.api-third-party.yaml. No session, no CSRF (GET only). The
base URL registered with IO is `{site}/io/remote-content/{configuration_id}`, so the
configuration (and the header carrying its key) is known before anything is looked up.

Answers, in order: wrong or missing key → 401; missing or malformed `fiscal_code` header
→ 400; unknown id, a message of another configuration, or a fiscal code that is not the
recipient's → the same 404 body; attachment not ready → 503 with Retry-After.
"""

import hmac
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ioportal.core.fiscalcode import FISCAL_CODE_RE, fiscal_code_hmac
from ioportal.messaging.models import Delivery, FeatureLevel
from ioportal.remotecontent import services
from ioportal.remotecontent.models import (
    Attachment,
    RemoteContentAccess,
    RemoteContentConfiguration,
)

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
# Compared against when the configuration is unknown, so both paths cost the same.
_DUMMY_DIGEST = services.key_digest("no configuration")

Operation = RemoteContentAccess.Operation
Outcome = RemoteContentAccess.Outcome


def problem(status: int, title: str, detail: str, **headers: str) -> HttpResponse:
    response = JsonResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type=PROBLEM_TYPE,
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def not_found() -> HttpResponse:
    # One body for every "nothing for you here": unknown id, wrong recipient, no file.
    return problem(404, "Not Found", "No message found for the provided ID.")


def unauthorized() -> HttpResponse:
    return problem(401, "Unauthorized", "Missing or invalid authentication key.")


def _no_store(response: HttpResponseBase) -> HttpResponseBase:
    response["Cache-Control"] = "no-store"
    return response


class _Call:
    """One request to the endpoints: authenticate, find the delivery, log the outcome."""

    def __init__(
        self, request: HttpRequest, configuration_id: str, message_id: str, operation: str
    ) -> None:
        self.request = request
        self.operation = operation
        self.message_id = message_id
        self.configuration: RemoteContentConfiguration | None = None
        self.delivery: Delivery | None = None
        self.configuration_id = configuration_id

    def finish(
        self,
        response: HttpResponseBase,
        outcome: str,
        attachment: Attachment | None = None,
    ) -> HttpResponseBase:
        services.access_record(
            request=self.request,
            operation=self.operation,
            outcome=outcome,
            http_status=response.status_code,
            configuration=self.configuration,
            delivery=self.delivery,
            attachment=attachment,
            message_ref=self.message_id,
        )
        return _no_store(response)

    def resolve(self) -> HttpResponseBase | None:
        """None when the caller is IO asking for one of the recipient's messages; otherwise
        the (logged) error response."""
        configuration = (
            RemoteContentConfiguration.objects.select_related("organization")
            .filter(
                configuration_id=self.configuration_id,
                is_active=True,
                organization__is_active=True,
            )
            .first()
        )
        if configuration is None:
            hmac.compare_digest(_DUMMY_DIGEST, services.key_digest("x"))
            return self.finish(unauthorized(), Outcome.UNAUTHORIZED)
        self.configuration = configuration
        presented = self.request.headers.get(configuration.header_name)
        if not services.key_matches(configuration, presented):
            return self.finish(unauthorized(), Outcome.UNAUTHORIZED)
        fiscal_code = self.request.META.get("HTTP_FISCAL_CODE", "")
        # Two headers folded into one value ("fiscal_code" and "fiscal-code") are refused.
        if not FISCAL_CODE_RE.match(fiscal_code):
            return self.finish(
                problem(
                    400,
                    "Bad Request",
                    "The fiscal_code header is missing or is not a valid fiscal code.",
                ),
                Outcome.BAD_REQUEST,
            )
        try:
            public_id = uuid.UUID(self.message_id)
        except ValueError:
            return self.finish(not_found(), Outcome.NOT_FOUND)
        delivery = (
            Delivery.objects.select_related("dispatch")
            .filter(
                public_id=public_id,
                dispatch__organization_id=configuration.organization_id,
                dispatch__service__remote_content_configuration_id=configuration.configuration_id,
                dispatch__feature_level=FeatureLevel.ADVANCED,
            )
            .first()
        )
        if delivery is None:
            return self.finish(not_found(), Outcome.NOT_FOUND)
        self.delivery = delivery
        if not hmac.compare_digest(fiscal_code_hmac(fiscal_code), delivery.fiscal_code_hmac):
            return self.finish(not_found(), Outcome.WRONG_RECIPIENT)
        return None


def attachment_entry(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": str(attachment.public_id),
        "url": str(attachment.public_id),
        "content_type": attachment.content_type,
        "name": attachment.original_name,
        "category": "DOCUMENT",
    }


@csrf_exempt
@require_GET
def message_details(
    request: HttpRequest, configuration_id: str, message_id: str
) -> HttpResponseBase:
    """getThirdPartyMessageDetails: the attachments list (ThirdPartyMessage)."""
    call = _Call(request, configuration_id, message_id, Operation.DETAILS)
    error = call.resolve()
    if error is not None:
        return error
    assert call.delivery is not None
    attachments = services.attachments_for_delivery(call.delivery)
    body = {"attachments": [attachment_entry(item) for item in attachments]}
    return call.finish(JsonResponse(body), Outcome.OK)


@csrf_exempt
@require_GET
def message_attachment(
    request: HttpRequest, configuration_id: str, message_id: str, attachment_url: str
) -> HttpResponseBase:
    """getThirdPartyMessageAttachment: the bytes of one of the recipient's files."""
    call = _Call(request, configuration_id, message_id, Operation.ATTACHMENT)
    error = call.resolve()
    if error is not None:
        return error
    assert call.delivery is not None
    attachment = next(
        (
            item
            for item in services.attachments_for_delivery(call.delivery)
            if str(item.public_id) == attachment_url
        ),
        None,
    )
    if attachment is None:
        return call.finish(not_found(), Outcome.NOT_FOUND)
    if not attachment.validated:
        retry_after = str(settings.REMOTE_CONTENT_RETRY_AFTER_SECONDS)
        return call.finish(
            problem(
                503,
                "Service Unavailable",
                "The attachment is not ready yet.",
                Retry_After=retry_after,
            ),
            Outcome.NOT_READY,
            attachment,
        )
    try:
        handle = default_storage.open(attachment.file.name or "", "rb")
    except FileNotFoundError:
        logger.error("attachment %s: file missing from storage", attachment.public_id)
        return call.finish(not_found(), Outcome.ERROR, attachment)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/octet-stream",
    )
    return call.finish(response, Outcome.OK, attachment)


@csrf_exempt
@require_GET
def message_precondition(
    request: HttpRequest, configuration_id: str, message_id: str
) -> HttpResponseBase:
    """getThirdPartyMessagePrecondition: the portal sends no preconditions, so 404."""
    call = _Call(request, configuration_id, message_id, Operation.PRECONDITION)
    error = call.resolve()
    if error is not None:
        return error
    return call.finish(not_found(), Outcome.NOT_FOUND)
