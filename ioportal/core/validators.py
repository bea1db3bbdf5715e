"""Validators of Italian identifiers, backed by python-stdnum."""

from django.core.exceptions import ValidationError
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Field
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import iva


def validate_organization_fiscal_code(value: str) -> None:
    """An organization's fiscal code: 11 digits with a valid check digit."""
    if not value.isdigit() or len(value) != 11:
        raise ValidationError(
            _("Il codice fiscale dell'ente è composto da 11 cifre."), code="format"
        )
    try:
        iva.validate(value)
    except StdnumError as exc:
        raise ValidationError(
            _("Il codice fiscale dell'ente non è valido: controlla le cifre."),
            code="checksum",
        ) from exc


def db_integer_range(field: Field) -> tuple[int | None, int | None]:
    """(lowest, highest) value an integer model field holds on every supported database.

    The SQL ranges (PostgreSQL enforces them; SQLite takes 64 bits for every column): a plain
    form field bound with them fails as a form error where the database would fail as a 500.
    """
    return BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type(), (None, None))
