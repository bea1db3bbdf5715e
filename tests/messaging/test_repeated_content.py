"""The same content to the same citizen: each delivery's content hash, the warning before
launch (counts, earlier dispatches) and leaving those citizens out with one click."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Membership
from ioportal.core.fiscalcode import fiscal_code_hmac, reveal_fiscal_code
from ioportal.core.models import AuditEvent
from ioportal.messaging import services
from ioportal.messaging.audit import Action
from ioportal.messaging.followups import Criterion, follow_up_list_create
from ioportal.messaging.lists import recipient_list_validate
from ioportal.messaging.models import Delivery, Dispatch, MessageTemplate
from ioportal.messaging.repeated import (
    content_fingerprint,
    recipient_list_exclude_repeated,
    repeated_content,
)
from ioportal.messaging.services import preparation
from ioportal.recipients.models import RecipientContentKey, RecipientList
from ioportal.recipients.rendering import content_sha256, delivery_message
from tests import builders
from tests.messaging.test_followups import PAYMENT_CSV, PAYMENT_MAPPING

ANNA, BRUNO, LUCA = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H"
# Anna and Bruno as in builders.RECIPIENTS_CSV (same values: same content), and Luca.
AGAIN_CSV = (
    "Codice fiscale;Nome;Importo\n"
    f"{ANNA};Anna;12,50\n"
    f"{BRUNO};Bruno {{{{ x }}}} <b>;30\n"
    f"{LUCA};Luca;7\n"
).encode()


@pytest.fixture
def template(organization, operator_user):
    return builders.template(organization, operator_user)


def launch(recipient_list: RecipientList, actor) -> Dispatch:
    dispatch, _created = services.dispatch_launch_list(recipient_list=recipient_list, actor=actor)
    return dispatch


def received(dispatch: Dispatch, *, days_ago: float = 0, state: str = "processed") -> None:
    """Every delivery of `dispatch` in `state`, submitted `days_ago` days ago."""
    for number, delivery in enumerate(Delivery.objects.filter(dispatch=dispatch)):
        delivery.state = state
        delivery.submitted_at = timezone.now() - timedelta(days=days_ago)
        if state in Delivery.WITH_IO_ID:
            delivery.io_message_id = f"01IO{dispatch.pk:04d}{number:04d}"
        delivery.save()


@pytest.fixture
def first(template, service, operator_user, woken) -> Dispatch:
    """builders' list (Anna and Bruno) launched and received."""
    dispatch = launch(builders.recipient_list(template, service, operator_user), operator_user)
    received(dispatch)
    return dispatch


def again(template, service, author, data: bytes = AGAIN_CSV) -> RecipientList:
    return builders.recipient_list(template, service, author, data, file_name="di-nuovo.csv")


# --- the content hash of a delivery ------------------------------------------------------


def test_each_delivery_has_the_hash_of_what_the_worker_sends(first):
    deliveries = list(Delivery.objects.filter(dispatch=first).select_related("dispatch"))
    assert len(deliveries) == 2
    for delivery in deliveries:
        code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        assert delivery.content_sha256 == content_sha256(delivery_message(delivery, code))
    # Different names: different content.
    assert deliveries[0].content_sha256 != deliveries[1].content_sha256


def test_single_messages_get_their_hash_too(organization, service, operator_user, woken):
    dispatch, _created = services.dispatch_create_single(
        organization=organization,
        service=service,
        actor=operator_user,
        fiscal_code=ANNA,
        subject="Avviso TARI 2026 per lei",
        markdown="Gentile cittadina, l'avviso TARI 2026 è disponibile nell'app IO da oggi.",
        launch_token=uuid.uuid4(),
    )
    delivery = Delivery.objects.select_related("dispatch").get(dispatch=dispatch)
    assert delivery.content_sha256 == content_sha256(delivery_message(delivery, ANNA))


# --- the warning ---------------------------------------------------------------------------


