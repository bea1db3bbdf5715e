"""Creating and changing IO services.

Every change is an audit event listing the fields that changed; for a key only the fact that
it changed ("primary_key": "changed"), never a value. Key values enter through
`ioservice_create` / `ioservice_update` (validated, then encrypted at once).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core import crypto
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import mask_fiscal_code
from ioportal.core.services import audit_log, changed_fields
from ioportal.ioservices.audit import Action
from ioportal.ioservices.models import IOService
from ioportal.ioservices.validators import (
    ITEM,
    normalize_service_id,
    normalize_ulid,
    parse_authorized_recipients,
    validate_api_key,
)

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


Actor = User | str | None


# -- create / update --------------------------------------------------------------------------


# The audit key of a replaced API key, by slot (its value is only ever "changed").
KEY_CHANGES = {"primary": "primary_key", "secondary": "secondary_key"}


def _audit_values(service: IOService) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(service, field) for field in SERVICE_FIELDS}
    # Fiscal codes are personal data: the trail keeps them masked.
    values["authorized_recipients"] = [
        mask_fiscal_code(code) for code in service.authorized_recipients
    ]
    return values


def _member_labels(service: IOService) -> list[str]:
    return sorted(m.user.username for m in service.allowed_members.select_related("user"))


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
    """Every problem at once, raised as ValidationError {field: messages}, so a form can show
    each by its field."""
    errors = _problems(service, keys)
    if errors:
        raise ValidationError(errors)


def _configuration_registered(service: IOService) -> bool:
    """Whether the service's remote-content configuration id is one registered in "Contenuti
    remoti" by the service's own organization (active or not). The same answer for an id of
    another organization as for an unknown one: nothing tells that it exists elsewhere.
    (The configurations are read through the organization's relation: remotecontent sits
    above this app and is not imported.)"""
    return service.organization.remote_content_configurations.filter(
        configuration_id=service.remote_content_configuration_id
    ).exists()


@sensitive_variables("keys")
def _problems(service: IOService, keys: Mapping[str, str]) -> dict[str, list[str]]:
    """Every problem of `service` (normalized) and the new `keys`, as {field: messages}.
    Normalizes the authorized recipients of `service` in place."""
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
    if service.remote_content_configuration_id and not _configuration_registered(service):
        add(
            "remote_content_configuration_id",
            _(
                "Questa configurazione per i contenuti remoti non è registrata per l'ente: "
                "registrala prima in «Contenuti remoti», poi indicala qui."
            ),
        )
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
    # Exactly as IO compares them (a key in capitals is refused above).
    if primary and secondary and primary == secondary:
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
    return errors


def _new_keys(primary_key: str, secondary_key: str, *, creating: bool) -> dict[str, str]:
    """The keys to store, by slot: on creation the primary always (a blank one is refused),
    otherwise only those typed (blank keeps the stored one)."""
    keys = {
        slot: value.strip()
        for slot, value in (("primary", primary_key), ("secondary", secondary_key))
        if value.strip()
    }
    if creating:
        keys.setdefault("primary", "")
    return keys


@sensitive_variables("primary_key", "secondary_key")
def ioservice_problems(
    *,
    organization: Organization,
    service: IOService | None = None,
    primary_key: str = "",
    secondary_key: str = "",
    allowed_members: Iterable[Membership] | None = None,
    **fields: Any,
) -> dict[str, list[str]]:
    """What `ioservice_create` (`service` None) or `ioservice_update` of `service` would
    refuse in these values, as {field: [messages]} ({} when nothing): for a form to show
    with its own errors. Saves and changes nothing; reads the database (a duplicate id).
    """
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise TypeError(f"unknown IO service fields: {', '.join(sorted(unknown))}")
    if service is None:
        candidate = IOService(organization=organization, **fields)
    else:
        candidate = IOService.objects.get(pk=service.pk)
        for field, value in fields.items():
            setattr(candidate, field, value)
    _normalize(candidate)
    return _problems(candidate, _new_keys(primary_key, secondary_key, creating=service is None))


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
    keys = _new_keys(primary_key, secondary_key, creating=True)
    _validate(service, keys)
    for slot, value in keys.items():
        _store_key(service, slot, value)
    service.save()
    _set_members(service, organization, allowed_members)
    changes = _audit_values(service)
    changes["allowed_members"] = _member_labels(service)
    for slot in keys:
        changes[KEY_CHANGES[slot]] = "changed"
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
    keys = _new_keys(primary_key, secondary_key, creating=False)
    _validate(service, keys)
    for slot, value in keys.items():
        _store_key(service, slot, value)
    if keys and service.key_problem:
        service.key_problem = False
        service.key_problem_since = None
    service.save()
    _set_members(service, service.organization, allowed_members)
    changes = changed_fields(before, _audit_values(service))
    members_after = _member_labels(service)
    if members_after != members_before:
        changes["allowed_members"] = [members_before, members_after]
    for slot in keys:
        changes[KEY_CHANGES[slot]] = "changed"
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

    Raises NotAllowed when the slot has no key. Idempotent; audited when it changes.
    """
    service = IOService.objects.select_for_update().get(pk=service.pk)
    slot = IOService.KeySlot(slot)
    if not service.has_key(slot):
        raise NotAllowed(_("Questa chiave non è impostata: inseriscila prima di usarla."))
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
