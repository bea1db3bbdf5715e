"""Follow-ups of a dispatch: who each criterion reaches (`followups.audience`), the list built
from the origin's deliveries, its launch linked to the origin, the pages and their access."""

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.core.models import AuditEvent
from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import make_server
from ioportal.messaging import services
from ioportal.messaging.audit import Action
from ioportal.messaging.followups import (
    Criterion,
    audience,
    can_follow_up,
    criteria_for,
    follow_up_list_create,
    why_nobody,
)
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.recipients.models import RecipientChunk, RecipientList
from ioportal.sending import services as sending_services
from ioportal.sending.sweeper import sweep
from tests import builders
from tests.processes import wait_until
from tests.recipients.support import shown_rejected
from tests.sending.support import fiscal_code, simulated_service, simulator_config

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=ROME)
ANNA, BRUNO = "RSSMRA85T10A562S", "VRDGPP75C15F205S"
LUCA = "BNCLCU90D45L219H"


# Valid fiscal codes (check character included) for the audience tables.
builders_codes = [
    "RSSMRA80A01H501U",
    "RSSNNN80A01H501U",
    "RSSUUU80A01H501E",
    "XXXMRA80A01H501D",
    "YYYMRA80A01H501C",
    "ZZZMRA80A01H501B",
    ANNA,
    BRUNO,
    LUCA,
    "VRDNNN75C15F205V",
    "BNCNNN85T50A562C",
    "RSSNNN80A41H501Y",
]


@pytest.fixture
def premium(organization, operator_user) -> Dispatch:
    service = builders.service(organization)
    return builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=FeatureLevel.ADVANCED
    )


def add(dispatch: Dispatch, code: str, **fields: Any) -> Delivery:
    """A delivery of `dispatch`; an IO id when its state needs one."""
    if fields.get("state") in Delivery.WITH_IO_ID and "io_message_id" not in fields:
        fields["io_message_id"] = f"01IO{code}"
    return builders.delivery(dispatch, code, **fields)


def hmacs(deliveries) -> set[str]:
    return set(deliveries.values_list("fiscal_code_hmac", flat=True))


def who(*fiscal_codes: str) -> set[str]:
    return {fiscal_code_hmac(code) for code in fiscal_codes}


# --- audience: the one definition of each criterion ----------------------------------------


def test_not_read_after_n_days(premium):
    days_ago = lambda n: NOW - timedelta(days=n)  # noqa: E731
    c = builders_codes
    add(premium, c[0], state="processed", read_status="READ", submitted_at=days_ago(10))
    add(premium, c[1], state="processed", read_status="UNREAD", submitted_at=days_ago(10))
    add(premium, c[2], state="processed", read_status="UNAVAILABLE", submitted_at=days_ago(8))
    add(premium, c[3], state="submitted", read_status="", submitted_at=days_ago(9))
    # Exactly 7 days: in; a minute less: out.
    add(premium, c[4], state="processed", read_status="UNREAD", submitted_at=days_ago(7))
    add(
        premium,
        c[5],
        state="processed",
        read_status="UNREAD",
        submitted_at=days_ago(7) + timedelta(minutes=1),
    )
    # Not received by the citizen, whatever their read status.
    add(premium, c[6], state="rejected", submitted_at=days_ago(10))
    add(premium, c[7], state="skipped", skip_reason="not_on_io")
    add(premium, c[8], state="failed")
    add(premium, c[9], state="uncertain", submitted_at=days_ago(10))
    add(premium, c[10], state="marked_sent", submitted_at=days_ago(10))
    add(premium, c[11], state="pending")

    found = audience(premium, Criterion.NOT_READ, days=7, now=NOW)
    assert hmacs(found) == who(c[1], c[2], c[3], c[4])
    assert hmacs(audience(premium, Criterion.NOT_READ, days=0, now=NOW)) == who(
        c[1], c[2], c[3], c[4], c[5]
    )
    assert not audience(premium, Criterion.NOT_READ, days=11, now=NOW).exists()


def test_not_paid_by_a_date(premium):
    c = builders_codes
    day = date(2026, 3, 5)
    end_of_day = datetime(2026, 3, 5, 23, 59, tzinfo=ROME)
    notice = {"notice_number": "302000100000009424", "payment_amount": 1250}
    received = {"state": "processed", "submitted_at": NOW - timedelta(days=20)}
    add(premium, c[0], **received, **notice, payment_status="PAID", paid_at=end_of_day)
    add(premium, c[1], **received, **notice, payment_status="NOT_PAID")
    add(
        premium,
        c[2],
        **received,
        **notice,
        payment_status="PAID",
        paid_at=end_of_day + timedelta(minutes=2),
    )
    add(premium, c[3], **received, **notice, payment_status="")
    # Paid before the portal kept the time it learned it: paid.
    add(premium, c[4], **received, **notice, payment_status="PAID", paid_at=None)
    add(premium, c[5], **received)  # no notice
    add(premium, c[6], state="rejected", **notice)
    add(premium, c[7], state="submitted", submitted_at=NOW, **notice)
    add(premium, c[8], state="failed", **notice)

    found = audience(premium, Criterion.NOT_PAID, paid_by=day, now=NOW)
    assert hmacs(found) == who(c[1], c[2], c[3], c[7])
    # The next day, the late payment counts.
    later = audience(premium, Criterion.NOT_PAID, paid_by=day + timedelta(days=1), now=NOW)
    assert hmacs(later) == who(c[1], c[3], c[7])


