"""The whole compose flow in a real browser: upload a CSV with good and bad rows, map the
columns, read the errors, download the rejected rows, preview three citizens, send a test,
launch, and approve as a supervisor. Every page passes the accessibility check."""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.ioservices.services import ioservice_create
from ioportal.messaging.models import ApprovalPolicy, Delivery, Dispatch, MessageTemplate
from ioportal.messaging.services import template_create
from tests import builders

pytestmark = pytest.mark.browser

CSV = (
    "Codice fiscale;Nome;Importo\n"
    "RSSMRA85T10A562S;Anna;12,50\n"
    "VRDGPP75C15F205S;Bruno {{ x }};30\n"
    "BNCLCU90D45L219H;Carla;7\n"
    "RSSMRA85T10A562A;Dario;10\n"
    "XYZ;;abc\n"
)
MARKDOWN = (
    "Gentile {{ nome }},\n\nla TARI 2026 è di **{{ importo }} euro**. Può pagarla con "
    "l'avviso pagoPA direttamente dall'app IO.\n\n- Ufficio Tributi"
)


def test_operator_composes_and_supervisor_approves(
    page, sign_in, axe_check, organization, tmp_path, monkeypatch
):
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **kw: None)
    operator = builders.user(Membership.Role.OPERATOR, organization, username="olga")
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    TOTPDevice.objects.create(user=supervisor, name="default", confirmed=True)
    ApprovalPolicy.objects.create(organization=organization, threshold=2)
    service = ioservice_create(
        organization=organization,
        actor="test",
        service_id="01JD3M0SERV1CE00000000B001",
        name="Tributi",
        primary_key="3f1c0a9b7e4412d5a6b8c9d0e1f2a3b4",
        authorized_recipients=["AAAAAA00A00A000A"],
        # In production: the list's citizens are sent to (test mode would skip all three,
        # and a list nobody would receive cannot be sent).
        test_mode=False,
    )
    template_create(
        organization=organization,
        actor=operator,
        name="TARI 2026",
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[
            {"name": "nome", "type": "text", "required": True, "pattern": ""},
            {"name": "importo", "type": "euro", "required": True, "pattern": ""},
        ],
        default_service=service,
    )
    sign_in(page, operator)

    page.get_by_role("link", name="Modelli").first.click()
    page.wait_for_load_state()
    axe_check(page, "compose-template-list")
    page.get_by_role("link", name="TARI 2026", exact=True).click()
    page.wait_for_load_state()
    assert "caratteri" in page.locator("[data-counter-for=id_subject]").inner_text()
    axe_check(page, "compose-template-form")

    page.get_by_role("link", name="Nuovo messaggio").first.click()
    page.wait_for_load_state()
    axe_check(page, "compose-upload")
    page.get_by_label("Modello").select_option(label="TARI 2026 (v1)")
    page.get_by_label("Servizio IO").select_option(label=str(service))
    csv_file = tmp_path / "tari.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page.get_by_label("File dei destinatari (CSV o Excel .xlsx)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Carica e prosegui").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", level=1).inner_text() == "Abbina le colonne"
    page.get_by_label("Codice fiscale del destinatario").select_option("Codice fiscale")
    page.get_by_label("Segnaposto «nome»").select_option("Nome")
    page.get_by_label("Segnaposto «importo»").select_option("Importo")
    axe_check(page, "compose-mapping")
    page.get_by_role("button", name="Controlla tutte le righe").click()
    page.wait_for_load_state()

    assert page.locator("#valid-count").inner_text() == "3"
    assert page.locator("#rejected-count").inner_text() == "2"
    body = page.content()
    # The column "Nome" is named once, next to its reason.
    assert "carattere di controllo" in body and "È obbligatorio ma è vuoto." in body
    assert "«nome»" not in body
    axe_check(page, "compose-result")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Scarica le righe scartate (CSV)").click()
    downloaded = download_info.value.path().read_text(encoding="utf-8-sig")
    assert "RSSMRA85T10A562A" in downloaded and "motivo" in downloaded

    page.get_by_role("link", name="Anteprima e prova").click()
    page.wait_for_load_state()
    seen = []
    for number in (1, 2, 3):
        assert f"Cittadino {number} di 3" in page.locator("#preview-row").inner_text()
        seen.append(page.locator(".io-phone-body").inner_text())
        axe_check(page, f"compose-preview-{number}")
        if number < 3:
            page.get_by_role("link", name="Successivo").click()
            page.wait_for_load_state()
    assert "Anna" in seen[0] and "Bruno {{ x }}" in seen[1] and "30,00 euro" in seen[1]

    preview_url = page.url
    page.get_by_role("button", name="Invia una prova").click()
    page.locator("#test-outcomes").wait_for()
    assert "Messaggio di prova inviato" in page.locator("#test-outcomes-block").inner_text()
    assert "AAA************A" in page.locator("#test-outcomes").inner_text()
    # The outcome follows by itself, on the same page.
    Delivery.objects.filter(dispatch__kind=Dispatch.Kind.TEST).update(
        state=Delivery.State.SKIPPED, skip_reason="not_on_io"
    )
    page.wait_for_function(
        "() => document.querySelector('#test-outcomes').textContent.includes('Non raggiungibile')",
        timeout=15_000,
    )
    assert page.url == preview_url
    axe_check(page, "compose-test-sent")

    page.get_by_role("link", name="Prosegui alla conferma").click()
    page.wait_for_load_state()
    assert page.locator("#confirm-valid").inner_text() == "3"
    axe_check(page, "compose-confirm")
    page.get_by_role("button", name="Chiedi l'approvazione").dblclick()
    page.wait_for_load_state()
    assert "In attesa di approvazione" in page.locator("#dispatch-state").inner_text()
    axe_check(page, "compose-awaiting-approval")
    page.go_back()
    page.wait_for_load_state()
    assert Dispatch.objects.filter(kind=Dispatch.Kind.LIST).count() == 1
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    assert dispatch.template == MessageTemplate.objects.get()

    page.get_by_role("button", name="Esci").click()
    page.wait_for_load_state()
    sign_in(page, supervisor)
    assert "TARI 2026" in page.locator("#awaiting").inner_text()
    axe_check(page, "compose-dashboard-supervisor")
    page.locator("#awaiting a").first.click()
    page.wait_for_load_state()
    axe_check(page, "compose-approval")
    page.get_by_role("button", name="Approva e invia").click()
    page.wait_for_load_state()
    assert "In corso" in page.locator("#dispatch-state").inner_text()
    dispatch.refresh_from_db()
    assert dispatch.approved_by == supervisor and dispatch.state == Dispatch.State.RUNNING

    page.get_by_role("button", name="Esci").click()
    page.wait_for_load_state()
    sign_in(page, operator)
    assert "ha approvato il tuo invio" in page.locator("#notifications").inner_text()
    axe_check(page, "compose-dashboard-author")


