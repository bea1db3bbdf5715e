"""The log of IO's calls to the remote-content endpoints: Lollipop headers and outcomes,
without personal data.
"""

import hashlib
import hmac
from typing import Any

from django.http import HttpRequest

from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.core.services import client_ip
from ioportal.messaging.models import Delivery
from ioportal.remotecontent.models import (
    Attachment,
    RemoteContentAccess,
    RemoteContentConfiguration,
)

LOLLIPOP_HEADERS = (
    "x-pagopa-lollipop-original-method",
    "x-pagopa-lollipop-original-url",
    "x-pagopa-lollipop-assertion-ref",
    "x-pagopa-lollipop-assertion-type",
    "x-pagopa-lollipop-auth-jwt",
    "x-pagopa-lollipop-public-key",
    "x-pagopa-lollipop-user-id",
    "signature",
    "signature-input",
    "content-digest",
)
# Recorded as a digest only: long, and the JWT carries personal data.
LOLLIPOP_HASHED = frozenset(
    {"x-pagopa-lollipop-auth-jwt", "x-pagopa-lollipop-public-key", "signature"}
)


# --- log of IO's calls ---------------------------------------------------------------------


def lollipop_record(request: HttpRequest, expected_fiscal_code_hmac: str = "") -> dict[str, Any]:
    """The Lollipop headers of a request, safe to store: no fiscal code, long values hashed.

    Never raises and never refuses: verification is not implemented yet.
    """
    record: dict[str, Any] = {}
    for header in LOLLIPOP_HEADERS:
        value = request.headers.get(header)
        if value is None:
            continue
        value = value[:2000]
        if header == "x-pagopa-lollipop-user-id":
            record["user_id_matches"] = bool(expected_fiscal_code_hmac) and hmac.compare_digest(
                fiscal_code_hmac(value), expected_fiscal_code_hmac
            )
        elif header in LOLLIPOP_HASHED:
            record[header] = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        else:
            record[header] = value[:300]
    return record


def access_record(
    *,
    request: HttpRequest,
    operation: str,
    outcome: str,
    http_status: int,
    configuration: RemoteContentConfiguration | None = None,
    delivery: Delivery | None = None,
    attachment: Attachment | None = None,
    message_ref: str = "",
) -> RemoteContentAccess:
    """Write one row of the log of IO's calls."""
    return RemoteContentAccess.objects.create(
        configuration=configuration,
        delivery=delivery,
        attachment=attachment,
        operation=operation,
        outcome=outcome,
        http_status=http_status,
        message_ref=message_ref[:64],
        lollipop=lollipop_record(request, delivery.fiscal_code_hmac if delivery else ""),
        ip_address=client_ip(request),
    )