def test_failed_means_refused_or_failed_for_good(organization, operator_user):
    service = builders.service(organization)
    standard = builders.dispatch(service, operator_user, state=Dispatch.State.RUNNING)
    c = builders_codes
    add(standard, c[0], state="failed")
    add(standard, c[1], state="rejected")
    for code, state in zip(
        c[2:],
        ("uncertain", "skipped", "processed", "cancelled", "marked_sent", "pending", "submitted"),
        strict=False,
    ):
        add(standard, code, state=state)
    assert hmacs(audience(standard, Criterion.FAILED)) == who(c[0], c[1])


def test_other_dispatches_deliveries_never_count(premium, operator_user):
    other = builders.dispatch(
        premium.service, operator_user, feature_level=FeatureLevel.ADVANCED, title="Altro"
    )
    add(other, ANNA, state="failed")
    add(premium, BRUNO, state="failed")
    assert hmacs(audience(premium, Criterion.FAILED)) == who(BRUNO)


def test_read_and_payment_criteria_need_a_premium_dispatch(organization, operator_user):
    standard = builders.dispatch(builders.service(organization), operator_user)
    assert criteria_for(standard) == [Criterion.FAILED]
    with pytest.raises(ValueError, match="does not apply"):
        audience(standard, Criterion.NOT_READ, days=3)
    with pytest.raises(ValueError, match="does not apply"):
        audience(standard, Criterion.NOT_PAID, paid_by=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("criterion", "parameters"),
    [
        (Criterion.NOT_READ, {}),
        (Criterion.NOT_READ, {"days": -1}),
        (Criterion.NOT_PAID, {}),
        (Criterion.NOT_PAID, {"paid_by": date(2026, 3, 11)}),
        ("everyone", {}),
    ],
)
def test_bad_parameters_are_refused(premium, criterion, parameters):
    with pytest.raises(ValueError):
        audience(premium, criterion, now=NOW, **parameters)


def test_which_dispatches_may_have_a_follow_up(organization, operator_user):
    service = builders.service(organization)
    for state in Dispatch.State.values:
        dispatch = builders.dispatch(service, operator_user, state=state)
        add(dispatch, ANNA, state="processed", io_message_id=f"01IO{dispatch.pk}")
        expected = state in ("running", "paused", "completed", "cancelled")
        assert can_follow_up(dispatch) is expected, state
    test_send = builders.dispatch(service, operator_user, kind=Dispatch.Kind.TEST)
    purged = builders.dispatch(service, operator_user, personal_data_purged_at=timezone.now())
    for dispatch in (test_send, purged):
        add(dispatch, ANNA, state="processed", io_message_id=f"01IO{dispatch.pk}")
        assert not can_follow_up(dispatch)


def test_a_dispatch_that_has_sent_nothing_has_no_follow_up(organization, operator_user):
    # Running but waiting (for its window, its share of the day): nobody to remind yet. Nor
    # when every citizen was skipped (not on IO, or not authorised in test mode).
    service = builders.service(organization)
    waiting = builders.dispatch(service, operator_user, [ANNA, BRUNO])
    assert not can_follow_up(waiting)
    skipped = builders.dispatch(service, operator_user, state=Dispatch.State.COMPLETED)
    add(skipped, ANNA, state="skipped")
    assert not can_follow_up(skipped)
    # Once one message failed for good (or IO accepted one), there is someone to remind.
    fail(waiting, ANNA)
    assert can_follow_up(waiting)


# --- the list of a follow-up ----------------------------------------------------------------

PAYMENT_CSV = (
    "Codice fiscale;Nome;Importo;Avviso;Scadenza\n"
    f"{ANNA};Anna;12,50;302000100000009424;31/12/2030\n"
    f"{BRUNO};Bruno {{{{ x }}}} <b>;1.030,00;302000100000009432;30/11/2030 10:30\n"
    f"{LUCA};Luca;5;302000100000009440;31/12/2030\n"
).encode()
PAYMENT_MAPPING = {
    "fiscal_code": "Codice fiscale",
    "nome": "Nome",
    "importo": "Importo",
    "amount": "Importo",
    "notice_number": "Avviso",
    "due_date": "Scadenza",
}


@pytest.fixture
def payment_service(organization):
    """In production mode: its lists are launched, and test mode would skip their citizens."""
    return builders.service(
        organization, test_mode=False, payments_enabled=True, max_allowed_payment_amount=500_000
    )


@pytest.fixture
def payment_template(organization, operator_user):
    return builders.template(
        organization,
        operator_user,
        feature_level=FeatureLevel.ADVANCED,
        has_payment=True,
        has_due_date=True,
    )


