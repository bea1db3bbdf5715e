"""django-q2 tasks of messaging: thin wrappers that take ids (never personal data)."""

from ioportal.messaging.services import dispatch_prepare


def prepare_dispatch(dispatch_id: int) -> int:
    """Create the deliveries of a launched list. Idempotent and resumable: see
    `dispatch_prepare`. Returns how many deliveries this run created."""
    return dispatch_prepare(dispatch_id=dispatch_id)
