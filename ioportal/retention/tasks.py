"""django-q2 tasks of retention: thin wrappers (no personal data in arguments or results)."""

from ioportal.retention.services import retention_purge


def purge_personal_data() -> int:
    """The scheduled retention purge. Returns how many dispatches it purged."""
    return retention_purge().dispatches
