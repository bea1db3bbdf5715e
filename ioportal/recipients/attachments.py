"""Files uploaded with a recipient list (compose flow, Premium): the ZIP read safely, each
PDF checked (`pdf.validate_pdf`) and staged with the list as a `ListAttachment`, until the
launch hands them over to the dispatch (`ioportal.remotecontent`, on the
`messaging.signals.list_files_needed` signal).
"""

import hashlib
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from ioportal.core.io_texts import Part
from ioportal.core.sizes import MEGABYTE, size_text
from ioportal.recipients.filenames import attachment_display_name, attachment_key
from ioportal.recipients.models import ListAttachment, RecipientList
from ioportal.recipients.pdf import PdfValidationError, validate_pdf

ZIP_MAX_ENTRIES = 5000
ZIP_MAX_TOTAL_BYTES = 500 * MEGABYTE
ZIP_READ_CHUNK = 64 * 1024


class AttachmentUploadError(Exception):
    """The shared PDF or the ZIP is refused as a whole; `messages` are in Italian."""

    def __init__(self, messages: list[str], field: str = "attachments_zip") -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.field = field


def delete_stored_file(name: str) -> None:
    """Remove a stored file by its storage name; nothing for an empty name."""
    if name:
        default_storage.delete(name)


def delete_stored_files_on_commit(names: Iterable[str]) -> None:
    """Remove stored files once the current transaction commits (the rows that named them
    are deleted in it); never if it rolls back."""
    names = list(names)

    def remove_files() -> None:
        for name in names:
            delete_stored_file(name)

    transaction.on_commit(remove_files)


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
    (`..`) or is absolute, two entries whose names match the same cell (`attachment_key`:
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
                _("Il file «%(name)s» dello ZIP supera la dimensione massima di %(size)s.")
                % {"name": parts[-1][:100], "size": size_text(limit)}
            )
            continue
        key = attachment_key(name)
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
            _("I file dello ZIP, decompressi, superano %(size)s.")
            % {"size": size_text(ZIP_MAX_TOTAL_BYTES)}
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


def _checked_file(*, name: str, data: bytes, shared: bool, written: list[str]) -> ListAttachment:
    """One file validated (`pdf.validate_pdf`) into an unsaved ListAttachment without its
    list: its file stored when valid (the storage name appended to `written`), its reasons
    kept when not. Writes to the file storage only, never to the database."""
    staged = ListAttachment(
        shared=shared,
        original_name=attachment_display_name(name),
        match_name=attachment_key(name),
        problems=[],
    )
    try:
        check = validate_pdf(data, name=staged.original_name)
    except PdfValidationError as exc:
        staged.problems = exc.parts
    else:
        staged.size = check.size
        staged.sha256 = hashlib.sha256(data).hexdigest()
        staged.page_count = check.page_count
        staged.pdfa_declared = check.pdfa
        staged.warnings = check.warnings
        staged.file.save("upload.pdf", ContentFile(data), save=False)
        written.append(staged.file.name or "")
    return staged


@dataclass
class CheckedAttachments:
    """The files uploaded with a list, checked and stored but not yet recorded
    (`list_attachments_check`): `staged` unsaved rows without their list, `written` the
    storage names of their files."""

    staged: list[ListAttachment] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """{"accepted": n, "refused": n}: the shared file and the ZIP's entries."""
        refused = sum(1 for staged in self.staged if staged.problems)
        return {"accepted": len(self.staged) - refused, "refused": refused}

    def discard(self) -> None:
        """Delete the stored files: the list they were checked for was not written."""
        for name in self.written:
            delete_stored_file(name)
        self.written = []


def list_attachments_check(
    *,
    shared_name: str = "",
    shared_data: bytes | None = None,
    zip_upload: IO[bytes] | None = None,
) -> CheckedAttachments:
    """Validate the files uploaded with a recipient list (Premium only) and store them in the
    file storage, before the list exists; `list_attachments_record` then writes their rows.

    The shared PDF must be valid; the ZIP must pass `zip_entries` and every entry must be
    readable (`_read_entry`): otherwise AttachmentUploadError, and the files written so far
    are deleted at once. An entry that reads but is not an acceptable PDF is kept with its
    reasons, so the rows naming it are rejected. The entries are read and checked one at a
    time (seconds for a large ZIP): call this outside any transaction, since on SQLite
    (transactions in IMMEDIATE mode) a transaction holds the database's one write lock from
    its start and every other request and the workers would wait. Reads and writes nothing in
    the database; the caller deletes the files (`CheckedAttachments.discard`) if it does not
    record them.
    """
    checked = CheckedAttachments()
    try:
        if shared_data is not None:
            shared = _checked_file(
                name=shared_name, data=shared_data, shared=True, written=checked.written
            )
            if shared.problems:
                raise AttachmentUploadError(shared.problem_texts, field="shared_pdf")
            checked.staged.append(shared)
        if zip_upload is not None:
            entries = zip_entries(upload=zip_upload)
            with zipfile.ZipFile(zip_upload) as archive:
                for info in entries:
                    checked.staged.append(
                        _checked_file(
                            name=info.filename,
                            data=_read_entry(archive, info),
                            shared=False,
                            written=checked.written,
                        )
                    )
    except BaseException:
        checked.discard()
        raise
    return checked