def launched(template, service, author, woken, data=PAYMENT_CSV, mapping=None) -> Dispatch:
    """A dispatch launched from a checked list (its deliveries exist), running: the payment
    list above by default, or builders' list (Anna and Bruno valid) with `data=None`."""
    if data is None:
        checked = builders.recipient_list(template, service, author)
    else:
        checked = builders.recipient_list(
            template, service, author, data, mapping=mapping or PAYMENT_MAPPING
        )
        assert checked.rejected_count == 0, shown_rejected(checked)
    dispatch, _created = services.dispatch_launch_list(recipient_list=checked, actor=author)
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING
    return dispatch


def receive(dispatch: Dispatch, *codes: str) -> None:
    """IO accepted the message of these citizens."""
    for code in codes:
        Delivery.objects.filter(dispatch=dispatch, fiscal_code_hmac=fiscal_code_hmac(code)).update(
            state="processed", io_message_id=f"01IO{dispatch.pk}{code}", submitted_at=timezone.now()
        )


def fail(dispatch: Dispatch, *codes: str) -> None:
    Delivery.objects.filter(
        dispatch=dispatch, fiscal_code_hmac__in=[fiscal_code_hmac(c) for c in codes]
    ).update(state="failed", finished_at=timezone.now())


def test_the_list_has_the_citizens_and_their_values(
    payment_template, payment_service, operator_user, woken
):
    origin = launched(payment_template, payment_service, operator_user, woken)
    fail(origin, ANNA, BRUNO)
    before = {
        d.fiscal_code_hmac: d for d in Delivery.objects.filter(dispatch=origin, state="failed")
    }

    built = follow_up_list_create(
        origin=origin,
        criterion=Criterion.FAILED,
        template=payment_template,
        service=payment_service,
        actor=operator_user,
    )
    # The origin's columns, so the template's mapping fits and the list is checked at once.
    assert built.headers == ["Codice fiscale", "Nome", "Importo", "Scadenza", "Avviso"]
    assert built.state == RecipientList.State.VALIDATED and built.origin == origin
    assert (built.valid_count, built.rejected_count) == (2, 0)
    rows = {fiscal_code_hmac(row["fiscal_code"]): row for row in built.get_valid()}
    assert set(rows) == who(ANNA, BRUNO)
    for key, row in rows.items():
        delivery = before[key]
        assert row["variables"] == delivery.variables
        assert row["amount"] == delivery.payment_amount
        assert row["notice_number"] == delivery.notice_number
        assert datetime.fromisoformat(row["due_date"]) == delivery.due_date
    assert built.total_amount == 1250 + 103000


@pytest.mark.django_db(transaction=True)
def test_the_origin_is_read_and_the_list_checked_outside_the_transaction_that_writes_it(
    payment_template, payment_service, operator_user, woken
):
    # On SQLite a transaction holds the database's write lock from its start: decrypting and
    # checking a large origin inside one would make every other request wait.
    from unittest import mock

    from django.db import connection

    from ioportal.messaging import followups, lists

    origin = launched(payment_template, payment_service, operator_user, woken)
    fail(origin, LUCA)
    in_transaction: dict[str, list[bool]] = {"read": [], "check": []}
    read_rows, validate_rows = followups._rows, lists.validate_rows

    def reading(*args, **kwargs):
        in_transaction["read"].append(connection.in_atomic_block)
        return read_rows(*args, **kwargs)

    def checking(**kwargs):
        in_transaction["check"].append(connection.in_atomic_block)
        return validate_rows(**kwargs)

    with (
        mock.patch.object(followups, "_rows", side_effect=reading),
        mock.patch.object(lists, "validate_rows", side_effect=checking),
    ):
        built = follow_up_list_create(
            origin=origin,
            criterion=Criterion.FAILED,
            template=payment_template,
            service=payment_service,
            actor=operator_user,
        )
    assert in_transaction == {"read": [False], "check": [False]}
    assert RecipientList.objects.get(pk=built.pk).state == RecipientList.State.VALIDATED


def test_the_follow_up_dispatch_links_to_its_origin(
    payment_template, payment_service, operator_user, woken
):
    origin = launched(payment_template, payment_service, operator_user, woken)
    fail(origin, LUCA)
    built = follow_up_list_create(
        origin=origin,
        criterion=Criterion.FAILED,
        template=payment_template,
        service=payment_service,
        actor=operator_user,
    )
    follow_up, _created = services.dispatch_launch_list(recipient_list=built, actor=operator_user)
    assert follow_up.origin == origin and list(origin.follow_ups.all()) == [follow_up]
    assert hmacs(follow_up.deliveries.all()) == who(LUCA)
    event = AuditEvent.objects.get(action=Action.DISPATCH_FOLLOW_UP_STARTED)
    assert event.target_id == str(origin.public_id) and event.actor == operator_user
    assert event.changes["criterion"] == "failed" and event.changes["citizens"] == 1
    launch = AuditEvent.objects.get(action=Action.DISPATCH_LAUNCHED, target_id=follow_up.public_id)
    assert launch.changes["origin"] == str(origin.public_id)


