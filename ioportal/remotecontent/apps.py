from typing import Any

from django.apps import AppConfig

from ioportal.messaging.signals import follow_up_list_created, list_files_needed
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

    def ready(self) -> None:
        # Imported once the app registry is ready: it uses models.
        from ioportal.remotecontent.services import handover

        def on_list_files_needed(
            sender: object, *, dispatch: Any, recipient_list: Any, test: bool, **kwargs: object
        ) -> int:
            if test:
                return handover.list_attachments_copy_for_test(
                    recipient_list=recipient_list, dispatch=dispatch
                )
            return handover.list_attachments_hand_over(
                recipient_list=recipient_list, dispatch=dispatch
            )

        list_files_needed.connect(
            on_list_files_needed, dispatch_uid="remotecontent.hand_over", weak=False
        )

        def on_follow_up_list_created(
            sender: object,
            *,
            origin: Any,
            recipient_list: Any,
            deliveries: Any,
            own_files: Any,
            **kwargs: object,
        ) -> dict[int, str]:
            return handover.origin_attachments_carry_over(
                origin=origin,
                recipient_list=recipient_list,
                deliveries=deliveries,
                own_files=own_files,
            )

        follow_up_list_created.connect(
            on_follow_up_list_created, dispatch_uid="remotecontent.carry_over", weak=False
        )
