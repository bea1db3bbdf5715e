"""Proof of sending: the PDF's content, its stability, the dispatch's ZIP, the access rule,
the audit events and the refusals (no IO id, personal data purged)."""

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.recipients.rendering import content_sha256, delivery_message
from ioportal.remotecontent.models import Attachment
from ioportal.reports import proofs
from tests import builders
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db

CODES = ["RSSMRA80A01H501U", "VRDGPP75C15F205S", "BNCLCU90D45L219H"]
SUBMITTED = datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)
NOTICE = "302000100000019421"
ATTACHMENT_SHA = "5" * 64


@pytest.fixture
def people(organization: Organization) -> dict[str, User]:
    other = builders.organization("Comune Altro", "00123450587")
    return {
        "author": builders.user(Membership.Role.OPERATOR, organization, username="autore"),
        "operator": builders.user(Membership.Role.OPERATOR, organization, username="operatrice"),
        "excluded": builders.user(Membership.Role.OPERATOR, organization, username="esclusa"),
        "supervisor": builders.user(
            Membership.Role.SUPERVISOR, organization, username="supervisora"
        ),
        "admin": builders.user(Membership.Role.ADMIN, organization, username="amministratrice"),
        "outsider": builders.user(Membership.Role.ADMIN, other, username="estranea"),
    }


@pytest.fixture
def dispatch(organization: Organization, people: dict[str, User]) -> Dispatch:
    """A finished, approved Premium dispatch on a service open to the author and "operator":
    the first two citizens reached IO (the first read and paid), the third was not on IO."""
    service = builders.service(organization, name="Tributi e tasse", all_operators=False)
    for name in ("author", "operator"):
        service.allowed_members.add(Membership.objects.get(user=people[name]))
    dispatch = builders.dispatch(
        service,
        people["author"],
        CODES,
        state=Dispatch.State.COMPLETED,
        feature_level=FeatureLevel.ADVANCED,
        variables=lambda number: {"nome": ["Łukasz Nowak", "Ștefan Popescu", "Anna"][number - 1]},
        approved_by=people["supervisor"],
        approved_at=SUBMITTED - timedelta(hours=1),
        finished_at=SUBMITTED + timedelta(hours=2),
    )
    first, second, third = dispatch.deliveries.order_by("row_number")
    Delivery.objects.filter(pk=first.pk).update(
        state=Delivery.State.PROCESSED,
        io_message_id="01JPR00F000000000000000001",
        due_date=datetime(2026, 4, 30, 21, 59, tzinfo=UTC),
        payment_amount=123450,
        notice_number=NOTICE,
        created_at=SUBMITTED - timedelta(minutes=5),
        first_attempt_at=SUBMITTED - timedelta(seconds=3),
        submitted_at=SUBMITTED,
        finished_at=SUBMITTED + timedelta(seconds=4),
        read_status="READ",
        read_at=SUBMITTED + timedelta(minutes=30),
        payment_status="PAID",
        paid_at=SUBMITTED + timedelta(hours=1),
    )
    Delivery.objects.filter(pk=second.pk).update(
        state=Delivery.State.SUBMITTED,
        io_message_id="01JPR00F000000000000000002",
        submitted_at=SUBMITTED + timedelta(seconds=1),
    )
    Delivery.objects.filter(pk=third.pk).update(
        state=Delivery.State.SKIPPED, skip_reason="not_on_io"
    )
    Attachment.objects.create(
        dispatch=dispatch,
        original_name="avviso-accertamento.pdf",
        file="attachments/condiviso.pdf",
        size=1000,
        sha256=ATTACHMENT_SHA,
        validated=True,
    )
    return dispatch


def client_for(user: User) -> Client:
    return verified_login(Client(), user)


def _delivery(dispatch: Dispatch, row: int) -> Delivery:
    return Delivery.objects.select_related(
        "dispatch__organization", "dispatch__service", "dispatch__created_by"
    ).get(dispatch=dispatch, row_number=row)