def test_without_the_origin_list_the_columns_get_plain_names(
    organization, operator_user, service, woken
):
    template = builders.template(organization, operator_user)
    origin = launched(template, service, operator_user, woken, None)
    RecipientList.objects.filter(dispatch=origin).delete()
    fail(origin, ANNA)
    built = follow_up_list_create(
        origin=origin,
        criterion=Criterion.FAILED,
        template=template,
        service=service,
        actor=operator_user,
    )
    assert built.headers == ["codice_fiscale", "nome", "importo"]
    assert built.state == RecipientList.State.VALIDATED
    assert [row["variables"] for row in built.get_valid()] == [{"nome": "Anna", "importo": "12,50"}]


def test_another_template_whose_values_are_missing_waits_for_the_mapping(
    organization, operator_user, service, woken
):
    template = builders.template(organization, operator_user)
    origin = launched(template, service, operator_user, woken, None)
    fail(origin, ANNA)
    other = builders.template(
        organization,
        operator_user,
        name="Promemoria",
        markdown="Gentile {{ nome }}, la pratica {{ pratica }} attende.",
        placeholders=[
            {"name": "nome", "type": "text", "required": True, "pattern": ""},
            {"name": "pratica", "type": "text", "required": True, "pattern": ""},
        ],
    )
    built = follow_up_list_create(
        origin=origin,
        criterion=Criterion.FAILED,
        template=other,
        service=service,
        actor=operator_user,
    )
    assert built.state == RecipientList.State.UPLOADED
    assert built.column_mapping == {"fiscal_code": "Codice fiscale", "nome": "Nome"}
    assert len(built.items(RecipientChunk.Kind.ROWS, 0, 10)) == 1


def test_a_due_date_already_past_rejects_its_row(
    payment_template, payment_service, operator_user, woken
):
    origin = launched(payment_template, payment_service, operator_user, woken)
    fail(origin, ANNA, LUCA)
    Delivery.objects.filter(dispatch=origin, fiscal_code_hmac=fiscal_code_hmac(ANNA)).update(
        due_date=timezone.now() - timedelta(days=1)
    )
    built = follow_up_list_create(
        origin=origin,
        criterion=Criterion.FAILED,
        template=payment_template,
        service=payment_service,
        actor=operator_user,
    )
    assert (built.valid_count, built.rejected_count) == (1, 1)
    assert "La data di scadenza è già passata." in shown_rejected(built)[0]["reasons"]


def test_nobody_to_remind_or_a_dispatch_without_follow_ups_is_refused(
    organization, operator_user, service, woken
):
    template = builders.template(organization, operator_user)
    origin = launched(template, service, operator_user, woken, None)
    receive(origin, ANNA, BRUNO)  # sent, nobody failed
    arguments = {
        "criterion": Criterion.FAILED,
        "template": template,
        "service": service,
        "actor": operator_user,
    }
    with pytest.raises(NotAllowed, match="Nessun cittadino"):
        follow_up_list_create(origin=origin, **arguments)
    fail(origin, ANNA)
    Dispatch.objects.filter(pk=origin.pk).update(kind=Dispatch.Kind.TEST)
    origin.refresh_from_db()
    with pytest.raises(NotAllowed):
        follow_up_list_create(origin=origin, **arguments)
    other_org = builders.organization("Comune Altro", "00123450587")
    other_service = builders.service(other_org)
    Dispatch.objects.filter(pk=origin.pk).update(kind=Dispatch.Kind.LIST)
    origin.refresh_from_db()
    with pytest.raises(NotAllowed):
        follow_up_list_create(origin=origin, **{**arguments, "service": other_service})
    assert not RecipientList.objects.filter(origin=origin).exists()


# --- pages and access -----------------------------------------------------------------------


@pytest.fixture
def origin(organization, operator_user, service, woken) -> Dispatch:
    template = builders.template(organization, operator_user)
    dispatch = launched(template, service, operator_user, woken, None)
    fail(dispatch, BRUNO)
    return dispatch


def test_the_dispatch_page_offers_a_follow_up(client, login, origin, operator_user):
    login(operator_user)
    page = client.get(reverse("sending:dispatch_detail", args=[origin.public_id])).content.decode()
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    assert "Invia un sollecito" in page and url in page
    Dispatch.objects.filter(pk=origin.pk).update(state=Dispatch.State.AWAITING_APPROVAL)
    page = client.get(reverse("sending:dispatch_detail", args=[origin.public_id])).content.decode()
    assert url not in page


def test_a_dispatch_that_has_sent_nothing_offers_no_follow_up(
    client, login, organization, service, operator_user
):
    waiting = builders.dispatch(service, operator_user, [ANNA, BRUNO])
    login(operator_user)
    detail = reverse("sending:dispatch_detail", args=[waiting.public_id])
    url = reverse("messaging:dispatch_follow_up", args=[waiting.public_id])
    page = client.get(detail).content.decode()
    assert "Invia un sollecito" not in page and url not in page
    # Its address answers with the reason, not a form.
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == detail
    assert "non ha ancora inviato nessun messaggio" in response.content.decode()


