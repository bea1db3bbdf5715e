"""import_ioservices: CSV or JSON, from a file or standard input, all or nothing."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.ioservices.models import IOService
from tests import builders
from tests.ioservices.conftest import (
    NEW_KEY,
    PRIMARY_KEY,
    SECONDARY_KEY,
    assert_no_key_in,
    assert_no_key_in_audit,
)
from tests.processes import ROOT, process_env

HEADER = (
    "organization_fiscal_code,service_id,name,test_mode,authorized_recipients,"
    "max_allowed_payment_amount,premium_enabled,primary_key,secondary_key,feed_access\n"
)
ROW_A = (
    "80001230582,01JD3M0SERV1CE000000000C01,Tributi,sì,AAAAAA00A00A000A RSSMRA80A01H501U,"
    f"150000,no,{PRIMARY_KEY},{SECONDARY_KEY},sì\n"
)
ROW_B = f"00123450587,01JD3M0SERV1CE000000000C02,Anagrafe,no,,0,sì,{NEW_KEY},,\n"


def run(text, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import_ioservices", "-", *args, stdin=io.StringIO(text), stdout=out, stderr=err
        )
    except CommandError as exc:
        raise CommandError(f"{exc}\n{err.getvalue()}") from None
    return out.getvalue(), err.getvalue()


def test_csv_from_stdin_creates_services(organization, other_organization):
    out, _err = run(HEADER + ROW_A + ROW_B)
    assert "2 servizi creati, 0 aggiornati" in out
    tributi = IOService.objects.get(service_id="01JD3M0SERV1CE000000000C01")
    assert tributi.organization == organization
    assert tributi.test_mode and not tributi.premium_enabled and tributi.feed_access
    assert tributi.payments_enabled and tributi.max_allowed_payment_amount == 150000
    assert tributi.authorized_recipients == ["AAAAAA00A00A000A", "RSSMRA80A01H501U"]
    assert tributi.key_value("primary") == PRIMARY_KEY
    assert tributi.key_value("secondary") == SECONDARY_KEY
    anagrafe = IOService.objects.get(service_id="01JD3M0SERV1CE000000000C02")
    assert anagrafe.organization == other_organization
    assert anagrafe.premium_enabled and not anagrafe.test_mode and not anagrafe.payments_enabled
    assert not anagrafe.feed_access
    events = AuditEvent.objects.filter(action="ioservice.created")
    assert events.count() == 2
    assert all(e.actor_label == "manage.py import_ioservices" for e in events)
    assert_no_key_in_audit(PRIMARY_KEY, SECONDARY_KEY, NEW_KEY)
    assert_no_key_in(out, PRIMARY_KEY, SECONDARY_KEY, NEW_KEY)


def test_json_updates_existing_service_and_keeps_blank_keys(organization):
    run(HEADER + ROW_A)
    builders.user(Membership.Role.OPERATOR, organization, username="mario")
    data = {
        "services": [
            {
                "organization_fiscal_code": "80001230582",
                "service_id": "01JD3M0SERV1CE000000000C01",
                "name": "Tributi e tasse",
                "test_mode": False,
                "authorized_recipients": [],
                "operators": ["mario"],
                "secondary_key": NEW_KEY,
                "active_slot": "secondary",
            }
        ]
    }
    out, _ = run(json.dumps(data))
    assert "0 servizi creati, 1 aggiornati" in out
    service = IOService.objects.get()
    assert service.name == "Tributi e tasse" and not service.test_mode
    assert service.key_value("primary") == PRIMARY_KEY
    assert service.key_value("secondary") == NEW_KEY
    assert service.active_slot == "secondary"
    assert not service.all_operators
    assert [m.user.username for m in service.allowed_members.all()] == ["mario"]
    event = AuditEvent.objects.get(action="ioservice.updated")
    assert "secondary_key" in event.changes and "primary_key" not in event.changes
    assert_no_key_in_audit(PRIMARY_KEY, SECONDARY_KEY, NEW_KEY)


def test_all_or_nothing_with_row_numbers(organization, other_organization):
    bad = (
        HEADER
        + ROW_A
        + "80001230582,01JD3M0SERV1CE000000000C03,Bad key,sì,,0,no,xyz,\n"
        + "99999999999,01JD3M0SERV1CE000000000C04,No org,sì,,0,no,"
        + NEW_KEY
        + ",\n"
        + "80001230582,01JD3M0SERV1CE000000000C05,Bad CF,sì,RSSMRA80A01H501X,-5,forse,"
        + NEW_KEY
        + ",\n"
        + ROW_A.replace("Tributi", "Doppio")
    )
    with pytest.raises(CommandError, match="nessun servizio importato"):
        err = io.StringIO()
        call_command("import_ioservices", "-", stdin=io.StringIO(bad), stderr=err)
    messages = err.getvalue()
    assert "riga 3: primary_key: La chiave API di IO è lunga 32 caratteri" in messages
    assert (
        "riga 4: organization_fiscal_code: nessun ente con codice fiscale 99999999999" in messages
    )
    assert "riga 5: premium_enabled: usa sì o no" in messages
    assert "riga 5: authorized_recipients: Codice n. 1: «RSSMRA80A01H501X»" in messages
    assert "riga 5: max_allowed_payment_amount" not in messages or "negativo" in messages
    assert "riga 6: service_id: ripetuto (già in riga 2)" in messages
    assert IOService.objects.count() == 0
    assert AuditEvent.objects.count() == 0
    assert_no_key_in(messages, PRIMARY_KEY, SECONDARY_KEY, NEW_KEY)


def test_negative_amount_and_foreign_service_are_errors(organization, other_organization):
    builders.service(other_organization, service_id="01JD3M0SERV1CE000000000C09")
    text = (
        HEADER
        + f"80001230582,01JD3M0SERV1CE000000000C08,Neg,sì,,-5,no,{NEW_KEY},\n"
        + f"80001230582,01JD3M0SERV1CE000000000C09,Altrui,sì,,0,no,{NEW_KEY},\n"
    )
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_ioservices", "-", stdin=io.StringIO(text), stderr=err)
    assert (
        "riga 2: max_allowed_payment_amount: L'importo massimo non può essere negativo."
        in err.getvalue()
    )
    assert "riga 3: service_id: il servizio è registrato per un altro ente" in err.getvalue()
    assert IOService.objects.count() == 1


def test_invalid_active_slot_is_reported(organization):
    data = [
        {
            "organization_fiscal_code": "80001230582",
            "service_id": "01JD3M0SERV1CE000000000C07",
            "name": "Slot",
            "primary_key": NEW_KEY,
            "active_slot": "terziaria",
        }
    ]
    with pytest.raises(CommandError, match="elemento 1: active_slot: usa primary o secondary"):
        run(json.dumps(data))
    assert IOService.objects.count() == 0


def test_unknown_column_is_refused(organization):
    with pytest.raises(CommandError, match="colonne sconosciute chiave"):
        run("organization_fiscal_code,service_id,name,chiave\n80001230582,X,Y,Z\n")


def test_invalid_json_is_refused(organization):
    with pytest.raises(CommandError, match="JSON non valido"):
        run("[{", "--format", "json")


def test_reads_a_file_too(organization, tmp_path):
    path = tmp_path / "servizi.csv"
    path.write_text(HEADER.replace(",", ";") + ROW_A.replace(",", ";"), encoding="utf-8-sig")
    out = io.StringIO()
    call_command("import_ioservices", str(path), stdout=out)
    assert "1 servizi creati" in out.getvalue()


def test_help_documents_the_format():
    result = subprocess.run(
        [sys.executable, "manage.py", "import_ioservices", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "max_allowed_payment_amount" in result.stdout
    assert "standard input" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_real_standard_input_in_a_separate_process(organization):
    result = subprocess.run(
        [sys.executable, "manage.py", "import_ioservices", "-"],
        cwd=ROOT,
        env=process_env(),
        input=HEADER + ROW_A,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert IOService.objects.get().key_value("primary") == PRIMARY_KEY
    assert_no_key_in(result.stdout + result.stderr, PRIMARY_KEY, SECONDARY_KEY)


def test_authorized_recipients_are_normalized_as_everywhere():
    from ioportal.ioservices.validators import parse_authorized_recipients

    assert parse_authorized_recipients(["rssmra85t10a562s\u200b", "RSS MRA85T10A562S"]) == [
        "RSSMRA85T10A562S"
    ]
