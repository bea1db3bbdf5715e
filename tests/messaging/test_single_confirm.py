"""The single message goes compose → confirmation (the phone preview, the content checks)
→ «Conferma e invia»: only the confirmation creates the dispatch, once."""

import html

import pytest
from django.db import IntegrityError
from django.urls import reverse

from ioportal.accounts.models import Membership
from ioportal.messaging import services
from ioportal.messaging.models import ApprovalPolicy, Dispatch
from ioportal.messaging.services import dispatches
from tests import builders
from tests.conftest import confirmation_fields, send_single, verified_login

CTA_IT_ONLY = (
    "---\nit:\n    cta_1:\n        text: Prenota l'appuntamento\n"
    "        action: ioit://PROFILE_MAIN\n---\n"
)
TEXT = "Il documento richiesto è **pronto** per il ritiro allo sportello anagrafe del Comune. " * 2
TOKEN = "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e21"


@pytest.fixture
def payments_service(organization):
    return builders.service(
        organization,
        test_mode=False,
        payments_enabled=True,
        premium_enabled=True,
        max_allowed_payment_amount=1_000_000,
    )


@pytest.fixture
def message(payments_service):
    return {
        "service": payments_service.pk,
        "feature_level": "standard",
        "fiscal_code": "rssmra85t10a562s",
        "subject": "Documento pronto",
        "markdown": CTA_IT_ONLY + TEXT,
        "due_date": "31/12/2027 12:00",
        "amount": "15,50",
        "notice_number": "302001234567890136",
        "invalid_after_due_date": "on",
        "launch_token": TOKEN,
    }


def visible(response) -> str:
    """The page's text without its hidden inputs (which carry the message as typed)."""
    page = response.content.decode()
    return html.unescape(page[: page.index('<form method="post" action="/messaggi/singolo/conf')])


def test_invia_shows_the_confirmation_and_sends_nothing(
    client, login, operator_user, payments_service, message, woken
):
    login(operator_user)
    response = client.post(reverse("messaging:single"), message)
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "messaging/single_confirm.html"
    assert not Dispatch.objects.exists()
    page = html.unescape(response.content.decode())
    # The phone preview: subject, markdown as the app renders it, the CTA, the payment box.
    assert '<h3 class="io-phone-subject">Documento pronto</h3>' in page
    assert "<strong>pronto</strong>" in page and "cta_1" not in page.split("io-phone-body")[1]
    assert "Prenota l'appuntamento</span>" in page
    assert "Avviso di pagamento</strong><br>15,50 €" in page
    # The content checks of the template and list pages, for the same text.
    assert "Controlli sul contenuto" in page
    assert "I pulsanti ci sono solo in italiano" in page.split("Controlli sul contenuto")[1]
    # The recipient masked, the service, the button.
    text = visible(response)
    assert "RSS************S" in text and "RSSMRA85T10A562S" not in text.upper()
    assert message["fiscal_code"] not in text
    assert payments_service.name in text
    assert "Conferma e invia" in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_confirmation_creates_one_dispatch_however_many_clicks(
    client, login, operator_user, message, woken
):
    login(operator_user)
    page = client.post(reverse("messaging:single"), message).content.decode()
    fields = confirmation_fields(page)
    first = client.post(reverse("messaging:single_confirm"), fields)
    second = client.post(reverse("messaging:single_confirm"), fields)
    dispatch = Dispatch.objects.get()
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == url
    assert dispatch.kind == Dispatch.Kind.SINGLE
    assert dispatch.subject == "Documento pronto"
    assert dispatch.markdown == CTA_IT_ONLY + TEXT
    assert str(dispatch.launch_token) == TOKEN
    delivery = dispatch.deliveries.get()
    assert delivery.fiscal_code_masked == "RSS************S"
    assert delivery.payment_amount == 1550
    assert delivery.notice_number == "302001234567890136"
    assert delivery.invalid_after_due_date is True


