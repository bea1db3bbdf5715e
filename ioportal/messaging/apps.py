from django.apps import AppConfig

from ioportal.messaging.audit import Action


class MessagingConfig(AppConfig):
    name = "ioportal.messaging"
    verbose_name = "Messaging"
    audit_actions = Action
    audit_change_values = "ioportal.messaging.audit.change_values"
    # django-q2 schedules: (task, name shown in the admin, every N minutes).
    schedules = (
        (
            "ioportal.messaging.tasks.premium_carnet_alerts",
            "Messaggi: avvisi dei carnet Premium",
            15,
        ),
    )
