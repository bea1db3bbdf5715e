"""The files uploaded with a recipient list (`ioportal.recipients.attachments`) follow the
dispatch made from it: handed over at launch, copied for a test send. Messaging asks for it
with the `messaging.signals.list_files_needed` signal, which this app answers (apps.py).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.recipients.attachments import delete_stored_files_on_commit
from ioportal.recipients.filenames import attachment_display_name, attachment_key
from ioportal.recipients.models import ListAttachment, RecipientList
from ioportal.recipients.validation import ATTACHMENT_KEY
from ioportal.remotecontent.models import Attachment


def _from_staged(row: ListAttachment, **fields: Any) -> Attachment:
    """An unsaved attachment with a staged file's validated metadata; `fields` give the owner
    (dispatch= or delivery=) and, to hand the stored file over, file=."""
    return Attachment(
        original_name=row.original_name,
        size=row.size,
        sha256=row.sha256,
        content_type="application/pdf",
        page_count=row.page_count,
        pdfa_declared=row.pdfa_declared,
        warnings=row.warnings,
        validated=True,
        **fields,
    )


def list_attachments_hand_over(*, recipient_list: RecipientList, dispatch: Dispatch) -> int:
    """At launch: the shared file becomes the dispatch's attachment, each delivery's file
    (named in Delivery.variables["__attachment__"]) its own. Stored files are handed over,
    not copied; the staged rows are deleted, and files no delivery uses go after commit.
    Returns the number of attachments created.
    """
    staged = list(ListAttachment.objects.filter(recipient_list=recipient_list))
    if not staged:
        return 0
    by_name = {row.match_name: row for row in staged if not row.shared and not row.problems}
    created: list[Attachment] = []
    used: set[int] = set()

    for row in staged:
        if row.shared and row.file:
            created.append(_from_staged(row, file=row.file.name, dispatch=dispatch))
            used.add(row.pk)
    deliveries = Delivery.objects.filter(dispatch=dispatch).only("id", "variables")
    for delivery in deliveries.iterator():
        name = (delivery.variables or {}).get(ATTACHMENT_KEY)
        row_for = by_name.get(attachment_key(name)) if name else None
        if row_for is None or row_for.pk in used:
            continue
        created.append(_from_staged(row_for, file=row_for.file.name, delivery=delivery))
        used.add(row_for.pk)
    Attachment.objects.bulk_create(created)
    unused = [row.file.name or "" for row in staged if row.pk not in used and row.file]
    ListAttachment.objects.filter(pk__in=[row.pk for row in staged]).delete()
    delete_stored_files_on_commit(unused)
    return len(created)


def list_attachments_copy_for_test(*, recipient_list: RecipientList, dispatch: Dispatch) -> int:
    """For a test send of one row: copies of the list's shared file and of the row's own file
    (named in the test deliveries' variables) become attachments of the test dispatch, so
    the test recipients open the message as a citizen would. The staged files stay with the
    list for the real launch. Returns the number of attachments created.
    """
    first = Delivery.objects.filter(dispatch=dispatch).only("variables").first()
    own_name = ((first.variables or {}) if first else {}).get(ATTACHMENT_KEY)
    wanted = attachment_key(own_name) if own_name else None
    staged = ListAttachment.objects.filter(recipient_list=recipient_list).order_by("-shared", "pk")
    created = 0
    for row in staged:
        if not row.file or row.problems or not (row.shared or row.match_name == wanted):
            continue
        with row.file.open("rb") as handle:
            data = handle.read()
        copy = _from_staged(row, dispatch=dispatch)
        # A copy under its own random name: either side may be deleted first.
        copy.file.save("upload.pdf", ContentFile(data), save=False)
        copy.save()
        created += 1
    return created


def _missing(recipient_list: RecipientList, name: str, reason: str) -> ListAttachment:
    """A shared row without a file: the list's pages show `name` and `reason` before launch;
    the launch hands nothing over for it."""
    return ListAttachment.objects.create(
        recipient_list=recipient_list,
        shared=True,
        original_name=name[:255],
        match_name=attachment_key(name)[:255],
        problems=[reason],
    )


def origin_attachments_carry_over(*, origin: Dispatch, recipient_list: RecipientList) -> int:
    """For a follow-up list of `origin`: a copy of each shared file of the origin becomes a
    shared file of the list (same bytes, so the same SHA-256), as if uploaded with it; the
    launch then hands it over as usual. What cannot be carried becomes a shared row without
    file whose reason (Italian) the list's pages show: a file missing from storage, the
    files deleted by retention (REMOTE_CONTENT_RETENTION_DAYS after the origin), the origin's
    per-citizen files (a follow-up list has no file-name column). Returns the number of
    files carried.
    """
    carried = 0
    shared = list(Attachment.objects.filter(dispatch=origin).order_by("created_at", "id"))
    for attachment in shared:
        name = attachment_display_name(attachment.original_name)
        try:
            with attachment.file.open("rb") as handle:
                data = handle.read()
        except (FileNotFoundError, OSError, ValueError):
            _missing(
                recipient_list,
                name,
                _(
                    "Il file dell'invio originale non è più disponibile: il sollecito "
                    "partirà senza."
                ),
            )
            continue
        row = ListAttachment(
            recipient_list=recipient_list,
            shared=True,
            original_name=name,
            match_name=attachment_key(name),
            size=attachment.size,
            sha256=attachment.sha256,
            page_count=attachment.page_count,
            pdfa_declared=attachment.pdfa_declared,
            warnings=attachment.warnings,
            problems=[],
        )
        # A copy under its own random name: the origin keeps its file.
        row.file.save("upload.pdf", ContentFile(data), save=False)
        row.save()
        carried += 1
    own = Attachment.objects.filter(delivery__dispatch=origin).count()
    if own:
        _missing(
            recipient_list,
            _("File per destinatario dell'invio originale (%(n)s)") % {"n": own},
            _(
                "I file per destinatario non sono riportati nel sollecito: partirà solo con "
                "gli allegati per tutti elencati qui."
            ),
        )
    retention = timedelta(days=settings.REMOTE_CONTENT_RETENTION_DAYS)
    if (
        not shared
        and not own
        and origin.feature_level == FeatureLevel.ADVANCED
        and origin.created_at < timezone.now() - retention
    ):
        _missing(
            recipient_list,
            _("Allegati dell'invio originale"),
            _(
                "Gli allegati dell'invio originale, se c'erano, sono stati cancellati dopo "
                "%(days)s giorni di conservazione: il sollecito partirà senza allegati."
            )
            % {"days": settings.REMOTE_CONTENT_RETENTION_DAYS},
        )
    return carried
