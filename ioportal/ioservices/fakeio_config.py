"""The IO simulator's configuration (docs/fakeio.md) describing services registered here.

The demo seed writes it, so the simulator accepts exactly the keys the portal stores. The
file holds keys in clear: it is for the simulator only, written readable by its owner only.
"""

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.views.decorators.debug import sensitive_variables

from ioportal.fakeio.config import parse_config
from ioportal.ioservices.models import IOService


@sensitive_variables("config", "rc_endpoints")
def fakeio_config_for(
    services: Iterable[IOService], rc_endpoints: Mapping[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """One simulator account per organization, with its services and their keys.

    `rc_endpoints` maps a remote-content configuration id to the server the simulator calls
    when a citizen opens a Premium message: `{"base_url", "header_key_name", "key"}`
    (docs/fakeio.md); configurations without an entry are written as bare ids.
    """
    rc_endpoints = rc_endpoints or {}
    accounts: dict[int, dict[str, Any]] = {}
    for service in services:
        organization = service.organization
        account = accounts.setdefault(
            organization.pk,
            {
                "name": f"ente-{organization.fiscal_code}",
                "rate_limit": organization.rate_limit,
                "organization_fiscal_code": organization.fiscal_code,
                "rc_configurations": [],
                "services": [],
            },
        )
        configuration_id = service.remote_content_configuration_id
        known = [
            item if isinstance(item, str) else item["configuration_id"]
            for item in account["rc_configurations"]
        ]
        if configuration_id and configuration_id not in known:
            endpoint = rc_endpoints.get(configuration_id)
            account["rc_configurations"].append(
                {"configuration_id": configuration_id, **endpoint} if endpoint else configuration_id
            )
        account["services"].append(
            {
                "service_id": service.service_id,
                "name": service.name,
                "primary_key": _key_or_placeholder(service, IOService.KeySlot.PRIMARY),
                "secondary_key": _key_or_placeholder(service, IOService.KeySlot.SECONDARY),
                "test_mode": service.test_mode,
                "authorized_recipients": list(service.authorized_recipients),
                "premium": service.premium_enabled,
                "max_allowed_payment_amount": service.effective_max_payment_amount,
                "feed_access": service.feed_access,
            }
        )
    return {"accounts": list(accounts.values())}


def _key_or_placeholder(service: IOService, slot: str) -> str:
    # The simulator wants both keys; an unset one gets a value nobody knows.
    return service.key_value(slot) if service.has_key(slot) else secrets.token_hex(16)


@sensitive_variables("config", "rc_endpoints")
def write_fakeio_config(
    path: str | Path,
    services: Iterable[IOService],
    rc_endpoints: Mapping[str, dict[str, str]] | None = None,
) -> Path:
    """Write the simulator's JSON configuration for `services` to `path` (mode 0600).

    The content is checked with the simulator's own parser first, so a format change on its
    side fails here instead of at the simulator's start. Atomic: a temporary file is renamed.
    """
    path = Path(path)
    config = fakeio_config_for(services, rc_endpoints)
    parse_config(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(temporary, path)
    return path
