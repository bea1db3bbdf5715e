""" "Check the service": an admin's request, and the worker task that asks IO with both keys
and records what it found.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_noop as _
from django_q.tasks import async_task

from ioportal.accounts.models import User
from ioportal.core.fiscalcode import SANDBOX_FISCAL_CODE
from ioportal.core.io_texts import Part, io_error_parts, said
from ioportal.core.services import audit_log
from ioportal.ioapi import (
    CallInfo,
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PermanentError,
    Profile,
)
from ioportal.ioservices.audit import Action
from ioportal.ioservices.models import IOService, ServiceCheck
from ioportal.ioservices.services.keys import (
    ServiceKeyUnavailableError,
    ioservice_key_problem,
    ioservice_key_worked,
)
from ioportal.ioservices.validators import TEST_MODE_PROBE_FISCAL_CODE

# A check requested while another is still pending within this time reuses it.
CHECK_DEDUP_WINDOW = timedelta(minutes=2)


# -- "check the service" ----------------------------------------------------------------------


@transaction.atomic
def ioservice_check_request(
    *, service: IOService, actor: User, request: HttpRequest | None = None
) -> ServiceCheck:
    """Queue a check of the service (a harmless profile call to IO, made by a worker).

    A check still pending from the last minutes is returned instead of queuing another.
    The task is enqueued after commit, with the check's id only.
    """
    pending = service.checks.filter(
        status=ServiceCheck.Status.PENDING,
        requested_at__gte=timezone.now() - CHECK_DEDUP_WINDOW,
    ).first()
    if pending is not None:
        return pending
    check = ServiceCheck.objects.create(
        service=service, requested_by=actor, key_slot=service.active_slot
    )
    audit_log(
        action=Action.IOSERVICE_CHECK_REQUESTED,
        actor=actor,
        organization=service.organization,
        target=service,
        request=request,
    )
    check_id = check.pk
    transaction.on_commit(
        lambda: async_task(
            "ioportal.ioservices.tasks.ioservice_check",
            check_id,
            task_name=f"ioservice-check-{check_id}",
        )
    )
    return check


# Seconds a check waits for the account's token (a dispatch may be using the whole budget).
PROBE_MAX_WAIT = 30.0

# (service, key slot, fiscal code, max wait in seconds) -> the profile, or None when no token
# came within the wait; raises IOApiError. Every IO call goes through the sending app's
# gateway (a limiter token, an ApiCall row), a layer above this one: it registers the probe
# when the apps are ready (sending/apps.py).
ProfileProbe = Callable[[IOService, str, str, float], Profile | None]
_profile_probe: list[ProfileProbe] = []


def register_profile_probe(probe: ProfileProbe) -> None:
    """Set how a check asks IO for a profile (called once by `ioportal.sending`)."""
    _profile_probe[:] = [probe]


def _probe(
    service: IOService, slot: str, fiscal_code: str
) -> tuple[bool | None, IOApiError | None, CallInfo | None]:
    """One profile call with the key of `slot`, through the account's IO gateway:
    (key accepted?, error, call info); (None, None, None) when no token came in time."""
    if not _profile_probe:
        raise RuntimeError("no IO gateway registered: is ioportal.sending installed?")
    try:
        profile = _profile_probe[0](service, slot, fiscal_code, PROBE_MAX_WAIT)
    except KeyRejectedError as exc:
        return False, exc, exc.call
    except PermanentError as exc:
        # IO's functions answered: the gateway accepted the key.
        return True, exc, exc.call
    except IOApiError as exc:
        return None, exc, exc.call
    if profile is None:
        return None, None, None
    return True, None, profile.call


# What a check found is stored as sentences to translate when shown (ServiceCheck.message_parts,
# core.io_texts.Part), so each reader sees it in their language: `_` only marks the texts here.


def ioservice_check_run(*, check_id: int) -> ServiceCheck:
    """Run a queued check: the active key, the other key, and the account's mode.

    Calls: a profile check of IO's sandbox code with each configured key (always an
    authorized recipient, so harmless in any mode), then, when the active key works, one of a
    code that can belong to nobody: 403 "Recipient forbidden" reveals test mode. Stores the
    outcome on the check; a working key clears the service's "key problem", two rejected keys
    set it. Idempotent: a check that is no longer pending is returned unchanged.
    """
    check = ServiceCheck.objects.select_related("service__organization").get(pk=check_id)
    if check.status != ServiceCheck.Status.PENDING:
        return check
    service = check.service
    slot = service.active_slot
    other = IOService.other_slot(slot)
    lines: list[Part] = []
    check.key_slot = slot
    remaining: int | None = None

    try:
        works, error, call = _probe(service, slot, SANDBOX_FISCAL_CODE)
        if works is None and error is None:
            lines.append(
                said(_("IO è occupato dagli invii di questo ente: riprova la verifica tra poco."))
            )
    except ServiceKeyUnavailableError:
        works, error, call = False, None, None
        lines.append(
            said(
                _(
                    "La chiave in uso (%(slot)s) non è impostata o non è leggibile: "
                    "inseriscila di nuovo."
                ),
                slot=slot,
            )
        )
    check.key_works = works
    if call is not None and call.rate_limit_remaining is not None:
        remaining = call.rate_limit_remaining
    ok = works is True and (error is None or isinstance(error, NotFoundError))
    if works is True:
        lines.append(said(_("La chiave in uso (%(slot)s) funziona."), slot=slot))
        ioservice_key_worked(service=service, key_slot=slot)
    elif works is False and error is not None:
        lines.append(said(_("IO ha rifiutato la chiave in uso (%(slot)s)."), slot=slot))
    if error is not None and not isinstance(error, KeyRejectedError | NotFoundError):
        lines.extend(io_error_parts(error))

    if service.has_key(other):
        try:
            other_works, other_error, other_call = _probe(service, other, SANDBOX_FISCAL_CODE)
        except ServiceKeyUnavailableError:
            other_works, other_error, other_call = False, None, None
        check.other_key_works = other_works
        if other_works is True:
            ioservice_key_worked(service=service, key_slot=other)
            if works is False:
                lines.append(
                    said(
                        _(
                            "La chiave %(other)s funziona: sceglila come chiave in uso e "
                            "aggiorna la %(slot)s."
                        ),
                        other=other,
                        slot=slot,
                    )
                )
            else:
                lines.append(said(_("Anche la chiave %(other)s funziona."), other=other))
        elif other_works is False:
            template = (
                _("IO ha rifiutato anche la chiave %(other)s.")
                if works is False
                else _("IO ha rifiutato la chiave %(other)s: aggiornala prima di usarla.")
            )
            lines.append(said(template, other=other))
            if works is False:
                ioservice_key_problem(service=service)
        elif other_error is not None:
            lines.extend(io_error_parts(other_error))
        if remaining is None and other_call is not None:
            remaining = other_call.rate_limit_remaining
    else:
        lines.append(said(_("La chiave %(other)s non è impostata."), other=other))
        if works is False and error is not None:
            ioservice_key_problem(service=service)

    if works is True:
        _probe_works, probe_error, probe_call = _probe(service, slot, TEST_MODE_PROBE_FISCAL_CODE)
        if isinstance(probe_error, PermanentError) and probe_error.is_recipient_forbidden:
            check.test_mode_detected = True
            lines.append(
                said(
                    _(
                        "IO considera il servizio in modalità di test: può inviare messaggi "
                        "solo ai destinatari autorizzati."
                    )
                )
            )
            if not service.test_mode:
                lines.append(
                    said(_("Nel portale il servizio non risulta in modalità di test: aggiornalo."))
                )
        elif probe_error is None or isinstance(probe_error, NotFoundError):
            check.test_mode_detected = False
            lines.append(said(_("IO considera il servizio in produzione: può inviare a tutti.")))
            if service.test_mode:
                lines.append(
                    said(
                        _("Nel portale il servizio risulta ancora in modalità di test: aggiornalo.")
                    )
                )
        if probe_call is not None and probe_call.rate_limit_remaining is not None:
            remaining = probe_call.rate_limit_remaining

    check.rate_limit_remaining = remaining
    check.status = ServiceCheck.Status.OK if ok else ServiceCheck.Status.FAILED
    check.message_parts = lines
    check.finished_at = timezone.now()
    check.save()
    return check