def test_a_follow_up_through_the_pages(client, login, origin, operator_user):
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    # A Standard dispatch: only the citizens not reached.
    assert 'value="failed"' in text and 'value="not_read"' not in text
    response = client.post(
        url,
        {
            "criterion": "failed",
            "template": origin.template.pk,
            "service": origin.service.pk,
        },
    )
    built = RecipientList.objects.get(origin=origin)
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:list_result", args=[built.public_id])
    assert hmacs_of_list(built) == who(BRUNO)
    response = client.post(
        reverse("messaging:list_confirm", args=[built.public_id]),
        {"when": "now", "launch_token": str(built.launch_token)},
    )
    follow_up = Dispatch.objects.get(origin=origin)
    origin_page = client.get(reverse("sending:dispatch_detail", args=[origin.public_id]))
    follow_up_page = client.get(reverse("sending:dispatch_detail", args=[follow_up.public_id]))
    follow_up_url = reverse("sending:dispatch_detail", args=[follow_up.public_id])
    origin_url = reverse("sending:dispatch_detail", args=[origin.public_id])
    assert f'href="{follow_up_url}"' in origin_page.content.decode()
    assert f'href="{origin_url}"' in follow_up_page.content.decode()
    assert "Sollecito di" in follow_up_page.content.decode()


def hmacs_of_list(recipient_list: RecipientList) -> set[str]:
    return {fiscal_code_hmac(row["fiscal_code"]) for row in recipient_list.get_valid()}


def test_nobody_matching_is_said_on_the_form(client, login, origin, operator_user):
    receive(origin, ANNA, BRUNO)
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    response = client.post(
        url,
        {"criterion": "failed", "template": origin.template.pk, "service": origin.service.pk},
    )
    assert response.status_code == 200
    assert "Nessun cittadino corrisponde" in response.content.decode()
    assert not RecipientList.objects.filter(origin=origin).exists()


@pytest.mark.parametrize(
    "form",
    [
        {"criterion": "not_read", "days": "3"},  # not offered for a Standard dispatch
        {"criterion": "failed", "template": "x"},
        {"criterion": "failed", "service": "99999"},
        {"criterion": "<script>"},
    ],
)
def test_hostile_forms_are_refused_with_a_message(client, login, origin, operator_user, form):
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    data = {"template": origin.template.pk, "service": origin.service.pk, **form}
    response = client.post(url, data)
    assert response.status_code == 200
    assert not RecipientList.objects.filter(origin=origin).exists()


def test_premium_parameters_are_checked(client, login, premium, operator_user):
    add(
        premium,
        ANNA,
        state="processed",
        submitted_at=timezone.now() - timedelta(days=9),
        notice_number="302000100000009420",
        payment_amount=12500,
    )
    template = builders.template(premium.organization, operator_user)
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[premium.public_id])
    base = {"template": template.pk, "service": premium.service.pk}
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    for form, error in (
        ({"criterion": "not_read"}, "Indica dopo quanti giorni."),
        ({"criterion": "not_read", "days": "0"}, "maggiore o uguale a 1"),
        ({"criterion": "not_paid"}, "Indica il giorno."),
        ({"criterion": "not_paid", "paid_by": tomorrow}, "non può essere nel futuro"),
    ):
        response = client.post(url, {**base, **form})
        assert response.status_code == 200 and error in response.content.decode(), form
    response = client.post(url, {**base, "criterion": "not_read", "days": "7"})
    assert response.status_code == 302
    built = RecipientList.objects.get(origin=premium)
    # The template's "importo" is not among the origin's values: the mapping comes next.
    assert response["Location"] == reverse("messaging:list_mapping", args=[built.public_id])
    assert [row[1][0] for row in built.items(RecipientChunk.Kind.ROWS, 0, 10)] == [ANNA]


def test_another_organization_gets_404(client, login, origin, other_organization):
    stranger = builders.user(Membership.Role.ADMIN, other_organization)
    login(stranger)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    assert client.get(url).status_code == 404
    response = client.post(
        url,
        {"criterion": "failed", "template": origin.template.pk, "service": origin.service.pk},
    )
    assert response.status_code == 404
    assert not RecipientList.objects.filter(origin=origin).exists()


def test_an_operator_who_does_not_see_the_dispatch_gets_404(
    client, login, origin, organization, service
):
    service.all_operators = False
    service.save()
    other = builders.user(Membership.Role.OPERATOR, organization)
    login(other)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    assert client.get(url).status_code == 404


