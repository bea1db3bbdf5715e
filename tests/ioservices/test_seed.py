"""The demo seed creates one IO service on the simulator and writes the simulator's config
with the same keys."""

import io
import json

from django.core.management import call_command

from ioportal.core.management.commands import seed_demo
from ioportal.fakeio.config import parse_config
from ioportal.ioservices.models import IOService


def test_seed_creates_demo_service_and_simulator_config(db, tmp_path, monkeypatch):
    config_file = tmp_path / "var" / "fakeio.json"
    monkeypatch.setattr(seed_demo, "FAKEIO_CONFIG_FILE", config_file)
    monkeypatch.setattr(seed_demo, "CREDENTIALS_FILE", tmp_path / "credentials.json")
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent

    service = IOService.objects.get()
    assert service.name == "Servizio demo"
    assert service.test_mode and service.premium_enabled and service.payments_enabled
    assert "AAAAAA00A00A000A" in service.authorized_recipients
    assert len(service.authorized_recipients) == 3
    assert service.api_base_url == "http://127.0.0.1:8001/api/v1"
    assert service.remote_content_configuration_id

    assert config_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    config = parse_config(json.loads(config_file.read_text()))
    (simulated,) = config.services()
    assert simulated.service_id == service.service_id
    assert simulated.primary_key == service.key_value("primary")
    assert simulated.secondary_key == service.key_value("secondary")
    assert simulated.test_mode and simulated.premium
    assert simulated.max_allowed_payment_amount == service.max_allowed_payment_amount
    assert set(service.authorized_recipients) <= simulated.authorized_recipients
    assert service.remote_content_configuration_id in config.accounts[0].rc_configurations
