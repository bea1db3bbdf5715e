"""django-q2 tasks of messaging: thin wrappers that take ids (never personal data)."""

from ioportal.messaging.carnet import carnet_alerts_notify
from ioportal.messaging.services import dispatch_prepare


def prepare_dispatch(dispatch_id: int) -> int:
    """Create the deliveries of a launched list. Idempotent and resumable: see
    `dispatch_prepare`. Returns how many deliveries this run created."""
    return dispatch_prepare(dispatch_id=dispatch_id)


def premium_carnet_alerts() -> int:
    """Tell admins when a Premium carnet reaches 80 % / 100 % (once each). Returns the alerts
    sent."""
    return carnet_alerts_notify()
