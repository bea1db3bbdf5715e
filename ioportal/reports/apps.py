from django.apps import AppConfig

from ioportal.reports.audit import Action


class ReportsConfig(AppConfig):
    name = "ioportal.reports"
    verbose_name = "Rapporti ed esportazioni"
    audit_actions = Action
    # django-q2 schedules: (task, name shown in the admin, every N minutes).
    schedules = (
        (
            "ioportal.reports.tasks.purge_exports",
            "Esportazioni preparate: cancellazione dei file scaduti",
            5,
        ),
    )
    audit_change_values = "ioportal.reports.audit.change_values"
