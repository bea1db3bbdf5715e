"""How long a dispatch's personal data are kept: the organization's `retention_days` after
the dispatch finished (accounts.models.Organization). The purge itself is the retention
app's scheduled task; the pages that show personal data (hand-off lists, proofs) say until
when they are available."""

from datetime import datetime, timedelta

from ioportal.messaging.models import Delivery, Dispatch

# The keyed hash a purged delivery gets, `purged:<id>` (unique per delivery): how the purge
# (ioportal.retention.services) recognises what it has done, and others that it has begun.
PURGED_HMAC_PREFIX = "purged:"


def personal_data_until(dispatch: Dispatch) -> datetime | None:
    """When the dispatch's personal data will be purged (aware datetime), or None while the
    dispatch has not finished (the date is not set yet) or once they have been purged."""
    ended = dispatch.last_finished_at
    if dispatch.personal_data_purged_at is not None or ended is None:
        return None
    return ended + timedelta(days=dispatch.organization.retention_days)


def personal_data_purged(dispatch: Dispatch) -> bool:
    """True once the retention purge removed the dispatch's personal data."""
    return dispatch.personal_data_purged_at is not None


def personal_data_expired(dispatch: Dispatch, now: datetime) -> bool:
    """True once the dispatch's personal data are purged or due for the purge (`now` past
    `personal_data_until`): the dispatch may then no longer be reopened to send again."""
    if personal_data_purged(dispatch):
        return True
    until = personal_data_until(dispatch)
    return until is not None and until <= now


def personal_data_purge_begun(dispatch: Dispatch) -> bool:
    """True once the retention purge has blanked some of the dispatch's deliveries, even if
    it has not finished (it works in chunks and sets `personal_data_purged_at` last)."""
    return Delivery.objects.filter(
        dispatch_id=dispatch.pk, fiscal_code_hmac__startswith=PURGED_HMAC_PREFIX
    ).exists()
