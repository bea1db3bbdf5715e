from django.apps import AppConfig

from ioportal.reports.audit import Action


class ReportsConfig(AppConfig):
    name = "ioportal.reports"
    verbose_name = "Rapporti ed esportazioni"
    audit_actions = Action
    audit_change_values = "ioportal.reports.audit.change_values"