def test_single_message_page(page, sign_in, axe_check, organization, monkeypatch):
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **kw: None)
    operator = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    ioservice_create(
        organization=organization,
        actor="test",
        service_id="01JD3M0SERV1CE00000000B002",
        name="Anagrafe",
        primary_key="3f1c0a9b7e4412d5a6b8c9d0e1f2a3b5",
    )
    sign_in(page, operator)
    page.goto("/messaggi/singolo/")
    page.get_by_label("Servizio IO").select_option(label="Anagrafe (01JD3M0SERV1CE00000000B002)")
    page.get_by_label("Oggetto").fill("Documento pronto 😀")
    assert "19 / 120" in page.locator("[data-counter-for=id_subject]").inner_text()
    page.get_by_label("Codice fiscale del cittadino").fill("RSSMRA85T10A562A")
    page.get_by_label("Testo").fill("Troppo corto")
    page.get_by_role("button", name="Invia").click()
    page.wait_for_load_state()
    assert "carattere di controllo" in page.content()
    axe_check(page, "compose-single-errors")

    # «Invia» leads to the confirmation: the phone preview and the content checks, no dispatch.
    page.get_by_label("Codice fiscale del cittadino").fill("RSSMRA85T10A562S")
    page.get_by_label("Testo").fill(
        "---\nit:\n    cta_1:\n        text: Prenota\n        action: ioit://PROFILE_MAIN\n---\n"
        "Il documento richiesto è **pronto** per il ritiro allo sportello anagrafe.\n"
        "Porti con sé un documento di identità valido."
    )
    page.get_by_role("button", name="Invia").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Conferma il messaggio"
    assert page.locator(".io-phone-body strong").inner_text() == "pronto"
    assert page.locator(".io-phone-ctas").inner_text().strip() == "Prenota"
    checks = page.locator(".callout.warning", has_text="Controlli sul contenuto")
    assert "I pulsanti ci sono solo in italiano" in checks.inner_text()
    assert page.locator("#test-mode-skips").is_visible()  # the service is in test mode
    assert page.locator("#single-recipient").inner_text() == "RSS************S"
    assert not Dispatch.objects.exists()
    axe_check(page, "compose-single-confirm")

    # Back to the form: every field as typed (the multi-line text too).
    page.get_by_role("button", name="Modifica il messaggio").click()
    page.wait_for_load_state()
    assert page.get_by_label("Oggetto").input_value() == "Documento pronto 😀"
    assert (
        page.get_by_label("Testo")
        .input_value()
        .endswith("anagrafe.\nPorti con sé un documento di identità valido.")
    )
    page.get_by_role("button", name="Invia").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Conferma e invia").click()
    page.wait_for_load_state()
    dispatch = Dispatch.objects.get()
    assert page.url.endswith(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    # Sent as the browser posts a text area (CRLF line breaks), as before the confirmation.
    assert dispatch.markdown.replace("\r\n", "\n").endswith(
        "anagrafe.\nPorti con sé un documento di identità valido."
    )


def test_character_counters_speak_the_page_language(page, sign_in, organization):
    """The counters' words come from the page (gettext), their numbers are grouped as the
    page's language writes them."""
    operator = builders.user(Membership.Role.OPERATOR, organization, username="olga")
    builders.service(organization)
    sign_in(page, operator)
    page.goto(reverse("messaging:single"))
    subject = page.locator("[data-counter-for=id_subject]")
    markdown = page.locator("[data-counter-for=id_markdown]")
    assert markdown.inner_text() == "0 / 10.000 caratteri (minimo 80)"
    page.get_by_label("Testo").fill("x" * 1234)
    assert markdown.inner_text() == "1.234 / 10.000 caratteri (minimo 80)"
    assert subject.inner_text() == "0 / 120 caratteri (minimo 10)"

    page.get_by_role("button", name="EN").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert markdown.inner_text() == "0 / 10,000 characters (minimum 80)"
    page.locator("#id_markdown").fill("x" * 1234)
    assert markdown.inner_text() == "1,234 / 10,000 characters (minimum 80)"