def test_a_confirmation_racing_another_returns_the_first_dispatch(
    organization, operator_user, payments_service, woken, monkeypatch
):
    """Two clicks at once: the second insert hits the unique launch token; the service
    answers with the first one's dispatch instead of an error."""
    real = dispatches._create_single

    def racing(**kwargs):
        real(**kwargs)  # the other request, a moment earlier
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(dispatches, "_create_single", racing)
    dispatch, created = services.dispatch_create_single(
        organization=organization,
        service=payments_service,
        actor=operator_user,
        fiscal_code="RSSMRA85T10A562S",
        subject="Documento pronto",
        markdown=TEXT,
        launch_token=TOKEN,
    )
    assert created is False
    assert Dispatch.objects.get() == dispatch


def test_modifica_shows_the_form_with_every_field_kept(
    client, login, operator_user, message, woken
):
    login(operator_user)
    page = client.post(reverse("messaging:single"), message).content.decode()
    fields = confirmation_fields(page)
    response = client.post(reverse("messaging:single"), {**fields, "modifica": "1"})
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "messaging/single.html"
    form = response.context["form"]
    assert not form.errors
    text = response.content.decode()
    assert f'<option value="{message["service"]}" selected>' in text
    assert 'value="rssmra85t10a562s"' in text.lower()
    assert 'value="Documento pronto"' in text
    assert f">\n{CTA_IT_ONLY + TEXT}</textarea>" in html.unescape(text)
    assert 'value="31/12/2027 12:00"' in text
    assert 'value="15,50"' in text
    assert 'value="302001234567890136"' in text
    checkbox = text.split('name="invalid_after_due_date"')[1].split(">")[0]
    assert " checked" in checkbox
    assert f'value="{TOKEN}"' in text
    assert not Dispatch.objects.exists()
    # Sent from the form kept: the same token, so one dispatch however the operator went.
    assert send_single(client, {**fields}).status_code == 302
    assert Dispatch.objects.get().launch_token is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Documento diverso"),
        ("markdown", TEXT + "Aggiunto dopo l'anteprima."),
        ("fiscal_code", "VRDGPP75C15F205S"),
        ("amount", "1.500,00"),
        ("launch_token", "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e99"),
        ("conferma", "0" * 64),
    ],
)
def test_a_changed_confirmation_is_refused(
    client, login, operator_user, message, woken, field, value
):
    login(operator_user)
    fields = confirmation_fields(client.post(reverse("messaging:single"), message).content.decode())
    response = client.post(reverse("messaging:single_confirm"), {**fields, field: value})
    assert response.status_code == 400
    assert "non corrisponde all&#x27;anteprima" in response.content.decode()
    assert not Dispatch.objects.exists()


def test_a_confirmation_without_its_digest_is_refused(client, login, operator_user, message):
    login(operator_user)
    fields = confirmation_fields(client.post(reverse("messaging:single"), message).content.decode())
    del fields["conferma"]
    response = client.post(reverse("messaging:single_confirm"), fields)
    assert response.status_code == 400
    assert not Dispatch.objects.exists()


