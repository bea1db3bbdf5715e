"""ZIPs of attachments: accented names match, a bad ZIP is refused whole and leaves nothing."""

import io
import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.services import template_create
from ioportal.recipients.attachments import (
    AttachmentUploadError,
    list_attachment_index,
    list_attachments_upload,
)
from ioportal.recipients.models import ListAttachment, RecipientList
from ioportal.recipients.pdf import PdfValidationError, markup_outside_streams, validate_pdf
from ioportal.remotecontent.models import Attachment
from tests.remotecontent.conftest import make_pdf

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
MARKDOWN = (
    "Gentile {{ nome }},\n\nin allegato trova la fattura del servizio di refezione scolastica "
    "e il prospetto dei pasti del mese."
)
NFC = "fattura_più.pdf"
NFD = unicodedata.normalize("NFD", NFC)


@pytest.fixture
def template(organization: Any, operator_user: Any) -> Any:
    return template_create(
        organization=organization,
        actor=operator_user,
        name="Fatture",
        subject="Fattura refezione scolastica",
        markdown=MARKDOWN,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        feature_level=FeatureLevel.ADVANCED,
    )


@pytest.fixture
def recipient_list(template: Any, premium_service: Any, operator_user: Any) -> RecipientList:
    return RecipientList.objects.create(
        organization=template.organization,
        created_by=operator_user,
        template=template,
        service=premium_service,
        file_name="fatture.csv",
        file_format="csv",
        expires_at="2099-01-01T00:00:00Z",
    )


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


# (signature, offset of flags, of CRC, of uncompressed size, of name length, header size)
HEADERS = ((b"PK\x03\x04", 6, 14, 22, 26, 30), (b"PK\x01\x02", 8, 16, 24, 28, 46))


def patch(
    raw: bytes,
    name: bytes,
    *,
    new_name: bytes | None = None,
    set_flags: int = 0,
    clear_flags: int = 0,
    size: int | None = None,
    crc: int | None = None,
) -> bytes:
    """Change an entry's fields in its local header and in the central directory, as a
    foreign or malicious ZIP writer would have written them (a new name of the same length)."""
    data = bytearray(raw)
    for signature, flags_at, crc_at, size_at, length_at, header in HEADERS:
        at = 0
        while (at := data.find(signature, at)) != -1:
            length = struct.unpack_from("<H", data, at + length_at)[0]
            if bytes(data[at + header : at + header + length]) == name:
                flags = struct.unpack_from("<H", data, at + flags_at)[0]
                struct.pack_into("<H", data, at + flags_at, (flags | set_flags) & ~clear_flags)
                if size is not None:
                    struct.pack_into("<I", data, at + size_at, size)
                if crc is not None:
                    struct.pack_into("<I", data, at + crc_at, crc)
                if new_name is not None:
                    assert len(new_name) == length
                    data[at + header : at + header + length] = new_name
            at += 4
    return bytes(data)


def stored_files() -> list[str]:
    try:
        return default_storage.listdir("attachments")[1]
    except FileNotFoundError:
        return []


# --- accented names -------------------------------------------------------------------------


def test_accented_attachment_names_case_over_http(
    client, login, operator_user, template, premium_service, rc, monkeypatch
):
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **_: None)
    login(operator_user)
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": premium_service.pk,
            "file": SimpleUploadedFile(
                "fatture.csv", (CASES / "accented_attachment_names.csv").read_bytes()
            ),
            "attachments_zip": SimpleUploadedFile(
                "allegati.zip", (CASES / "accented_attachment_names.zip").read_bytes()
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    recipient_list = RecipientList.objects.get()
    response = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "codice_fiscale", "map_nome": "nome", "map_attachment": "allegato"},
    )
    assert response.status_code == 302
    recipient_list.refresh_from_db()
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (1, 0)
    confirm = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    client.post(confirm, {"when": "now", "launch_token": str(recipient_list.launch_token)})
    delivery = Delivery.objects.get(dispatch__kind=Dispatch.Kind.LIST)
    assert Attachment.objects.get(delivery=delivery).original_name == NFC


@pytest.mark.parametrize(
    ("entry_name", "flags", "cell"),
    [
        (NFC.encode(), 0x800, NFD),  # macOS typed the cell decomposed
        (NFD.encode(), 0x800, NFC),  # macOS wrote the entry decomposed
        (NFC.encode(), 0, NFC),  # UTF-8 without the UTF-8 flag (7-Zip, Linux tools)
        (NFC.encode("cp850"), 0, NFC),  # Windows' own ZIP: OEM code page, no flag
        ("Fattura_PIÙ.pdf".encode("cp850"), 0, NFC),  # capitals differ in cp437 and cp850
    ],
)
def test_an_accented_name_matches_its_entry(recipient_list, entry_name, flags, cell):
    placeholder = b"x" * len(entry_name)
    raw = zip_of([(placeholder.decode(), make_pdf())])
    raw = patch(raw, placeholder, new_name=entry_name, set_flags=flags)
    counts = list_attachments_upload(recipient_list=recipient_list, zip_upload=io.BytesIO(raw))
    assert counts == {"accepted": 1, "refused": 0}
    index = list_attachment_index(recipient_list=recipient_list)
    from ioportal.recipients.validation import attachment_key

    assert index == {attachment_key(cell): []}


