"""django-q2 tasks of reports: thin wrappers that take ids (no personal data in arguments or
results)."""

from django.db import close_old_connections

from ioportal.reports import prepared


def build_export(export_id: int) -> str:
    """Write a prepared XLSX export. Idempotent (`prepared.prepared_export_build`)."""
    state = prepared.prepared_export_build(export_id=export_id)
    close_old_connections()
    return state


def purge_exports() -> int:
    """The schedule (every 5 minutes): delete expired or purged prepared exports."""
    return prepared.prepared_exports_purge()
