"""Background tasks of the core app. Tasks are thin: they take ids and call services."""

import socket

from django.utils import timezone

from ioportal.core.models import WorkerHeartbeat


def heartbeat() -> str:
    """Record that a worker on this host is alive. Idempotent; runs on a schedule."""
    name = socket.gethostname()
    WorkerHeartbeat.objects.update_or_create(cluster=name, defaults={"seen_at": timezone.now()})
    return name