def _text(pdf: bytes) -> str:
    """The PDF's text with every run of white space (line and page breaks) made one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _pdf_url(delivery: Delivery) -> str:
    return reverse("reports:delivery_proof_pdf", args=[delivery.public_id])


def _zip_url(dispatch: Dispatch) -> str:
    return reverse("reports:dispatch_proofs_zip", args=[dispatch.public_id])


# --- the document --------------------------------------------------------------------------


def test_the_pdf_names_every_fact_of_the_delivery(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _delivery(dispatch, 1)
    text = _text(proofs.proof_pdf(delivery))
    message = delivery_message(delivery, CODES[0])
    expected = [
        "Prova di invio di un messaggio tramite l'app IO",
        "Comune di Prova",
        builders.ORGANIZATION_FISCAL_CODE,
        "Tributi e tasse",
        dispatch.service.service_id,
        CODES[0],  # in clear
        builders.DISPATCH_SUBJECT,
        " ".join(message.markdown.split()),  # the text as sent, with the citizen's name
        "Łukasz Nowak",
        "30/04/2026 23:59:00 CEST",  # due date, Italian time
        "1.234,50 €",
        NOTICE,
        content_sha256(message),
        "01JPR00F000000000000000001",
        "02/03/2026 10:15:30 CET",  # submission
        "02/03/2026 10:10:30 CET",  # prepared
        "02/03/2026 10:15:27 CET",  # first attempt
        "02/03/2026 10:15:34 CET",  # delivered
        "Consegnato nell'app IO del cittadino.",
        "letto (02/03/2026 10:45:30 CET)",
        "pagato (02/03/2026 11:15:30 CET)",
        str(people["author"]),
        f"{people['supervisor']}, 02/03/2026 09:15:30 CET",
        "avviso-accertamento.pdf",
        f"File avviso-accertamento.pdf SHA-256 {ATTACHMENT_SHA}",
        "Premium",
        "Pagina 1 di",
    ]
    missing = [value for value in expected if value not in text]
    assert not missing, text
    assert CODES[1] not in text  # only this delivery's citizen


def test_the_same_delivery_gives_the_same_bytes_and_the_same_content_hash(
    dispatch: Dispatch,
) -> None:
    delivery = _delivery(dispatch, 2)
    first = proofs.proof_pdf(delivery)
    second = proofs.proof_pdf(_delivery(dispatch, 2))
    assert first == second
    expected = content_sha256(delivery_message(delivery, CODES[1]))
    assert proofs.delivery_content_sha256(delivery) == expected
    assert expected in _text(first)
    assert PdfReader(io.BytesIO(first)).metadata.creation_date == SUBMITTED + timedelta(seconds=1)
    # Another citizen's values give another content, hence another hash.
    other = _delivery(dispatch, 1)
    assert proofs.delivery_content_sha256(other) != expected


def test_the_pdf_does_not_depend_on_the_user_s_language(dispatch: Dispatch) -> None:
    delivery = _delivery(dispatch, 2)
    italian = proofs.proof_pdf(delivery)
    with translation.override("en"):
        assert proofs.proof_pdf(delivery) == italian


# --- downloads, access, audit --------------------------------------------------------------

# Operators follow only their own dispatches: another user's answers 404 (the dispatch
# access rule), its proofs and fiscal codes included.
SEES = {
    "author": 200,
    "operator": 404,
    "excluded": 404,
    "supervisor": 200,
    "admin": 200,
    "outsider": 404,
}


@pytest.mark.parametrize(("who", "status"), SEES.items())
def test_a_proof_follows_the_rule_of_showing_the_fiscal_code(
    who: str, status: int, dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _delivery(dispatch, 1)
    client = client_for(people[who])
    page = client.get(reverse("reports:delivery_proof", args=[delivery.public_id]))
    assert page.status_code == status
    response = client.post(_pdf_url(delivery))
    assert response.status_code == status
    reveal = client.post(reverse("sending:delivery_reveal", args=[delivery.public_id]))
    assert reveal.status_code == status  # the same rule as "mostra"
    if status == 200:
        assert response["Content-Type"] == "application/pdf"
        assert (
            'filename="prova-invio-01JPR00F000000000000000001.pdf"'
            in (response["Content-Disposition"])
        )
        assert "no-store" in response["Cache-Control"]
        assert CODES[0] in _text(response.content)
    # Seen but not theirs to bundle (the author): 403; unseen: 404 as the proof itself.
    zip_status = {"supervisor": 200, "admin": 200, "author": 403}.get(who, 404)
    assert client.post(_zip_url(dispatch)).status_code == zip_status
    assert (
        client.get(reverse("reports:dispatch_proofs", args=[dispatch.public_id])).status_code
        == zip_status
    )


def test_downloading_a_proof_is_audited_without_the_fiscal_code(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _delivery(dispatch, 1)
    client = client_for(people["author"])
    assert client.get(_pdf_url(delivery)).status_code == 405
    assert not AuditEvent.objects.filter(action="delivery.proof_downloaded").exists()
    client.post(reverse("reports:delivery_proof", args=[delivery.public_id]))
    assert client.post(_pdf_url(delivery)).status_code == 200
    event = AuditEvent.objects.get(action="delivery.proof_downloaded")
    assert event.actor == people["author"]
    assert event.organization == dispatch.organization
    assert event.target_id == str(delivery.public_id)
    assert event.changes == {"io_message_id": "01JPR00F000000000000000001"}
    assert CODES[0] not in str(event.changes) + event.target_label


def test_the_zip_holds_one_proof_per_delivery_that_reached_io(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    response = client_for(people["supervisor"]).post(_zip_url(dispatch))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "prova-invio-01JPR00F000000000000000001.pdf",
        "prova-invio-01JPR00F000000000000000002.pdf",
    ]
    for name, code, delivery in zip(archive.namelist(), CODES, (1, 2), strict=False):
        content = archive.read(name)
        assert content == proofs.proof_pdf(_delivery(dispatch, delivery))
        assert code in _text(content)
    assert CODES[2] not in b"".join(archive.read(n) for n in archive.namelist()).decode("latin-1")
    event = AuditEvent.objects.get(action="dispatch.proofs_downloaded")
    assert event.actor == people["supervisor"]
    assert event.target_id == str(dispatch.public_id)
    assert event.changes == {"proofs": 2}
    assert not AuditEvent.objects.filter(action="delivery.proof_downloaded").exists()


def test_a_delivery_whose_fiscal_code_cannot_be_read_is_listed_apart_in_the_zip(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    second = _delivery(dispatch, 2)
    Delivery.objects.filter(pk=second.pk).update(fiscal_code_encrypted="non-cifrato")
    response = client_for(people["admin"]).post(_zip_url(dispatch))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["prova-invio-01JPR00F000000000000000001.pdf", "non-incluse.txt"]
    listed = archive.read("non-incluse.txt").decode()
    assert second.fiscal_code_masked in listed and "non è leggibile" in listed
    page = client_for(people["author"]).post(_pdf_url(second))
    assert page.status_code == 409
    assert "non è leggibile" in page.content.decode()


# --- refusals and availability -------------------------------------------------------------


def test_a_delivery_that_did_not_reach_io_has_no_proof(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _delivery(dispatch, 3)
    client = client_for(people["supervisor"])
    detail = client.get(reverse("sending:delivery_detail", args=[delivery.public_id]))
    assert 'id="proof-link"' not in detail.content.decode()
    page = client.get(reverse("reports:delivery_proof", args=[delivery.public_id]))
    assert page.status_code == 200
    assert "non è arrivato a IO" in page.content.decode()
    assert "prova.pdf" not in page.content.decode()  # no download button
    response = client.post(_pdf_url(delivery))
    assert response.status_code == 409
    assert "non è arrivato a IO" in response.content.decode()
    with pytest.raises(proofs.ProofUnavailable):
        proofs.proof_pdf(delivery)
    assert not AuditEvent.objects.filter(action="delivery.proof_downloaded").exists()


def test_a_dispatch_without_any_delivery_on_io_has_no_zip(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    dispatch.deliveries.update(state=Delivery.State.SKIPPED, io_message_id=None)
    client = client_for(people["supervisor"])
    response = client.post(_zip_url(dispatch))
    assert response.status_code == 409
    assert "Nessun messaggio di questo invio è arrivato a IO" in response.content.decode()
    assert not AuditEvent.objects.filter(action="dispatch.proofs_downloaded").exists()


def test_after_the_retention_purge_proofs_are_no_longer_available(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Dispatch.objects.filter(pk=dispatch.pk).update(
        personal_data_purged_at=SUBMITTED + timedelta(days=400)
    )
    delivery = _delivery(dispatch, 1)
    client = client_for(people["supervisor"])
    for url in (
        reverse("reports:delivery_proof", args=[delivery.public_id]),
        reverse("reports:dispatch_proofs", args=[dispatch.public_id]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert "periodo di conservazione" in page.content.decode()
    for url in (_pdf_url(delivery), _zip_url(dispatch)):
        response = client.post(url)
        assert response.status_code == 409
        assert "non " in response.content.decode() and "più disponibil" in (
            response.content.decode()
        )
    with pytest.raises(proofs.ProofUnavailable):
        proofs.proof_pdf(delivery)
    assert not AuditEvent.objects.filter(action__endswith="proof_downloaded").exists()
    assert not AuditEvent.objects.filter(action__endswith="proofs_downloaded").exists()


def test_the_pages_say_until_when_proofs_are_available(
    dispatch: Dispatch, people: dict[str, User], organization: Organization
) -> None:
    Organization.objects.filter(pk=organization.pk).update(retention_days=30)
    delivery = _delivery(dispatch, 1)
    client = client_for(people["supervisor"])
    # finished 02/03/2026 at 11:15 UTC: purged 30 days later
    for url in (
        reverse("reports:delivery_proof", args=[delivery.public_id]),
        reverse("reports:dispatch_proofs", args=[dispatch.public_id]),
    ):
        page = client.get(url).content.decode()
        assert "fino al 01/04/2026" in page, url
    assert (
        "2 prove di invio"
        in client.get(
            reverse("reports:dispatch_proofs", args=[dispatch.public_id])
        ).content.decode()
    )
    Dispatch.objects.filter(pk=dispatch.pk).update(finished_at=None, state=Dispatch.State.RUNNING)
    page = client.get(reverse("reports:delivery_proof", args=[delivery.public_id]))
    assert "fino a 30 giorni dopo la conclusione" in page.content.decode()


def test_the_delivery_and_dispatch_pages_link_to_the_proofs(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _delivery(dispatch, 1)
    proof_url = reverse("reports:delivery_proof", args=[delivery.public_id])
    zip_page = reverse("reports:dispatch_proofs", args=[dispatch.public_id])
    operator = client_for(people["author"])  # an operator, on their own dispatch
    detail = operator.get(reverse("sending:delivery_detail", args=[delivery.public_id]))
    assert proof_url in detail.content.decode()
    dispatch_url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    assert zip_page not in operator.get(dispatch_url).content.decode()
    assert zip_page in client_for(people["supervisor"]).get(dispatch_url).content.decode()


def test_a_long_text_runs_over_pages_and_stays_whole(dispatch: Dispatch) -> None:
    paragraph = "Informativa sul tributo, rate e scadenze: è possibile pagare anche in tre rate."
    long_markdown = "\n\n".join(f"{n}. {paragraph}" for n in range(1, 80))
    Dispatch.objects.filter(pk=dispatch.pk).update(markdown=long_markdown, placeholders=[])
    delivery = _delivery(dispatch, 2)
    pdf = proofs.proof_pdf(delivery)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 2
    text = _text(pdf)
    assert f"Pagina {pages} di {pages}" in text
    assert f"79. {paragraph}" in text and f"1. {paragraph}" in text
    assert content_sha256(delivery_message(delivery, CODES[1])) in text


def test_the_file_name_keeps_only_safe_characters_of_the_io_id(dispatch: Dispatch) -> None:
    delivery = _delivery(dispatch, 2)
    delivery.io_message_id = '01J"; filename=x/../y'
    assert proofs.proof_filename(delivery) == "prova-invio-01J___filename_x____y.pdf"


def test_the_proof_pages_are_translated_and_the_pdf_stays_italian(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _delivery(dispatch, 1)
    client = client_for(people["supervisor"])
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = client.get(reverse("reports:delivery_proof", args=[delivery.public_id]), **english)
    assert "Download the proof of sending (PDF)" in page.content.decode()
    zip_page = client.get(reverse("reports:dispatch_proofs", args=[dispatch.public_id]), **english)
    assert "2 proofs of sending" in zip_page.content.decode()
    pdf = client.post(_pdf_url(delivery), **english)
    assert "Prova di invio di un messaggio tramite l'app IO" in _text(pdf.content)


def test_in_english_the_zip_and_its_proofs_have_english_names(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    response = client_for(people["supervisor"]).post(_zip_url(dispatch), HTTP_ACCEPT_LANGUAGE="en")
    name = f"delivery-proofs-{dispatch.public_id}.zip"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist()[0] == "delivery-proof-01JPR00F000000000000000001.pdf"
