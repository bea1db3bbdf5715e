from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "ioportal.dashboard"
    verbose_name = "Dashboard"
