"""Attachments of Premium messages: created, found for a delivery, described to IO
(`third_party_data_for`) and deleted with their files.

Files are removed from storage after the transaction that deleted their rows commits, never
by signals.
"""

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext_noop

from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.recipients.attachments import delete_stored_file, delete_stored_files_on_commit
from ioportal.recipients.filenames import attachment_display_name
from ioportal.recipients.models import ListAttachment
from ioportal.recipients.pdf import validate_pdf
from ioportal.remotecontent.models import Attachment, RemoteContentConfiguration


class RemoteContentNotConfigured(Exception):
    """A Premium delivery with attachments cannot be sent: the service has no usable
    remote-content configuration. Its message is an Italian msgid, untranslated: stored as
    it is (core.io_texts.said) and translated when an operator reads it."""


# --- attachments ---------------------------------------------------------------------------


def attachment_create(
    *,
    data: bytes,
    original_name: str,
    dispatch: Dispatch | None = None,
    delivery: Delivery | None = None,
) -> Attachment:
    """Validate a PDF and store it under a random name, for a whole dispatch or one delivery.

    Raises PdfValidationError when the file is refused; nothing is stored then. The returned
    attachment carries the validation warnings (e.g. no PDF/A), stored untranslated
    (core.io_texts.Part).
    """
    if (dispatch is None) == (delivery is None):
        raise ValueError("an attachment belongs to a dispatch or to a delivery, not both")
    check = validate_pdf(data, name=original_name)
    attachment = Attachment(
        dispatch=dispatch,
        delivery=delivery,
        original_name=attachment_display_name(original_name),
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


def attachments_delete(*, attachments: Iterable[Attachment]) -> int:
    """Delete attachment rows, and their files once the transaction commits.

    Call it before deleting the deliveries or dispatches the attachments belong to (the
    database cascade removes rows, not files). Returns the number of rows deleted.
    """
    items = list(attachments)
    names = [item.file.name or "" for item in items]
    Attachment.objects.filter(pk__in=[item.pk for item in items]).delete()
    delete_stored_files_on_commit(names)
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
    known |= set(ListAttachment.objects.values_list("file", flat=True))
    # A file written in the last hour may belong to an upload still being checked or written.
    grace = now - timedelta(hours=1)
    for filename in files:
        name = f"attachments/{filename}"
        if name in known:
            continue
        if default_storage.get_modified_time(name) > grace:
            continue
        delete_stored_file(name)
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
            gettext_noop(
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
            gettext_noop(
                "La configurazione per i contenuti remoti del servizio non è registrata nel "
                "portale: registrala in «Contenuti remoti»."
            )
        )
    return {
        "id": str(delivery.public_id),
        "configuration_id": configuration_id,
        "has_attachments": True,
    }
