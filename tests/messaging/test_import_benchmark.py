"""The import benchmark's list and column mapping pass the portal's check: its generated rows
are all valid except the deliberately bad ones, with the payment and due date the template asks
for (a mapping that leaves a required column out rejects every row and the benchmark stops
before its launch)."""

from benchmarks import import_benchmark as bench
from ioportal.accounts.models import Organization, User
from ioportal.messaging.lists import (
    message_spec,
    recipient_list_read,
    recipient_list_upload,
    recipient_list_validate,
)
from ioportal.recipients.models import RecipientChunk, StoredItems
from ioportal.recipients.validation import mapping_errors

ROWS = 10


def test_the_benchmark_list_is_valid_but_for_its_bad_rows(
    organization: Organization, operator_user: User
) -> None:
    service, template = bench.sender(organization, operator_user)
    uploaded = recipient_list_upload(
        organization=organization,
        actor=operator_user,
        template=template,
        service=service,
        file_name="tari.csv",
        table=recipient_list_read(file_name="tari.csv", data=bench.generate(ROWS)),
    )
    assert not mapping_errors(
        headers=uploaded.headers,
        mapping=bench.COLUMN_MAPPING,
        spec=message_spec(template=template, service=service),
    )

    checked = recipient_list_validate(recipient_list=uploaded, mapping=dict(bench.COLUMN_MAPPING))

    bad = sum(bench.bad_row(n) for n in range(ROWS))
    assert bad == 1
    assert (checked.valid_count, checked.rejected_count) == (ROWS - bad, bad)
    first = StoredItems(checked, RecipientChunk.Kind.VALID, checked.valid_count)[0]
    assert first["amount"] and first["notice_number"] and first["due_date"]
