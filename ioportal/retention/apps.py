from django.apps import AppConfig

from ioportal.retention.audit import Action


class RetentionConfig(AppConfig):
    name = "ioportal.retention"
    verbose_name = "Conservazione dei dati"
    audit_actions = Action
    # django-q2 schedules: (task, name shown in the admin, every N minutes).
    schedules = (
        (
            "ioportal.retention.tasks.purge_personal_data",
            "Conservazione: cancellazione dei dati personali scaduti",
            60,
        ),
    )
