"""`change_lines`: an audit event's changes in Italian words, for each kind of value and for
events written by the real services."""

from datetime import date

import pytest
from django.utils import timezone, translation

from ioportal.accounts import services as accounts
from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.core.services import audit_log
from ioportal.dashboard.audit_display import change_lines, format_value, is_change_action
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_update
from ioportal.messaging.models import Dispatch
from ioportal.messaging.services.approvals import (
    approval_policy_update,
    dispatch_approve,
    dispatch_reject,
)
from tests import builders

CODE = "RSSMRA80A01H501U"


@pytest.fixture(autouse=True)
def _italian():
    with translation.override("it"):
        yield


def lines(event: AuditEvent) -> dict[str, str]:
    return dict(change_lines(event))


def event(action: str = "x.other", target_type: str = "", **changes) -> AuditEvent:
    return AuditEvent(action=action, target_type=target_type, changes=changes)


# --- each kind of value --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "Sì"),
        (False, "No"),
        (None, "—"),
        ("", "—"),
        ([], "—"),
        (1234, "1.234"),
        (["uno", "due", "tre"], "uno, due, tre"),
        ({"old": False, "new": True}, "da No a Sì"),
        ({"old": None, "new": "x"}, "da — a x"),
        ({"righe": 3, "ok": True}, "Righe: 3; Ok: Sì"),
        ("2026-01-31", "31/01/2026"),
        (date(2026, 1, 31), "31/01/2026"),
        ("testo libero", "testo libero"),
        ("2026-13-45", "2026-13-45"),
    ],
)
def test_each_kind_of_value(value, text):
    assert format_value(value) == text


def test_a_datetime_is_in_italian_format_and_local_time(settings):
    settings.TIME_ZONE = "Europe/Rome"
    with timezone.override("Europe/Rome"):
        assert format_value("2026-07-01 08:30:00+00:00") == "01/07/2026 10:30"


def test_fiscal_codes_are_masked_in_lists_and_text():
    text = format_value([CODE, "BNCGNN85T10F205X"])
    assert CODE not in text and "BNCGNN85T10F205X" not in text
    assert text.count(",") == 1
    assert CODE not in format_value(f"cittadino {CODE}")


def test_a_secret_is_cambiata_without_any_value():
    shown = lines(event("ioservice.updated", "ioservice", primary_key="changed", secret="••••"))
    assert shown == {"Chiave primaria": "cambiata", "Secret": "cambiata"}


def test_labels_come_from_the_target_model_then_the_map_then_the_key():
    shown = lines(event("x.other", "ioservice", test_mode=True, reason="r", strange_key_x=1))
    assert shown == {"In modalità di test": "Sì", "Motivo": "r", "Strange key x": "1"}


def test_a_pair_is_a_change_only_on_actions_that_record_changes():
    assert lines(event("org.updated", "organization", foo=[1, 2])) == {"Foo": "da 1 a 2"}
    assert lines(event("delivery.marked_sent", "dispatch", foo=["a", "b"])) == {"Foo": "a, b"}
    assert is_change_action("membership.changed")
    assert not is_change_action("dispatch.launched")


def test_choices_are_shown_by_their_label():
    shown = lines(event("membership.changed", "user", role=["operator", "admin"]))
    assert shown == {"Ruolo": "da Operatore a Amministratore"}


def test_no_python_repr_for_odd_shapes():
    shown = lines(AuditEvent(action="x", changes={"a": {"b": None}, "c": [[1, True]]}))
    assert shown == {"A": "B: —", "C": "1, Sì"}
    assert lines(AuditEvent(action="x", changes=["not", "a", "dict"])) == {}
    for text in shown.values():
        assert "None" not in text and "True" not in text and "{" not in text


# --- events written by the real services ---------------------------------------------------


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


def test_service_created(organization):
    builders.service(organization, name="Tributi")
    shown = lines(last("ioservice.created"))
    assert shown["Nome"] == "Tributi"
    assert shown["In modalità di test"] == "Sì"
    assert shown["Chiave primaria"] == "cambiata"
    assert shown["Chiave secondaria"] == "cambiata"
    assert builders.PRIMARY_KEY not in " ".join(shown.values())
    assert "True" not in " ".join(shown.values())


def test_service_key_and_recipients_changed(organization, admin_user):
    service = builders.service(organization)
    ioservice_update(
        service=service,
        actor=admin_user,
        primary_key="0" * 32,
        name="Tributi nuovi",
        authorized_recipients=[CODE],
        test_mode=False,
    )
    shown = lines(last("ioservice.updated"))
    assert shown["Chiave primaria"] == "cambiata"
    assert "0" * 32 not in str(shown)
    assert shown["In modalità di test"] == "da Sì a No"
    assert shown["Nome"].startswith("da Tributi ") and shown["Nome"].endswith(" a Tributi nuovi")
    assert CODE not in shown["Destinatari autorizzati"]
    assert shown["Destinatari autorizzati"].startswith("da ")


