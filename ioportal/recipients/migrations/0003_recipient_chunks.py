"""Recipient lists stored in sealed chunks instead of three whole-list blobs.

Each file row becomes `[line, cells, structure problem ("" when none), positions of its XLSX
Number cells]` (`RecipientList.set_rows`); the workbook's date system, one per list, moves to
its own column.
"""

from itertools import islice

import django.db.models.deletion
from django.db import migrations, models

CHUNK_ROWS = 1000


def _store(Chunk, recipient_list, kind, items):
    from ioportal.recipients.sealing import seal

    iterator = iter(items)
    index = 0
    while batch := list(islice(iterator, CHUNK_ROWS)):
        Chunk.objects.create(
            recipient_list=recipient_list, kind=kind, index=index, size=len(batch), sealed=seal(batch)
        )
        index += 1


def _file_rows(data):
    """The items of the old {"rows", "lines", "problems", "number_cells"} blob."""
    problems = data.get("problems") or {}
    number_cells = data.get("number_cells") or []
    for index, (line, row) in enumerate(zip(data.get("lines", []), data.get("rows", []))):
        cells = number_cells[index] if index < len(number_cells) else []
        yield [line, row, problems.get(str(line), ""), cells]


def to_chunks(apps, schema_editor):
    from ioportal.recipients.sealing import unseal

    RecipientList = apps.get_model("recipients", "RecipientList")
    Chunk = apps.get_model("recipients", "RecipientChunk")
    for recipient_list in RecipientList.objects.iterator():
        if recipient_list.rows_sealed:
            data = unseal(recipient_list.rows_sealed) or {}
            _store(Chunk, recipient_list, "rows", _file_rows(data))
            if data.get("date_system") is not None:
                recipient_list.date_system = data["date_system"]
                recipient_list.save(update_fields=["date_system"])
        if recipient_list.valid_sealed:
            _store(Chunk, recipient_list, "valid", unseal(recipient_list.valid_sealed))
        if recipient_list.rejected_sealed:
            _store(Chunk, recipient_list, "rejected", unseal(recipient_list.rejected_sealed))


def from_chunks(apps, schema_editor):
    from ioportal.recipients.sealing import seal, unseal

    RecipientList = apps.get_model("recipients", "RecipientList")
    Chunk = apps.get_model("recipients", "RecipientChunk")
    for recipient_list in RecipientList.objects.iterator():
        items = {"rows": [], "valid": [], "rejected": []}
        for chunk in Chunk.objects.filter(recipient_list=recipient_list).order_by("kind", "index"):
            items[chunk.kind] += unseal(chunk.sealed)
        if items["rows"]:
            data = {
                "rows": [item[1] for item in items["rows"]],
                "lines": [item[0] for item in items["rows"]],
                "problems": {
                    str(item[0]): item[2] for item in items["rows"] if len(item) > 2 and item[2]
                },
            }
            number_cells = [list(item[3]) if len(item) > 3 else [] for item in items["rows"]]
            if any(number_cells):
                data["number_cells"] = number_cells
            if recipient_list.date_system is not None:
                data["date_system"] = recipient_list.date_system
            recipient_list.rows_sealed = seal(data)
        recipient_list.valid_sealed = seal(items["valid"]) if items["valid"] else ""
        recipient_list.rejected_sealed = seal(items["rejected"]) if items["rejected"] else ""
        recipient_list.save()


class Migration(migrations.Migration):
    dependencies = [
        ("recipients", "0002_recipientlist_number_format_check_warnings"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecipientChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("rows", "Righe del file"), ("valid", "Righe valide"), ("rejected", "Righe scartate")],
                        max_length=8,
                    ),
                ),
                ("index", models.PositiveIntegerField()),
                ("size", models.PositiveIntegerField()),
                ("sealed", models.TextField(editable=False)),
                (
                    "recipient_list",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chunks",
                        to="recipients.recipientlist",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("recipient_list", "kind", "index"), name="recipientchunk_position_unique"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="recipientlist",
            name="date_system",
            field=models.PositiveSmallIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(to_chunks, from_chunks),
        migrations.RemoveField(model_name="recipientlist", name="rows_sealed"),
        migrations.RemoveField(model_name="recipientlist", name="valid_sealed"),
        migrations.RemoveField(model_name="recipientlist", name="rejected_sealed"),
    ]
