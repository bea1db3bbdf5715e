"""Delivery.variables encrypted at rest: existing rows are encrypted in batches."""

import json

from django.db import migrations, models

import ioportal.core.fields

BATCH = 2000


def encrypt_existing(apps, schema_editor):
    from ioportal.core import crypto

    Delivery = apps.get_model("messaging", "Delivery")
    rows = Delivery.objects.exclude(variables={}).order_by("pk").only("pk", "variables")
    batch = []
    for delivery in rows.iterator(chunk_size=BATCH):
        if not delivery.variables:
            continue
        text = json.dumps(delivery.variables, separators=(",", ":"), ensure_ascii=False)
        delivery.variables_sealed = crypto.encrypt(text)
        batch.append(delivery)
        if len(batch) >= BATCH:
            Delivery.objects.bulk_update(batch, ["variables_sealed"])
            batch = []
    Delivery.objects.bulk_update(batch, ["variables_sealed"])


def decrypt_existing(apps, schema_editor):
    from ioportal.core import crypto

    Delivery = apps.get_model("messaging", "Delivery")
    rows = Delivery.objects.exclude(variables_sealed="").order_by("pk")
    batch = []
    for delivery in rows.only("pk", "variables_sealed").iterator(chunk_size=BATCH):
        delivery.variables = json.loads(crypto.decrypt(delivery.variables_sealed))
        batch.append(delivery)
        if len(batch) >= BATCH:
            Delivery.objects.bulk_update(batch, ["variables"])
            batch = []
    Delivery.objects.bulk_update(batch, ["variables"])


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_dispatch_preparation"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="variables_sealed",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
        migrations.RemoveField(model_name="delivery", name="variables"),
        migrations.RenameField(
            model_name="delivery", old_name="variables_sealed", new_name="variables"
        ),
        migrations.AlterField(
            model_name="delivery",
            name="variables",
            field=ioportal.core.fields.EncryptedJSONField(blank=True, default=dict),
        ),
    ]
