from django.apps import AppConfig

from ioportal.ioservices.audit import Action


class IoservicesConfig(AppConfig):
    name = "ioportal.ioservices"
    verbose_name = "IO services"
    audit_actions = Action
