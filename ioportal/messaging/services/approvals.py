"""Four-eyes approval: the organization's policy, approving and rejecting a dispatch, and
the notifications its author reads on the dashboard.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ioportal.accounts.models import Organization, User
from ioportal.core.errors import NotAllowed
from ioportal.core.io_texts import Part, said
from ioportal.core.services import audit_log, changed_fields
from ioportal.messaging.audit import Action
from ioportal.messaging.models import ApprovalPolicy, Delivery, Dispatch, Notification
from ioportal.messaging.services.pipeline import (
    started_fields,
    state_when_cleared,
    wake_on_commit,
)

# --- approval policy ----------------------------------------------------------------------


def approval_policy_update(
    *,
    organization: Organization,
    actor: User,
    threshold: int | None,
    always_for_premium: bool,
    request: HttpRequest | None = None,
) -> ApprovalPolicy:
    """Set when dispatches need a supervisor's approval. Audited."""
    policy, _created = ApprovalPolicy.objects.get_or_create(organization=organization)
    after = {"threshold": threshold, "always_for_premium": always_for_premium}
    changes = changed_fields(
        {"threshold": policy.threshold, "always_for_premium": policy.always_for_premium}, after
    )
    policy.threshold = threshold
    policy.always_for_premium = always_for_premium
    policy.save()
    if changes:
        audit_log(
            action=Action.APPROVAL_POLICY_CHANGED,
            actor=actor,
            organization=organization,
            target=organization,
            changes=changes,
            request=request,
        )
    return policy


def approval_required(organization: Organization, recipients: int, feature_level: str) -> bool:
    policy = ApprovalPolicy.objects.filter(organization=organization).first()
    return bool(
        policy and policy.requires_approval(recipients=recipients, feature_level=feature_level)
    )


# --- four-eyes approval -------------------------------------------------------------------


def _notify(dispatch: Dispatch, part: Part) -> None:
    """A note for the dispatch's author, stored untranslated (read in their language)."""
    Notification.objects.create(
        user=dispatch.created_by,
        organization=dispatch.organization,
        dispatch=dispatch,
        text_parts=[part],
    )


@transaction.atomic
def dispatch_approve(
    *, dispatch: Dispatch, actor: User, request: HttpRequest | None = None
) -> Dispatch:
    """Approve a dispatch awaiting approval: it starts (or waits for its time).

    Nobody approves their own dispatch (NotAllowed; the database refuses it too). A
    dispatch no longer awaiting approval raises NotAllowed, so a second click is harmless.
    Audited; the author is notified on the dashboard.
    """
    if dispatch.created_by_id == actor.pk:
        raise NotAllowed(_("Non puoi approvare un invio che hai creato tu."))
    state = state_when_cleared(dispatch.scheduled_at)
    now = timezone.now()
    updated = Dispatch.objects.filter(
        pk=dispatch.pk, state=Dispatch.State.AWAITING_APPROVAL
    ).update(state=state, approved_by=actor, approved_at=now, **started_fields(state, now))
    if not updated:
        raise NotAllowed(_("Questo invio non è più in attesa di approvazione."))
    dispatch.refresh_from_db()
    audit_log(
        action=Action.DISPATCH_APPROVED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        request=request,
    )
    _notify(
        dispatch,
        said(
            gettext_noop("%(who)s ha approvato il tuo invio «%(title)s»."),
            who=actor.get_full_name() or actor.username,
            title=dispatch.title,
        ),
    )
    wake_on_commit(dispatch)
    return dispatch


@transaction.atomic
def dispatch_reject(
    *, dispatch: Dispatch, actor: User, reason: str, request: HttpRequest | None = None
) -> Dispatch:
    """Reject a dispatch awaiting approval, with a reason for its author. Nothing is sent.

    Same guards as `dispatch_approve`. Audited; the author is notified on the dashboard.
    """
    if dispatch.created_by_id == actor.pk:
        raise NotAllowed(_("Non puoi respingere un invio che hai creato tu."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Scrivi il motivo: l'autore lo leggerà."))
    now = timezone.now()
    updated = Dispatch.objects.filter(
        pk=dispatch.pk, state=Dispatch.State.AWAITING_APPROVAL
    ).update(state=Dispatch.State.REJECTED, rejection_reason=reason, finished_at=now)
    if not updated:
        raise NotAllowed(_("Questo invio non è più in attesa di approvazione."))
    Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.PENDING).update(
        state=Delivery.State.CANCELLED, finished_at=now
    )
    dispatch.refresh_from_db()
    audit_log(
        action=Action.DISPATCH_REJECTED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={"reason": reason},
        request=request,
    )
    _notify(
        dispatch,
        said(
            gettext_noop("%(who)s ha respinto il tuo invio «%(title)s»: %(reason)s"),
            who=actor.get_full_name() or actor.username,
            title=dispatch.title,
            reason=reason,
        ),
    )
    return dispatch


def notifications_mark_read(*, user: User, organization: Organization, ids: Sequence[str]) -> int:
    """Mark some of a user's notifications as read. Returns how many changed."""
    return Notification.objects.filter(
        user=user, organization=organization, public_id__in=ids, read_at__isnull=True
    ).update(read_at=timezone.now())