def test_the_same_content_is_found_with_its_dispatch(first, template, service, operator_user):
    second = again(template, service, operator_user)
    assert RecipientContentKey.objects.filter(recipient_list=second).count() == 3
    found = repeated_content(second)
    assert found.count == 2 and found.days == 30
    assert found.dispatches == [(first, 2)]


def test_a_different_value_is_a_different_content(first, template, service, operator_user):
    changed = AGAIN_CSV.replace(b"Anna;12,50", b"Anna;12,51")
    assert repeated_content(again(template, service, operator_user, changed)).count == 1


def test_counted_per_earlier_dispatch(first, template, service, operator_user, woken):
    only_bruno = f"Codice fiscale;Nome;Importo\n{BRUNO};Bruno {{{{ x }}}} <b>;30\n".encode()
    later = launch(again(template, service, operator_user, only_bruno), operator_user)
    received(later)
    found = repeated_content(again(template, service, operator_user))
    assert found.count == 2
    assert found.dispatches == [(first, 2), (later, 1)]


def test_the_window_is_the_setting(first, template, service, operator_user, settings):
    second = again(template, service, operator_user)
    received(first, days_ago=31)
    assert repeated_content(second).count == 0
    settings.REPEATED_CONTENT_DAYS = 45
    assert repeated_content(second).count == 2
    assert repeated_content(second, days=10).count == 0


def test_in_flight_deliveries_count_undelivered_ones_do_not(
    first, template, service, operator_user
):
    second = again(template, service, operator_user)
    Delivery.objects.filter(dispatch=first).update(
        state="pending", submitted_at=None, io_message_id=None
    )
    assert repeated_content(second).count == 2
    for state in ("skipped", "failed", "cancelled"):
        Delivery.objects.filter(dispatch=first).update(state=state)
        assert repeated_content(second).count == 0, state


def test_another_service_or_a_test_send_does_not_count(
    first, template, service, organization, operator_user
):
    other_service = builders.service(organization)
    assert repeated_content(again(template, other_service, operator_user)).count == 0
    Dispatch.objects.filter(pk=first.pk).update(kind=Dispatch.Kind.TEST)
    assert repeated_content(again(template, service, operator_user)).count == 0


def test_a_follow_up_does_not_warn_about_its_origin(first, template, service, operator_user):
    Delivery.objects.filter(dispatch=first).update(state="rejected")
    Delivery.objects.filter(dispatch=first, fiscal_code_hmac=fiscal_code_hmac(ANNA)).update(
        state="processed"
    )
    # Anna got it; a follow-up to Bruno (rejected), and a new list to both.
    follow_up = follow_up_list_create(
        origin=first,
        criterion=Criterion.FAILED,
        template=template,
        service=service,
        actor=operator_user,
    )
    assert repeated_content(follow_up).count == 0
    assert repeated_content(again(template, service, operator_user)).count == 1


def test_the_confirm_page_names_the_earlier_dispatch(
    client, login, first, template, service, operator_user
):
    second = again(template, service, operator_user)
    login(operator_user)
    page = client.get(reverse("messaging:list_confirm", args=[second.public_id])).content.decode()
    assert "2 cittadini di questo elenco hanno ricevuto o riceveranno lo stesso contenuto" in page
    assert "già ricevuto lo stesso" not in page
    assert reverse("sending:dispatch_detail", args=[first.public_id]) in page
    assert first.title in page and "Escludi questi 2 cittadini" in page
    fresh = builders.recipient_list(
        template,
        service,
        operator_user,
        f"Codice fiscale;Nome;Importo\n{LUCA};Luca;7\n".encode(),
    )
    page = client.get(reverse("messaging:list_confirm", args=[fresh.public_id])).content.decode()
    assert "stesso contenuto" not in page


