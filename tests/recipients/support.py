"""Helpers for the tests of a list's check."""

from typing import Any

from ioportal.core.io_texts import reason_text
from ioportal.recipients.validation import ValidationOutcome, validate_rows


def validated(**options: Any) -> ValidationOutcome:
    """`validate_rows`, its reasons and warnings (stored untranslated) read in the active
    language, as the check's page shows them."""
    outcome = validate_rows(**options)
    return shown(outcome)


def shown(outcome: ValidationOutcome) -> ValidationOutcome:
    """`outcome` with its reasons and warnings as texts in the active language."""
    for row in outcome.rejected:
        row["reasons"] = [reason_text(reason) for reason in row["reasons"]]
        row["problems"] = [
            {**problem, "reason": reason_text(problem["reason"])} for problem in row["problems"]
        ]
    outcome.warnings = [reason_text(warning) for warning in outcome.warnings]  # type: ignore[misc]
    return outcome


def shown_rejected(recipient_list: Any) -> list[dict[str, Any]]:
    """A checked list's rejected rows, their reasons in the active language."""
    rows = recipient_list.get_rejected()
    for row in rows:
        row["reasons"] = [reason_text(reason) for reason in row["reasons"]]
        row["problems"] = [
            {**problem, "reason": reason_text(problem["reason"])} for problem in row["problems"]
        ]
    return rows


def texts(parts: Any) -> list[str]:
    """Stored sentences (core.io_texts.Part, such as `ParsedTable.warnings`) in the active
    language."""
    return [reason_text(part) for part in parts]
