"""Import of IO services and their keys from CSV or JSON (`manage.py import_ioservices`).

All or nothing: every row goes through the same service functions as the web form, inside one
transaction; if any row is invalid the transaction is rolled back and every problem is
reported with its row number. Messages name the column, never a key value.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from ioportal.accounts.models import Membership, Organization
from ioportal.core.yesno import read_yes_no
from ioportal.ioservices import services
from ioportal.ioservices.models import IOService
from ioportal.ioservices.validators import normalize_service_id

COLUMNS = (
    "organization_fiscal_code",
    "service_id",
    "name",
    "department_name",
    "is_active",
    "premium_enabled",
    "max_allowed_payment_amount",
    "test_mode",
    "feed_access",
    "authorized_recipients",
    "remote_content_configuration_id",
    "api_base_url",
    "primary_key",
    "secondary_key",
    "active_slot",
    "operators",
)
REQUIRED = ("organization_fiscal_code", "service_id", "name")
BOOLEAN_COLUMNS = {
    "is_active": True,
    "premium_enabled": False,
    "test_mode": True,
    "feed_access": False,
}
LIST_SPLIT_RE = re.compile(r"[\s,;]+")

DOC = """\
Formato (CSV con intestazione, separatore , o ;, UTF-8; oppure JSON: un elenco di oggetti
o {"services": [...]}). Colonne / chiavi:

  organization_fiscal_code   obbligatorio: codice fiscale (11 cifre) di un ente esistente
  service_id                 obbligatorio: identificativo del servizio IO (ULID)
  name                       obbligatorio: nome del servizio
  department_name            ufficio
  is_active                  sì/no (predefinito sì)
  premium_enabled            sì/no (predefinito no)
  max_allowed_payment_amount importo massimo in CENTESIMI come in IO; 0 o vuoto = niente
                             pagamenti (massimo 9999999999)
  test_mode                  sì/no (predefinito sì)
  feed_access                sì/no (predefinito no): il servizio può leggere il feed delle
                             iscrizioni di IO
  authorized_recipients      codici fiscali separati da spazi, virgole o ; (JSON: elenco)
  remote_content_configuration_id   ULID della configurazione dei contenuti remoti
  api_base_url               solo per prove: indirizzo API (vuoto = IO_API_BASE_URL)
  primary_key, secondary_key chiavi API (32 caratteri esadecimali); per un servizio già
                             presente, vuoto = chiave invariata
  active_slot                primary o secondary (predefinito primary)
  operators                  nomi utente degli operatori abilitati (vuoto = tutti)

Un servizio già presente nello stesso ente viene aggiornato; un service_id di un altro ente
è un errore. Leggi da standard input con "-" perché le chiavi non tocchino il disco:
  ... | python manage.py import_ioservices - --format csv
"""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


class ImportFormatError(ValueError):
    """The file cannot be read at all (syntax, unknown columns); the message says where."""


def detect_format(text: str, path: str = "-", declared: str | None = None) -> str:
    if declared:
        return declared
    lowered = path.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith(".csv"):
        return "csv"
    return "json" if text.lstrip()[:1] in ("[", "{") else "csv"


def parse_rows(text: str, fmt: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for every row: "riga N" of a CSV file, "elemento N" of a JSON list."""
    text = text.removeprefix("\ufeff")
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                f"JSON non valido alla riga {exc.lineno}, colonna {exc.colno}"
            ) from None
        if isinstance(data, dict) and set(data) == {"services"}:
            data = data["services"]
        if not isinstance(data, list):
            raise ImportFormatError(
                'il JSON deve essere un elenco di oggetti o {"services": [...]}'
            )
        rows: list[tuple[str, dict[str, Any]]] = []
        for index, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ImportFormatError(f"elemento {index}: deve essere un oggetto")
            _check_columns(item.keys(), f"elemento {index}")
            rows.append((f"elemento {index}", item))
        return rows
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise ImportFormatError("il file CSV è vuoto")
    _check_columns([name.strip() for name in reader.fieldnames], "intestazione")
    rows = []
    for row in reader:
        if None in row:
            raise ImportFormatError(f"riga {reader.line_num}: più valori che colonne")
        values = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if any(values.values()):
            rows.append((f"riga {reader.line_num}", values))
    return rows


def _check_columns(names: Any, where: str) -> None:
    unknown = sorted(set(names) - set(COLUMNS))
    if unknown:
        raise ImportFormatError(f"{where}: colonne sconosciute {', '.join(unknown)}")


