"""Test mode: a service in test mode may write only to its authorised recipients.

IO answers any other citizen's profile (and message) with 403 "Recipient forbidden"
(shared/IO-API.md §4), so the pipeline skips them without calling IO (outcome
`not_authorized`), and the list pages say in advance how many recipients that is. The
authorised recipients are the service's `authorized_recipients` (kept equal to IO's in the
service form) plus IO's sandbox citizen, which IO appends to every service's list (§4).
"""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.ioapi import SANDBOX_FISCAL_CODE, normalize_fiscal_code
from ioportal.ioservices.models import IOService
from ioportal.recipients.models import RecipientChunk, RecipientList


def authorized_recipients(service: IOService) -> frozenset[str] | None:
    """The fiscal codes the service may reach while in test mode; None in production mode."""
    if not service.test_mode:
        return None
    codes = (normalize_fiscal_code(str(code)) for code in service.authorized_recipients or [])
    return frozenset({*(c for c in codes if c), SANDBOX_FISCAL_CODE})


def authorized_hmacs(service: IOService) -> frozenset[str] | None:
    """The keyed hashes (`Delivery.fiscal_code_hmac`) of the service's authorised recipients
    while in test mode, to count in the database the deliveries test mode will not skip;
    None in production mode."""
    allowed = authorized_recipients(service)
    if allowed is None:
        return None
    return frozenset(fiscal_code_hmac(code) for code in allowed)


def authorized_key(allowed: frozenset[str] | None) -> str:
    """A digest of a set of authorised recipients (SHA-256 of the sorted codes), "" for
    production mode: tells whether a stored count was made against the current list."""
    if allowed is None:
        return ""
    return hashlib.sha256("\n".join(sorted(allowed)).encode()).hexdigest()


def skipped_in_test_mode(service: IOService, fiscal_code: str) -> bool:
    """True when the service is in test mode and `fiscal_code` is not authorised."""
    allowed = authorized_recipients(service)
    return allowed is not None and normalize_fiscal_code(fiscal_code) not in allowed


def count_test_mode_skips(service: IOService, rows: Iterable[Mapping[str, Any]]) -> int:
    """How many of `rows` (valid rows, each with its "fiscal_code") test mode will skip; 0 in
    production mode."""
    allowed = authorized_recipients(service)
    if allowed is None:
        return 0
    return sum(
        1 for row in rows if normalize_fiscal_code(str(row.get("fiscal_code", ""))) not in allowed
    )


def test_mode_skips_record(
    recipient_list: RecipientList, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Set (not save) the list's `test_mode_skips` for its valid `rows` and the key of the
    authorised recipients it was counted against."""
    service = recipient_list.service
    recipient_list.test_mode_skips = count_test_mode_skips(service, rows)
    recipient_list.test_mode_skips_key = authorized_key(authorized_recipients(service))


def list_test_mode_skips(recipient_list: RecipientList) -> int:
    """How many valid rows of a recipient list test mode will skip now (0 in production
    mode): the count stored by the check (`RecipientList.test_mode_skips`), so a page never
    decrypts the list for it, while the service's authorised recipients are those it was
    counted against; otherwise (they changed since the upload, or a list checked before the
    count existed) counted again from the rows and stored."""
    allowed = authorized_recipients(recipient_list.service)
    if allowed is None:
        return 0
    key = authorized_key(allowed)
    if recipient_list.test_mode_skips is not None and recipient_list.test_mode_skips_key == key:
        return recipient_list.test_mode_skips
    rows = recipient_list.items(RecipientChunk.Kind.VALID, 0, recipient_list.valid_count)
    count = count_test_mode_skips(recipient_list.service, rows)
    RecipientList.objects.filter(pk=recipient_list.pk).update(
        test_mode_skips=count, test_mode_skips_key=key
    )
    recipient_list.test_mode_skips, recipient_list.test_mode_skips_key = count, key
    return count
