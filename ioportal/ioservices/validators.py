"""Validation of what IO expects from a service: ids, keys, recipients, amounts.

Shared by the web forms and `import_ioservices`, so both refuse the same things with the same
Italian messages. Messages never contain a key, even a malformed one.
"""

import re
import secrets
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ioportal.core.fiscalcode import (
    SANDBOX_FISCAL_CODE,
    is_valid_fiscal_code,
    normalize_fiscal_code,
)
from ioportal.core.reading import clean_identifier

# IO's own bounds for max_allowed_payment_amount, in euro cents (definitions_v2 MaxAllowed…).
MAX_PAYMENT_AMOUNT_CENTS = 9_999_999_999

# ULID (Crockford base32, no I L O U); the first character is at most 7 (48-bit timestamp).
ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Services created before ULIDs have other APIM subscription ids (e.g. "azure-deployc49a"):
# letters, digits and hyphens, never starting or ending with a hyphen.
LEGACY_SERVICE_ID_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")
# APIM subscription keys as IO issues them: 32 hexadecimal characters, letters in lower case.
# IO compares a key exactly: the same key in capitals is another key, refused with 401.
API_KEY_RE = re.compile(r"^[0-9a-f]{32}$")

# A fiscal code that cannot belong to anyone ("XXX" is never a surname code): a profile
# check on it tells whether the account is in test mode without looking anybody up.
TEST_MODE_PROBE_FISCAL_CODE = "XXXXXX00A01Z999O"


def new_ulid() -> str:
    """A new ULID (timestamp in milliseconds + 80 random bits), upper case."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def normalize_service_id(value: str) -> str:
    """Every space and invisible character removed (`clean_identifier`, as for any identifier
    typed by hand); a ULID is upper-cased (ULIDs are case-insensitive, IO writes them upper)."""
    value = clean_identifier(value)
    if len(value) == 26 and value.isalnum():
        return value.upper()
    return value


def validate_service_id(value: str) -> None:
    """IO's `service_id`: a ULID, or a legacy APIM subscription id."""
    if not value:
        raise ValidationError(_("Indica l'identificativo del servizio IO."), code="required")
    if len(value) == 26 and value.isalnum():
        if not ULID_RE.match(value):
            raise ValidationError(
                _(
                    "L'identificativo del servizio sembra un ULID ma non è valido: 26 caratteri "
                    "tra cifre e lettere maiuscole, escluse I, L, O e U, e il primo tra 0 e 7."
                ),
                code="ulid",
            )
        return
    if not LEGACY_SERVICE_ID_RE.match(value):
        raise ValidationError(
            _(
                "L'identificativo del servizio IO non è valido: copialo dal Back Office di IO "
                "(di solito 26 caratteri, ad esempio 01JABCDEF0123456789ABCDEFG)."
            ),
            code="format",
        )


def normalize_ulid(value: str) -> str:
    """A ULID as IO writes it: without spaces or invisible characters, upper case."""
    return clean_identifier(value).upper()


def validate_configuration_id(value: str) -> None:
    """The remote-content `configuration_id` is always a ULID."""
    if value and not ULID_RE.match(value):
        raise ValidationError(
            _(
                "L'identificativo della configurazione remota deve essere un ULID: 26 caratteri "
                "tra cifre e lettere maiuscole, escluse I, L, O e U."
            ),
            code="ulid",
        )


def validate_api_key(value: str) -> None:
    """An IO subscription key: 32 hexadecimal characters, in lower case as IO issues them
    (IO compares keys exactly; the portal does not change what was typed, it refuses it).
    The message never echoes the key."""
    if not API_KEY_RE.match(value):
        length = len(value)
        if length != 32:
            raise ValidationError(
                _(
                    "La chiave API di IO è lunga 32 caratteri (quella inserita ne ha "
                    "%(length)s): copiala per intero dal Back Office di IO."
                ),
                code="length",
                params={"length": length},
            )
        if API_KEY_RE.match(value.lower()):
            raise ValidationError(
                _(
                    "La chiave API di IO è scritta in minuscolo e quella inserita contiene "
                    "lettere maiuscole: IO la rifiuterebbe. Copiala dal Back Office di IO senza "
                    "cambiarla (ad esempio senza il blocco maiuscole)."
                ),
                code="capitals",
            )
        raise ValidationError(
            _(
                "La chiave API di IO contiene solo cifre e lettere da «a» a «f»: controlla di "
                "averla copiata senza spazi né altri caratteri."
            ),
            code="characters",
        )


LINE = _("Riga %(line)s")
ITEM = _("Codice n. %(line)s")


def parse_authorized_recipients(lines: list[str], *, position: Any = LINE) -> list[str]:
    """Fiscal codes, one per entry (blank entries skipped, duplicates removed, order kept).

    Raises ValidationError listing every invalid entry with its position (1-based), named by
    `position` (LINE for a text box, ITEM for a list). IO's sandbox code is accepted.
    """
    codes: list[str] = []
    errors: list[ValidationError] = []
    for number, line in enumerate(lines, start=1):
        code = normalize_fiscal_code(line)
        if not code:
            continue
        if not is_valid_fiscal_code(code, allow_sandbox=True):
            errors.append(
                ValidationError(
                    _("%(position)s: «%(code)s» non è un codice fiscale valido."),
                    code="fiscal_code",
                    params={"position": position % {"line": number}, "code": code[:20]},
                )
            )
        elif code not in codes:
            codes.append(code)
    if errors:
        raise ValidationError(errors)
    return codes


def validate_payment_amount_cents(value: int) -> None:
    if value < 0:
        raise ValidationError(_("L'importo massimo non può essere negativo."), code="min")
    if value > MAX_PAYMENT_AMOUNT_CENTS:
        raise ValidationError(
            _("L'importo massimo consentito da IO è 99.999.999,99 euro."), code="max"
        )


DEFAULT_AUTHORIZED_RECIPIENTS = [SANDBOX_FISCAL_CODE]