def test_active_slot_changed(organization, admin_user):
    from ioportal.ioservices.services import ioservice_set_active_slot

    service = builders.service(organization)
    ioservice_set_active_slot(service=service, actor=admin_user, slot=IOService.KeySlot.SECONDARY)
    (label, text), *_ = change_lines(last("ioservice.active_key_changed"))
    assert text.startswith("da ") and "primary" not in text and "secondary" not in text


def test_role_changed(organization, admin_user):
    person = builders.user(Membership.Role.OPERATOR, organization)
    accounts.membership_update(
        membership=Membership.objects.get(user=person),
        actor=admin_user,
        role=Membership.Role.SUPERVISOR,
    )
    assert lines(last("membership.changed")) == {"Ruolo": "da Operatore a Supervisore"}


def test_approval_policy_changed(organization, admin_user):
    approval_policy_update(
        organization=organization, actor=admin_user, threshold=100, always_for_premium=True
    )
    shown = lines(last("org.approval_policy_changed"))
    assert shown == {
        "Soglia di destinatari": "da — a 100",
        "Approvazione sempre per i messaggi Premium": "da No a Sì",
    }


def test_dispatch_approved_and_rejected(organization, operator_user, supervisor_user):
    service = builders.service(organization)
    first = builders.dispatch(service, operator_user, state=Dispatch.State.AWAITING_APPROVAL)
    dispatch_approve(dispatch=first, actor=supervisor_user)
    assert change_lines(last("dispatch.approved")) == []
    second = builders.dispatch(service, operator_user, state=Dispatch.State.AWAITING_APPROVAL)
    dispatch_reject(dispatch=second, actor=supervisor_user, reason="Importo errato")
    assert lines(last("dispatch.rejected")) == {"Motivo": "Importo errato"}


def test_an_event_recorded_with_a_date_and_a_fiscal_code(organization):
    recorded = audit_log(
        action="delivery.searched",
        organization=organization,
        changes={"scheduled_at": "2026-02-03", "deliveries": [CODE]},
    )
    shown = lines(recorded)
    assert shown["Programmato per"] == "03/02/2026"
    assert CODE not in shown["Destinatari"]


def test_a_key_problem_is_shown_as_yes_no_and_keys_stay_masked(organization):
    from ioportal.ioservices.services.keys import ioservice_key_problem

    service = builders.service(organization)
    assert ioservice_key_problem(service=service)
    recorded = last("ioservice.key_problem")
    assert recorded.changes == {"key_problem": [False, True]}
    assert lines(recorded) == {"Problema con le chiavi": "da No a Sì"}
    masked = audit_log(action="x", changes={"primary_key": "k", "api_key_id": "k", "otp": "1"})
    assert set(masked.changes.values()) == {"••••"}


# --- the keys and codes a trial found in English or raw ------------------------------------


