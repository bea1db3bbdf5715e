"""Every compose page: same organization works, another organization's objects 404, a role
too low 403; and the flow through HTTP: upload, map, check, download, preview, test, launch."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from ioportal.accounts.models import Membership
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import ApprovalPolicy, Delivery, Dispatch
from ioportal.recipients.models import RecipientList
from tests import builders
from tests.conftest import send_single
from tests.messaging.conftest import CSV

ROLES = [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR, Membership.Role.ADMIN]
PAGES = [
    ("messaging:compose", Membership.Role.OPERATOR),
    ("messaging:single", Membership.Role.OPERATOR),
    ("messaging:template_list", Membership.Role.OPERATOR),
    ("messaging:template_create", Membership.Role.OPERATOR),
    ("messaging:approvals", Membership.Role.SUPERVISOR),
    ("messaging:approval_settings", Membership.Role.ADMIN),
]
LIST_PAGES = ["list_mapping", "list_result", "list_rejected_csv", "list_preview", "list_confirm"]


@pytest.mark.parametrize(("name", "minimum"), PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_page_by_role(client, login, organization, name, minimum, role):
    login(builders.user(role, organization))
    response = client.get(reverse(name))
    assert response.status_code == (200 if Membership(role=role).has_role(minimum) else 403)


@pytest.mark.parametrize(("name", "minimum"), PAGES)
def test_pages_need_login(client, name, minimum):
    assert client.get(reverse(name)).status_code == 302


@pytest.fixture
def other_list(other_organization):
    stranger = builders.user(Membership.Role.OPERATOR, other_organization)
    template = builders.template(other_organization, stranger)
    service = builders.service(other_organization, test_mode=False)
    return builders.recipient_list(template, service, stranger)


@pytest.fixture
def own_list(service, organization, operator_user):
    return builders.recipient_list(
        builders.template(organization, operator_user), service, operator_user
    )


@pytest.mark.parametrize("page", LIST_PAGES)
def test_list_pages_same_org(client, login, operator_user, own_list, page):
    login(operator_user)
    response = client.get(reverse(f"messaging:{page}", args=[own_list.public_id]))
    assert response.status_code == 200


@pytest.mark.parametrize("page", [*LIST_PAGES, "list_test_send", "list_test_sends"])
def test_list_pages_other_org_404(client, login, operator_user, other_list, page):
    login(operator_user)
    url = reverse(f"messaging:{page}", args=[other_list.public_id])
    assert client.get(url).status_code in (404, 405)
    assert client.post(url).status_code == 404


@pytest.mark.parametrize("page", LIST_PAGES)
def test_list_of_another_operator_403(client, login, organization, own_list, page):
    login(builders.user(Membership.Role.OPERATOR, organization))
    assert client.get(reverse(f"messaging:{page}", args=[own_list.public_id])).status_code == 403


def test_list_of_an_operator_readable_by_supervisor(client, login, supervisor_user, own_list):
    login(supervisor_user)
    url = reverse("messaging:list_result", args=[own_list.public_id])
    assert client.get(url).status_code == 200


def test_malformed_id_is_404(client, login, operator_user):
    login(operator_user)
    assert client.get("/messaggi/elenchi/nonuuid/controllo/").status_code == 404


def test_template_edit_access(client, login, organization, other_organization):
    user = builders.user(Membership.Role.OPERATOR, organization)
    own = builders.template(organization, user)
    other = builders.template(other_organization, user)
    login(user)
    assert client.get(reverse("messaging:template_edit", args=[own.public_id])).status_code == 200
    assert client.get(reverse("messaging:template_edit", args=[other.public_id])).status_code == 404


def test_dispatch_pages_access(client, login, organization, own_list, operator_user, woken):
    from ioportal.messaging.services import dispatch_launch_list

    ApprovalPolicy.objects.create(organization=organization, threshold=0)
    dispatch, _ = dispatch_launch_list(recipient_list=own_list, actor=operator_user)
    old = reverse("messaging:dispatch_summary", args=[dispatch.public_id])
    summary = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    approve = reverse("messaging:dispatch_approve", args=[dispatch.public_id])
    login(operator_user)
    assert client.get(old)["Location"] == summary  # the old address leads to the one page
    assert client.get(summary).status_code == 200
    assert client.post(approve).status_code == 403  # operators cannot approve
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization)
    login(supervisor)
    response = client.get(summary)
    assert "Approva e invia" in response.content.decode()
    assert client.post(approve).status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING and dispatch.approved_by == supervisor


def test_dispatch_other_org_404(client, login, admin_user, other_list, woken):
    from ioportal.messaging.services import dispatch_launch_list

    dispatch, _ = dispatch_launch_list(recipient_list=other_list, actor=other_list.created_by)
    login(admin_user)
    assert (
        client.get(reverse("messaging:dispatch_summary", args=[dispatch.public_id])).status_code
        == 404
    )
    for name in ("dispatch_approve", "dispatch_reject"):
        url = reverse(f"messaging:{name}", args=[dispatch.public_id])
        assert client.post(url, {"reason": "x"}).status_code == 404


def test_whole_flow_over_http(client, login, operator_user, organization, service, woken):
    template = builders.template(organization, operator_user)
    login(operator_user)
    upload = SimpleUploadedFile("tari.csv", CSV, content_type="text/csv")
    response = client.post(
        reverse("messaging:compose"),
        {"template": template.pk, "service": service.pk, "file": upload},
    )
    assert response.status_code == 302
    recipient_list = RecipientList.objects.get()
    response = client.get(response.url)
    assert "Codice fiscale" in response.content.decode()
    response = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_importo": "Importo"},
    )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    # The column "Nome" is named once, next to its reason.
    assert (
        "carattere di controllo" in page
        and "<td>Nome</td><td>È obbligatorio ma è vuoto.</td>" in page
    )
    assert "«nome» è obbligatorio" not in page
    csv_response = client.get(
        reverse("messaging:list_rejected_csv", args=[recipient_list.public_id])
    )
    assert "RSSMRA85T10A562A" in csv_response.content.decode()
    preview = client.get(
        reverse("messaging:list_preview", args=[recipient_list.public_id]) + "?riga=2"
    )
    body = preview.content.decode()
    assert "Bruno {{ x }} &lt;b&gt;" in body and "30,00" in body
    client.post(reverse("messaging:list_test_send", args=[recipient_list.public_id]), {"riga": "2"})
    assert Dispatch.objects.filter(kind=Dispatch.Kind.TEST).count() == 1
    confirm = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    assert client.get(confirm).status_code == 200
    data = {"when": "now", "launch_token": str(recipient_list.launch_token)}
    first = client.post(confirm, data)
    second = client.post(confirm, data)
    assert first.status_code == second.status_code == 302
    assert Dispatch.objects.filter(kind=Dispatch.Kind.LIST).count() == 1
    assert first.url == second.url


def test_mapping_errors_shown(client, login, operator_user, own_list):
    login(operator_user)
    url = reverse("messaging:list_mapping", args=[own_list.public_id])
    response = client.post(url, {"map_nome": "Nome"})
    assert "Indica la colonna con il codice fiscale" in response.content.decode()


def test_upload_limit_message(client, login, operator_user, organization, service, settings):
    settings.RECIPIENTS_MAX_ROWS = 1
    template = builders.template(organization, operator_user)
    login(operator_user)
    upload = SimpleUploadedFile("tari.csv", CSV, content_type="text/csv")
    response = client.post(
        reverse("messaging:compose"),
        {"template": template.pk, "service": service.pk, "file": upload},
    )
    assert "troppe righe: il massimo è 1" in response.content.decode()


def test_single_message_form(client, login, operator_user, service, woken):
    login(operator_user)
    bad = client.post(
        reverse("messaging:single"),
        {
            "service": service.pk,
            "feature_level": "standard",
            "fiscal_code": "RSSMRA85T10A562A",
            "subject": "corto",
            "markdown": "x",
            "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e11",
        },
    )
    body = bad.content.decode()
    assert "carattere di controllo" in body and "L&#x27;oggetto deve avere da 10 a 120" in body
    good = {
        "service": service.pk,
        "feature_level": "standard",
        "fiscal_code": "RSSMRA85T10A562S",
        "subject": "Documento pronto",
        "markdown": "Il documento richiesto è pronto per il ritiro allo sportello anagrafe. " * 2,
        "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e11",
    }
    assert client.post(reverse("messaging:single"), good).status_code == 200
    assert not Dispatch.objects.exists()
    assert send_single(client, good).status_code == 302
    assert send_single(client, good).status_code == 302
    assert Dispatch.objects.filter(kind=Dispatch.Kind.SINGLE).count() == 1


def test_template_create_adds_undeclared_placeholders(client, login, operator_user):
    login(operator_user)
    data = {
        "name": "Carta d'identità",
        "subject": "Carta d'identità in scadenza",
        "markdown": "Gentile {{ nome }}, la sua carta scade il {{ scadenza }}. " * 3,
        "feature_level": "standard",
        "ph-TOTAL_FORMS": "1",
        "ph-INITIAL_FORMS": "0",
        "ph-MIN_NUM_FORMS": "0",
        "ph-MAX_NUM_FORMS": "1000",
        "ph-0-name": "scadenza",
        "ph-0-type": "date",
        "ph-0-required": "on",
        "ph-0-pattern": "",
    }
    response = client.post(reverse("messaging:template_create"), data)
    assert response.status_code == 302
    from ioportal.messaging.models import MessageTemplate

    template = MessageTemplate.objects.get()
    assert [p["name"] for p in template.placeholders] == ["scadenza", "nome"]
    assert template.placeholders[0]["type"] == "date"


def _template_post(template, **changes):
    data = {
        "name": template.name,
        "subject": template.subject,
        "markdown": template.markdown,
        "default_service": "",
        "feature_level": template.feature_level,
        "ph-TOTAL_FORMS": str(len(template.placeholders)),
        "ph-INITIAL_FORMS": str(len(template.placeholders)),
        "ph-MIN_NUM_FORMS": "0",
        "ph-MAX_NUM_FORMS": "1000",
    }
    for number, placeholder in enumerate(template.placeholders):
        data[f"ph-{number}-name"] = placeholder["name"]
        data[f"ph-{number}-type"] = placeholder["type"]
        data[f"ph-{number}-required"] = "on" if placeholder["required"] else ""
        data[f"ph-{number}-pattern"] = placeholder["pattern"]
    data.update(changes)
    return data


def test_template_edit_is_saved(client, login, operator_user, organization):
    from ioportal.core.models import AuditEvent
    from ioportal.messaging.audit import Action

    template = builders.template(organization, operator_user)
    login(operator_user)
    url = reverse("messaging:template_edit", args=[template.public_id])
    edited = "Gentile {{ nome }}, il nuovo testo della TARI: {{ importo }} euro.\n" * 2 + "Fine"
    response = client.post(url, _template_post(template, markdown=edited, subject="Nuova TARI"))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "il nuovo testo della TARI" in page and 'value="Nuova TARI"' in page
    template.refresh_from_db()
    assert (template.markdown, template.subject, template.version) == (edited, "Nuova TARI", 1)
    event = AuditEvent.objects.get(action=Action.TEMPLATE_UPDATED)
    assert event.changes["subject"] == ["Avviso TARI 2026", "Nuova TARI"]


def test_template_edit_after_a_dispatch_makes_a_new_version(
    client, login, operator_user, organization, service, woken
):
    from ioportal.messaging.models import MessageTemplate
    from ioportal.messaging.services import dispatch_launch_list

    template = builders.template(organization, operator_user)
    dispatch, _ = dispatch_launch_list(
        recipient_list=builders.recipient_list(template, service, operator_user),
        actor=operator_user,
    )
    login(operator_user)
    edited = "Gentile {{ nome }}, la versione due dell'avviso: {{ importo }} euro.\n" * 2 + "Fine."
    response = client.post(
        reverse("messaging:template_edit", args=[template.public_id]),
        _template_post(template, markdown=edited),
    )
    assert response.status_code == 302
    current = MessageTemplate.objects.get(family=template.family, is_current=True)
    assert current.version == 2 and current.markdown == edited
    assert response["Location"] == reverse("messaging:template_edit", args=[current.public_id])
    assert "la versione due" in client.get(response["Location"]).content.decode()
    template.refresh_from_db()
    assert template.version == 1 and template.markdown != edited
    summary = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert "versione 1" in summary.content.decode()
    dispatch.refresh_from_db()
    assert dispatch.template == template and dispatch.markdown == template.markdown


def test_rejected_rows_show_their_values_with_plurals(
    client, login, operator_user, organization, service
):
    template = builders.template(organization, operator_user)
    data = b"Codice fiscale;Nome;Importo\nRSSMRA85T10A562S;Anna;12,50\nRSSMRA85T10A562A;Carla;1x\n"
    recipient_list = builders.recipient_list(template, service, operator_user, data=data)
    login(operator_user)
    page = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    text = page.content.decode()
    assert '1</p><p class="mb-0">riga valida' in text.replace("\n", "")
    assert "riga scartata" in text and "righe scartate</p>" not in text
    assert 'Codice fiscale: <span class="rejected-value">«RSS************A»</span>' in text
    assert 'Importo: <span class="rejected-value">«1x»</span>' in text
    assert "RSSMRA85T10A562A" not in text
    body = client.get(
        reverse("messaging:list_rejected_csv", args=[recipient_list.public_id])
    ).content.decode("utf-8-sig")
    assert "Importo «1x»: Non è un importo in euro" in body
    assert body.count("Importo") == body.count("Importo «1x»") + 1  # the header, then once
    assert "Codice fiscale «RSS************A»: Il codice fiscale" in body


@pytest.mark.parametrize(
    ("reader", "expected", "unexpected"),
    [
        (
            "en",
            [
                "To check",
                "Row 2: the notice number fails pagoPA",
                '"row";"reason"',
                "is not an amount in euro",
                "The fiscal code is not valid",
            ],
            ["Da verificare", "Riga 2", "non è", "riga", "motivo"],
        ),
        (
            "it",
            [
                "Da verificare",
                "Riga 2: il codice avviso non supera",
                '"riga";"motivo"',
                "Non è un importo in euro",
                "Il codice fiscale non è valido",
            ],
            ["To check", "Row 2", "is not", "reason"],
        ),
    ],
)
def test_the_check_is_read_in_the_readers_language_whoever_ran_it(
    client, login, operator_user, organization, service, reader, expected, unexpected
):
    """A list checked in one language: its page and its rejected rows' CSV tell the reasons
    and warnings in the reader's language, the CSV's own column names too."""
    from ioportal.recipients.validation import MessageSpec, validate_rows

    checker = "it" if reader == "en" else "en"
    template = builders.template(organization, operator_user)
    data = b"Codice fiscale;Nome;Importo\nRSSMRA85T10A562S;Anna;12,50\nRSSMRA85T10A562A;Carla;1x\n"
    with translation.override(checker):
        recipient_list = builders.recipient_list(template, service, operator_user, data=data)
        # A warning as the check stores it: a notice number failing its check digits.
        warned = validate_rows(
            headers=["cf", "importo", "avviso"],
            rows=[["RSSMRA85T10A562S", "12,50", "302001234567890199"]],
            mapping={"fiscal_code": "cf", "amount": "importo", "notice_number": "avviso"},
            spec=MessageSpec(
                subject="Avviso di pagamento TARI", markdown="Gentile cittadino, " * 6
            ),
        )
    assert warned.warnings
    recipient_list.check_warnings = warned.warnings
    recipient_list.save(update_fields=["check_warnings"])
    login(operator_user)
    page = client.get(
        reverse("messaging:list_result", args=[recipient_list.public_id]),
        HTTP_ACCEPT_LANGUAGE=reader,
    ).content.decode()
    body = client.get(
        reverse("messaging:list_rejected_csv", args=[recipient_list.public_id]),
        HTTP_ACCEPT_LANGUAGE=reader,
    ).content.decode("utf-8-sig")
    shown = page.replace("&#x27;", "'") + body
    for text in expected:
        assert text in shown, text
    for text in unexpected:
        assert text not in body, text
    assert unexpected[0] not in page and unexpected[1] not in page


def test_sizes_are_in_one_unit():
    from ioportal.core.sizes import size_text

    sizes = (20 * 1024 * 1024, 10 * 1024 * 1024, 200 * 1024 * 1024, 51_200, 50_000)
    assert [size_text(n) for n in sizes] == ["20 MB", "10 MB", "200 MB", "50 KB", "50.000 byte"]


def test_test_send_outcome_arrives_without_reloading(client, login, operator_user, own_list):
    """htmx: the test send answers with the outcome block, which polls until every test
    delivery has an outcome; without JavaScript the form still posts and redirects."""
    login(operator_user)
    url = reverse("messaging:list_test_send", args=[own_list.public_id])
    poll = reverse("messaging:list_test_sends", args=[own_list.public_id])
    fragment = client.post(url, {"riga": "1"}, headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert fragment.status_code == 200 and text.startswith('<div id="test-outcomes-block"')
    assert "Messaggio di prova inviato" in text and f'hx-get="{poll}"' in text
    assert client.post(url, {"riga": "1"}).status_code == 302
    Delivery.objects.filter(dispatch__kind=Dispatch.Kind.TEST).update(
        state=Delivery.State.SKIPPED, skip_reason="not_authorized"
    )
    text = client.get(poll).content.decode()
    assert "Non raggiungibile" in text and "hx-get" not in text
    preview = client.get(reverse("messaging:list_preview", args=[own_list.public_id]))
    assert "htmx/htmx.min.js" in preview.content.decode()


def test_single_message_takes_a_pasted_fiscal_code(client, login, operator_user, service, woken):
    """The same normalization as a list's cells: spaces and invisible characters removed."""
    login(operator_user)
    response = send_single(
        client,
        {
            "service": service.pk,
            "feature_level": "standard",
            "fiscal_code": "\u200brssmra85t10a562s\u00a0",
            "subject": "Documento pronto",
            "markdown": "Il documento richiesto è pronto per il ritiro allo sportello. " * 2,
            "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e12",
        },
    )
    assert response.status_code == 302
    delivery = Dispatch.objects.get(kind=Dispatch.Kind.SINGLE).deliveries.get()
    assert delivery.fiscal_code_masked == "RSS************S"