def test_an_earlier_dispatch_of_another_user_is_named_but_not_linked(
    client, login, first, template, service, organization
):
    """An operator does not see another user's dispatch (dispatch_access): the warning
    names it without a link that would answer 404; a supervisor gets the link."""
    colleague = builders.user(Membership.Role.OPERATOR, organization, username="collega")
    second = again(template, service, colleague)
    login(colleague)
    url = reverse("messaging:list_confirm", args=[second.public_id])
    page = client.get(url).content.decode()
    assert "2 cittadini di questo elenco hanno ricevuto" in page and first.title in page
    assert reverse("sending:dispatch_detail", args=[first.public_id]) not in page
    login(builders.user(Membership.Role.SUPERVISOR, organization))
    page = client.get(url).content.decode()
    assert reverse("sending:dispatch_detail", args=[first.public_id]) in page


# --- leaving them out ----------------------------------------------------------------------


def test_one_click_leaves_them_out(client, login, first, template, service, operator_user, woken):
    second = again(template, service, operator_user)
    login(operator_user)
    url = reverse("messaging:list_exclude_repeated", args=[second.public_id])
    response = client.post(url)
    assert response["Location"] == reverse("messaging:list_confirm", args=[second.public_id])
    second.refresh_from_db()
    assert (second.valid_count, second.repeated_excluded, second.total_amount) == (1, 2, 0)
    assert [row["fiscal_code"] for row in second.get_valid()] == [LUCA]
    assert repeated_content(second).count == 0
    event = AuditEvent.objects.get(action=Action.RECIPIENTS_REPEATED_EXCLUDED)
    assert event.changes["excluded"] == 2 and event.actor == operator_user
    assert event.changes["dispatches"] == [str(first.public_id)]
    page = client.get(reverse("messaging:list_confirm", args=[second.public_id])).content.decode()
    assert 'id="confirm-repeated-excluded">2<' in page and "Escludi questi" not in page

    dispatch = launch(second, operator_user)
    assert [d.fiscal_code_hmac for d in dispatch.deliveries.all()] == [fiscal_code_hmac(LUCA)]
    assert dispatch.deliveries_expected == 1
    launch_event = AuditEvent.objects.get(
        action=Action.DISPATCH_LAUNCHED, target_id=dispatch.public_id
    )
    assert launch_event.changes["repeated_excluded"] == 2


def test_a_new_check_brings_them_back(first, template, service, operator_user):
    second = again(template, service, operator_user)
    assert recipient_list_exclude_repeated(recipient_list=second, actor=operator_user) == 2
    checked = recipient_list_validate(recipient_list=second, mapping=builders.RECIPIENTS_MAPPING)
    assert (checked.valid_count, checked.repeated_excluded) == (3, 0)
    assert repeated_content(checked).count == 2


def test_the_check_warnings_stop_naming_rows_left_out(organization, operator_user, woken):
    """A notice number failing pagoPA's check digits is a warning about a row that will be
    sent: once its citizen is left out as already served, the warning no longer names it."""
    service = builders.service(
        organization, test_mode=False, payments_enabled=True, max_allowed_payment_amount=500_000
    )
    template = builders.template(organization, operator_user, has_payment=True, has_due_date=True)
    # 3020001000000094 mod 93 = 24, …0095 = 32, …0096 = 40: "…25", "…33", "…41" fail.
    rows = [
        f"{ANNA};Anna;12,50;302000100000009425;31/12/2030\n",
        f"{BRUNO};Bruno;30;302000100000009533;31/12/2030\n",
        f"{LUCA};Luca;5;302000100000009641;31/12/2030\n",
    ]
    header = "Codice fiscale;Nome;Importo;Avviso;Scadenza\n"

    def checked(lines: list[str], name: str) -> RecipientList:
        data = (header + "".join(lines)).encode()
        return builders.recipient_list(
            template, service, operator_user, data, mapping=PAYMENT_MAPPING, file_name=name
        )

    received(launch(checked(rows[:2], "primo.csv"), operator_user))
    second = checked(rows, "secondo.csv")
    assert second.check_warnings_text[0].startswith("Righe 2, 3, 4: il codice avviso")
    assert recipient_list_exclude_repeated(recipient_list=second, actor=operator_user) == 2
    second.refresh_from_db()
    assert second.check_warnings_text[0].startswith("Riga 4: il codice avviso")
    assert len(second.check_warnings) == 1


