"""Business logic of IO services and their keys.

Every change is an audit event listing the fields that changed; for a key only the fact that
it changed ("primary_key": "changed"), never a value. Key values enter through
`ioservice_create` / `ioservice_update` (validated, then encrypted at once) and leave only
through `service_api_key`, into the request header of the IO gateway's client
(`ioportal.sending.gateway`, which also does the 401 fallback with `ioservice_key_rejected`).
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables
from django_q.tasks import async_task

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core import crypto
from ioportal.core.services import Action, audit_log
from ioportal.ioapi import (
    SANDBOX_FISCAL_CODE,
    CallInfo,
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PermanentError,
    describe_error_it,
    mask_fiscal_code,
)
from ioportal.ioservices.models import IOService, ServiceCheck
from ioportal.ioservices.validators import (
    ITEM,
    TEST_MODE_PROBE_FISCAL_CODE,
    normalize_service_id,
    normalize_ulid,
    parse_authorized_recipients,
    validate_api_key,
)

logger = logging.getLogger(__name__)


# Fields an admin (or the import) sets; keys and operators are handled apart.
SERVICE_FIELDS = (
    "service_id",
    "name",
    "department_name",
    "is_active",
    "premium_enabled",
    "payments_enabled",
    "max_allowed_payment_amount",
    "test_mode",
    "feed_access",
    "authorized_recipients",
    "remote_content_configuration_id",
    "api_base_url",
    "all_operators",
    "active_slot",
)
SLOTS = (IOService.KeySlot.PRIMARY, IOService.KeySlot.SECONDARY)
# The automatic actor of worker-side events in the audit trail.
SYSTEM_ACTOR = gettext_lazy("ioportal (automatico)")
# "Last used successfully" is written at most this often per key, not on every call.
LAST_OK_RESOLUTION = timedelta(seconds=60)
# A check requested while another is still pending within this time reuses it.
CHECK_DEDUP_WINDOW = timedelta(minutes=2)

Actor = User | str | None


class ServiceKeyUnavailableError(Exception):
    """The service has no key in the requested slot, or it cannot be decrypted with the
    configured FIELD_ENCRYPTION_KEYS. Sending must pause until an admin fixes it."""


# -- create / update --------------------------------------------------------------------------


def _audit_values(service: IOService) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(service, field) for field in SERVICE_FIELDS}
    # Fiscal codes are personal data: the trail keeps them masked.
    values["authorized_recipients"] = [
        mask_fiscal_code(code) for code in service.authorized_recipients
    ]
    return values


def _member_labels(service: IOService) -> list[str]:
    return sorted(m.user.username for m in service.allowed_members.select_related("user"))


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {
        field: [before.get(field), value]
        for field, value in after.items()
        if before.get(field) != value
    }


def _normalize(service: IOService) -> None:
    service.service_id = normalize_service_id(service.service_id or "")
    service.remote_content_configuration_id = normalize_ulid(
        service.remote_content_configuration_id or ""
    )
    service.name = (service.name or "").strip()
    service.department_name = (service.department_name or "").strip()
    if not service.payments_enabled:
        service.max_allowed_payment_amount = 0


@sensitive_variables("keys")
def _validate(service: IOService, keys: Mapping[str, str]) -> None:
    """Every problem at once, as {field: messages}, so a form can show each by its field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: Any) -> None:
        errors.setdefault(field, []).append(str(message))

    try:
        service.authorized_recipients = parse_authorized_recipients(
            [str(code) for code in service.authorized_recipients or []], position=ITEM
        )
    except ValidationError as exc:
        for message in exc.messages:
            add("authorized_recipients", message)
    try:
        service.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                add(field, message)
    if (
        service.service_id
        and IOService.objects.filter(service_id=service.service_id).exclude(pk=service.pk).exists()
    ):
        add("service_id", _("Questo servizio IO è già registrato nel portale."))
    if service.payments_enabled and service.max_allowed_payment_amount <= 0:
        add(
            "max_allowed_payment_amount",
            _("Indica l'importo massimo che il servizio può chiedere ai cittadini."),
        )
    for slot, value in keys.items():
        if not value:
            add(f"{slot}_key", _("Inserisci la chiave API."))
            continue
        try:
            validate_api_key(value)
        except ValidationError as exc:
            for message in exc.messages:
                add(f"{slot}_key", message)
    primary = keys.get("primary")
    secondary = keys.get("secondary")
    if primary and secondary and primary.lower() == secondary.lower():
        add("secondary_key", _("La chiave secondaria deve essere diversa dalla primaria."))
    slot_known = service.active_slot in IOService.KeySlot.values
    if (
        slot_known
        and not service.has_key(service.active_slot)
        and not keys.get(service.active_slot)
    ):
        add(
            "active_slot",
            _("La chiave scelta per l'invio non è impostata: inseriscila o scegli l'altra."),
        )
    if errors:
        raise ValidationError(errors)