@pytest.mark.parametrize(
    ("markdown", "error"),
    [
        (
            "---\nit:\n    cta_2:\n        text: Prenota\n        action: ioit://PROFILE_MAIN\n---\n",
            "c&#x27;è cta_2 senza cta_1",
        ),
        (
            "---\nit:\n    cta_1:\n        text: Prenota\n        action: https://x.it\n---\n",
            "nessun pulsante",
        ),
    ],
)
def test_single_message_refuses_cta_problems_like_the_template_form(
    client, login, operator_user, service, woken, markdown, error
):
    login(operator_user)
    response = client.post(
        reverse("messaging:single"),
        {
            "service": service.pk,
            "feature_level": "standard",
            "fiscal_code": "RSSMRA85T10A562S",
            "subject": "Documento pronto",
            "markdown": markdown
            + "Il documento richiesto è pronto per il ritiro allo sportello. " * 2,
            "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e12",
        },
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.SINGLE).exists()


@pytest.mark.parametrize("page", ["list_result", "list_confirm"])
def test_pages_say_how_many_recipients_test_mode_skips(
    client, login, operator_user, organization, page
):
    template = builders.template(organization, operator_user)
    # Two valid rows; only the second citizen is authorised (lower case: normalised).
    testing = builders.service(
        organization, test_mode=True, authorized_recipients=["vrdgpp75c15f205s"]
    )
    production = builders.service(organization, test_mode=False)
    login(operator_user)
    text = client.get(
        reverse(
            f"messaging:{page}",
            args=[builders.recipient_list(template, testing, operator_user).public_id],
        )
    ).content.decode()
    assert 'id="test-mode-skips"' in text
    assert "1 destinatario su 2 non è autorizzato e sarà saltato senza chiamare IO" in text
    text = client.get(
        reverse(
            f"messaging:{page}",
            args=[builders.recipient_list(template, production, operator_user).public_id],
        )
    ).content.decode()
    assert 'id="test-mode-skips"' not in text


