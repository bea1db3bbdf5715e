"""Message templates: creating them, new versions, the column mapping they remember."""

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from ioportal.accounts.models import Organization, User
from ioportal.core.services import audit_log, changed_fields
from ioportal.ioservices.models import IOService
from ioportal.messaging.audit import Action
from ioportal.messaging.models import FeatureLevel, MessageTemplate
from ioportal.recipients.models import RecipientList

TEMPLATE_FIELDS = (
    "name",
    "subject",
    "markdown",
    "placeholders",
    "default_service",
    "feature_level",
    "has_due_date",
    "has_payment",
)


# --- templates ----------------------------------------------------------------------------


def template_create(
    *,
    organization: Organization,
    actor: User,
    name: str,
    subject: str,
    markdown: str,
    placeholders: list[dict[str, Any]],
    default_service: IOService | None = None,
    feature_level: str = FeatureLevel.STANDARD,
    has_due_date: bool = False,
    has_payment: bool = False,
    request: HttpRequest | None = None,
) -> MessageTemplate:
    """Create version 1 of a template and audit it."""
    template = MessageTemplate.objects.create(
        organization=organization,
        created_by=actor,
        name=name,
        subject=subject,
        markdown=markdown,
        placeholders=placeholders,
        default_service=default_service,
        feature_level=feature_level,
        has_due_date=has_due_date,
        has_payment=has_payment,
    )
    audit_log(
        action=Action.TEMPLATE_CREATED,
        actor=actor,
        organization=organization,
        target=template,
        request=request,
    )
    return template


@transaction.atomic
def template_update(
    *, template: MessageTemplate, actor: User, request: HttpRequest | None = None, **fields: Any
) -> MessageTemplate:
    """Change a template. Returns the template now current.

    If a dispatch already used this version, a new version (same family, version + 1) is
    created and becomes current, so past dispatches keep what they were sent with; otherwise
    the row is changed in place and lists checked against it must be checked again. Audited.
    """
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise TypeError(f"unknown template fields: {sorted(unknown)}")
    # Compared with the stored row, not with `template`: a bound ModelForm has already
    # copied the submitted values onto the instance it was given.
    stored = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    before = {name: getattr(stored, name) for name in fields}
    changes = changed_fields(
        before, {name: fields[name] for name in TEMPLATE_FIELDS if name in fields}
    )
    if not changes:
        return stored
    if stored.dispatches.exists():
        MessageTemplate.objects.filter(pk=stored.pk).update(is_current=False)
        new = MessageTemplate.objects.create(
            organization=stored.organization,
            family=stored.family,
            version=stored.version + 1,
            is_current=True,
            column_mapping=stored.column_mapping,
            created_by=actor,
            **{name: getattr(stored, name) for name in TEMPLATE_FIELDS if name not in fields},
            **fields,
        )
        changes["version"] = [stored.version, new.version]
        template = new
    else:
        for name, value in fields.items():
            setattr(stored, name, value)
        stored.save()
        template = stored
        RecipientList.objects.filter(template=template, dispatch__isnull=True).update(
            state=RecipientList.State.UPLOADED
        )
    audit_log(
        action=Action.TEMPLATE_UPDATED,
        actor=actor,
        organization=template.organization,
        target=template,
        changes=changes,
        request=request,
    )
    return template


def template_remember_mapping(*, template: MessageTemplate, mapping: dict[str, str]) -> None:
    """Store the column mapping on the template's current version for the next upload."""
    MessageTemplate.objects.filter(family=template.family, is_current=True).update(
        column_mapping=mapping
    )
