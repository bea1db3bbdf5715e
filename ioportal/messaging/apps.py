from django.apps import AppConfig

from ioportal.messaging.audit import Action


class MessagingConfig(AppConfig):
    name = "ioportal.messaging"
    verbose_name = "Messaging"
    audit_actions = Action
