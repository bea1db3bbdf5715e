"""PDF validation: only plain, readable PDFs within the limits get through."""

import pytest
from django.utils import translation

from ioportal.core.io_texts import reason_text
from ioportal.recipients.pdf import PdfValidationError, validate_pdf
from tests.remotecontent.conftest import make_pdf


def refused(data: bytes, name: str = "avviso.pdf") -> str:
    with pytest.raises(PdfValidationError) as info:
        validate_pdf(data, name=name)
    return " ".join(info.value.messages)


def test_valid_pdfa_is_accepted_without_warnings():
    check = validate_pdf(make_pdf(pages=2, pdfa=True), name="avviso.pdf")
    assert check.page_count == 2
    assert check.pdfa == "PDF/A-2A"
    assert check.warnings == []


def test_pdf_without_pdfa_declaration_is_accepted_with_a_warning():
    check = validate_pdf(make_pdf(), name="avviso.pdf")
    assert check.pdfa == ""
    assert len(check.warnings) == 1
    assert "PDF/A" in reason_text(check.warnings[0])


def test_a_destination_open_action_is_harmless():
    assert validate_pdf(make_pdf(open_destination=True)).page_count == 1


def test_encrypted_pdf_is_refused():
    assert "cifrato" in refused(make_pdf(encrypted=True))


def test_pdf_with_javascript_is_refused():
    assert "JavaScript" in refused(make_pdf(javascript=True))


def test_pdf_with_embedded_file_is_refused():
    assert "file incorporati" in refused(make_pdf(embedded=True))


def test_pdf_with_launch_action_is_refused():
    message = refused(make_pdf(launch=True))
    assert "avviano programmi" in message
    assert "azioni automatiche" in message


def test_renamed_executable_is_refused_by_content():
    assert "non è un PDF" in refused(b"MZ\x90\x00\x03" + b"\x00" * 200, name="fattura.pdf")


def test_truncated_pdf_is_refused():
    data = make_pdf()
    assert "leggibile" in refused(data[:60])


def test_wrong_extension_is_refused():
    assert "«.pdf»" in refused(make_pdf(), name="avviso.exe")


def test_empty_file_is_refused():
    assert "vuoto" in refused(b"")


def test_too_big_is_refused(settings):
    data = make_pdf()
    settings.REMOTE_CONTENT_MAX_PDF_BYTES = len(data) - 1
    assert "dimensione massima" in refused(data)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", "Il file supera la dimensione massima di 10 MB."),
        ("en", "The file exceeds the maximum size of 10 MB."),
    ],
)
def test_the_size_limit_is_stated_exactly(settings, language, expected):
    """The default limit, 10,485,760 bytes, is 10 MB (2^20 bytes each), never "10,5 MB"."""
    settings.REMOTE_CONTENT_MAX_PDF_BYTES = 10 * 1024 * 1024
    with translation.override(language):
        assert refused(b"%PDF-" + b"0" * (10 * 1024 * 1024)) == expected


def test_too_many_pages_is_refused(settings):
    settings.REMOTE_CONTENT_MAX_PDF_PAGES = 2
    assert "3 pagine" in refused(make_pdf(pages=3))
