from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "ioportal.dashboard"
    verbose_name = "Dashboard"
    # django-q2 schedules: (task, name shown in the admin, every N minutes).
    schedules = (
        ("ioportal.dashboard.tasks.refresh_daily_stats", "Scrivania: statistiche giornaliere", 60),
    )
