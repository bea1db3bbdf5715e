"""Usernames unique regardless of case, in the database too where the data allow it.

The unique index on LOWER(username) is created only when no two usernames already differ
only in case (a database older than the rule may hold such a pair): the migration never fails
on existing data, and never renames anyone. Such a database keeps the rule in the portal's
own checks (User.validate_constraints, run by every form and service that chooses a
username) and gets the index by `migrate accounts 0004` then `migrate` once the pair is
renamed.
"""

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower

import ioportal.accounts.models

CONSTRAINT = models.UniqueConstraint(
    django.db.models.functions.text.Lower("username"),
    name="user_username_unique_any_case",
    violation_error_code="username_taken_any_case",
    violation_error_message=(
        "Esiste già un utente con questo nome utente, scritto con maiuscole e minuscole diverse."
    ),
)


def create_index_unless_clash(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    clashes = (
        User.objects.using(schema_editor.connection.alias)
        .values(lowered=Lower("username"))
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    if clashes.exists():
        return
    schema_editor.add_constraint(User, CONSTRAINT)


def drop_index(apps, schema_editor):
    quoted = schema_editor.quote_name(CONSTRAINT.name)
    schema_editor.execute(f"DROP INDEX IF EXISTS {quoted}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_organization_retention_days"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", ioportal.accounts.models.PortalUserManager()),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddConstraint(model_name="user", constraint=CONSTRAINT)],
            database_operations=[migrations.RunPython(create_index_unless_clash, drop_index)],
        ),
    ]