def test_the_unicode_path_extra_field_gives_the_name(recipient_list):
    legacy = b"fattura_pi_.pdf"  # what WinZip writes when the OEM code page lacks a letter
    info = zipfile.ZipInfo(legacy.decode())
    info.extra = struct.pack("<HHBI", 0x7075, 5 + len(NFC.encode()), 1, zlib.crc32(legacy))
    info.extra += NFC.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, make_pdf())
    list_attachments_upload(recipient_list=recipient_list, zip_upload=buffer)
    staged = ListAttachment.objects.get()
    assert (staged.original_name, staged.match_name) == (NFC, NFC)


def test_two_entries_that_normalize_equal_are_refused(recipient_list):
    raw = zip_of([(NFC, make_pdf()), (NFD, make_pdf())])
    with pytest.raises(AttachmentUploadError, match="due file con lo stesso nome"):
        list_attachments_upload(recipient_list=recipient_list, zip_upload=io.BytesIO(raw))
    assert not ListAttachment.objects.exists() and stored_files() == []


# --- a ZIP is refused whole -----------------------------------------------------------------


def _refused_whole(recipient_list: Any, raw: bytes, match: str) -> None:
    with pytest.raises(AttachmentUploadError, match=match):
        list_attachments_upload(
            recipient_list=recipient_list,
            shared_name="informativa.pdf",
            shared_data=make_pdf(),
            zip_upload=io.BytesIO(raw),
        )
    assert not ListAttachment.objects.exists()
    assert stored_files() == []


def test_an_encrypted_entry_refuses_the_zip(recipient_list):
    raw = patch(zip_of([("a.pdf", make_pdf()), ("b.pdf", make_pdf())]), b"b.pdf", set_flags=1)
    _refused_whole(recipient_list, raw, "file cifrato: «b.pdf»")


def test_an_entry_inflating_past_its_declared_size_refuses_the_zip(recipient_list):
    pdf = make_pdf()
    raw = patch(zip_of([("a.pdf", make_pdf()), ("b.pdf", pdf)]), b"b.pdf", size=len(pdf) // 2)
    _refused_whole(recipient_list, raw, "«b.pdf» non si può estrarre")


def test_an_entry_shorter_than_declared_refuses_the_zip(recipient_list):
    pdf = make_pdf()
    raw = patch(zip_of([("a.pdf", make_pdf()), ("b.pdf", pdf)]), b"b.pdf", size=len(pdf) + 10)
    _refused_whole(recipient_list, raw, "«b.pdf» non si può estrarre")


def test_a_corrupt_entry_refuses_the_zip(recipient_list):
    pdf = make_pdf()
    raw = patch(zip_of([("a.pdf", make_pdf()), ("b.pdf", pdf)]), b"b.pdf", crc=zlib.crc32(b"x"))
    _refused_whole(recipient_list, raw, "«b.pdf» non si può estrarre")


def test_an_entry_over_the_cap_refuses_the_zip(recipient_list, settings):
    settings.REMOTE_CONTENT_MAX_PDF_BYTES = 2_000
    raw = zip_of([("a.pdf", make_pdf()), ("b.pdf", make_pdf() + b"%" + b"0" * 3000)])
    _refused_whole(recipient_list, raw, "«b.pdf» dello ZIP supera")


def test_a_refused_upload_leaves_no_file_over_http(
    client, login, operator_user, template, premium_service
):
    login(operator_user)
    bundle = patch(zip_of([("anna.pdf", make_pdf())]), b"anna.pdf", set_flags=1)
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": premium_service.pk,
            "file": SimpleUploadedFile("fatture.csv", b"cf;nome\nRSSMRA80A01H501U;Anna\n"),
            "shared_pdf": SimpleUploadedFile("informativa.pdf", make_pdf()),
            "attachments_zip": SimpleUploadedFile("allegati.zip", bundle),
        },
    )
    assert response.status_code == 200
    assert "file cifrato" in response.content.decode()
    assert not RecipientList.objects.exists() and not ListAttachment.objects.exists()
    assert stored_files() == []


# --- PDF/HTML polyglots ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "markup",
    [b"<script>alert(1)</script>", b"<HTML><body>x</body></html>", b"< iframe src=x>"],
)
def test_markup_outside_streams_is_refused(markup):
    pdf = make_pdf()
    polyglot = pdf.replace(b"%PDF-1.3\n", b"%PDF-1.3\n%" + markup + b"\n", 1)
    assert polyglot != pdf
    with pytest.raises(PdfValidationError, match="HTML o script"):
        validate_pdf(polyglot)
    appended = pdf + b"\n" + markup
    with pytest.raises(PdfValidationError, match="HTML o script"):
        validate_pdf(appended)


def test_markup_inside_a_stream_is_page_content():
    pdf = make_pdf(pdfa=True)  # XMP metadata: XML inside a stream
    content = b"BT /F1 12 Tf 50 750 Td (<script> e <html> come testo) Tj ET"
    stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
    assert validate_pdf(pdf).page_count == 1
    assert b"<script>" not in pdf
    assert not markup_outside_streams(b"%PDF-1.7\n1 0 obj\n" + stream + b"\nendobj\n")
    assert markup_outside_streams(b"%PDF-1.7\n(endstream) <script>\n")
