"""System checks: refuse to start with a django-q2 configuration that could send twice."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from ioportal.sending.conf import limiter_backend, premium_poll_schedule, sending_settings


@register()
def check_q_cluster(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`retry` must exceed `timeout` (else the broker re-delivers running tasks), each task
    must run once (`max_attempts` 1, `ack_failures` on: the Delivery state machine retries),
    and the account worker's budget must end well before `timeout`."""
    q = getattr(settings, "Q_CLUSTER", {})
    errors: list[Error] = []
    timeout = q.get("timeout")
    retry = q.get("retry", 60)
    if timeout is None or retry is None or retry <= timeout:
        errors.append(
            Error(
                "Q_CLUSTER['retry'] must be greater than Q_CLUSTER['timeout'] (both set).",
                hint="django-q2 re-runs a task still unacknowledged after `retry` seconds.",
                id="sending.E001",
            )
        )
    if q.get("max_attempts") != 1:
        errors.append(
            Error(
                "Q_CLUSTER['max_attempts'] must be 1.",
                hint="Retries belong to the delivery state machine, not to the broker.",
                id="sending.E002",
            )
        )
    if not q.get("ack_failures"):
        errors.append(
            Error(
                "Q_CLUSTER['ack_failures'] must be True.",
                hint="Unacknowledged failed tasks come back after `retry`, forever.",
                id="sending.E003",
            )
        )
    budget = sending_settings().task_budget
    if timeout is not None and budget + 60 > timeout:
        errors.append(
            Error(
                "SENDING_TASK_BUDGET must be 60 s shorter than Q_CLUSTER['timeout'].",
                hint="The queue's timeout must never interrupt an IO call.",
                id="sending.E004",
            )
        )
    return errors


@register()
def check_limiter(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`SENDING_LIMITER` is auto, db or redis (redis needs REDIS_URL); the budget is a share
    of IO's limit in (0, 1]."""
    from django.core.exceptions import ImproperlyConfigured

    errors: list[Error] = []
    try:
        limiter_backend(settings.SENDING_LIMITER, settings.REDIS_URL)
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="sending.E005"))
    if not 0 < settings.SENDING_RATE_TARGET <= 1:
        errors.append(
            Error(
                "SENDING_RATE_TARGET must be more than 0 and at most 1.",
                hint="It is the share of IO's limit the workers use in any 5 s window.",
                id="sending.E006",
            )
        )
    return errors


@register()
def check_premium_poll_schedule(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`SENDING_PREMIUM_POLL_SCHEDULE` parses (conf.premium_poll_schedule)."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        premium_poll_schedule(settings.SENDING_PREMIUM_POLL_SCHEDULE)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="sending.E007")]
    return []
