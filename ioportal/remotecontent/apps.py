from django.apps import AppConfig

from ioportal.remotecontent.audit import Action


class RemotecontentConfig(AppConfig):
    name = "ioportal.remotecontent"
    verbose_name = "Remote content (Premium attachments)"
    audit_actions = Action
    schedules = (
        (
            "ioportal.remotecontent.tasks.attachments_retention",
            "Allegati: conservazione",
            24 * 60,
        ),
    )
