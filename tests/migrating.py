"""Migration tests: take the database to some migrations, and read and write it with the
historical models of the state it is then in (every app, not only the one migrated)."""

from typing import Any

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader


def migrate(targets: list[tuple[str, str]]) -> Apps:
    """Apply or unapply migrations to reach `targets` (the migrations that depend on what is
    unapplied go too, whatever their app), and return the models as the database now is."""
    MigrationExecutor(connection).migrate(targets)
    loader = MigrationLoader(connection)
    return loader.project_state(sorted(loader.applied_migrations)).apps


def latest(app_label: str) -> list[tuple[str, str]]:
    """The app's newest migration, as a target of `migrate`."""
    leaves = MigrationLoader(connection).graph.leaf_nodes()
    return [node for node in leaves if node[0] == app_label]


def migrate_all() -> Apps:
    """Every app to its newest migration, as the tests expect the database to be."""
    return migrate(MigrationLoader(connection).graph.leaf_nodes())


def seed_service(apps: Apps) -> tuple[Any, Any, Any]:
    """An organization, a user and an IO service, written with the historical models `apps`:
    (organization, user, service)."""
    organization = apps.get_model("accounts", "Organization").objects.create(
        name="Comune", fiscal_code="80001230582"
    )
    user = apps.get_model("accounts", "User").objects.create(username="autore")
    service = apps.get_model("ioservices", "IOService").objects.create(
        organization=organization, service_id="01JD3M0SERV1CE00000000M001", name="Tributi"
    )
    return organization, user, service
