"""django-q2 tasks of the recipient lists."""

from ioportal.recipients.services import recipient_lists_purge_expired


def purge_expired_lists() -> int:
    """The hourly schedule: recipient lists past their expiry (they hold personal data)."""
    return recipient_lists_purge_expired()
