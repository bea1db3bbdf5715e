"""How messaging hands dispatches to the sending pipeline, and the state a dispatch
takes once nothing holds it back.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ioportal.messaging.models import Dispatch
from ioportal.messaging.signals import dispatch_ready

# --- the pipeline's entry point -------------------------------------------------------------


def wake_pipeline(*, organization_id: int) -> None:
    """Tell the sending pipeline that an organization has work (signals.dispatch_ready).
    Call it in on_commit."""
    dispatch_ready.send(sender=Dispatch, organization_id=organization_id)


def wake_on_commit(dispatch: Dispatch) -> None:
    if dispatch.state in (Dispatch.State.RUNNING, Dispatch.State.SCHEDULED):
        organization_id = dispatch.organization_id
        transaction.on_commit(lambda: wake_pipeline(organization_id=organization_id))


def started_fields(state: str, now: datetime) -> dict[str, datetime]:
    """The fields a dispatch entering `state` at `now` sets besides its state: `started_at`
    when it starts running (the history's start date, sort and the page's timeline)."""
    return {"started_at": now} if state == Dispatch.State.RUNNING else {}


def state_when_cleared(scheduled_at: datetime | None) -> str:
    if scheduled_at is not None and scheduled_at > timezone.now():
        return Dispatch.State.SCHEDULED
    return Dispatch.State.RUNNING
