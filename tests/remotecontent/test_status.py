"""Premium status on the sending pages: read / payment status, opened / downloaded, read and
paid rates, and the CSV export of a dispatch's deliveries (tests/reports for the rest)."""

from typing import Any

import pytest
from django.urls import reverse

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery
from ioportal.remotecontent.models import RemoteContentAccess
from tests import builders
from tests.remotecontent.conftest import CITIZEN, OTHER_CITIZEN

Operation = RemoteContentAccess.Operation


@pytest.fixture
def deliveries(make_delivery: Any, add_attachment: Any, rc: Any) -> list[Delivery]:
    first = make_delivery(
        CITIZEN,
        state=Delivery.State.SUBMITTED,
        io_message_id="01JABCDEFGHJKMNPQRSTVWXY01",
        read_status="READ",
        payment_status="PAID",
        payment_amount=1250,
        notice_number="012345678901234567",
        row_number=1,
    )
    second = make_delivery(
        OTHER_CITIZEN,
        state=Delivery.State.SUBMITTED,
        io_message_id="01JABCDEFGHJKMNPQRSTVWXY02",
        read_status="UNREAD",
        payment_status="NOT_PAID",
        payment_amount=3000,
        notice_number="012345678901234568",
        row_number=2,
    )
    attachment = add_attachment(dispatch=first.dispatch)
    for operation, att in ((Operation.DETAILS, None), (Operation.ATTACHMENT, attachment)):
        RemoteContentAccess.objects.create(
            configuration=rc.configuration,
            delivery=first,
            attachment=att,
            operation=operation,
            outcome=RemoteContentAccess.Outcome.OK,
            http_status=200,
        )
    return [first, second]


def test_detail_page_shows_premium_status(client, login, supervisor_user, deliveries):
    login(supervisor_user)
    url = reverse("sending:dispatch_detail", args=[deliveries[0].dispatch.public_id])
    page = client.get(url).content.decode()
    assert "letto" in page and "non letto" in page
    assert "pagato" in page and "non pagato" in page
    assert "aperto, scaricato" in page
    assert "(50%)" in page  # read rate and paid rate: 1 of 2
    assert "consegne.csv" in page and "consegne.xlsx" in page


def test_export_csv(client, login, supervisor_user, deliveries):
    first = deliveries[0]
    Delivery.objects.filter(pk=first.pk).update(io_message_id="=HYPERLINK(1)")
    login(supervisor_user)
    response = client.get(
        reverse("reports:dispatch_deliveries_csv", args=[first.dispatch.public_id])
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content).decode()
    assert CITIZEN not in body and first.fiscal_code_masked in body
    assert "'=HYPERLINK(1)" in body
    assert '"letto";"pagato";"12,50";"012345678901234567";"sì";"sì"' in body
    assert '"non letto";"non pagato";"30,00";"012345678901234568";"no";"no"' in body
    assert AuditEvent.objects.filter(action="export.dispatch_deliveries").count() == 1


def test_export_access(client, login, organization, other_organization, deliveries):
    url = reverse("reports:dispatch_deliveries_csv", args=[deliveries[0].dispatch.public_id])
    # An operator who did not create the dispatch does not see it: 404, as its page.
    login(builders.user(Membership.Role.OPERATOR, organization))
    assert client.get(url).status_code == 404
    login(builders.user(Membership.Role.SUPERVISOR, other_organization))
    assert client.get(url).status_code == 404
    login(builders.user(Membership.Role.ADMIN, organization))
    assert client.get(url).status_code == 200
