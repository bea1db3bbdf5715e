"""`Notification.text` (text written in the language of whoever caused the note) →
`text_parts` (sentences translated when shown, core.io_texts.Part). A text stored before
becomes {"text": text}: translated when it is one of the catalog's sentences, shown as
written otherwise."""

from django.db import migrations, models

BATCH = 1000


def texts_to_parts(apps, schema_editor):
    Notification = apps.get_model("messaging", "Notification")
    batch = []
    for row in Notification.objects.only("pk", "text").order_by("pk").iterator(chunk_size=BATCH):
        row.text_parts = [{"text": row.text}] if row.text else []
        batch.append(row)
        if len(batch) >= BATCH:
            Notification.objects.bulk_update(batch, ["text_parts"])
            batch = []
    if batch:
        Notification.objects.bulk_update(batch, ["text_parts"])


def parts_to_texts(apps, schema_editor):
    Notification = apps.get_model("messaging", "Notification")
    batch = []
    for row in Notification.objects.only("pk", "text_parts").order_by("pk").iterator(
        chunk_size=BATCH
    ):
        texts = []
        for part in row.text_parts:
            text = part.get("text") or part.get("raw") or ""
            try:
                text = text % (part.get("params") or {}) if part.get("params") else text
            except (KeyError, TypeError, ValueError):
                pass
            texts.append(text)
        row.text = " ".join(t for t in texts if t)[:500]
        batch.append(row)
        if len(batch) >= BATCH:
            Notification.objects.bulk_update(batch, ["text"])
            batch = []
    if batch:
        Notification.objects.bulk_update(batch, ["text"])


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0015_dispatch_test_list"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="text_parts",
            field=models.JSONField(default=list),
        ),
        # A default, so that the reverse migration can add the column back to filled tables.
        migrations.AlterField(
            model_name="notification",
            name="text",
            field=models.CharField(default="", max_length=500),
        ),
        migrations.RunPython(texts_to_parts, parts_to_texts),
        migrations.RemoveField(model_name="notification", name="text"),
    ]
