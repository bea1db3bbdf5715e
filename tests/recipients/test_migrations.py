"""The migration that moves a list's sealed blobs into chunks, structure data included."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ioportal.recipients.sealing import seal, unseal

BEFORE = [("recipients", "0002_recipientlist_number_format_check_warnings")]
ROWS = {
    "rows": [["RSSMRA85T10A562S", "Anna"], ["VRDGPP75C15F205S", "Bruno", "x"], ["1", "Carla"]],
    "lines": [2, 4, 5],
    "problems": {"4": "La riga ha 3 colonne invece di 2."},
    "number_cells": [[], [], [0]],
    "date_system": 1904,
}


@pytest.mark.django_db(transaction=True)
def test_rows_problems_number_cells_and_date_system_move_into_chunks_and_back():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "recipients"]
    old = executor.loader.project_state([*others, *BEFORE]).apps
    organization = old.get_model("accounts", "Organization").objects.create(
        name="Comune", fiscal_code="80001230582"
    )
    user = old.get_model("accounts", "User").objects.create(username="autore")
    service = old.get_model("ioservices", "IOService").objects.create(
        organization=organization, service_id="01JD3M0SERV1CE00000000M001", name="Tributi"
    )
    template = old.get_model("messaging", "MessageTemplate").objects.create(
        organization=organization, name="TARI", subject="Avviso TARI 2026", markdown="x" * 80
    )
    valid = [{"line": 2, "fiscal_code": "RSSMRA85T10A562S", "variables": {"nome": "Anna"}}]
    rejected = [{"line": 4, "reasons": ["La riga ha 3 colonne invece di 2."], "cells": []}]
    old.get_model("recipients", "RecipientList").objects.create(
        organization=organization,
        created_by=user,
        template=template,
        service=service,
        file_name="elenco.xlsx",
        file_format="xlsx",
        expires_at="2099-01-01T00:00:00Z",
        rows_sealed=seal(ROWS),
        valid_sealed=seal(valid),
        rejected_sealed=seal(rejected),
    )
    try:
        # Forward through the chunks migration to the app's latest state, which the current
        # models (read below) describe.
        executor = MigrationExecutor(connection)
        latest = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "recipients"]
        executor.migrate(latest)
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
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        back = executor.loader.project_state([*others, *BEFORE]).apps
        restored = back.get_model("recipients", "RecipientList").objects.get()
        assert unseal(restored.rows_sealed) == ROWS
        assert unseal(restored.valid_sealed) == valid
        assert unseal(restored.rejected_sealed) == rejected
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
