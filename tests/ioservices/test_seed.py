"""The demo seed: two IO services on the simulator (one in test mode, one in production), the
simulator's config with the same keys and the portal's remote-content server, templates and
a finished history; a second run changes nothing."""

import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils.formats import date_format

from ioportal.accounts.models import User
from ioportal.demo.management.commands.seed_demo import FIRST_TITLES, HISTORY
from ioportal.fakeio.config import parse_config
from ioportal.ioservices.models import IOService
from ioportal.messaging.lists import (
    message_spec,
    recipient_list_read,
    recipient_list_upload,
    recipient_list_validate,
)
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel, MessageTemplate
from ioportal.recipients.notices import has_valid_check_digits
from ioportal.recipients.validation import SPECIAL_FIELDS, guess_mapping, mapping_errors
from ioportal.remotecontent.models import RemoteContentConfiguration
from ioportal.remotecontent.selectors import dispatch_access_counts
from ioportal.remotecontent.services import key_matches

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    # The history's Premium dispatch stores the sample PDF.
    settings.MEDIA_ROOT = str(tmp_path / "media")


def seed(tmp_path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command(
        "seed_demo",
        "--credentials-file",
        str(tmp_path / "credentials.json"),
        "--fakeio-config",
        str(tmp_path / "var" / "fakeio.json"),
        *args,
        stdout=out,
    )
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    return {
        "services": list(IOService.objects.values_list("service_id", "name", "test_mode")),
        "templates": list(MessageTemplate.objects.values_list("public_id", "name", "version")),
        "dispatches": list(Dispatch.objects.values_list("public_id", "state")),
        "deliveries": Delivery.objects.count(),
        "rc": list(RemoteContentConfiguration.objects.values_list("configuration_id", flat=True)),
    }


def test_seed_creates_services_and_simulator_config(db, tmp_path):
    seed(tmp_path)
    first = snapshot()
    seed(tmp_path)  # idempotent
    assert snapshot() == first

    service = IOService.objects.get(name="Servizio demo")
    assert service.test_mode and service.premium_enabled and service.payments_enabled
    assert "AAAAAA00A00A000A" in service.authorized_recipients
    assert len(service.authorized_recipients) == 3
    assert service.api_base_url == "http://127.0.0.1:8001/api/v1"
    production = IOService.objects.get(name="Tributi")
    assert not production.test_mode and production.premium_enabled
    assert production.remote_content_configuration_id == service.remote_content_configuration_id

    config_file = tmp_path / "var" / "fakeio.json"
    assert config_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    config = parse_config(json.loads(config_file.read_text()))
    simulated = {s.service_id: s for s in config.services()}
    assert set(simulated) == {service.service_id, production.service_id}
    assert simulated[service.service_id].primary_key == service.key_value("primary")
    assert simulated[service.service_id].secondary_key == service.key_value("secondary")
    assert simulated[service.service_id].test_mode and simulated[service.service_id].premium
    assert not simulated[production.service_id].test_mode
    assert set(service.authorized_recipients) <= simulated[service.service_id].authorized_recipients


def test_seed_registers_the_portal_as_remote_content_server(db, tmp_path):
    seed(tmp_path, "--portal-url", "http://127.0.0.1:8100", "--fakeio-url", "http://127.0.0.1:8101")
    seed(tmp_path, "--portal-url", "http://127.0.0.1:8100", "--fakeio-url", "http://127.0.0.1:8101")

    configuration = RemoteContentConfiguration.objects.get()
    config = parse_config(json.loads((tmp_path / "var" / "fakeio.json").read_text()))
    (endpoint,) = config.accounts[0].rc_endpoints
    assert endpoint.configuration_id == configuration.configuration_id
    assert endpoint.base_url == (
        f"http://127.0.0.1:8100/io/remote-content/{configuration.configuration_id}"
    )
    assert endpoint.header_key_name == configuration.header_name
    assert key_matches(configuration, endpoint.key)
    assert IOService.objects.get(name="Tributi").api_base_url == "http://127.0.0.1:8101/api/v1"


def test_seed_regenerates_a_lost_remote_content_key(db, tmp_path):
    seed(tmp_path)
    credentials = tmp_path / "credentials.json"
    data = json.loads(credentials.read_text())
    old_key = data.pop("_remote_content_key")
    credentials.write_text(json.dumps(data))

    seed(tmp_path)

    configuration = RemoteContentConfiguration.objects.get()
    new_key = json.loads(credentials.read_text())["_remote_content_key"]
    assert new_key != old_key and key_matches(configuration, new_key)
    assert not key_matches(configuration, old_key)


def test_seed_gives_templates_and_a_finished_history(db, tmp_path):
    output = seed(tmp_path)

    names = set(MessageTemplate.objects.values_list("name", flat=True))
    assert names == {
        "TARI 2026 – avviso di pagamento",
        "Carta d'identità in scadenza",
        "Accertamento IMU (Premium, con PDF)",
    }
    assert MessageTemplate.objects.get(name__startswith="TARI").has_payment
    assert "cta_1" in MessageTemplate.objects.get(name__startswith="Carta").markdown
    assert MessageTemplate.objects.get(name__startswith="Accertamento").feature_level == (
        FeatureLevel.ADVANCED
    )
    assert Dispatch.objects.count() == 3
    assert set(Dispatch.objects.values_list("state", flat=True)) == {Dispatch.State.COMPLETED}
    states = set(Delivery.objects.values_list("state", flat=True))
    assert states == {Delivery.State.PROCESSED, Delivery.State.SKIPPED}
    premium = Dispatch.objects.get(feature_level=FeatureLevel.ADVANCED)
    reads = set(premium.deliveries.values_list("read_status", flat=True))
    assert {"READ", "UNREAD", "UNAVAILABLE"} <= reads
    counts = dispatch_access_counts(dispatch=premium)
    read = premium.deliveries.filter(read_status="READ").count()
    assert read and counts == {"opened": read, "downloaded": read}
    assert "/__fakeio__/" in output and "docs/examples/" in output
    # Everyone who must enrol a second factor, the installation admin too.
    assert "Amministratori, supervisori e l'amministratore dell'installazione" in output


def test_the_seeded_deliveries_tell_a_coherent_story(db, tmp_path):
    """A delivered message of the demo has its IO calls (one attempt, as its page counts
    them), and its history lists the delivery before the citizen opened it and then the read."""
    from ioportal.sending.models import ApiCall
    from ioportal.sending.pages import attempts_made, call_rows_of, delivery_history

    seed(tmp_path)
    premium = Dispatch.objects.get(feature_level=FeatureLevel.ADVANCED)
    delivered = premium.deliveries.filter(state=Delivery.State.PROCESSED, read_status="READ")
    for delivery in delivered:
        calls = list(ApiCall.objects.filter(delivery=delivery).order_by("created_at", "id"))
        assert [c.operation for c in calls] == ["get_profile", "submit_message", "get_message"]
        assert attempts_made(call_rows_of(calls)) == 1
        accesses = list(delivery.remote_content_accesses.order_by("created_at", "id"))
        assert len(accesses) == 2
        texts = [text for _when, text in delivery_history(delivery, calls, [], accesses)]
        delivered_at = [t.startswith("Consegnato") for t in texts].index(True)
        assert texts.index("Accettato da IO") < delivered_at < texts.index("Apertura del messaggio")
        assert texts[-1].startswith("Letto dal cittadino")
    not_on_io = Delivery.objects.filter(skip_reason="not_on_io").first()
    assert ApiCall.objects.get(delivery=not_on_io).status_code == 404


def test_the_history_titles_name_what_their_templates_send(db, tmp_path):
    seed(tmp_path)
    for dispatch in Dispatch.objects.select_related("template"):
        # The year a title names is the template's (no "TARI 2025" sent with "TARI 2026").
        for year in re.findall(r"\b20\d\d\b", dispatch.title):
            assert year in dispatch.subject and year in dispatch.template.name, dispatch.title
    cards = Dispatch.objects.get(title__startswith="Carta d'identità")
    expiry = {d.variables["scadenza_documento"] for d in cards.deliveries.all()}
    (day,) = expiry
    month = date_format(datetime.strptime(day, "%d/%m/%Y"), "F")
    assert cards.title.endswith(month.lower()), (cards.title, day)


def test_a_history_seeded_with_an_earlier_title_is_renamed_not_doubled(db, tmp_path):
    seed(tmp_path)
    for title, first_title in FIRST_TITLES.items():
        Dispatch.objects.filter(title=title).update(title=first_title)
    seed(tmp_path)
    titles = sorted(Dispatch.objects.values_list("title", flat=True))
    assert titles == sorted(title for title, *_rest in HISTORY)


@pytest.mark.parametrize(
    ("template_name", "file_name", "valid", "rejected"),
    [
        ("TARI 2026 – avviso di pagamento", "tari-2026.csv", 11, 4),
        ("Carta d'identità in scadenza", "carta-identita.xlsx", 10, 3),
        ("Accertamento IMU (Premium, con PDF)", "accertamento-imu.csv", 10, 2),
    ],
)
def test_sample_lists_fit_their_templates(db, tmp_path, template_name, file_name, valid, rejected):
    seed(tmp_path)
    template = MessageTemplate.objects.get(name=template_name)
    data = (EXAMPLES / file_name).read_bytes()
    recipient_list = recipient_list_upload(
        organization=template.organization,
        actor=User.objects.get(username="operatore"),
        template=template,
        service=template.default_service,
        file_name=file_name,
        table=recipient_list_read(file_name=file_name, data=data),
    )
    targets = ["fiscal_code", *(p["name"] for p in template.placeholders), *SPECIAL_FIELDS]
    mapping = guess_mapping(
        recipient_list.headers,
        targets,
        placeholders=template.placeholders,
        has_payment=template.has_payment,
        has_due_date=template.has_due_date,
    )
    spec = message_spec(template=template, service=template.default_service)
    assert mapping_errors(headers=recipient_list.headers, mapping=mapping, spec=spec) == {}

    checked = recipient_list_validate(recipient_list=recipient_list, mapping=mapping)

    assert (checked.valid_count, checked.rejected_count) == (valid, rejected)
    # The sample notice numbers pass pagoPA's check digits (recipients/notices.py), and the
    # simulator's rule (even last digit: paid) has both outcomes among the valid rows.
    warnings = " ".join([*checked.check_warnings, *checked.file_warnings_text])
    assert "due cifre finali" not in warnings, warnings
    notices = [row["notice_number"] for row in checked.get_valid() if row.get("notice_number")]
    assert all(has_valid_check_digits(n) for n in notices)
    if notices:
        assert {int(n[-1]) % 2 for n in notices} == {0, 1}
    codes = {row["fiscal_code"] for row in checked.get_valid()}
    # Every kind of simulated citizen is among the valid rows (docs/fakeio.md).
    assert {code[:3] for code in codes} >= {"XXX", "YYY", "ZZZ", "RSS"}


def test_seed_prints_where_the_simulator_configuration_is(db, tmp_path, settings):
    """The path printed is the file's, from the repository root ("var/fakeio.json"), not
    its bare name."""
    settings.BASE_DIR = tmp_path
    out = seed(tmp_path)
    assert "(configurazione: var/fakeio.json)" in out
    assert (tmp_path / "var" / "fakeio.json").exists()
