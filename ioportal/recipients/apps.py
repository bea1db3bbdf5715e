from django.apps import AppConfig


class RecipientsConfig(AppConfig):
    name = "ioportal.recipients"
    verbose_name = "Elenchi di destinatari"
    default_auto_field = "django.db.models.BigAutoField"
