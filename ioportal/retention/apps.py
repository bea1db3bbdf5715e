from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "ioportal.retention"
    verbose_name = "Conservazione dei dati"