def test_a_supervisor_may_follow_up_any_dispatch(client, login, origin, supervisor_user):
    login(supervisor_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    page = client.get(reverse("sending:dispatch_detail", args=[origin.public_id]))
    assert url in page.content.decode()
    response = client.post(
        url,
        {"criterion": "failed", "template": origin.template.pk, "service": origin.service.pk},
    )
    assert response.status_code == 302
    assert RecipientList.objects.get(origin=origin).created_by == supervisor_user


def test_a_test_send_has_no_follow_up(client, login, origin, operator_user):
    Dispatch.objects.filter(pk=origin.pk).update(kind=Dispatch.Kind.TEST)
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("sending:dispatch_detail", args=[origin.public_id])


# --- end to end: real workers and the IO simulator -----------------------------------------

# What the simulator does with each citizen (docs/fakeio.md): the name part NNN never reads;
# a notice ending with an even digit is paid, with an odd one never. IO's own maximum amount
# (200,00 euro) is below the one the portal knows, so the 300,00 euro message fails at IO.
CITIZENS = {
    "reads_pays": ("RSSMRA80A01H501", "302000100000009420", "125,00"),
    "never_reads": ("RSSNNN80A01H501", "302000100000009431", "125,00"),
    "pays_unread": ("VRDNNN75C15F205", "302000100000009442", "125,00"),
    "reads_unpaid": ("BNCMRA85T50A562", "302000100000009453", "125,00"),
    "fails": ("VRDMRA75C15F205", "302000100000009464", "300,00"),
}
REMINDER_MARKDOWN = (
    "Gentile {{ nome }}, le ricordiamo il messaggio del Comune sulla TARI 2026: lo trova "
    "nell'app IO, nella sezione Messaggi, insieme all'avviso di pagamento."
)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_follow_ups_reach_exactly_the_chosen_citizens(clusters, organization, supervisor_user):
    codes = {name: fiscal_code(first15) for name, (first15, _n, _a) in CITIZENS.items()}
    config = simulator_config(organization, rate_limit=0, status_delay=0.3, read_delay=1)
    config["accounts"][0]["services"][0]["max_allowed_payment_amount"] = 20_000
    server = make_server(parse_config(config)).start()
    try:
        service = builders.service(organization, **simulated_service(server.url + "/api/v1"))
        author = supervisor_user
        tari = builders.template(
            organization,
            author,
            name="TARI Premium",
            subject="Avviso di pagamento TARI 2026",
            markdown=(
                "Gentile {{ nome }},\n\nè disponibile l'avviso TARI 2026: può pagarlo "
                "direttamente dall'app IO entro la scadenza indicata nell'avviso."
            ),
            placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
            feature_level=FeatureLevel.ADVANCED,
            has_payment=True,
        )
        reminder = builders.template(
            organization,
            author,
            name="Promemoria",
            subject="Promemoria TARI 2026",
            markdown=REMINDER_MARKDOWN,
            placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        )
        rows = "".join(
            f"{codes[name]};{name};{amount};{notice}\n"
            for name, (_f, notice, amount) in CITIZENS.items()
        )
        checked = builders.recipient_list(
            tari,
            service,
            author,
            f"Codice fiscale;Nome;Importo;Codice avviso\n{rows}".encode(),
            mapping={
                "fiscal_code": "Codice fiscale",
                "nome": "Nome",
                "amount": "Importo",
                "notice_number": "Codice avviso",
            },
        )
        assert checked.valid_count == len(CITIZENS), shown_rejected(checked)
        origin, _created = services.dispatch_launch_list(recipient_list=checked, actor=author)
        clusters.start()

        deliveries = Delivery.objects.filter(dispatch=origin)
        expected = {
            fiscal_code_hmac(codes["reads_pays"]): ("processed", "READ", "PAID"),
            fiscal_code_hmac(codes["never_reads"]): ("processed", "UNREAD", "NOT_PAID"),
            fiscal_code_hmac(codes["pays_unread"]): ("processed", "UNREAD", "PAID"),
            fiscal_code_hmac(codes["reads_unpaid"]): ("processed", "READ", "NOT_PAID"),
            fiscal_code_hmac(codes["fails"]): ("failed", "", ""),
        }

        def origin_settled() -> bool:
            status = {
                d.fiscal_code_hmac: (d.state, d.read_status, d.payment_status)
                for d in deliveries.all()
            }
            return status == expected

        assert wait_until(origin_settled, timeout=90, tick=sweep), (
            list(deliveries.values_list("state", "read_status", "payment_status")),
            clusters.logs(),
        )
        origin.refresh_from_db()

        choices = {
            Criterion.NOT_READ: (reminder, {"days": 0}, {"never_reads", "pays_unread"}),
            Criterion.NOT_PAID: (
                tari,
                {"paid_by": timezone.localdate()},
                {"never_reads", "reads_unpaid"},
            ),
            Criterion.FAILED: (reminder, {}, {"fails"}),
        }
        follow_ups = {}
        for criterion, (template, parameters, _names) in choices.items():
            built = follow_up_list_create(
                origin=origin,
                criterion=criterion,
                template=template,
                service=service,
                actor=author,
                **parameters,
            )
            assert built.state == RecipientList.State.VALIDATED, criterion
            follow_ups[criterion], _created = services.dispatch_launch_list(
                recipient_list=built, actor=author
            )
        sent = Delivery.objects.filter(dispatch__origin=origin)
        done = wait_until(
            lambda: sent.count() == 5 and not sent.exclude(state="processed").exists(),
            timeout=90,
            tick=sweep,
        )
        assert done, (list(sent.values_list("state", "last_error_code")), clusters.logs())
        stored = dict(server.sim.messages)
    finally:
        server.stop()

    for criterion, (template, _parameters, names) in choices.items():
        follow_up = follow_ups[criterion]
        assert follow_up.origin == origin
        ids = follow_up.deliveries.values_list("io_message_id", flat=True)
        assert {stored[i].fiscal_code for i in ids} == {codes[n] for n in names}, criterion
        assert {stored[i].content["subject"] for i in ids} == {template.subject}
    # The notice reminder carries each citizen's own notice again; the others none.
    unpaid_ids = follow_ups[Criterion.NOT_PAID].deliveries.values_list("io_message_id", flat=True)
    notices = {stored[i].fiscal_code: stored[i].content["payment_data"] for i in unpaid_ids}
    assert notices[codes["never_reads"]]["notice_number"] == CITIZENS["never_reads"][1]
    assert notices[codes["reads_unpaid"]]["amount"] == 12_500
    # IO got one message per citizen and follow-up, besides the origin's (the failed one
    # never reached IO's store).
    per_citizen = Counter(message.fiscal_code for message in stored.values())
    assert per_citizen == {
        codes["reads_pays"]: 1,
        codes["never_reads"]: 3,
        codes["pays_unread"]: 2,
        codes["reads_unpaid"]: 2,
        codes["fails"]: 1,
    }


@pytest.mark.parametrize("day", [date.min, date(1, 1, 2)])
def test_not_paid_by_the_first_possible_day_does_not_overflow(premium, day):
    notice = {"notice_number": "302000100000009424", "payment_amount": 1250}
    received = {"state": "processed", "submitted_at": NOW - timedelta(days=20)}
    add(premium, builders_codes[0], **received, **notice, payment_status="NOT_PAID")
    found = audience(premium, Criterion.NOT_PAID, paid_by=day, now=NOW)
    assert hmacs(found) == who(builders_codes[0])


# --- what each criterion counts, and why it finds nobody --------------------------------------


@pytest.fixture
def cancelled(organization, operator_user, service, supervisor_user, woken) -> Dispatch:
    """Anna's message accepted by IO, then the dispatch cancelled: Bruno's never left."""
    template = builders.template(organization, operator_user)
    dispatch = launched(template, service, operator_user, woken, None)
    receive(dispatch, ANNA)
    sending_services.dispatch_cancel(dispatch=dispatch, actor=supervisor_user)
    dispatch.refresh_from_db()
    return dispatch


def follow_up_form(origin: Dispatch, criterion: str, **fields: str) -> dict[str, Any]:
    assert origin.template is not None
    return {
        "criterion": criterion,
        "template": origin.template.pk,
        "service": origin.service.pk,
        **fields,
    }


def test_a_cancelled_dispatch_offers_the_messages_the_cancel_stopped(
    client, login, cancelled, operator_user
):
    assert criteria_for(cancelled) == [Criterion.FAILED, Criterion.STOPPED]
    assert hmacs(audience(cancelled, Criterion.STOPPED)) == who(BRUNO)
    assert not audience(cancelled, Criterion.FAILED).exists()
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[cancelled.public_id])
    page = client.get(url).content.decode()
    assert "Il messaggio non è stato consegnato: rifiutato da IO o non riuscito" in page
    assert "Il messaggio non è partito: fermato dall&#x27;annullamento dell&#x27;invio" in page

    # "Not delivered" finds nobody, and says why: the stopped message is not a failure.
    response = client.post(url, follow_up_form(cancelled, "failed"))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Nessun cittadino corrisponde alla scelta." in text
    assert "IO non ha rifiutato nessun messaggio di questo invio e nessuno è fallito." in text
    assert "1 messaggio fermato dall&#x27;annullamento non è mai partito" in text
    assert not RecipientList.objects.filter(origin=cancelled).exists()

    response = client.post(url, follow_up_form(cancelled, "stopped"))
    assert response.status_code == 302
    built = RecipientList.objects.get(origin=cancelled)
    assert hmacs_of_list(built) == who(BRUNO)
    event = AuditEvent.objects.get(action=Action.DISPATCH_FOLLOW_UP_STARTED)
    assert event.changes["criterion"] == "stopped" and event.changes["citizens"] == 1


