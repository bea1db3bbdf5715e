"""Remote-content configurations, attachments and the log of IO's calls.

Business logic only: views and the endpoints call these functions. Files are removed from
storage after the transaction that deleted their rows commits, never by signals.
"""

import hashlib
import hmac
import re
import secrets
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.accounts.models import Organization
from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.core.services import Action, audit_log, client_ip
from ioportal.core.sizes import megabytes
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.remotecontent.models import (
    Attachment,
    ListAttachment,
    RemoteContentAccess,
    RemoteContentConfiguration,
)
from ioportal.remotecontent.pdf import PdfValidationError, validate_pdf

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
    # Only the last path component, printable, NFC, bounded: it is shown and sent to IO.
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
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
    known |= set(ListAttachment.objects.values_list("file", flat=True))
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
    return unicodedata.normalize("NFC", _display_name(name).casefold())


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
            % {"name": _display_name(info.filename)[:100]}
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
        original_name=_display_name(name),
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
            _delete_file(name)
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
    from ioportal.recipients.validation import ATTACHMENT_KEY

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
            _delete_file(name or "")

    transaction.on_commit(remove_files)
    return len(created)


def list_attachments_copy_for_test(*, recipient_list: Any, dispatch: Dispatch) -> int:
    """For a test send of one row: copies of the list's shared file and of the row's own file
    (named in the test deliveries' variables) become attachments of the test dispatch, so
    the test recipients open the message as a citizen would. The staged files stay with the
    list for the real launch. Returns the number of attachments created.
    """
    from ioportal.recipients.validation import ATTACHMENT_KEY

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