@pytest.mark.parametrize(
    ("action", "changes", "expected"),
    [
        (
            "export.search_results",
            {"rows": 3, "format": "csv", "filters": ["codice_fiscale"]},
            {"Righe": "3", "Formato": "CSV", "Filtri": "codice fiscale"},
        ),
        (
            "export.dispatch_deliveries",
            {"format": "xlsx", "esito": ""},
            {"Formato": "Excel", "Esito": "tutti"},
        ),
        (
            "reports.handoff_exported",
            {"rows": 2, "format": "xlsx", "reason": "all"},
            {"Motivo": "tutti i motivi"},
        ),
        ("reports.handoff_exported", {"reason": "not_on_io"}, {"Motivo": "Non usa IO"}),
        # A free-text reason is kept as written.
        ("dispatch.rejected", {"reason": "all"}, {"Motivo": "all"}),
        (
            "dispatch.follow_up_started",
            {"criterion": "not_read", "days": 1, "citizens": 5},
            {
                "Criterio": (
                    "Non hanno letto il messaggio: accettato da IO da almeno alcuni giorni e "
                    "non ancora letto"
                ),
                "Giorni": "1",
                "Cittadini": "5",
            },
        ),
        (
            "ioservice.carnet_alert",
            {"threshold": 80, "used": 10},
            {"Soglia": "80 %", "Messaggi usati": "10"},
        ),
        (
            "approval.policy_changed",
            {"threshold": [None, 80]},
            {"Soglia di destinatari": "da — a 80"},
        ),
        (
            "sending.windows_changed",
            {"hours": [None, {"0": ["08:00", "20:00"], "1": ["09:00", "13:00"]}]},
            {"Orari": "da — a lunedì 08:00–20:00; martedì 09:00–13:00"},
        ),
        (
            "ioservice.carnet_created",
            {"starts_on": [None, "2026-12-01"], "purchased": [None, 12]},
            {"Valido dal": "01/12/2026", "Messaggi Premium acquistati": "12"},
        ),
        (
            "retention.personal_data_purged",
            {"deliveries": 3, "retention_days": 30, "finished_at": "2026-10-27T08:15:00+00:00"},
            {"Conservazione dei dati personali (giorni)": "30", "Concluso il": "27/10/2026 09:15"},
        ),
        (
            "reachability.exported",
            {"in_clear": True, "rejected": 4},
            {"Codici fiscali in chiaro": "Sì", "Righe scartate": "4"},
        ),
        (
            "delivery.proof_downloaded",
            {"io_message_id": "01M95"},
            {"Identificativo del messaggio su IO": "01M95"},
        ),
        ("dispatch.proofs_downloaded", {"proofs": 8}, {"Prove di invio": "8"}),
        (
            "recipients.uploaded",
            {"number_format": "it"},
            {"Formato dei numeri": "italiano (1.234,56)"},
        ),
    ],
)
def test_keys_and_codes_in_words(action, changes, expected, settings):
    settings.TIME_ZONE = "Europe/Rome"
    shown = lines(AuditEvent(action=action, changes=changes))
    for label, text in expected.items():
        assert shown[label] == text


@pytest.mark.django_db
def test_public_ids_are_shown_by_the_name_of_the_object_of_the_organization(
    organization, operator_user, other_organization
):
    service = builders.service(organization)
    mine = builders.dispatch(service, operator_user, title="Accertamento IMU")
    other_service = builders.service(other_organization, service_id="01OTHER")
    theirs = builders.dispatch(other_service, operator_user, title="Segreto altrui")
    template = builders.template(organization, operator_user)
    uploaded = builders.recipient_list(template, service, operator_user, file_name="imu.csv")
    gone = "651201c2-231a-4297-acb3-69a48e53f86a"
    shown = lines(
        AuditEvent(
            action="recipients.repeated_excluded",
            organization=organization,
            changes={
                "excluded": 8,
                "dispatches": [str(mine.public_id), str(theirs.public_id), gone],
                "list": str(uploaded.public_id),
                "origin": "not-an-id",
            },
        )
    )
    assert shown["Invii"] == "Accertamento IMU, " + f"{str(theirs.public_id)[:8]}…, 651201c2…"
    assert shown["Elenco di destinatari"] == "imu.csv"
    assert shown["Cittadini esclusi"] == "8"
    assert shown["Invio di origine"] == "not-an-id"


@pytest.mark.django_db
def test_the_deliveries_of_an_uncertain_decision_are_named_by_their_row(
    organization, operator_user, other_organization
):
    """ "Esito incerto segnato come inviato": the deliveries by their row of the file, never by
    internal ids; one of another organization only by the id's first characters."""
    from ioportal.core.models import AuditEvent as Event
    from ioportal.dashboard.audit_display import object_names
    from ioportal.messaging.models import Delivery

    service = builders.service(organization)
    codes = ["RSSMRA85T10A562S", "VRDGPP75C15F205S"]
    dispatch = builders.dispatch(service, operator_user, codes)
    first, second = list(Delivery.objects.filter(dispatch=dispatch).order_by("row_number"))[:2]
    Delivery.objects.filter(pk=second.pk).update(row_number=1234)
    other_service = builders.service(other_organization, service_id="01OTHER")
    theirs = Delivery.objects.filter(
        dispatch=builders.dispatch(other_service, operator_user, codes[:1])
    )[0]
    decided = Event(
        action="delivery.marked_sent",
        organization=organization,
        target_type="dispatch",
        changes={
            "deliveries": [str(first.public_id), str(second.public_id), str(theirs.public_id)]
        },
    )
    expected = f"riga {first.row_number}, riga 1.234, {str(theirs.public_id)[:8]}…"
    assert lines(decided)["Destinatari"] == expected
    assert dict(change_lines(decided, object_names([decided])))["Destinatari"] == expected
    with translation.override("en"):
        assert "row 1,234" in dict(change_lines(decided))["Recipients"]
    counted = Event(action="x.other", organization=organization, changes={"deliveries": 3})
    assert lines(counted)["Destinatari"] == "3"