def list_attachments_record(
    *, recipient_list: RecipientList, checked: CheckedAttachments
) -> dict[str, int]:
    """The rows of the files `list_attachments_check` stored, for `recipient_list`, written
    in the caller's transaction (one INSERT per batch). Returns {"accepted": n, "refused": n}.
    """
    for staged in checked.staged:
        staged.recipient_list = recipient_list
    ListAttachment.objects.bulk_create(checked.staged)
    return checked.counts


def list_attachments_upload(
    *,
    recipient_list: RecipientList,
    shared_name: str = "",
    shared_data: bytes | None = None,
    zip_upload: IO[bytes] | None = None,
) -> dict[str, int]:
    """Check the files uploaded with an existing list (`list_attachments_check`, outside
    any transaction) and record them (`list_attachments_record`) in one short transaction.

    Raises AttachmentUploadError as `list_attachments_check`: then nothing of the upload is
    kept. Returns {"accepted": n, "refused": n}.
    """
    checked = list_attachments_check(
        shared_name=shared_name, shared_data=shared_data, zip_upload=zip_upload
    )
    try:
        with transaction.atomic():
            return list_attachments_record(recipient_list=recipient_list, checked=checked)
    except BaseException:
        checked.discard()
        raise


def attachments_precheck(
    *,
    shared_name: str = "",
    shared_data: bytes | None = None,
    zip_upload: IO[bytes] | None = None,
) -> dict[str, list[str]]:
    """What `list_attachments_check` would refuse as a whole, checked before a list exists:
    the shared PDF (`validate_pdf`) and the ZIP's directory (`zip_entries`, not its entries'
    contents). Returns {field: reasons} for the refused ones ("shared_pdf",
    "attachments_zip"), empty when both may be kept while the operator answers a question
    about the recipients file."""
    refused: dict[str, list[str]] = {}
    if shared_data is not None:
        try:
            validate_pdf(shared_data, name=shared_name)
        except PdfValidationError as exc:
            refused["shared_pdf"] = list(exc.messages)
    if zip_upload is not None:
        try:
            zip_entries(upload=zip_upload)
        except AttachmentUploadError as exc:
            refused[exc.field] = list(exc.messages)
        finally:
            zip_upload.seek(0)
    return refused


def list_attachment_index(*, recipient_list: RecipientList) -> dict[str, list[Part | str]]:
    """The per-recipient files of a list for row validation: {`attachment_key`: reasons
    (core.io_texts.Part, texts for files stored before)}, empty reasons when the file is
    valid; empty when no ZIP was uploaded."""
    rows = ListAttachment.objects.filter(recipient_list=recipient_list, shared=False)
    return {row.match_name: list(row.problems or []) for row in rows}


def row_attachment_names(*, recipient_list: RecipientList, own_name: str = "") -> list[str]:
    """The files one citizen of the list gets, as they are named to IO: the shared file(s),
    then the file its row names (`own_name`, the row's "nome del file allegato") when the ZIP
    holds it valid. Empty when the list has no attachment."""
    wanted = attachment_key(own_name) if own_name else None
    rows = ListAttachment.objects.filter(recipient_list=recipient_list).order_by("-shared", "pk")
    return [
        row.original_name
        for row in rows
        if row.file and not row.problems and (row.shared or row.match_name == wanted)
    ]


def list_attachments_summary(*, recipient_list: RecipientList) -> dict[str, Any]:
    """What the compose pages show: the shared file, and counts of the ZIP's files; shared
    rows without file (a follow-up's origin file that could not be carried) as "missing"."""
    rows = list(ListAttachment.objects.filter(recipient_list=recipient_list))
    return {
        "shared": [row for row in rows if row.shared and not row.problems],
        "missing": [row for row in rows if row.shared and row.problems],
        "accepted": sum(1 for row in rows if not row.shared and not row.problems),
        "refused": [row for row in rows if not row.shared and row.problems],
        "any": bool(rows),
    }