@pytest.mark.parametrize("page", ["list_result", "list_confirm"])
def test_test_mode_skips_follow_the_authorised_recipients_after_the_upload(
    client, login, operator_user, organization, page
):
    """The count stored at the check is made against the authorised recipients of that
    moment: when an admin authorises (or removes) a citizen before the confirmation, the
    pages count against the list of now."""
    template = builders.template(organization, operator_user)
    testing = builders.service(
        organization, test_mode=True, authorized_recipients=["VRDGPP75C15F205S"]
    )
    recipient_list = builders.recipient_list(template, testing, operator_user)
    url = reverse(f"messaging:{page}", args=[recipient_list.public_id])
    login(operator_user)
    assert "1 destinatario su 2 non è autorizzato" in client.get(url).content.decode()

    IOService.objects.filter(pk=testing.pk).update(
        authorized_recipients=["VRDGPP75C15F205S", "RSSMRA85T10A562S"]
    )
    assert 'id="test-mode-skips"' not in client.get(url).content.decode()

    IOService.objects.filter(pk=testing.pk).update(authorized_recipients=[])
    assert "2 destinatari su 2 non sono autorizzati" in client.get(url).content.decode()


def test_single_message_form_shows_every_error_at_once(client, login, operator_user, organization):
    """A form with six faults shows the six at once, not those of the date and the amount
    first and the others (IO's rules) only once these are fixed."""
    service = builders.service(
        organization, payments_enabled=True, max_allowed_payment_amount=100_000
    )
    login(operator_user)
    response = client.post(
        reverse("messaging:single"),
        {
            "service": service.pk,
            "feature_level": "standard",
            "fiscal_code": "RSSMRA85T10A562A",
            "subject": "corto",
            "markdown": "testo breve.",
            "due_date": "31/02/2026",
            "amount": "1.000,5x",
            "notice_number": "12345",
            "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e13",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {
        "fiscal_code",
        "subject",
        "markdown",
        "due_date",
        "amount",
        "notice_number",
    }
    assert all(len(messages) == 1 for messages in errors.values()), errors
    assert "carattere di controllo" in errors["fiscal_code"][0]
    assert "da 10 a 120" in errors["subject"][0]
    # IO's limits are written the Italian way.
    assert "da 80 a 10.000 caratteri" in errors["markdown"][0]
    # The date's and the amount's reasons are sentences of their own, each saying once
    # what the value is not.
    assert errors["due_date"][0] == "Non è una data valida (esempio: 31/12/2026)."
    assert errors["amount"][0] == (
        "Non è un importo in euro nel formato italiano (esempio: 1.234,56)."
    )
    assert not Dispatch.objects.exists()


def test_mapping_adds_no_payment_to_a_template_without_one(
    client, login, operator_user, organization
):
    """Columns named "Numero avviso" and "Importo" are not taken as a pagoPA notice for a
    template without payment: the page offers them, the operator may choose them."""
    service = builders.service(
        organization,
        premium_enabled=True,
        payments_enabled=True,
        max_allowed_payment_amount=100_000,
    )
    template = builders.template(
        organization,
        operator_user,
        feature_level="advanced",
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        markdown="Gentile {{ nome }}, il documento richiesto è pronto per il ritiro. " * 2,
    )
    data = (
        b"Codice fiscale;Nome;Numero avviso;Importo;Scadenza\n"
        b"RSSMRA85T10A562S;Anna;302001234567890136;12,50;31/12/2030\n"
    )
    recipient_list = builders.recipient_list(
        template, service, operator_user, data, mapping={"fiscal_code": "Codice fiscale"}
    )
    login(operator_user)
    url = reverse("messaging:list_mapping", args=[recipient_list.public_id])
    page = client.get(url)
    assert "Il modello non prevede un avviso di pagamento" in page.content.decode()
    form = page.context["form"]
    initial = {name: form[name].initial for name in form.fields}
    assert initial["map_fiscal_code"] == "Codice fiscale" and initial["map_nome"] == "Nome"
    assert initial["map_amount"] == initial["map_notice_number"] == ""
    assert initial["map_due_date"] == ""
    # Sent back as shown, the list has no payment.
    response = client.post(url, {name: value for name, value in initial.items() if value})
    assert response.status_code == 302
    recipient_list.refresh_from_db()
    assert "amount" not in recipient_list.column_mapping
    assert "notice_number" not in recipient_list.column_mapping
    # The operator may still add one, explicitly.
    chosen = {**initial, "map_amount": "Importo", "map_notice_number": "Numero avviso"}
    assert client.post(url, {k: v for k, v in chosen.items() if v}).status_code == 302
    recipient_list.refresh_from_db()
    assert recipient_list.column_mapping["amount"] == "Importo"


def test_counts_and_limits_are_written_the_italian_way(client, login, admin_user, own_list):
    """Counts on the pages and the limits in form errors have the thousands separator:
    "2.000", not "2000"; a field's limit is a sensible number, not the database's maximum."""
    own_list.valid_count, own_list.rejected_count = 2000, 12345
    own_list.save(update_fields=["valid_count", "rejected_count"])
    login(admin_user)
    page = client.get(reverse("messaging:list_result", args=[own_list.public_id]))
    body = page.content.decode()
    assert 'id="valid-count">2.000<' in body and 'id="rejected-count">12.345<' in body
    assert "12.343 righe scartate sono nel file CSV" in body
    response = client.post(reverse("messaging:approval_settings"), {"threshold": "20.000.000"})
    error = response.context["form"].errors["threshold"][0]
    assert "10.000.000" in error and "2147483647" not in error


def test_a_list_test_mode_skips_entirely_cannot_be_sent(client, login, operator_user, organization):
    """When test mode skips every valid row the button is disabled with a reason, and a
    POST made anyway is refused: no dispatch of 0 citizens."""
    template = builders.template(organization, operator_user)
    testing = builders.service(organization, test_mode=True, authorized_recipients=[])
    recipient_list = builders.recipient_list(template, testing, operator_user)
    url = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    login(operator_user)
    text = client.get(url).content.decode()
    assert 'id="nessuno-da-inviare"' in text
    assert "Nessun cittadino riceverebbe il messaggio" in text
    assert 'disabled aria-describedby="nessuno-da-inviare"' in text
    response = client.post(
        url, {"when": "now", "launch_token": str(recipient_list.launch_token)}, follow=True
    )
    assert not Dispatch.objects.exists()
    assert "Nessun cittadino riceverebbe il messaggio" in response.content.decode()


def test_the_approval_threshold_counts_only_those_really_sent_to(
    client, login, operator_user, organization
):
    """Two valid rows, one authorised in test mode, a threshold of one: the one citizen
    really sent to does not exceed it, on the page and at the launch."""
    ApprovalPolicy.objects.create(organization=organization, always_for_premium=False, threshold=1)
    template = builders.template(organization, operator_user)
    testing = builders.service(
        organization, test_mode=True, authorized_recipients=["VRDGPP75C15F205S"]
    )
    recipient_list = builders.recipient_list(template, testing, operator_user)
    url = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    login(operator_user)
    assert client.get(url).context["needs_approval"] is False
    client.post(url, {"when": "now", "launch_token": str(recipient_list.launch_token)})
    dispatch = Dispatch.objects.get()
    assert dispatch.approval_required is False
    assert dispatch.state != Dispatch.State.AWAITING_APPROVAL


@pytest.mark.django_db(transaction=True)
def test_upload_reads_the_file_outside_any_transaction(
    client, login, operator_user, organization, service
):
    # On SQLite a transaction (IMMEDIATE) holds the database's write lock from its start: a
    # file read inside one would make every other request and the workers wait for it.
    from unittest import mock

    from django.db import connection

    from ioportal.messaging import lists

    template = builders.template(organization, operator_user)
    login(operator_user)
    in_transaction = []

    def reading(**kwargs):
        in_transaction.append(connection.in_atomic_block)
        return parse_table(**kwargs)

    parse_table = lists.parse_table
    upload = SimpleUploadedFile("tari.csv", CSV, content_type="text/csv")
    with mock.patch.object(lists, "parse_table", side_effect=reading):
        response = client.post(
            reverse("messaging:compose"),
            {"template": template.pk, "service": service.pk, "file": upload},
        )
    assert response.status_code == 302
    assert in_transaction == [False]
    assert RecipientList.objects.get(template=template).row_count > 0


@pytest.mark.django_db(transaction=True)
def test_the_check_of_a_list_runs_outside_the_transaction_that_stores_it(
    operator_user, organization, service
):
    from unittest import mock

    from django.db import connection

    from ioportal.messaging import lists

    template = builders.template(organization, operator_user)
    in_transaction = []
    validate_rows = lists.validate_rows

    def checking(**kwargs):
        in_transaction.append(connection.in_atomic_block)
        return validate_rows(**kwargs)

    with mock.patch.object(lists, "validate_rows", side_effect=checking):
        checked = builders.recipient_list(template, service, operator_user)
    assert in_transaction == [False]
    stored = RecipientList.objects.get(pk=checked.pk)
    assert stored.state == RecipientList.State.VALIDATED and stored.valid_count > 0


def test_test_sends_show_only_on_the_list_they_were_sent_from(
    client, login, operator_user, service, organization
):
    """Two lists of the same template by the same author: the test sent from list A is listed
    on A's preview and on its polled block, never on B's (an operator would believe B tested);
    a test recorded before tests named their list belongs to no list for certain."""
    template = builders.template(organization, operator_user)
    first = builders.recipient_list(template, service, operator_user, file_name="a.csv")
    second = builders.recipient_list(template, service, operator_user, file_name="b.csv")
    login(operator_user)
    sent = client.post(reverse("messaging:list_test_send", args=[first.public_id]), {"riga": "1"})
    assert sent.status_code == 302
    test = Dispatch.objects.get(kind=Dispatch.Kind.TEST)
    assert test.test_list == first

    def shown(recipient_list: RecipientList) -> list[bool]:
        pages = ("list_preview", "list_test_sends")
        return [
            "Esito delle prove"
            in client.get(
                reverse(f"messaging:{page}", args=[recipient_list.public_id])
            ).content.decode()
            for page in pages
        ]

    assert shown(first) == [True, True]
    assert shown(second) == [False, False]
    Dispatch.objects.filter(pk=test.pk).update(test_list=None)
    assert shown(first) == [False, False] and shown(second) == [False, False]


def test_same_text_warning_counts_citizens_only_where_there_is_a_list(
    client, login, operator_user, service, organization
):
    """A template without placeholders: its page says every citizen would get the same text,
    with no number (no list is involved); a list's check page names the list's citizens."""
    template = builders.template(
        organization,
        operator_user,
        subject="Chiusura uffici",
        markdown="Gli uffici comunali resteranno chiusi lunedì per la festa patronale. " * 2,
        placeholders=[],
    )
    login(operator_user)
    page = client.get(reverse("messaging:template_edit", args=[template.public_id]))
    text = page.content.decode()
    assert "Il testo non ha segnaposto: ogni cittadino" in text
    assert "va a 2 cittadini" not in text and "Lo stesso testo, senza dati" not in text
    recipient_list = builders.recipient_list(
        template, service, operator_user, mapping={"fiscal_code": "Codice fiscale"}
    )
    result = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    text = result.content.decode()
    assert f"va a {recipient_list.valid_count} cittadini" in text
    assert "Il testo non ha segnaposto" not in text


def test_a_new_check_of_the_list_leaves_out_the_tests_made_before(
    client, login, operator_user, own_list
):
    """Checking the rows again (another mapping, another number format) can change every
    message: a test made before it tried other content and is no longer listed."""
    login(operator_user)
    client.post(reverse("messaging:list_test_send", args=[own_list.public_id]), {"riga": "1"})
    preview = reverse("messaging:list_preview", args=[own_list.public_id])
    assert "Esito delle prove" in client.get(preview).content.decode()
    response = client.post(
        reverse("messaging:list_mapping", args=[own_list.public_id]),
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Importo", "map_importo": "Importo"},
    )
    assert response.status_code == 302
    assert "Esito delle prove" not in client.get(preview).content.decode()
    client.post(reverse("messaging:list_test_send", args=[own_list.public_id]), {"riga": "1"})
    assert "Esito delle prove" in client.get(preview).content.decode()
