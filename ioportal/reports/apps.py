from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "ioportal.reports"
    verbose_name = "Rapporti ed esportazioni"