def test_the_stopped_messages_are_offered_only_after_a_cancel(client, login, origin, operator_user):
    assert Criterion.STOPPED not in criteria_for(origin)
    with pytest.raises(ValueError, match="does not apply"):
        audience(origin, Criterion.STOPPED)
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    assert 'value="stopped"' not in client.get(url).content.decode()
    response = client.post(url, follow_up_form(origin, "stopped"))
    assert response.status_code == 200
    assert "Nessun messaggio di questo invio è stato fermato da un annullamento." in (
        response.content.decode()
    )
    assert not RecipientList.objects.filter(origin=origin).exists()


def test_a_dispatch_cancelled_before_any_outcome_says_so(
    client, login, organization, operator_user, service, supervisor_user, woken
):
    template = builders.template(organization, operator_user)
    dispatch = launched(template, service, operator_user, woken, None)
    sending_services.dispatch_cancel(dispatch=dispatch, actor=supervisor_user)
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[dispatch.public_id])
    response = client.get(url, follow=True)
    text = response.content.decode()
    assert "annullato prima che IO desse un esito" in text
    assert "quando ci saranno degli esiti" not in text


def test_payment_is_offered_only_for_messages_with_a_notice(client, login, premium, operator_user):
    """A Premium dispatch without notices: "not paid" is neither offered nor accepted from a
    forged form, and the page says why."""
    add(premium, ANNA, state="processed", submitted_at=timezone.now() - timedelta(days=9))
    assert criteria_for(premium) == [Criterion.NOT_READ, Criterion.FAILED]
    with pytest.raises(ValueError, match="does not apply"):
        audience(premium, Criterion.NOT_PAID, paid_by=date(2026, 1, 1))
    template = builders.template(premium.organization, operator_user)
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[premium.public_id])
    why = "I messaggi di questo invio non hanno un avviso di pagamento"
    page = client.get(url).content.decode()
    assert 'value="not_paid"' not in page and why in page
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = client.post(
        url,
        {
            "criterion": "not_paid",
            "paid_by": yesterday,
            "template": template.pk,
            "service": premium.service.pk,
        },
    )
    assert response.status_code == 200
    assert why in response.content.decode()
    assert not RecipientList.objects.filter(origin=premium).exists()

    add(premium, BRUNO, state="processed", notice_number="302000100000009420")
    assert criteria_for(premium) == [Criterion.NOT_READ, Criterion.NOT_PAID, Criterion.FAILED]


