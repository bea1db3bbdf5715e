"""django-q2 tasks of reachability checks: thin wrappers that take ids."""

from django.db import close_old_connections

from ioportal.reachability import runs, services


def run_check(check_id: int) -> dict[str, int]:
    """Work on one check for up to the pipeline's task budget. Idempotent (`runs.run_check`)."""
    stats = runs.run_check(check_id=check_id)
    close_old_connections()
    return stats


def reachability_sweep() -> int:
    """The schedule (every minute): a run for every unfinished check no live run holds."""
    return runs.sweep()


def reachability_purge() -> int:
    """The daily schedule: delete the rows of checks past their retention period."""
    return services.reachability_checks_purge_expired()
