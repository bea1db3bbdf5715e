"""django-q2 tasks of the dashboard."""

from ioportal.dashboard import stats


def refresh_daily_stats() -> None:
    """Hourly: bring DailyDeliveryStats up to yesterday (see ioportal.dashboard.stats)."""
    stats.refresh_daily_stats()
