from django.apps import AppConfig

from ioportal.messaging.signals import dispatch_ready
from ioportal.sending.audit import Action


class SendingConfig(AppConfig):
    name = "ioportal.sending"
    verbose_name = "Sending"
    audit_actions = Action
    audit_change_values = "ioportal.sending.audit.change_values"
    schedules = (
        ("ioportal.sending.tasks.sending_sweep", "Invii: ripresa del lavoro in sospeso", 1),
        ("ioportal.sending.tasks.sync_feeds", "Invii: feed delle iscrizioni a IO", 24 * 60),
    )

    def ready(self) -> None:
        # Imported once the app registry is ready: they use models and django-q2.
        from ioportal.ioservices.services.checks import register_profile_probe
        from ioportal.messaging.send_conditions import SendConditions, register_send_conditions
        from ioportal.sending import (
            checks,  # noqa: F401  (registers the system checks)
            clock,
            gate,
        )
        from ioportal.sending.gateway import probe_profile
        from ioportal.sending.triggers import wake_up

        register_profile_probe(probe_profile)
        register_send_conditions(
            SendConditions(
                schedule_for=lambda organization_id: gate.schedule_for(
                    organization_id=organization_id, cached=False
                ),
                deliveries_per_second=gate.deliveries_per_second,
                now=clock.now,
            )
        )

        def on_dispatch_ready(sender: object, *, organization_id: int, **kwargs: object) -> None:
            wake_up(organization_id=organization_id)

        dispatch_ready.connect(on_dispatch_ready, dispatch_uid="sending.wake_up", weak=False)
