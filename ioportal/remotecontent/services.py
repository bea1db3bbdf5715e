"""Remote-content configurations, attachments and the log of IO's calls.

Business logic only: views and the endpoints call these functions. Files are removed from
storage after the transaction that deleted their rows commits, never by signals.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.accounts.models import Organization
from ioportal.core.services import Action, audit_log, client_ip
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.remotecontent.models import (
    Attachment,
    RemoteContentAccess,
    RemoteContentConfiguration,
)
from ioportal.remotecontent.pdf import validate_pdf

# An HTTP token without underscores: a header with "_" would be dropped by proxies.
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}[A-Za-z0-9]$")
# Headers IO or HTTP already use: an API key there would clash.
RESERVED_HEADER_NAMES = frozenset(
    {
        "host",
        "authorization",
        "cookie",
        "content-type",
        "content-length",
        "fiscal-code",
        "signature",
        "signature-input",
        "content-digest",
        "connection",
        "user-agent",
    }
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


class RemoteContentNotConfigured(Exception):
    """A Premium delivery with attachments cannot be sent: the service has no usable
    remote-content configuration. The message is in Italian, for the operator."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(configuration: RemoteContentConfiguration, presented: str | None) -> bool:
    """Constant-time comparison of a presented key with the stored digest."""
    if not presented:
        return False
    return hmac.compare_digest(key_digest(presented), configuration.key_sha256)


def validate_header_name(value: str) -> str:
    name = value.strip()
    if not HEADER_NAME_RE.match(name):
        raise ValidationError(
            _(
                "Il nome dell'intestazione può contenere solo lettere, cifre e trattini "
                "(niente trattini bassi, che i proxy scartano), da 2 a 64 caratteri."
            ),
            code="header_name",
        )
    if name.lower() in RESERVED_HEADER_NAMES or name.lower().startswith("x-pagopa-"):
        raise ValidationError(
            _("Questo nome di intestazione è già usato da HTTP o da IO: scegline un altro."),
            code="header_name_reserved",
        )
    return name


