"""`Delivery.last_error_detail` (text written in one language) → `last_error_parts`
(sentences translated when shown, core.io_texts.Part). A text stored before becomes
{"text": text}: translated when it is one of the catalog's sentences, shown as written
otherwise."""

from django.db import migrations, models

BATCH = 1000


def texts_to_parts(apps, schema_editor):
    Delivery = apps.get_model("messaging", "Delivery")
    # Only deliveries with a detail (failures, retries, uncertain ones).
    rows = Delivery.objects.exclude(last_error_detail="").only("pk", "last_error_detail")
    batch = []
    for row in rows.order_by("pk").iterator(chunk_size=BATCH):
        row.last_error_parts = [{"text": row.last_error_detail}]
        batch.append(row)
        if len(batch) >= BATCH:
            Delivery.objects.bulk_update(batch, ["last_error_parts"])
            batch = []
    if batch:
        Delivery.objects.bulk_update(batch, ["last_error_parts"])


def parts_to_texts(apps, schema_editor):
    Delivery = apps.get_model("messaging", "Delivery")
    rows = Delivery.objects.exclude(last_error_parts=[]).only("pk", "last_error_parts")
    batch = []
    for row in rows.order_by("pk").iterator(chunk_size=BATCH):
        texts = [p.get("text") or p.get("raw") or p.get("io", "") for p in row.last_error_parts]
        row.last_error_detail = " ".join(t for t in texts if t)
        batch.append(row)
        if len(batch) >= BATCH:
            Delivery.objects.bulk_update(batch, ["last_error_detail"])
            batch = []
    if batch:
        Delivery.objects.bulk_update(batch, ["last_error_detail"])


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0012_delivery_submitted_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="last_error_parts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(texts_to_parts, parts_to_texts),
        migrations.RemoveField(model_name="delivery", name="last_error_detail"),
    ]
