"""Builders for IO services with known keys, and helpers to look for leaked keys."""

from collections.abc import Callable
from typing import Any

import pytest

from ioportal.accounts.models import Organization
from ioportal.core.models import AuditEvent
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create

PRIMARY_KEY = "3f1c0a9b7e4412d5a6b8c9d0e1f2a3b4"
SECONDARY_KEY = "9b7e44d5a6b8c9d0e1f2a3b43f1c0a12"
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
def make_service(db: None) -> Callable[..., IOService]:
    counter = iter(range(1, 1000))

    def make(organization: Organization, **overrides: Any) -> IOService:
        number = next(counter)
        values: dict[str, Any] = {
            "service_id": f"01JD3M0SERV1CE000000000{number:03d}",
            "name": f"Tributi {number}",
            "test_mode": True,
            "authorized_recipients": ["AAAAAA00A00A000A"],
            "primary_key": PRIMARY_KEY if number == 1 else f"{number:02d}" + PRIMARY_KEY[2:],
            "secondary_key": SECONDARY_KEY if number == 1 else f"{number:02d}" + SECONDARY_KEY[2:],
        }
        values.update(overrides)
        return ioservice_create(organization=organization, actor="test", **values)

    return make


@pytest.fixture
def service(make_service: Callable[..., IOService], organization: Organization) -> IOService:
    return make_service(organization, service_id=SERVICE_ID)
