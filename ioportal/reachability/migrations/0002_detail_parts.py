"""Reasons stored as sentences translated when shown (core.io_texts.Part) instead of text
written in one language: `ReachabilityRow.detail` → `detail_parts`,
`ReachabilityCheck.failure_reason` → `failure_parts`. A text stored before becomes
{"text": text}: translated when it is one of the catalog's sentences, shown as written
otherwise."""

from django.db import migrations, models

BATCH = 1000


def texts_to_parts(apps, schema_editor):
    for model_name, old, new in (
        ("ReachabilityRow", "detail", "detail_parts"),
        ("ReachabilityCheck", "failure_reason", "failure_parts"),
    ):
        model = apps.get_model("reachability", model_name)
        # Only rows with a text (errors, failed checks): a few of all.
        rows = model.objects.exclude(**{old: ""}).only("pk", old).order_by("pk")
        batch = []
        for row in rows.iterator(chunk_size=BATCH):
            setattr(row, new, [{"text": getattr(row, old)}])
            batch.append(row)
            if len(batch) >= BATCH:
                model.objects.bulk_update(batch, [new])
                batch = []
        if batch:
            model.objects.bulk_update(batch, [new])


def parts_to_texts(apps, schema_editor):
    for model_name, old, new, length in (
        ("ReachabilityRow", "detail", "detail_parts", 300),
        ("ReachabilityCheck", "failure_reason", "failure_parts", 300),
    ):
        model = apps.get_model("reachability", model_name)
        batch = []
        for row in model.objects.exclude(**{new: []}).only("pk", new).iterator(chunk_size=BATCH):
            texts = [p.get("text") or p.get("raw") or p.get("io", "") for p in getattr(row, new)]
            setattr(row, old, " ".join(t for t in texts if t)[:length])
            batch.append(row)
            if len(batch) >= BATCH:
                model.objects.bulk_update(batch, [old])
                batch = []
        if batch:
            model.objects.bulk_update(batch, [old])


class Migration(migrations.Migration):
    dependencies = [
        ("reachability", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="reachabilitycheck",
            name="failure_parts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="reachabilityrow",
            name="detail_parts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(texts_to_parts, parts_to_texts),
        migrations.RemoveField(model_name="reachabilitycheck", name="failure_reason"),
        migrations.RemoveField(model_name="reachabilityrow", name="detail"),
    ]