def test_a_confirmation_naming_another_organizations_service_is_refused(
    client, login, operator_user, message, other_organization
):
    other_service = builders.service(
        other_organization,
        test_mode=False,
        payments_enabled=True,
        max_allowed_payment_amount=1_000_000,
    )
    login(operator_user)
    fields = confirmation_fields(client.post(reverse("messaging:single"), message).content.decode())
    response = client.post(
        reverse("messaging:single_confirm"), {**fields, "service": other_service.pk}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Il messaggio non è stato inviato" in page
    assert "Scegli un&#x27;opzione valida" in page
    assert not Dispatch.objects.exists()


def test_another_organizations_operator_cannot_use_a_confirmation(
    client, login, operator_user, message, other_organization
):
    login(operator_user)
    fields = confirmation_fields(client.post(reverse("messaging:single"), message).content.decode())
    stranger = builders.user(Membership.Role.OPERATOR, other_organization, username="estraneo")
    builders.service(
        other_organization,
        test_mode=False,
        payments_enabled=True,
        max_allowed_payment_amount=1_000_000,
    )
    client.logout()
    verified_login(client, stranger)
    response = client.post(reverse("messaging:single_confirm"), fields)
    assert response.status_code in (200, 400)
    assert not Dispatch.objects.exists()


def test_the_confirmation_is_posted_only(client, login, operator_user):
    login(operator_user)
    assert client.get(reverse("messaging:single_confirm")).status_code == 405


@pytest.mark.django_db
def test_the_confirmation_needs_a_login(client):
    response = client.post(reverse("messaging:single_confirm"), {})
    assert response.status_code == 302
    assert not Dispatch.objects.exists()


def test_approval_and_premium_are_said_before_the_confirmation(
    client, login, operator_user, organization, message, woken
):
    ApprovalPolicy.objects.create(organization=organization, always_for_premium=True)
    login(operator_user)
    premium = {**message, "feature_level": "advanced"}
    response = client.post(reverse("messaging:single"), premium)
    page = html.unescape(response.content.decode())
    assert 'id="single-premium"' in page
    assert "deve essere approvato da un supervisore" in page
    assert "Conferma e chiedi l'approvazione" in page
    assert not Dispatch.objects.exists()
    confirmed = client.post(reverse("messaging:single_confirm"), confirmation_fields(page))
    assert confirmed.status_code == 302
    assert Dispatch.objects.get().state == Dispatch.State.AWAITING_APPROVAL


def test_test_mode_is_said_before_the_confirmation(client, login, operator_user, organization):
    testing = builders.service(
        organization, test_mode=True, authorized_recipients=["VRDGPP75C15F205S"]
    )
    login(operator_user)
    data = {
        "service": testing.pk,
        "feature_level": "standard",
        "fiscal_code": "RSSMRA85T10A562S",
        "subject": "Documento pronto",
        "markdown": TEXT,
        "launch_token": TOKEN,
    }
    page = client.post(reverse("messaging:single"), data).content.decode()
    assert 'id="test-mode-skips"' in page
    authorised = client.post(
        reverse("messaging:single"), {**data, "fiscal_code": "VRDGPP75C15F205S"}
    ).content.decode()
    assert 'id="test-mode-skips"' not in authorised


def test_the_confirmation_speaks_english(client, login, operator_user, message):
    login(operator_user)
    english = {**message, "amount": "15.50"}  # an English page reads amounts in English
    page = client.post(reverse("messaging:single"), english, HTTP_ACCEPT_LANGUAGE="en")
    text = html.unescape(page.content.decode())
    assert "Confirm the message" in text and "Confirm and send" in text
    assert "Edit the message" in text
    assert "The buttons are in Italian only" in text
    fields = confirmation_fields(page.content.decode())
    refused = client.post(
        reverse("messaging:single_confirm"),
        {**fields, "subject": "Documento diverso"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "does not match the preview" in html.unescape(refused.content.decode())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_confirmations_at_the_same_moment_make_one_dispatch(
    organization, operator_user, monkeypatch
):
    """Three clicks at once, each on its own connection, all past the check for an existing
    dispatch before any inserts: the unique launch token lets one in, the others get its
    dispatch."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions from threads need PostgreSQL")
    monkeypatch.setattr(
        "ioportal.messaging.services.pipeline.wake_pipeline", lambda *, organization_id: None
    )
    service = builders.service(organization, test_mode=False)
    checked = threading.Barrier(3)
    real = dispatches.approval_required

    def after_every_check(*args, **kwargs):
        checked.wait(timeout=10)
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatches, "approval_required", after_every_check)
    outcomes: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            dispatch, created = services.dispatch_create_single(
                organization=organization,
                service=service,
                actor=operator_user,
                fiscal_code="RSSMRA85T10A562S",
                subject="Documento pronto",
                markdown=TEXT,
                launch_token=TOKEN,
            )
            outcomes.append((dispatch.pk, created))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Dispatch.objects.count() == 1
    assert {pk for pk, _created in outcomes} == {Dispatch.objects.get().pk}
    assert sorted(created for _pk, created in outcomes) == [False, False, True]
