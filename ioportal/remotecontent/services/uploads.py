"""Files uploaded with a recipient list (compose flow): the ZIP read safely, each PDF
checked and staged with the list, then handed over to the dispatch.
"""

import hashlib
import struct
import unicodedata
import zipfile
import zlib
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from ioportal.core.sizes import megabytes
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients.validation import ATTACHMENT_KEY
from ioportal.remotecontent.models import Attachment, ListAttachment
from ioportal.remotecontent.pdf import PdfValidationError, validate_pdf
from ioportal.remotecontent.services.attachments import attachment_display_name, delete_stored_file

# --- files uploaded with a recipient list (compose flow) -----------------------------------

ZIP_MAX_ENTRIES = 5000
ZIP_MAX_TOTAL_BYTES = 500_000_000
ZIP_READ_CHUNK = 64 * 1024


class AttachmentUploadError(Exception):
    """The shared PDF or the ZIP is refused as a whole; `messages` are in Italian."""

    def __init__(self, messages: list[str], field: str = "attachments_zip") -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.field = field


def match_name(name: str) -> str:
    """The key a file-name cell is matched with: last path component, Unicode NFC (macOS
    writes "più" decomposed, Windows composed), casefolded. Same rule as
    `ioportal.recipients.validation.attachment_key`."""
    return unicodedata.normalize("NFC", attachment_display_name(name).casefold())