def _new_key() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def rc_configuration_create(
    *,
    organization: Organization,
    configuration_id: str,
    name: str,
    header_name: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> tuple[RemoteContentConfiguration, str]:
    """Register a configuration and generate its key.

    Returns (configuration, key): the key in clear exists only in this return value, for
    the page that shows it once. Raises ValidationError for a bad header name or an id
    already registered (by any organization). Writes an audit event.
    """
    header_name = validate_header_name(header_name)
    if RemoteContentConfiguration.objects.filter(configuration_id=configuration_id).exists():
        raise ValidationError(
            {"configuration_id": _("Questa configurazione è già registrata nel portale.")}
        )
    key = _new_key()
    configuration = RemoteContentConfiguration.objects.create(
        organization=organization,
        configuration_id=configuration_id,
        name=name,
        header_name=header_name,
        key_sha256=key_digest(key),
        key_last4=key[-4:],
        key_changed_at=timezone.now(),
    )
    audit_log(
        action=Action.RC_CONFIGURATION_CREATED,
        actor=actor,
        organization=organization,
        target=configuration,
        changes={"configuration_id": configuration_id, "header_name": header_name},
        request=request,
    )
    return configuration, key


@transaction.atomic
def rc_configuration_regenerate_key(
    *, configuration: RemoteContentConfiguration, actor: Any, request: HttpRequest | None = None
) -> str:
    """Replace the key (the old one stops working at once) and return the new one, in clear
    for this response only. Writes an audit event."""
    key = _new_key()
    configuration.key_sha256 = key_digest(key)
    configuration.key_last4 = key[-4:]
    configuration.key_changed_at = timezone.now()
    configuration.save(update_fields=["key_sha256", "key_last4", "key_changed_at"])
    audit_log(
        action=Action.RC_CONFIGURATION_KEY_REGENERATED,
        actor=actor,
        organization=configuration.organization,
        target=configuration,
        request=request,
    )
    return key


# --- attachments ---------------------------------------------------------------------------


def attachment_create(
    *,
    data: bytes,
    original_name: str,
    dispatch: Dispatch | None = None,
    delivery: Delivery | None = None,
) -> Attachment:
    """Validate a PDF and store it under a random name, for a whole dispatch or one delivery.

    Raises PdfValidationError (Italian reasons) when the file is refused; nothing is stored
    then. The returned attachment carries the validation warnings (e.g. no PDF/A).
    """
    if (dispatch is None) == (delivery is None):
        raise ValueError("an attachment belongs to a dispatch or to a delivery, not both")
    check = validate_pdf(data, name=original_name)
    attachment = Attachment(
        dispatch=dispatch,
        delivery=delivery,
        original_name=_display_name(original_name),
        size=check.size,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/pdf",
        page_count=check.page_count,
        pdfa_declared=check.pdfa,
        warnings=check.warnings,
        validated=True,
    )
    # The file is written first; if the row is never committed, `attachments_cleanup`
    # removes the orphan file later.
    attachment.file.save("upload.pdf", ContentFile(data), save=False)
    attachment.save()
    return attachment


def _display_name(name: str) -> str:
    # Only the last path component, printable, bounded: it is shown and sent to IO.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip() or "allegato.pdf"
    return base[-255:]


def _delete_file(name: str) -> None:
    if name:
        default_storage.delete(name)


def attachments_delete(*, attachments: Iterable[Attachment]) -> int:
    """Delete attachment rows, and their files once the transaction commits.

    Call it before deleting the deliveries or dispatches the attachments belong to (the
    database cascade removes rows, not files). Returns the number of rows deleted.
    """
    items = list(attachments)
    names = [item.file.name or "" for item in items]
    Attachment.objects.filter(pk__in=[item.pk for item in items]).delete()

    def remove_files() -> None:
        for name in names:
            _delete_file(name)

    transaction.on_commit(remove_files)
    return len(items)


def attachments_delete_for(
    *, dispatch: Dispatch | None = None, deliveries: Iterable[Delivery] = ()
) -> int:
    """Delete the attachments of a dispatch (shared and per delivery) or of some deliveries."""
    queryset = Attachment.objects.none()
    if dispatch is not None:
        queryset = Attachment.objects.filter(dispatch=dispatch) | Attachment.objects.filter(
            delivery__dispatch=dispatch
        )
    delivery_ids = [delivery.pk for delivery in deliveries]
    if delivery_ids:
        queryset = queryset | Attachment.objects.filter(delivery_id__in=delivery_ids)
    return attachments_delete(attachments=queryset)


def attachments_cleanup(*, now: Any = None) -> dict[str, int]:
    """Retention: delete attachments older than REMOTE_CONTENT_RETENTION_DAYS, and files in
    `attachments/` that no row points to (left by a crash or a database-level cascade).

    Idempotent; returns {"expired": n, "orphans": n}.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.REMOTE_CONTENT_RETENTION_DAYS)
    expired = attachments_delete(attachments=Attachment.objects.filter(created_at__lt=cutoff))
    orphans = 0
    try:
        _dirs, files = default_storage.listdir("attachments")
    except FileNotFoundError:
        files = []
    known = set(Attachment.objects.values_list("file", flat=True))
    # A file written in the last hour may belong to an upload still in its transaction.
    grace = now - timedelta(hours=1)
    for filename in files:
        name = f"attachments/{filename}"
        if name in known:
            continue
        if default_storage.get_modified_time(name) > grace:
            continue
        _delete_file(name)
        orphans += 1
    return {"expired": expired, "orphans": orphans}


def attachments_for_delivery(delivery: Delivery) -> list[Attachment]:
    """The files a delivery's citizen gets: the dispatch's shared ones, then their own."""
    shared = Attachment.objects.filter(dispatch_id=delivery.dispatch_id)
    own = Attachment.objects.filter(delivery=delivery)
    return list(shared.order_by("created_at", "id")) + list(own.order_by("created_at", "id"))


def third_party_data_for(delivery: Delivery) -> dict[str, Any] | None:
    """`content.third_party_data` for a Premium delivery with attachments, else None.

    Raises RemoteContentNotConfigured when the delivery needs it but its service has no
    configuration id, or the portal holds no active configuration with that id (IO would
    call an endpoint that refuses it).
    """
    dispatch = delivery.dispatch
    if dispatch.feature_level != FeatureLevel.ADVANCED:
        return None
    has_attachments = (
        Attachment.objects.filter(dispatch_id=dispatch.pk).exists()
        or Attachment.objects.filter(delivery_id=delivery.pk).exists()
    )
    if not has_attachments:
        return None
    configuration_id = dispatch.service.remote_content_configuration_id
    if not configuration_id:
        raise RemoteContentNotConfigured(
            _(
                "Il servizio non ha una configurazione per i contenuti remoti: gli allegati non "
                "possono essere inviati."
            )
        )
    if not RemoteContentConfiguration.objects.filter(
        configuration_id=configuration_id,
        organization_id=dispatch.organization_id,
        is_active=True,
    ).exists():
        raise RemoteContentNotConfigured(
            _(
                "La configurazione per i contenuti remoti del servizio non è registrata nel "
                "portale: registrala in «Contenuti remoti»."
            )
        )
    return {
        "id": str(delivery.public_id),
        "configuration_id": configuration_id,
        "has_attachments": True,
    }


# --- log of IO's calls ---------------------------------------------------------------------


def lollipop_record(request: HttpRequest, expected_fiscal_code_hmac: str = "") -> dict[str, Any]:
    """The Lollipop headers of a request, safe to store: no fiscal code, long values hashed.

    Never raises and never refuses: verification is not implemented yet.
    """
    from ioportal.messaging.fiscal_codes import fiscal_code_hmac

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
