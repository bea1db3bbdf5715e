"""IO services with known keys (tests/builders.py), and helpers to look for leaked keys."""

import pytest

from ioportal.accounts.models import Organization
from ioportal.core.models import AuditEvent
from ioportal.ioservices.models import IOService
from tests import builders
from tests.builders import PRIMARY_KEY, SECONDARY_KEY

__all__ = ["PRIMARY_KEY", "SECONDARY_KEY"]
NEW_KEY = "77aa66bb55cc44dd33ee22ff11009988"
IO_BASE = "https://api.io.pagopa.it/api/v1"
SERVICE_ID = "01JD3M0SERV1CE000000000AAA"


def key_fragments(*keys: str) -> list[str]:
    """What must never appear anywhere: each key, whole, upper-cased, or its first 12 chars."""
    fragments: list[str] = []
    for key in keys:
        fragments += [key, key.upper(), key[:12]]
    return fragments


def assert_no_key_in(text: str, *keys: str, where: str = "") -> None:
    for fragment in key_fragments(*keys):
        assert fragment not in text, f"a key leaked in {where}"


def assert_no_key_in_audit(*keys: str) -> None:
    for event in AuditEvent.objects.all():
        blob = " ".join(
            str(value)
            for value in (
                event.action,
                event.actor_label,
                event.target_type,
                event.target_id,
                event.target_label,
                event.changes,
            )
        )
        assert_no_key_in(blob, *keys, where=f"audit event {event.action}")


@pytest.fixture
def service(organization: Organization) -> IOService:
    """The first service of the test: it holds PRIMARY_KEY and SECONDARY_KEY."""
    return builders.service(organization, service_id=SERVICE_ID)
