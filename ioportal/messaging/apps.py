from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "ioportal.messaging"
    verbose_name = "Messaging"
