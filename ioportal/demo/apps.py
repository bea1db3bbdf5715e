from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "ioportal.demo"
    verbose_name = "Demo"
