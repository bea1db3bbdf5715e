"""Receivers that turn authentication events into audit events and tracked sessions."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from ioportal.accounts import services
from ioportal.accounts.access import second_factor_expected
from ioportal.accounts.audit import Action
from ioportal.accounts.models import User
from ioportal.core.services import audit_log


@receiver(user_logged_in)
def on_login(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """The password step. For an account that must give its second factor it is recorded as
    such (`LOGIN_PASSWORD`), and the sign-in (`LOGIN`) only once the factor is passed
    (`services.otp_session_verify`); for the others it is the whole sign-in."""
    services.session_started(user=user, request=request)
    action = Action.LOGIN_PASSWORD if second_factor_expected(user) else Action.LOGIN
    audit_log(action=action, actor=user, target=user, request=request)


@receiver(user_logged_out)
def on_logout(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit_log(action=Action.LOGOUT, actor=user, target=user, request=request)


def _account_of(username: str) -> User | None:
    """The account this username signs in to (whatever its case), if any."""
    try:
        return User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        return None


@receiver(user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    # The attacked account, when it exists, so its owner sees the attempt in "I miei accessi".
    user = _account_of(username)
    audit_log(
        action=Action.LOGIN_FAILED,
        actor=user,
        target=user,
        target_label=username,
        request=request,
    )


@receiver(user_locked_out)
def on_locked_out(
    sender: Any, request: HttpRequest, username: str | None = None, **kwargs: Any
) -> None:
    user = _account_of(username or "")
    audit_log(
        action=Action.LOCKOUT,
        actor=user,
        target=user,
        target_label=username or "",
        request=request,
    )


@receiver(post_save, sender=User)
def on_user_saved(sender: Any, instance: User, **kwargs: Any) -> None:
    if not instance.is_active:
        services.end_sessions(user=instance)
