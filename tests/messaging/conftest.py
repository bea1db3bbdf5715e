"""The compose flow's fixtures (data from tests/builders.py) and page helpers."""

import pytest

from ioportal.accounts.models import Organization
from ioportal.ioservices.models import IOService
from tests import builders

# The recipients file of builders.recipient_list: two valid rows, two rejected.
CSV = builders.RECIPIENTS_CSV


def phone_body(response) -> str:
    """The message body in the page's phone preview."""
    page = response.content.decode()
    start = page.index('<div class="io-phone-body">') + len('<div class="io-phone-body">')
    return page[start : page.index("</div>", start)]


@pytest.fixture
def service(organization: Organization) -> IOService:
    """A service in production mode: test mode would skip the lists' citizens, none of them
    authorised, and a list nobody would receive cannot be sent."""
    return builders.service(organization, test_mode=False)


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pipeline's wake-up calls, instead of the real pipeline."""
    calls: list[int] = []
    monkeypatch.setattr(
        "ioportal.messaging.services.pipeline.wake_pipeline",
        lambda *, organization_id: calls.append(organization_id),
    )
    return calls
