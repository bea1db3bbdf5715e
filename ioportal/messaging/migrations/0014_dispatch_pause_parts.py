"""`Dispatch.pause_reason` (text written in one language) → `pause_parts` (sentences
translated when shown, core.io_texts.Part). A text stored before becomes {"text": text}:
translated when it is one of the catalog's sentences, shown as written otherwise."""

from django.db import migrations, models


def texts_to_parts(apps, schema_editor):
    Dispatch = apps.get_model("messaging", "Dispatch")
    paused = list(Dispatch.objects.exclude(pause_reason="").only("pk", "pause_reason"))
    for dispatch in paused:
        dispatch.pause_parts = [{"text": dispatch.pause_reason}]
    Dispatch.objects.bulk_update(paused, ["pause_parts"], batch_size=1000)


def parts_to_texts(apps, schema_editor):
    Dispatch = apps.get_model("messaging", "Dispatch")
    paused = list(Dispatch.objects.exclude(pause_parts=[]).only("pk", "pause_parts"))
    for dispatch in paused:
        texts = [p.get("text") or p.get("raw") or p.get("io", "") for p in dispatch.pause_parts]
        dispatch.pause_reason = " ".join(t for t in texts if t)[:300]
    Dispatch.objects.bulk_update(paused, ["pause_reason"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0013_last_error_parts"),
    ]

    operations = [
        migrations.AddField(
            model_name="dispatch",
            name="pause_parts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(texts_to_parts, parts_to_texts),
        migrations.RemoveField(model_name="dispatch", name="pause_reason"),
    ]
