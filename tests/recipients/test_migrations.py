"""The recipients app's migrations that move data: a list's sealed blobs into chunks
(structure data included), and the files uploaded with a list taken over from remotecontent."""

import pytest
from django.db import IntegrityError, connection, transaction

from ioportal.recipients.sealing import seal, unseal
from tests.migrating import latest, migrate, migrate_all, seed_service

BEFORE = [("recipients", "0002_recipientlist_number_format_check_warnings")]
BEFORE_MOVE = [("recipients", "0005_recipientlist_test_mode_skips")]
ROWS = {
    "rows": [["RSSMRA85T10A562S", "Anna"], ["VRDGPP75C15F205S", "Bruno", "x"], ["1", "Carla"]],
    "lines": [2, 4, 5],
    "problems": {"4": "La riga ha 3 colonne invece di 2."},
    "number_cells": [[], [], [0]],
    "date_system": 1904,
}


def historical_list(apps, **fields):
    """A recipient list, with `fields`, written with the historical models `apps`."""
    organization, user, service = seed_service(apps)
    template = apps.get_model("messaging", "MessageTemplate").objects.create(
        organization=organization, name="TARI", subject="Avviso TARI 2026", markdown="x" * 80
    )
    return apps.get_model("recipients", "RecipientList").objects.create(
        organization=organization,
        created_by=user,
        template=template,
        service=service,
        file_name="elenco.xlsx",
        file_format="xlsx",
        expires_at="2099-01-01T00:00:00Z",
        **fields,
    )


@pytest.mark.django_db(transaction=True)
def test_rows_problems_number_cells_and_date_system_move_into_chunks_and_back():
    old = migrate(BEFORE)
    valid = [{"line": 2, "fiscal_code": "RSSMRA85T10A562S", "variables": {"nome": "Anna"}}]
    rejected = [{"line": 4, "reasons": ["La riga ha 3 colonne invece di 2."], "cells": []}]
    historical_list(
        old,
        rows_sealed=seal(ROWS),
        valid_sealed=seal(valid),
        rejected_sealed=seal(rejected),
    )
    try:
        # Forward through the chunks migration to the app's latest state, which the current
        # models (read below) describe.
        migrate(latest("recipients"))
        from ioportal.recipients.models import RecipientChunk, RecipientList

        recipient_list = RecipientList.objects.get()
        assert recipient_list.date_system == 1904
        assert recipient_list.get_rows_and_problems() == (
            ROWS["rows"],
            [2, 4, 5],
            {4: "La riga ha 3 colonne invece di 2."},
        )
        assert recipient_list.get_cell_sources() == ([[], [], [0]], 1904)
        assert recipient_list.get_valid() == valid and recipient_list.get_rejected() == rejected
        assert "Anna" not in str(list(RecipientChunk.objects.values_list("sealed", flat=True)))
        # And back: the reverse migration rebuilds the three blobs.
        back = migrate(BEFORE)
        restored = back.get_model("recipients", "RecipientList").objects.get()
        assert unseal(restored.rows_sealed) == ROWS
        assert unseal(restored.valid_sealed) == valid
        assert unseal(restored.rejected_sealed) == rejected
    finally:
        migrate_all()


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.mark.django_db(transaction=True)
def test_the_files_uploaded_with_a_list_move_to_recipients_with_their_rows_and_back():
    old = migrate(BEFORE_MOVE)
    assert "remotecontent_listattachment" in tables()
    recipient_list = historical_list(old)
    staged = old.get_model("remotecontent", "ListAttachment").objects
    staged.create(
        recipient_list=recipient_list,
        shared=True,
        original_name="Informativa.pdf",
        match_name="informativa.pdf",
        file="attachments/0123.pdf",
        size=1234,
        page_count=2,
        warnings=["Il PDF non dichiara la conformità PDF/A."],
    )
    staged.create(
        recipient_list=recipient_list,
        original_name="Anna.pdf",
        match_name="anna.pdf",
        problems=["Il file è vuoto."],
    )
    try:
        migrate_all()
        assert "recipients_listattachment" in tables()
        assert "remotecontent_listattachment" not in tables()
        from ioportal.recipients.attachments import list_attachment_index
        from ioportal.recipients.models import ListAttachment, RecipientList

        moved = RecipientList.objects.get()
        shared = ListAttachment.objects.get(recipient_list=moved, shared=True)
        assert (shared.original_name, shared.file.name, shared.size, shared.page_count) == (
            "Informativa.pdf",
            "attachments/0123.pdf",
            1234,
            2,
        )
        assert shared.warnings == ["Il PDF non dichiara la conformità PDF/A."]
        assert list_attachment_index(recipient_list=moved) == {"anna.pdf": ["Il file è vuoto."]}
        # New rows get the next ids, and the list's names stay unique.
        added = ListAttachment.objects.create(
            recipient_list=moved, original_name="Bruno.pdf", match_name="bruno.pdf"
        )
        assert added.pk > shared.pk
        with pytest.raises(IntegrityError), transaction.atomic():
            ListAttachment.objects.create(
                recipient_list=moved, original_name="ANNA.pdf", match_name="anna.pdf"
            )
        # And back: the table is remotecontent's again, rows and all.
        back = migrate(BEFORE_MOVE)
        assert "remotecontent_listattachment" in tables()
        assert "recipients_listattachment" not in tables()
        names = back.get_model("remotecontent", "ListAttachment").objects.order_by("pk")
        assert list(names.values_list("original_name", flat=True)) == [
            "Informativa.pdf",
            "Anna.pdf",
            "Bruno.pdf",
        ]
    finally:
        migrate_all()
