from django.apps import AppConfig


class RemotecontentConfig(AppConfig):
    name = "ioportal.remotecontent"
    verbose_name = "Remote content (Premium attachments)"