@sensitive_variables("value")
def _store_key(service: IOService, slot: str, value: str) -> None:
    setattr(service, f"{slot}_key_encrypted", crypto.encrypt(value))
    setattr(service, f"{slot}_key_last4", value[-4:])
    setattr(service, f"{slot}_key_changed_at", timezone.now())
    setattr(service, f"{slot}_key_last_ok_at", None)


def _set_members(
    service: IOService, organization: Organization, members: Iterable[Membership] | None
) -> None:
    if members is None:
        return
    # Only memberships of the service's own organization, whatever the caller passed.
    ids = [m.pk for m in members if m.organization_id == organization.pk]
    service.allowed_members.set(Membership.objects.filter(pk__in=ids))


@sensitive_variables("primary_key", "secondary_key", "keys")
@transaction.atomic
def ioservice_create(
    *,
    organization: Organization,
    actor: Actor,
    primary_key: str,
    secondary_key: str = "",
    allowed_members: Iterable[Membership] | None = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> IOService:
    """Register an IO service of `organization` with its keys (encrypted before saving).

    `fields` are among SERVICE_FIELDS. Raises ValidationError {field: [messages]} and saves
    nothing when anything is invalid (malformed id or key, duplicate service id, amount out of
    IO's range, invalid fiscal code among the authorized recipients...). Audited.
    """
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise TypeError(f"unknown IO service fields: {', '.join(sorted(unknown))}")
    service = IOService(organization=organization, **fields)
    _normalize(service)
    keys = {"primary": primary_key.strip()}
    if secondary_key.strip():
        keys["secondary"] = secondary_key.strip()
    _validate(service, keys)
    for slot, value in keys.items():
        _store_key(service, slot, value)
    service.save()
    _set_members(service, organization, allowed_members)
    changes = _audit_values(service)
    changes["allowed_members"] = _member_labels(service)
    for slot in keys:
        changes[f"{slot}_key"] = "changed"
    audit_log(
        action=Action.IOSERVICE_CREATED,
        actor=actor,
        organization=organization,
        target=service,
        changes=changes,
        request=request,
    )
    return service


@sensitive_variables("primary_key", "secondary_key", "keys")
@transaction.atomic
def ioservice_update(
    *,
    service: IOService,
    actor: Actor,
    primary_key: str = "",
    secondary_key: str = "",
    allowed_members: Iterable[Membership] | None = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> IOService:
    """Change a service's settings; a non-blank `primary_key`/`secondary_key` replaces that
    key (blank keeps it). A new key clears the "key problem" mark. Raises ValidationError
    and saves nothing when anything is invalid. Audited when something changed.
    """
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise TypeError(f"unknown IO service fields: {', '.join(sorted(unknown))}")
    service = IOService.objects.select_for_update().get(pk=service.pk)
    before = _audit_values(service)
    members_before = _member_labels(service)
    for field, value in fields.items():
        setattr(service, field, value)
    _normalize(service)
    keys = {
        slot: value.strip()
        for slot, value in (("primary", primary_key), ("secondary", secondary_key))
        if value.strip()
    }
    _validate(service, keys)
    for slot, value in keys.items():
        _store_key(service, slot, value)
    if keys and service.key_problem:
        service.key_problem = False
        service.key_problem_since = None
    service.save()
    _set_members(service, service.organization, allowed_members)
    changes = _diff(before, _audit_values(service))
    members_after = _member_labels(service)
    if members_after != members_before:
        changes["allowed_members"] = [members_before, members_after]
    for slot in keys:
        changes[f"{slot}_key"] = "changed"
    if changes:
        audit_log(
            action=Action.IOSERVICE_UPDATED,
            actor=actor,
            organization=service.organization,
            target=service,
            changes=changes,
            request=request,
        )
    return service


@transaction.atomic
def ioservice_set_active_slot(
    *, service: IOService, actor: Actor, slot: str, request: HttpRequest | None = None
) -> IOService:
    """Choose which key the workers use (step of a rotation without downtime).

    Raises ValidationError when the slot has no key. Idempotent; audited when it changes.
    """
    service = IOService.objects.select_for_update().get(pk=service.pk)
    slot = IOService.KeySlot(slot)
    if not service.has_key(slot):
        raise ValidationError(
            {"active_slot": [_("Questa chiave non è impostata: inseriscila prima di usarla.")]}
        )
    if service.active_slot == slot:
        return service
    before = service.active_slot
    service.active_slot = slot
    service.save(update_fields=["active_slot", "updated_at"])
    audit_log(
        action=Action.IOSERVICE_ACTIVE_KEY_CHANGED,
        actor=actor,
        organization=service.organization,
        target=service,
        changes={"active_slot": [before, str(slot)]},
        request=request,
    )
    return service


# -- keys at work: client, 401 fallback -------------------------------------------------------


@sensitive_variables("key")
def service_api_key(*, service: IOService, slot: str) -> str:
    """The key of `slot` in clear, for the IO gateway's client (`sending.gateway`) only.

    Raises ServiceKeyUnavailableError (no key in that slot, or undecryptable).
    """
    try:
        key = service.key_value(slot)
    except LookupError:
        raise ServiceKeyUnavailableError(
            f"IO service {service.public_id} has no {slot} key"
        ) from None
    except crypto.DecryptionError as exc:
        raise ServiceKeyUnavailableError(
            f"the {slot} key of IO service {service.public_id} cannot be decrypted: {exc}"
        ) from None
    return key


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


def _probe(
    service: IOService, slot: str, fiscal_code: str
) -> tuple[bool | None, IOApiError | None, CallInfo | None]:
    """One profile call with the key of `slot`, through the account's IO gateway (a limiter
    token, an ApiCall row): (key accepted?, error, call info)."""
    from ioportal.sending.gateway import OutOfTime, gateway_for, get_profile

    gateway = gateway_for(service.organization)
    try:
        profile = gateway.call(
            service,
            get_profile(fiscal_code),
            slot=slot,
            max_wait=PROBE_MAX_WAIT,
        )
    except OutOfTime:
        return None, None, None
    except KeyRejectedError as exc:
        return False, exc, exc.call
    except PermanentError as exc:
        # IO's functions answered: the gateway accepted the key.
        return True, exc, exc.call
    except IOApiError as exc:
        return None, exc, exc.call
    return True, None, profile.call


# Seconds a check waits for the account's token (a dispatch may be using the whole budget).
PROBE_MAX_WAIT = 30.0

SLOT_ADJECTIVES = {"primary": gettext_lazy("primaria"), "secondary": gettext_lazy("secondaria")}


def _slot_label(slot: str) -> str:
    return str(SLOT_ADJECTIVES[slot])


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
    lines: list[str] = []
    check.key_slot = slot
    remaining: int | None = None

    try:
        works, error, call = _probe(service, slot, SANDBOX_FISCAL_CODE)
        if works is None and error is None:
            lines.append(
                _("IO è occupato dagli invii di questo ente: riprova la verifica tra poco.")
            )
    except ServiceKeyUnavailableError:
        works, error, call = False, None, None
        lines.append(
            _(
                "La chiave in uso (%(slot)s) non è impostata o non è leggibile: "
                "inseriscila di nuovo."
            )
            % {"slot": _slot_label(slot)}
        )
    check.key_works = works
    if call is not None and call.rate_limit_remaining is not None:
        remaining = call.rate_limit_remaining
    ok = works is True and (error is None or isinstance(error, NotFoundError))
    if works is True:
        lines.append(_("La chiave in uso (%(slot)s) funziona.") % {"slot": _slot_label(slot)})
        ioservice_key_worked(service=service, key_slot=slot)
    elif works is False and error is not None:
        lines.append(
            _("IO ha rifiutato la chiave in uso (%(slot)s).") % {"slot": _slot_label(slot)}
        )
    if error is not None and not isinstance(error, KeyRejectedError | NotFoundError):
        lines.append(describe_error_it(error))

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
                    _(
                        "La chiave %(other)s funziona: sceglila come chiave in uso e aggiorna "
                        "la %(slot)s."
                    )
                    % {"other": _slot_label(other), "slot": _slot_label(slot)}
                )
            else:
                lines.append(
                    _("Anche la chiave %(other)s funziona.") % {"other": _slot_label(other)}
                )
        elif other_works is False:
            template = (
                _("IO ha rifiutato anche la chiave %(other)s.")
                if works is False
                else _("IO ha rifiutato la chiave %(other)s: aggiornala prima di usarla.")
            )
            lines.append(template % {"other": _slot_label(other)})
            if works is False:
                ioservice_key_problem(service=service)
        elif other_error is not None:
            lines.append(describe_error_it(other_error))
        if remaining is None and other_call is not None:
            remaining = other_call.rate_limit_remaining
    else:
        lines.append(_("La chiave %(other)s non è impostata.") % {"other": _slot_label(other)})
        if works is False and error is not None:
            ioservice_key_problem(service=service)

    if works is True:
        _probe_works, probe_error, probe_call = _probe(service, slot, TEST_MODE_PROBE_FISCAL_CODE)
        if isinstance(probe_error, PermanentError) and probe_error.is_recipient_forbidden:
            check.test_mode_detected = True
            lines.append(
                _(
                    "IO considera il servizio in modalità di test: può inviare messaggi solo "
                    "ai destinatari autorizzati."
                )
            )
            if not service.test_mode:
                lines.append(
                    _("Nel portale il servizio non risulta in modalità di test: aggiornalo.")
                )
        elif probe_error is None or isinstance(probe_error, NotFoundError):
            check.test_mode_detected = False
            lines.append(_("IO considera il servizio in produzione: può inviare a tutti."))
            if service.test_mode:
                lines.append(
                    _("Nel portale il servizio risulta ancora in modalità di test: aggiornalo.")
                )
        if probe_call is not None and probe_call.rate_limit_remaining is not None:
            remaining = probe_call.rate_limit_remaining

    check.rate_limit_remaining = remaining
    check.status = ServiceCheck.Status.OK if ok else ServiceCheck.Status.FAILED
    check.message = " ".join(lines)
    check.finished_at = timezone.now()
    check.save()
    return check


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