def _boolean(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return default
    answer = read_yes_no(str(value))
    if answer is None:
        if not str(value).strip():
            return default
        raise ValueError("usa sì o no")
    return answer


def _amount(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("deve essere un numero intero di centesimi")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"-?[0-9]{1,30}", text):
        raise ValueError("deve essere un numero intero di centesimi (ad esempio 150000)")
    return int(text)


def _string_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [item for item in LIST_SPLIT_RE.split(str(value)) if item]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@sensitive_variables("row", "kwargs")
def _row_kwargs(
    row: dict[str, Any], organization: Organization
) -> tuple[dict[str, Any], list[str]]:
    """Service keyword arguments from one row, and the problems found while converting."""
    problems: list[str] = []
    kwargs: dict[str, Any] = {
        "service_id": _text(row.get("service_id")),
        "name": _text(row.get("name")),
        "department_name": _text(row.get("department_name")),
        "remote_content_configuration_id": _text(row.get("remote_content_configuration_id")),
        "api_base_url": _text(row.get("api_base_url")),
        "active_slot": _text(row.get("active_slot")) or IOService.KeySlot.PRIMARY,
        "authorized_recipients": _string_list(row.get("authorized_recipients")),
        "primary_key": _text(row.get("primary_key")),
        "secondary_key": _text(row.get("secondary_key")),
    }
    if kwargs["active_slot"] not in IOService.KeySlot.values:
        problems.append("active_slot: usa primary o secondary")
        del kwargs["active_slot"]
    for column, default in BOOLEAN_COLUMNS.items():
        try:
            kwargs[column] = _boolean(row.get(column), default)
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
    try:
        amount = _amount(row.get("max_allowed_payment_amount"))
    except ValueError as exc:
        problems.append(f"max_allowed_payment_amount: {exc}")
    else:
        kwargs["max_allowed_payment_amount"] = amount
        kwargs["payments_enabled"] = amount != 0
    usernames = _string_list(row.get("operators"))
    kwargs["all_operators"] = not usernames
    if usernames:
        members = list(
            Membership.objects.filter(
                organization=organization, is_active=True, user__username__in=usernames
            )
        )
        missing = sorted(set(usernames) - {m.user.username for m in members})
        if missing:
            problems.append(f"operators: utenti non presenti nell'ente: {', '.join(missing)}")
        kwargs["allowed_members"] = members
    return kwargs, problems


def _messages(error: ValidationError) -> Iterator[str]:
    if hasattr(error, "error_dict"):
        for column, messages in error.message_dict.items():
            for message in messages:
                yield f"{column}: {message}"
    else:
        yield from error.messages


def ioservices_import(*, rows: list[tuple[str, dict[str, Any]]], actor: str) -> ImportResult:
    """Create or update a service for every row, or nothing at all if any row is invalid."""
    result = ImportResult()
    seen: dict[str, str] = {}
    with transaction.atomic():
        for where, row in rows:
            problems = [
                f"{column}: obbligatorio" for column in REQUIRED if not _text(row.get(column))
            ]
            organization = None
            fiscal_code = _text(row.get("organization_fiscal_code"))
            if fiscal_code:
                organization = Organization.objects.filter(fiscal_code=fiscal_code).first()
                if organization is None:
                    problems.append(
                        f"organization_fiscal_code: nessun ente con codice fiscale {fiscal_code}"
                    )
            service_id = normalize_service_id(_text(row.get("service_id")))
            if service_id in seen:
                problems.append(f"service_id: ripetuto (già in {seen[service_id]})")
            elif service_id:
                seen[service_id] = where
            if organization is None:
                result.errors.extend(f"{where}: {problem}" for problem in problems)
                continue
            kwargs, conversion = _row_kwargs(row, organization)
            problems.extend(conversion)
            existing = IOService.objects.filter(service_id=service_id).first()
            if existing is not None and existing.organization_id != organization.pk:
                problems.append("service_id: il servizio è registrato per un altro ente")
                result.errors.extend(f"{where}: {problem}" for problem in problems)
                continue
            result.errors.extend(f"{where}: {problem}" for problem in problems)
            # Validated by the service functions even when a value could not be converted,
            # so that every problem of the row is reported at once.
            try:
                with transaction.atomic():
                    if existing is None:
                        services.ioservice_create(organization=organization, actor=actor, **kwargs)
                        result.created += 1
                    else:
                        services.ioservice_update(service=existing, actor=actor, **kwargs)
                        result.updated += 1
            except ValidationError as exc:
                result.errors.extend(f"{where}: {message}" for message in _messages(exc))
        if result.errors:
            transaction.set_rollback(True)
    return result