def test_nothing_to_leave_out_changes_nothing(template, service, operator_user, client, login):
    fresh = again(template, service, operator_user)
    login(operator_user)
    client.post(reverse("messaging:list_exclude_repeated", args=[fresh.public_id]))
    fresh.refresh_from_db()
    assert (fresh.valid_count, fresh.repeated_excluded) == (3, 0)
    assert not AuditEvent.objects.filter(action=Action.RECIPIENTS_REPEATED_EXCLUDED).exists()


def test_a_launched_list_is_not_changed(first, operator_user):
    launched = RecipientList.objects.get(dispatch=first)
    assert recipient_list_exclude_repeated(recipient_list=launched, actor=operator_user) == 0


def test_the_keys_go_with_the_rows(first, template, service, operator_user, woken):
    second = again(template, service, operator_user)
    launch(second, operator_user)
    assert not RecipientContentKey.objects.filter(recipient_list=second).exists()


# --- access ----------------------------------------------------------------------------------


def test_exclusion_access(
    client, login, first, template, service, operator_user, organization, other_organization
):
    second = again(template, service, operator_user)
    url = reverse("messaging:list_exclude_repeated", args=[second.public_id])
    login(builders.user(Membership.Role.ADMIN, other_organization))
    assert client.post(url).status_code == 404
    login(builders.user(Membership.Role.OPERATOR, organization))  # not the list's author
    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 405
    second.refresh_from_db()
    assert second.repeated_excluded == 0
    login(builders.user(Membership.Role.SUPERVISOR, organization))
    assert client.post(url).status_code == 302
    second.refresh_from_db()
    assert second.repeated_excluded == 2


def test_the_check_hashes_each_row_as_the_worker_will(organization, operator_user, woken):
    """With a due date, an amount and a notice: the hash the check writes for each row is the
    one its delivery gets."""
    service = builders.service(
        organization, test_mode=False, payments_enabled=True, max_allowed_payment_amount=500_000
    )
    template = builders.template(organization, operator_user, has_payment=True, has_due_date=True)
    checked = builders.recipient_list(
        template, service, operator_user, PAYMENT_CSV, mapping=PAYMENT_MAPPING
    )
    keys = dict(
        RecipientContentKey.objects.filter(recipient_list=checked).values_list(
            "fiscal_code_hmac", "content_sha256"
        )
    )
    assert len(keys) == checked.valid_count == 3
    dispatch = launch(checked, operator_user)
    for delivery in Delivery.objects.filter(dispatch=dispatch).select_related("dispatch"):
        code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        assert keys[delivery.fiscal_code_hmac] == delivery.content_sha256
        assert delivery.content_sha256 == content_sha256(delivery_message(delivery, code))
        assert delivery.notice_number and delivery.due_date


# --- the worker copies the check's hash when the texts are those checked ---------------------


@pytest.fixture
def payment_list(organization, operator_user) -> RecipientList:
    """Three valid rows with a due date, an amount and a notice, checked."""
    service = builders.service(
        organization, test_mode=False, payments_enabled=True, max_allowed_payment_amount=500_000
    )
    template = builders.template(organization, operator_user, has_payment=True, has_due_date=True)
    return builders.recipient_list(
        template, service, operator_user, PAYMENT_CSV, mapping=PAYMENT_MAPPING
    )


@pytest.fixture
def rendered(monkeypatch) -> list[int]:
    """The worker's renderings of a row for its hash (`row_content_sha256`), counted."""
    calls: list[int] = []
    real = preparation.row_content_sha256

    def counted(**kwargs):
        calls.append(kwargs["row"]["line"])
        return real(**kwargs)

    monkeypatch.setattr(preparation, "row_content_sha256", counted)
    return calls