def _unicode_path_extra(info: zipfile.ZipInfo, raw_name: bytes) -> str | None:
    """The UTF-8 name of Info-ZIP's Unicode Path extra field (0x7075), which WinZip, WinRAR
    and others add next to a name in the OEM code page; None when absent or stale (its CRC
    is of the legacy name it stands for)."""
    extra = info.extra
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + size]
        at += 4 + size
        if tag != 0x7075 or len(body) < 5 or body[0] != 1:
            continue
        if struct.unpack_from("<I", body, 1)[0] != zlib.crc32(raw_name):
            return None
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def zip_entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author typed it.

    With the UTF-8 flag (bit 11) Python has decoded it already. Without it: the Unicode Path
    extra field when present; else tools that write UTF-8 anyway are recognised by the bytes
    being valid UTF-8; otherwise Windows' Western European OEM code page (cp850), which
    agrees with Python's cp437 on the accented lower-case letters and is right for the
    capitals.
    """
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.orig_filename.encode("cp437")
    unicode_path = _unicode_path_extra(info, raw)
    if unicode_path:
        return unicode_path
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp850")


def zip_entries(*, upload: IO[bytes]) -> list[zipfile.ZipInfo]:
    """Check a ZIP of PDFs before anything is read: returns the file entries to read.

    Refused as a whole (AttachmentUploadError): not a ZIP, more than ZIP_MAX_ENTRIES files,
    declared uncompressed total above ZIP_MAX_TOTAL_BYTES, an entry declared bigger than
    REMOTE_CONTENT_MAX_PDF_BYTES, an encrypted entry, a name with a folder path that climbs
    (`..`) or is absolute, two entries whose names match the same cell (`match_name`:
    case-insensitive and Unicode-normalized). Directories and macOS metadata (`__MACOSX/`)
    are ignored. Each returned entry's `filename` is the decoded name (`zip_entry_name`).
    """
    try:
        archive = zipfile.ZipFile(upload)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise AttachmentUploadError([_("Il file caricato non è un archivio ZIP valido.")]) from exc
    limit: int = settings.REMOTE_CONTENT_MAX_PDF_BYTES
    entries: list[zipfile.ZipInfo] = []
    seen: dict[str, str] = {}
    problems: list[str] = []
    total = 0
    for info in infos:
        name = zip_entry_name(info).replace("\\", "/")
        if info.is_dir() or name.endswith("/"):
            continue
        parts = name.split("/")
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            problems.append(
                _("Lo ZIP contiene un percorso non ammesso: «%(name)s».") % {"name": name[:100]}
            )
            continue
        if parts[0] == "__MACOSX" or parts[-1].startswith("._"):
            continue
        if info.flag_bits & 0x1:
            problems.append(
                _("Lo ZIP contiene un file cifrato: «%(name)s».") % {"name": parts[-1][:100]}
            )
            continue
        if info.file_size > limit:
            problems.append(
                _("Il file «%(name)s» dello ZIP supera la dimensione massima di %(mb)s MB.")
                % {"name": parts[-1][:100], "mb": megabytes(limit)}
            )
            continue
        key = match_name(name)
        if key in seen:
            problems.append(
                _("Lo ZIP contiene due file con lo stesso nome: «%(name)s».")
                % {"name": parts[-1][:100]}
            )
            continue
        seen[key] = name
        total += info.file_size
        info.filename = name
        entries.append(info)
    if len(entries) > ZIP_MAX_ENTRIES:
        problems.append(_("Lo ZIP contiene più di %(max)s file.") % {"max": ZIP_MAX_ENTRIES})
    if total > ZIP_MAX_TOTAL_BYTES:
        problems.append(
            _("I file dello ZIP, decompressi, superano %(mb)s MB.")
            % {"mb": megabytes(ZIP_MAX_TOTAL_BYTES)}
        )
    if problems:
        raise AttachmentUploadError(problems)
    if not entries:
        raise AttachmentUploadError([_("Lo ZIP non contiene file.")])
    return entries


def _unreadable(info: zipfile.ZipInfo) -> AttachmentUploadError:
    return AttachmentUploadError(
        [
            _(
                "Il file «%(name)s» non si può estrarre dallo ZIP (danneggiato o diverso da "
                "quanto dichiarato): nessun file dello ZIP è stato caricato."
            )
            % {"name": attachment_display_name(info.filename)[:100]}
        ]
    )


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The entry's bytes, exactly as many as its header declares (already checked against
    the cap); AttachmentUploadError when it cannot be read, its data is longer or shorter
    than declared (zipfile then fails the CRC or ends early), or the checksum is wrong."""
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(ZIP_READ_CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise zipfile.BadZipFile("longer than declared")
                chunks.append(chunk)
    except Exception as exc:  # untrusted input: whatever the decompressor raises is "unreadable"
        raise _unreadable(info) from exc
    if size != info.file_size:
        raise _unreadable(info)
    return b"".join(chunks)


def _stage(
    *,
    recipient_list: Any,
    name: str,
    data: bytes,
    shared: bool,
    written: list[str],
) -> ListAttachment:
    """Validate one file and stage it with the list: stored when valid, kept with its reasons
    when not. The stored file's name is appended to `written`."""
    staged = ListAttachment(
        recipient_list=recipient_list,
        shared=shared,
        original_name=attachment_display_name(name),
        match_name=match_name(name),
        problems=[],
    )
    try:
        check = validate_pdf(data, name=staged.original_name)
    except PdfValidationError as exc:
        staged.problems = exc.messages
    else:
        staged.size = check.size
        staged.sha256 = hashlib.sha256(data).hexdigest()
        staged.page_count = check.page_count
        staged.pdfa_declared = check.pdfa
        staged.warnings = check.warnings
        staged.file.save("upload.pdf", ContentFile(data), save=False)
        written.append(staged.file.name or "")
    staged.save()
    return staged


def list_attachments_upload(
    *,
    recipient_list: Any,
    shared_name: str = "",
    shared_data: bytes | None = None,
    zip_upload: IO[bytes] | None = None,
) -> dict[str, int]:
    """Validate and store the files uploaded with a recipient list (Premium only).

    The shared PDF must be valid; the ZIP must pass `zip_entries` and every entry must be
    readable (`_read_entry`): otherwise AttachmentUploadError, and nothing of the upload is
    kept, neither rows nor files (the files written so far are deleted at once). An entry
    that reads but is not an acceptable PDF is kept with its reasons, so the rows naming it
    are rejected. Returns {"accepted": n, "refused": n}.
    """
    counts = {"accepted": 0, "refused": 0}
    written: list[str] = []
    try:
        with transaction.atomic():
            if shared_data is not None:
                try:
                    validate_pdf(shared_data, name=shared_name)
                except PdfValidationError as exc:
                    raise AttachmentUploadError(exc.messages, field="shared_pdf") from exc
                _stage(
                    recipient_list=recipient_list,
                    name=shared_name,
                    data=shared_data,
                    shared=True,
                    written=written,
                )
                counts["accepted"] += 1
            if zip_upload is not None:
                entries = zip_entries(upload=zip_upload)
                with zipfile.ZipFile(zip_upload) as archive:
                    for info in entries:
                        staged = _stage(
                            recipient_list=recipient_list,
                            name=info.filename,
                            data=_read_entry(archive, info),
                            shared=False,
                            written=written,
                        )
                        counts["refused" if staged.problems else "accepted"] += 1
    except BaseException:
        for name in written:
            delete_stored_file(name)
        raise
    return counts


def list_attachment_index(*, recipient_list: Any) -> dict[str, list[str]]:
    """The per-recipient files of a list for row validation: {casefolded name: reasons},
    empty reasons when the file is valid; empty when no ZIP was uploaded."""
    rows = ListAttachment.objects.filter(recipient_list=recipient_list, shared=False)
    return {row.match_name: list(row.problems or []) for row in rows}


def list_attachments_summary(*, recipient_list: Any) -> dict[str, Any]:
    """What the compose pages show: the shared file, and counts of the ZIP's files."""
    rows = list(ListAttachment.objects.filter(recipient_list=recipient_list))
    return {
        "shared": [row for row in rows if row.shared],
        "accepted": sum(1 for row in rows if not row.shared and not row.problems),
        "refused": [row for row in rows if not row.shared and row.problems],
        "any": bool(rows),
    }


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


def list_attachments_hand_over(*, recipient_list: Any, dispatch: Dispatch) -> int:
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
        row_for = by_name.get(match_name(name)) if name else None
        if row_for is None or row_for.pk in used:
            continue
        created.append(_from_staged(row_for, file=row_for.file.name, delivery=delivery))
        used.add(row_for.pk)
    Attachment.objects.bulk_create(created)
    unused = [row.file.name for row in staged if row.pk not in used and row.file]
    ListAttachment.objects.filter(pk__in=[row.pk for row in staged]).delete()

    def remove_files() -> None:
        for name in unused:
            delete_stored_file(name or "")

    transaction.on_commit(remove_files)
    return len(created)


def list_attachments_copy_for_test(*, recipient_list: Any, dispatch: Dispatch) -> int:
    """For a test send of one row: copies of the list's shared file and of the row's own file
    (named in the test deliveries' variables) become attachments of the test dispatch, so
    the test recipients open the message as a citizen would. The staged files stay with the
    list for the real launch. Returns the number of attachments created.
    """
    first = Delivery.objects.filter(dispatch=dispatch).only("variables").first()
    own_name = ((first.variables or {}) if first else {}).get(ATTACHMENT_KEY)
    wanted = match_name(own_name) if own_name else None
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
