"""The files uploaded with a recipient list (`ioportal.recipients.attachments`) follow the
dispatch made from it: handed over at launch, copied for a test send. Messaging asks for it
with the `messaging.signals.list_files_needed` signal, which this app answers (apps.py).
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from ioportal.core.io_texts import Part, said
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


def _missing(recipient_list: RecipientList, name: str, reason: Part) -> ListAttachment:
    """A shared row without a file: the list's pages show `name` and `reason` before launch;
    the launch hands nothing over for it."""
    return ListAttachment.objects.create(
        recipient_list=recipient_list,
        shared=True,
        original_name=name[:255],
        match_name=attachment_key(name)[:255],
        problems=[reason],
    )


def _own_file_rows(
    *,
    origin: Dispatch,
    recipient_list: RecipientList,
    deliveries: QuerySet[Delivery],
    own_files: Mapping[int, str],
) -> dict[int, str]:
    """Each citizen's own file of `origin`, for exactly the follow-up's `deliveries`: a copy
    becomes a per-recipient file of the list (as if in its ZIP), under the name the citizen
    received it with. A citizen whose file is gone (deleted from storage or by the
    attachments' retention) gets a refused entry with the reason, so the check rejects that
    row saying why. Returns {delivery id: file name} for the list's file-name column; empty
    (and a note on the list's files) when none can be carried."""
    found = Attachment.objects.filter(delivery__in=deliveries.values("pk")).order_by(
        "delivery_id", "created_at", "id"
    )
    by_delivery: dict[int, Attachment] = {}
    extra = 0
    for each in found.iterator():
        if each.delivery_id is None:
            continue
        if each.delivery_id in by_delivery:
            extra += 1  # a list gives one own file per citizen
        else:
            by_delivery[each.delivery_id] = each
    wanted = set(by_delivery) | set(own_files)
    if not wanted:
        return {}
    gone = said(N_("Il file dell'invio originale per questo cittadino non è più disponibile."))
    names: dict[int, str] = {}
    used: set[str] = set()
    carried = 0
    for delivery_id in sorted(wanted):
        attachment = by_delivery.get(delivery_id)
        name = attachment_display_name(
            attachment.original_name if attachment else own_files[delivery_id]
        )
        base, key, number = name, attachment_key(name), 2
        while key in used:  # two citizens never share a file: a name of its own
            stem, dot, ext = base.rpartition(".")
            name = f"{stem} ({number}).{ext}" if dot else f"{base} ({number})"
            key, number = attachment_key(name), number + 1
        used.add(key)
        names[delivery_id] = name
        row = ListAttachment(
            recipient_list=recipient_list,
            shared=False,
            original_name=name,
            match_name=key,
            problems=[gone],
        )
        data = None
        if attachment is not None:
            try:
                with attachment.file.open("rb") as handle:
                    data = handle.read()
            except (FileNotFoundError, OSError, ValueError):
                data = None
        if data is not None and attachment is not None:
            row.size, row.sha256 = attachment.size, attachment.sha256
            row.page_count, row.pdfa_declared = attachment.page_count, attachment.pdfa_declared
            row.warnings, row.problems = attachment.warnings, []
            row.file.save("upload.pdf", ContentFile(data), save=False)
            carried += 1
        row.save()
    if extra:
        _missing(
            recipient_list,
            _("Altri file per destinatario dell'invio originale (%(n)s)") % {"n": extra},
            said(N_("Un sollecito riporta un solo file per cittadino: questi non sono riportati.")),
        )
    if carried:
        return names
    # Nothing left to carry: the follow-up goes without own files (no column, no rejection).
    ListAttachment.objects.filter(recipient_list=recipient_list, shared=False).delete()
    _missing(
        recipient_list,
        _("File per destinatario dell'invio originale (%(n)s)") % {"n": len(names)},
        said(
            N_(
                "I file per destinatario dell'invio originale non sono più disponibili "
                "(cancellati dopo %(days)s giorni di conservazione degli allegati, o "
                "dall'archivio): il sollecito partirà senza."
            ),
            days=settings.REMOTE_CONTENT_RETENTION_DAYS,
        ),
    )
    return {}


def origin_attachments_carry_over(
    *,
    origin: Dispatch,
    recipient_list: RecipientList,
    deliveries: QuerySet[Delivery],
    own_files: Mapping[int, str],
) -> dict[int, str]:
    """For a follow-up list of `origin` to the citizens of `deliveries` (`own_files`: the
    name of each one's own file in the origin's list, from their values):

    - a copy of each shared file of the origin becomes a shared file of the list (same
      bytes, so the same SHA-256), as if uploaded with it;
    - for a Premium template, each of these citizens' own file becomes a per-recipient file
      of the list (`_own_file_rows`), and the returned {delivery id: file name} fills the
      list's file-name column;

    the launch then hands them over as usual. What cannot be carried becomes a row without
    file whose reason (stored untranslated) the list's pages show: a file missing from
    storage, files deleted by retention (REMOTE_CONTENT_RETENTION_DAYS after the origin), own
    files for a standard template.
    """
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
                said(
                    N_(
                        "Il file dell'invio originale non è più disponibile: il sollecito "
                        "partirà senza."
                    )
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
    names: dict[int, str] = {}
    own = Attachment.objects.filter(delivery__in=deliveries.values("pk")).exists() or own_files
    if own and recipient_list.template.feature_level != FeatureLevel.ADVANCED:
        _missing(
            recipient_list,
            _("File per destinatario dell'invio originale"),
            said(
                N_(
                    "Il modello scelto non è Premium: i file per destinatario dell'invio "
                    "originale non sono riportati nel sollecito."
                )
            ),
        )
    elif own:
        names = _own_file_rows(
            origin=origin, recipient_list=recipient_list, deliveries=deliveries, own_files=own_files
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
            said(
                N_(
                    "Gli allegati dell'invio originale, se c'erano, sono stati cancellati dopo "
                    "%(days)s giorni di conservazione: il sollecito partirà senza allegati."
                ),
                days=settings.REMOTE_CONTENT_RETENTION_DAYS,
            ),
        )
    return names
