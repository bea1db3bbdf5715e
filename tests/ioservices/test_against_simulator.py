"""The portal's services, their simulator config and the check, over real HTTP."""

import json

import pytest

from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import make_server
from ioportal.ioservices import services
from ioportal.ioservices.fakeio_config import write_fakeio_config
from ioportal.ioservices.models import IOService, ServiceCheck
from ioportal.sending.gateway import gateway_for
from tests import builders
from tests.ioservices.conftest import NEW_KEY, SECONDARY_KEY

pytestmark = pytest.mark.integration


def gateway_call(service, operation):
    """One call through the account's IO gateway (token, ApiCall row, key fallback)."""
    return gateway_for(service.organization).call(service, operation)


@pytest.fixture
def simulated(tmp_path, organization):
    """Two services (test mode, production) served by a simulator built from their config."""
    test_mode = builders.service(organization, test_mode=True)
    production = builders.service(organization, test_mode=False, premium_enabled=True)
    path = write_fakeio_config(tmp_path / "fakeio.json", IOService.objects.all())
    server = make_server(parse_config(json.loads(path.read_text()))).start()
    base = f"{server.url}/api/v1"
    IOService.objects.update(api_base_url=base)
    yield IOService.objects.get(pk=test_mode.pk), IOService.objects.get(pk=production.pk)
    server.stop()


def run_check(service):
    check = ServiceCheck.objects.create(service=service)
    return services.ioservice_check_run(check_id=check.pk)


def test_check_detects_each_mode(simulated):
    test_mode, production = simulated
    first = run_check(test_mode)
    assert first.status == ServiceCheck.Status.OK, first.message_text
    assert first.key_works and first.other_key_works
    assert first.test_mode_detected is True
    second = run_check(production)
    assert second.status == ServiceCheck.Status.OK, second.message_text
    assert second.test_mode_detected is False


def test_fallback_against_the_simulator(simulated):
    test_mode, _production = simulated
    # The portal holds a primary key IO no longer knows (regenerated in the Back Office).
    services.ioservice_update(service=test_mode, actor="test", primary_key=NEW_KEY)
    test_mode.refresh_from_db()
    profile = gateway_call(test_mode, lambda io: io.get_profile("AAAAAA00A00A000A"))
    assert profile.sender_allowed
    test_mode.refresh_from_db()
    assert test_mode.active_slot == "secondary"
    assert test_mode.key_value("secondary") == SECONDARY_KEY


def test_feed_access_reaches_the_simulator(tmp_path, organization):
    with_feed = builders.service(organization, feed_access=True)
    path = write_fakeio_config(tmp_path / "fakeio.json", IOService.objects.all())
    config = json.loads(path.read_text())
    (entry,) = config["accounts"][0]["services"]
    assert entry["service_id"] == with_feed.service_id and entry["feed_access"] is True
    assert parse_config(config).accounts[0].services[0].feed_access
