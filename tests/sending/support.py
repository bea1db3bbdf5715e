"""Data for the sending tests: fiscal codes in bulk, the simulator configuration and the
service fields matching it (built with tests/builders.py), and call recorders."""

import itertools
import time
from typing import Any

from ioportal.accounts.models import Organization
from ioportal.fakeio.citizens import check_character
from ioportal.messaging.models import Delivery, Dispatch

PRIMARY_KEY = "a1" + "0" * 30
SECONDARY_KEY = "b2" + "0" * 30
SERVICE_ID = "01JSEND0SERV1CE00000000001"
LETTERS = "BCDFGHLMPRSTV"


def fiscal_code(first15: str) -> str:
    return first15 + check_character(first15)


def fiscal_codes(count: int, *, not_on_io_every: int = 0, blocked_every: int = 0) -> list[str]:
    """`count` distinct valid codes; every n-th one not on IO (XXX) or blocking (YYY)."""
    codes = []
    names = ["".join(p) for p in itertools.product(LETTERS, repeat=3)]
    if count > len(names) * 20:
        raise ValueError(f"at most {len(names) * 20} distinct codes")
    for i in range(count):
        # 2197 names per birth year (1980, 1981, ...): the first 2197 codes never change.
        name, year = names[i % len(names)], 80 + i // len(names)
        surname = "RSS"
        if not_on_io_every and i % not_on_io_every == 1:
            surname = "XXX"
        elif blocked_every and i % blocked_every == 2:
            surname = "YYY"
        codes.append(fiscal_code(f"{surname}{name}{year}A01H501"))
    return codes


def simulator_config(
    organization: Organization, *, rate_limit: int, **extra: Any
) -> dict[str, Any]:
    return {
        "status_delay": 0.5,
        "slow_status_delay": 5,
        "read_delay": 1,
        "idle_timeout": 30,
        "seed": 11,
        **extra,
        "accounts": [
            {
                "name": f"ente-{organization.fiscal_code}",
                "rate_limit": rate_limit,
                "organization_fiscal_code": organization.fiscal_code,
                "services": [
                    {
                        "service_id": SERVICE_ID,
                        "name": "Tributi",
                        "primary_key": PRIMARY_KEY,
                        "secondary_key": SECONDARY_KEY,
                        "premium": True,
                        "max_allowed_payment_amount": 100_000,
                    }
                ],
            }
        ],
    }


def simulated_service(api_url: str, **fields: Any) -> dict[str, Any]:
    """The fields for `builders.service` of the Premium production service that
    `simulator_config` knows (same id and keys), at `api_url` ("" = the settings' IO URL)."""
    return {
        "service_id": SERVICE_ID,
        "name": "Tributi",
        "test_mode": False,
        "api_base_url": api_url,
        "premium_enabled": True,
        "payments_enabled": True,
        "max_allowed_payment_amount": 100_000,
        "authorized_recipients": [],
        "primary_key": PRIMARY_KEY,
        "secondary_key": SECONDARY_KEY,
        **fields,
    }


def state_counts(dispatch: Dispatch) -> dict[str, int]:
    from django.db.models import Count

    return dict(
        Delivery.objects.filter(dispatch=dispatch)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )


def record_calls(sim: Any) -> list[float]:
    """Wrap the simulator's gateway so it notes the moment (monotonic) of every call it sees,
    429s included; returns the list it fills."""
    moments: list[float] = []
    take_call = sim.take_call

    def recording_take_call(account: str) -> Any:
        moments.append(time.monotonic())
        return take_call(account)

    sim.take_call = recording_take_call
    return moments


def busiest_window(moments: list[float], length: float = 5.0) -> int:
    """The largest number of moments (sorted) in any half-open window of `length` seconds, as
    the simulator's sliding window counts them."""
    worst = 0
    start = 0
    for end, moment in enumerate(moments):
        while moments[start] <= moment - length:
            start += 1
        worst = max(worst, end - start + 1)
    return worst
