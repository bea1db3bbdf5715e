"""Remote-content fixtures: PDFs made with pypdf, Premium deliveries and a configuration key
(data from tests/builders.py)."""

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from ioportal.accounts.models import Organization, User
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.remotecontent import services
from ioportal.remotecontent.models import Attachment, RemoteContentConfiguration
from tests import builders
from tests.builders import CITIZEN

__all__ = ["CITIZEN"]

CONFIGURATION_ID = "01JA1PHA0C0NF1G00000000001"
OTHER_CONFIGURATION_ID = "01JBETA00C0NF1G00000000001"
OTHER_CITIZEN = "VRDGPP75C15F205S"
HEADER = "X-Ioportal-Key"

XMP_PDFA = b"""<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<pdfaid:part>2</pdfaid:part><pdfaid:conformance>A</pdfaid:conformance>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def make_pdf(
    *,
    pages: int = 1,
    pdfa: bool = False,
    javascript: bool = False,
    embedded: bool = False,
    encrypted: bool = False,
    launch: bool = False,
    open_destination: bool = False,
) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if pdfa:
        stream = DecodedStreamObject()
        stream.set_data(XMP_PDFA)
        stream.update(
            {
                NameObject("/Type"): NameObject("/Metadata"),
                NameObject("/Subtype"): NameObject("/XML"),
            }
        )
        writer._root_object[NameObject("/Metadata")] = writer._add_object(stream)
    if javascript:
        # A document-level script in the /Names tree, as Acrobat writes it.
        action = writer._add_object(
            DictionaryObject(
                {
                    NameObject("/S"): NameObject("/JavaScript"),
                    NameObject("/JS"): TextStringObject("app.alert('ciao');"),
                }
            )
        )
        names = DictionaryObject(
            {NameObject("/Names"): ArrayObject([TextStringObject("saluto"), action])}
        )
        writer._root_object[NameObject("/Names")] = DictionaryObject(
            {NameObject("/JavaScript"): writer._add_object(names)}
        )
    if embedded:
        writer.add_attachment("virus.exe", b"MZ\x90\x00")
    if launch:
        action = DictionaryObject(
            {
                NameObject("/S"): NameObject("/Launch"),
                NameObject("/F"): TextStringObject("calc.exe"),
            }
        )
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    if open_destination:
        page = writer.pages[0].indirect_reference
        writer._root_object[NameObject("/OpenAction")] = ArrayObject(
            [page, NameObject("/XYZ"), NumberObject(0), NumberObject(0), NumberObject(0)]
        )
    if encrypted:
        writer.encrypt("segreta")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def premium_service(organization: Organization, rc: "Configured") -> IOService:
    """A Premium service using the organization's configuration (`rc`): a service names only a
    configuration registered by its organization."""
    return builders.service(
        organization,
        service_id="01JD3M0SERV1CE000000000AAA",
        name="Tributi",
        premium_enabled=True,
        test_mode=False,
        remote_content_configuration_id=CONFIGURATION_ID,
    )


@dataclass
class Configured:
    configuration: RemoteContentConfiguration
    key: str


@pytest.fixture
def rc(organization: Organization, admin_user: User) -> Configured:
    configuration, key = builders.rc_configuration(
        organization, admin_user, configuration_id=CONFIGURATION_ID, header_name=HEADER
    )
    return Configured(configuration, key)


@pytest.fixture
def make_delivery(premium_service: IOService, admin_user: User) -> Callable[..., Delivery]:
    dispatches: dict[str, Dispatch] = {}

    def make(
        fiscal_code: str = CITIZEN,
        *,
        feature_level: str = FeatureLevel.ADVANCED,
        service: IOService | None = None,
        **fields: Any,
    ) -> Delivery:
        service = service or premium_service
        key = f"{service.pk}-{feature_level}"
        if key not in dispatches:
            dispatches[key] = builders.dispatch(
                service,
                admin_user,
                state=Dispatch.State.RUNNING,
                subject="Avviso TARI 2026",
                markdown="Gentile cittadino, " + "ecco il suo avviso. " * 5,
                placeholders=[],
                feature_level=feature_level,
            )
        return builders.delivery(dispatches[key], fiscal_code, **fields)

    return make


@pytest.fixture
def add_attachment() -> Callable[..., Attachment]:
    def add(*, name: str = "avviso.pdf", data: bytes | None = None, **owner: Any) -> Attachment:
        return services.attachment_create(
            data=data if data is not None else make_pdf(pdfa=True),
            original_name=name,
            **owner,
        )

    return add
