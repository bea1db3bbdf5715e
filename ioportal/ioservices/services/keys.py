"""The service's keys at work: the key of a slot for the IO gateway, the switch to the other
key on IO's 401, the key's state as the workers see it, and re-encryption after a key rotation.

A key value leaves the database only through `service_api_key`, into the request header of the
IO gateway's client (`ioportal.sending.gateway`, which also does the 401 fallback with
`ioservice_key_rejected`).
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from ioportal.core import crypto
from ioportal.core.services import audit_log
from ioportal.ioservices.audit import Action
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services.service import Actor

logger = logging.getLogger(__name__)


SLOTS = (IOService.KeySlot.PRIMARY, IOService.KeySlot.SECONDARY)
# The automatic actor of worker-side events in the audit trail.
SYSTEM_ACTOR = gettext_lazy("ioportal (automatico)")
# "Last used successfully" is written at most this often per key, not on every call.
LAST_OK_RESOLUTION = timedelta(seconds=60)


class ServiceKeyUnavailableError(Exception):
    """The service has no key in the requested slot, or it cannot be decrypted with the
    configured FIELD_ENCRYPTION_KEYS. Sending must pause until an admin fixes it."""


# -- keys at work: the key of a slot, the 401 switch ----------------------------------------


@sensitive_variables("key")
def service_api_key(*, service: IOService, slot: str) -> str:
    """The key of `slot` in clear, for the IO gateway's client (`sending.gateway`) only.

    Raises ServiceKeyUnavailableError (no key in that slot, or undecryptable).
    """
    try:
        return service.key_value(slot)
    except LookupError:
        raise ServiceKeyUnavailableError(
            f"IO service {service.public_id} has no {slot} key"
        ) from None
    except crypto.DecryptionError as exc:
        raise ServiceKeyUnavailableError(
            f"the {slot} key of IO service {service.public_id} cannot be decrypted: {exc}"
        ) from None


@transaction.atomic
def ioservice_key_rejected(*, service: IOService, key_slot: str) -> bool:
    """IO answered 401 to `key_slot`: make the other key the active one, once.

    Compare-and-set: switches only if `key_slot` is still the active slot and the other slot
    has a key, so several workers reporting the same failure switch exactly once. Returns True
    for the call that switched (which writes the audit event). `service` is refreshed.
    """
    other = IOService.other_slot(key_slot)
    switched = (
        IOService.objects.filter(pk=service.pk, active_slot=key_slot)
        .exclude(**{f"{other}_key_encrypted": ""})
        .update(active_slot=other, key_switched_at=timezone.now())
    )
    if switched:
        logger.warning(
            "IO rejected the %s key of service %s; switched to the %s key",
            key_slot,
            service.public_id,
            other,
        )
        audit_log(
            action=Action.IOSERVICE_KEY_SWITCHED,
            actor=str(SYSTEM_ACTOR),
            organization=service.organization,
            target=service,
            changes={"active_slot": [key_slot, str(other)], "reason": "HTTP 401"},
        )
    service.refresh_from_db(fields=["active_slot", "key_switched_at", "key_problem"])
    return bool(switched)


@transaction.atomic
def ioservice_key_problem(*, service: IOService) -> bool:
    """IO refused every key of the service: mark it for the admins' dashboard, once.

    Returns True for the call that set the mark (which writes the audit event).
    """
    marked = IOService.objects.filter(pk=service.pk, key_problem=False).update(
        key_problem=True, key_problem_since=timezone.now()
    )
    if marked:
        logger.error("IO rejected every key of service %s", service.public_id)
        audit_log(
            action=Action.IOSERVICE_KEY_PROBLEM,
            actor=str(SYSTEM_ACTOR),
            organization=service.organization,
            target=service,
            changes={"key_problem": [False, True]},
        )
    service.refresh_from_db(fields=["key_problem", "key_problem_since"])
    return bool(marked)


def ioservice_key_worked(*, service: IOService, key_slot: str) -> None:
    """IO accepted `key_slot`: record when (at most once a minute) and clear a key problem."""
    now = timezone.now()
    field = f"{key_slot}_key_last_ok_at"
    last_ok = getattr(service, field)
    if last_ok is None or last_ok < now - LAST_OK_RESOLUTION:
        IOService.objects.filter(pk=service.pk).update(**{field: now})
        setattr(service, field, now)
    if service.key_problem:
        with transaction.atomic():
            restored = IOService.objects.filter(pk=service.pk, key_problem=True).update(
                key_problem=False, key_problem_since=None
            )
            if restored:
                audit_log(
                    action=Action.IOSERVICE_KEY_RESTORED,
                    actor=str(SYSTEM_ACTOR),
                    organization=service.organization,
                    target=service,
                    changes={"key_problem": [True, False]},
                )
        service.key_problem = False
        service.key_problem_since = None


# -- encryption key rotation ------------------------------------------------------------------


@transaction.atomic
def ioservice_keys_reencrypt(*, actor: Actor, dry_run: bool = False) -> tuple[int, list[str]]:
    """Re-encrypt every stored key not under the first FIELD_ENCRYPTION_KEYS key.

    Returns (keys re-encrypted, problems). When any key cannot be decrypted nothing is
    changed (the caller reports the problems, which name service and slot, never a value).
    Idempotent: keys already under the current key are left alone. Audited.
    """
    count = 0
    problems: list[str] = []
    for service in IOService.objects.select_for_update().order_by("pk"):
        fields: list[str] = []
        for slot in SLOTS:
            field = f"{slot}_key_encrypted"
            stored = getattr(service, field)
            if not stored or not crypto.needs_rotation(stored):
                continue
            try:
                setattr(service, field, crypto.rotate(stored))
            except crypto.DecryptionError as exc:
                problems.append(f"{service.service_id} ({slot}): {exc}")
                continue
            fields.append(field)
        if fields and not dry_run:
            service.save(update_fields=fields)
        count += len(fields)
    if problems:
        transaction.set_rollback(True)
        return count, problems
    if count and not dry_run:
        audit_log(
            action=Action.ENCRYPTION_KEYS_ROTATED,
            actor=actor,
            changes={"reencrypted": count, "cipher_id": crypto.current_key_id()},
        )
    return count, problems
