from django.apps import AppConfig


class IoservicesConfig(AppConfig):
    name = "ioportal.ioservices"
    verbose_name = "IO services"