def test_a_standard_dispatch_refuses_read_and_payment_saying_why(
    client, login, origin, operator_user
):
    login(operator_user)
    url = reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    why = "Lettura e pagamento sono noti solo per i messaggi Premium"
    assert client.get(url).content.decode().count(why) == 1
    response = client.post(url, follow_up_form(origin, "not_read", days="3"))
    assert response.status_code == 200 and why in response.content.decode()


def test_why_nobody_is_reached_by_the_read_criterion(premium):
    assert why_nobody(premium, Criterion.NOT_READ, days=7, now=NOW).endswith(
        "IO non ha ancora accettato nessun messaggio di questo invio."
    )
    add(premium, ANNA, state="processed", read_status="READ", submitted_at=NOW - timedelta(2))
    assert why_nobody(premium, Criterion.NOT_READ, days=7, now=NOW).endswith(
        "Nessun messaggio è stato accettato da IO da almeno 7 giorni: prova con meno giorni."
    )
    assert why_nobody(premium, Criterion.NOT_READ, days=1, now=NOW).endswith(
        "Tutti i messaggi accettati da IO da almeno 1 giorno risultano letti."
    )


def test_why_nobody_is_reached_by_the_payment_criterion(premium):
    day = date(2026, 3, 5)
    add(premium, BRUNO, state="failed", notice_number="302000100000009431")
    assert why_nobody(premium, Criterion.NOT_PAID, paid_by=day, now=NOW).endswith(
        "IO non ha ancora accettato nessun messaggio con avviso di pagamento di questo invio."
    )
    add(
        premium,
        ANNA,
        state="processed",
        notice_number="302000100000009420",
        payment_status="PAID",
        paid_at=NOW - timedelta(days=6),
    )
    assert not audience(premium, Criterion.NOT_PAID, paid_by=day, now=NOW).exists()
    assert why_nobody(premium, Criterion.NOT_PAID, paid_by=day, now=NOW).endswith(
        "Gli avvisi di tutti i messaggi accettati da IO risultano pagati entro il 05/03/2026."
    )


def test_why_nobody_is_reached_by_the_failure_criterion(organization, operator_user):
    running = builders.dispatch(
        builders.service(organization), operator_user, state=Dispatch.State.RUNNING
    )
    c = builders_codes
    states = ("processed", "uncertain", "uncertain", "pending", "skipped")
    for code, state in zip(c, states, strict=False):
        add(running, code, state=state)
    assert why_nobody(running, Criterion.FAILED) == (
        "Nessun cittadino corrisponde alla scelta. IO non ha rifiutato nessun messaggio di "
        "questo invio e nessuno è fallito. 2 esiti incerti non sono contati finché un "
        "supervisore non li chiude. 1 messaggio è ancora da inviare. 1 cittadino non "
        "raggiungibile su IO non è contato: è nell'elenco dei cittadini non raggiunti."
    )


def test_every_criterion_says_what_it_counts():
    for criterion in Criterion:
        assert ": " in str(criterion.label), criterion


def test_the_form_asks_only_for_the_parameters_of_the_criteria_offered(
    client, login, origin, premium, operator_user
):
    login(operator_user)
    standard_page = client.get(
        reverse("messaging:dispatch_follow_up", args=[origin.public_id])
    ).content.decode()
    assert 'name="days"' not in standard_page and 'name="paid_by"' not in standard_page
    add(premium, ANNA, state="processed", submitted_at=timezone.now())
    premium_page = client.get(
        reverse("messaging:dispatch_follow_up", args=[premium.public_id])
    ).content.decode()
    assert 'name="days"' in premium_page and 'name="paid_by"' not in premium_page
