from django.apps import AppConfig


class SendingConfig(AppConfig):
    name = "ioportal.sending"
    verbose_name = "Sending"

    def ready(self) -> None:
        from ioportal.messaging.signals import dispatch_ready
        from ioportal.sending import checks  # noqa: F401  (registers the system checks)
        from ioportal.sending.triggers import wake_up

        def wake(*, organization_id: int, **_kwargs: object) -> None:
            wake_up(organization_id=organization_id)

        dispatch_ready.connect(wake, weak=False, dispatch_uid="ioportal.sending.wake_up")
