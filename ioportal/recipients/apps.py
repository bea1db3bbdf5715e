from django.apps import AppConfig

from ioportal.recipients.audit import Action


class RecipientsConfig(AppConfig):
    name = "ioportal.recipients"
    verbose_name = "Elenchi di destinatari"
    audit_actions = Action
    schedules = (
        ("ioportal.recipients.tasks.purge_expired_lists", "Elenchi di destinatari scaduti", 60),
    )
    default_auto_field = "django.db.models.BigAutoField"