def checked_keys(recipient_list: RecipientList) -> dict[str, str]:
    return dict(
        RecipientContentKey.objects.filter(recipient_list=recipient_list).values_list(
            "fiscal_code_hmac", "content_sha256"
        )
    )


def assert_hash_of_what_is_sent(dispatch: Dispatch) -> list[Delivery]:
    deliveries = list(Delivery.objects.filter(dispatch=dispatch).select_related("dispatch"))
    for delivery in deliveries:
        code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        assert delivery.content_sha256 == content_sha256(delivery_message(delivery, code))
    return deliveries


def test_unchanged_texts_the_worker_copies_the_checked_hash(
    payment_list, operator_user, woken, rendered
):
    keys = checked_keys(payment_list)
    assert payment_list.content_fingerprint
    assert all(row["content_sha256"] for row in payment_list.get_valid())
    deliveries = assert_hash_of_what_is_sent(launch(payment_list, operator_user))
    assert rendered == []
    assert len(deliveries) == len(keys) == 3
    assert {d.fiscal_code_hmac: d.content_sha256 for d in deliveries} == keys


@pytest.mark.parametrize(
    "edit",
    [
        {"subject": "Avviso TARI 2026, rettifica"},
        {"markdown": "Gentile {{ nome }},\n\nla TARI è di **{{ importo }} euro**, rettifica."},
        {"placeholders": [{"name": "nome", "type": "text", "required": True, "pattern": ""}]},
        {"feature_level": "advanced"},
    ],
    ids=["subject", "markdown", "placeholders", "feature-level"],
)
def test_texts_edited_after_the_check_the_worker_hashes_what_it_sends(
    payment_list, operator_user, woken, rendered, edit
):
    """A template edited in place between the check and the launch, without the check being
    undone (as a concurrent edit can): the dispatch freezes the new texts, and each delivery
    gets the hash of what it sends, not the check's."""
    keys = checked_keys(payment_list)
    lines = [row["line"] for row in payment_list.get_valid()]
    MessageTemplate.objects.filter(pk=payment_list.template_id).update(**edit)
    deliveries = assert_hash_of_what_is_sent(launch(payment_list, operator_user))
    assert sorted(rendered) == lines
    assert len(deliveries) == 3
    for delivery in deliveries:
        assert delivery.content_sha256 != keys[delivery.fiscal_code_hmac]


def test_a_list_checked_without_fingerprint_is_hashed_by_the_worker(
    payment_list, operator_user, woken, rendered
):
    """A list checked before fingerprints were kept: its rows are rendered again."""
    keys = checked_keys(payment_list)
    RecipientList.objects.filter(pk=payment_list.pk).update(content_fingerprint="")
    payment_list.refresh_from_db()
    deliveries = assert_hash_of_what_is_sent(launch(payment_list, operator_user))
    assert len(rendered) == len(deliveries) == 3
    assert {d.fiscal_code_hmac: d.content_sha256 for d in deliveries} == keys


def test_the_fingerprint_follows_what_the_hash_depends_on():
    texts = {
        "subject": "Avviso",
        "markdown": "Gentile {{ nome }}",
        "placeholders": [{"name": "nome", "type": "text"}, {"name": "importo", "type": "euro"}],
        "feature_level": "standard",
    }
    same = content_fingerprint(**texts)
    # The placeholders' order and types fill nothing differently.
    reordered = [{"name": "importo", "type": "text"}, {"name": "nome", "type": "euro"}]
    assert content_fingerprint(**{**texts, "placeholders": reordered}) == same
    for change in (
        {"subject": "Avviso!"},
        {"markdown": "Gentile {{ nome }}."},
        {"placeholders": [{"name": "nome", "type": "text"}]},
        {"feature_level": "advanced"},
    ):
        assert content_fingerprint(**{**texts, **change}) != same
