"""The same content to the same citizen: the content hash of every delivery, and the warning
before a list is launched.

Every delivery keeps `content_sha256`, the SHA-256 of what its citizen reads
(`recipients.rendering.content_sha256`: subject, markdown, due date and payment data as IO
gets them). Before launch, the confirmation page looks for citizens of the list who received
(or are about to receive) a delivery with the same hash from the same service in the last
REPEATED_CONTENT_DAYS days, and names those earlier dispatches; the operator may leave those
citizens out with one click (`recipient_list_exclude_repeated`).

Bounded work: the check of a list, which has every valid row at hand, writes each row's two
hashes (`RecipientContentKey`, in batches); the page then asks the database, which matches
them with the deliveries through the fiscal-code hash index (`delivery_cf_hmac_idx`; a
citizen has few deliveries, whose content hashes are compared), and decrypts nothing.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ioportal.accounts.models import User
from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.core.services import audit_log
from ioportal.core.sqlite import bulk_page_cache
from ioportal.messaging.audit import Action
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients.models import RecipientChunk, RecipientContentKey, RecipientList
from ioportal.recipients.rendering import content_sha256, fill_message, io_message
from ioportal.recipients.testmode import test_mode_skips_record
from ioportal.recipients.validation import row_warnings, warning_facts_without

# Deliveries that never reached their citizen and never will: they do not count as received.
NOT_RECEIVED = (
    Delivery.State.SKIPPED,
    Delivery.State.FAILED,
    Delivery.State.REJECTED,
    Delivery.State.CANCELLED,
)


def row_content_sha256(
    *,
    subject: str,
    markdown: str,
    placeholders: Sequence[Mapping[str, Any]],
    feature_level: str,
    row: Mapping[str, Any],
) -> str:
    """The content hash of the message a valid row gives (the row as `validate_rows` makes
    it: "variables", "due_date" ISO or None, "amount" in cents...), with the texts and
    placeholders of a template or of a dispatch. The same as the hash of the delivery made
    from that row (`delivery_message` then `content_sha256`), which depends neither on the
    fiscal code nor on the Premium attachment."""
    filled_subject, filled_markdown = fill_message(
        subject=subject,
        markdown=markdown,
        variables=row.get("variables") or {},
        known=[str(p.get("name", "")) for p in placeholders],
    )
    due = row.get("due_date")
    return content_sha256(
        io_message(
            fiscal_code="",
            subject=filled_subject,
            markdown=filled_markdown,
            feature_level=feature_level,
            due_date=datetime.fromisoformat(due) if due else None,
            amount=row.get("amount"),
            notice_number=row.get("notice_number") or "",
            invalid_after_due_date=bool(row.get("invalid_after_due_date")),
            payee_fiscal_code=row.get("payee_fiscal_code") or "",
        )
    )


def content_fingerprint(
    *,
    subject: str,
    markdown: str,
    placeholders: Sequence[Mapping[str, Any]],
    feature_level: str,
) -> str:
    """SHA-256 (64 hex digits) of what `row_content_sha256` takes besides the row: the
    texts, the placeholder names (which are filled) and the feature level. Two sets of texts
    with the same fingerprint give every row the same content hash, so the worker may copy
    the hash the check computed (`validate_rows`, the row's "content_sha256") instead of
    rendering the row again."""
    canonical = json.dumps(
        [subject, markdown, sorted({str(p.get("name", "")) for p in placeholders}), feature_level],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Repeated:
    """Citizens of a list who already received the same content from the same service.

    `count`: how many of the list's valid rows; `dispatches`: each earlier dispatch with how
    many of those citizens it reached, most first.
    """

    days: int
    count: int = 0
    dispatches: list[tuple[Dispatch, int]] = field(default_factory=list)


# Content keys written per INSERT statement.
KEY_BATCH = 1000


def store_content_keys(
    recipient_list: RecipientList, rows: Sequence[Mapping[str, Any]], hashes: Sequence[str]
) -> int:
    """Replace the list's content keys with those of `rows` (its valid rows): per row its
    line, the fiscal-code hash and the hash of its message, `hashes` in the same order (as
    the check computes them: `ValidationOutcome.content_hashes`, equal to
    `row_content_sha256` with the list's template). Returns how many were written.

    One INSERT run over each batch of KEY_BATCH rows (executemany): model instances and
    `bulk_create` would cost more than the check's own work on the rows. On SQLite the page
    cache is raised meanwhile (`core.sqlite.bulk_page_cache`): the index on the fiscal-code
    hash takes its rows in random order."""
    RecipientContentKey.objects.filter(recipient_list=recipient_list).delete()
    model = RecipientContentKey._meta
    db = connections[router.db_for_write(RecipientContentKey)]
    by_name = {f.name: f for f in model.concrete_fields}
    columns = ", ".join(
        db.ops.quote_name(str(by_name[name].column))
        for name in ("recipient_list", "line", "fiscal_code_hmac", "content_sha256")
    )
    # Names from the model, quoted; every value a parameter.
    sql = f"INSERT INTO {db.ops.quote_name(model.db_table)} ({columns}) VALUES (%s, %s, %s, %s)"  # noqa: S608
    # In the order of the fiscal-code hash, the index's second column: each insert then
    # lands next to the previous one instead of on a random page of the index.
    values = iter(
        sorted(
            (
                (recipient_list.pk, row["line"], fiscal_code_hmac(row["fiscal_code"]), digest)
                for row, digest in zip(rows, hashes, strict=True)
            ),
            key=itemgetter(2),
        )
    )
    written = 0
    with bulk_page_cache(db), db.cursor() as cursor:
        while batch := list(islice(values, KEY_BATCH)):
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def _earlier(recipient_list: RecipientList, since: datetime) -> QuerySet[Delivery]:
    """The deliveries of the list's service that count as received since `since`."""
    earlier = (
        Delivery.objects.filter(dispatch__service_id=recipient_list.service_id)
        .exclude(state__in=NOT_RECEIVED)
        .exclude(dispatch__kind=Dispatch.Kind.TEST)
        .filter(Q(submitted_at__gte=since) | Q(submitted_at__isnull=True, created_at__gte=since))
    )
    for own in (recipient_list.origin_id, recipient_list.dispatch_id):
        if own is not None:
            earlier = earlier.exclude(dispatch_id=own)
    return earlier


def _repeated_keys(recipient_list: RecipientList, since: datetime) -> QuerySet[RecipientContentKey]:
    same = _earlier(recipient_list, since).filter(
        fiscal_code_hmac=OuterRef("fiscal_code_hmac"), content_sha256=OuterRef("content_sha256")
    )
    return RecipientContentKey.objects.filter(recipient_list=recipient_list).filter(Exists(same))


def repeated_content(
    recipient_list: RecipientList, *, days: int | None = None, now: datetime | None = None
) -> Repeated:
    """Which valid rows of a checked `recipient_list` would send its citizen a content that
    the list's service already sent them (or is sending: any delivery not skipped, failed,
    rejected or cancelled) in the last `days` days (REPEATED_CONTENT_DAYS by default),
    compared by the fiscal-code hash and the content hash (`store_content_keys`, written by
    the check). Test sends do not count, nor does the dispatch a follow-up list reminds
    (`RecipientList.origin`): sending again is its purpose. Two queries, nothing decrypted."""
    days = settings.REPEATED_CONTENT_DAYS if days is None else days
    since = (now or timezone.now()) - timedelta(days=days)
    found = Repeated(days=days, count=_repeated_keys(recipient_list, since).count())
    if not found.count:
        return found
    keys = RecipientContentKey.objects.filter(
        recipient_list=recipient_list,
        fiscal_code_hmac=OuterRef("fiscal_code_hmac"),
        content_sha256=OuterRef("content_sha256"),
    )
    per_dispatch = (
        _earlier(recipient_list, since)
        .filter(Exists(keys))
        .values("dispatch_id")
        .annotate(citizens=Count("fiscal_code_hmac", distinct=True))
        .order_by("-citizens", "dispatch_id")
    )
    counts = {row["dispatch_id"]: row["citizens"] for row in per_dispatch}
    by_id = Dispatch.objects.in_bulk(list(counts))
    found.dispatches = [(by_id[pk], n) for pk, n in counts.items() if pk in by_id]
    return found


@transaction.atomic
def recipient_list_exclude_repeated(
    *, recipient_list: RecipientList, actor: User, request: HttpRequest | None = None
) -> int:
    """Leave out of a checked, not launched list the rows `repeated_content` finds now (not
    what a page showed earlier): they are removed from the list's valid rows, so no delivery
    is made of them, and counted in `repeated_excluded`; the list's counts and total follow.
    A new check of the list brings them back. Audited (how many, the earlier dispatches).
    Returns how many rows were left out (0 when the list is launched or not checked)."""
    locked = RecipientList.objects.select_for_update().get(pk=recipient_list.pk)
    if locked.state != RecipientList.State.VALIDATED or locked.dispatch_id is not None:
        return 0
    found = repeated_content(locked)
    if not found.count:
        return 0
    since = timezone.now() - timedelta(days=found.days)
    lines = set(_repeated_keys(locked, since).values_list("line", flat=True))
    kept = [row for row in locked.iter_items(RecipientChunk.Kind.VALID) if row["line"] not in lines]
    RecipientContentKey.objects.filter(recipient_list=locked, line__in=lines).delete()
    locked.store(RecipientChunk.Kind.VALID, kept)
    locked.valid_count = len(kept)
    locked.total_amount = sum(row.get("amount") or 0 for row in kept)
    test_mode_skips_record(locked, kept)
    locked.repeated_excluded += len(lines)
    if locked.check_warning_facts:
        # The check's warnings stop naming rows that will not be sent.
        locked.check_warning_facts = warning_facts_without(locked.check_warning_facts, lines)
        locked.check_warnings = row_warnings(locked.check_warning_facts)
    locked.save(
        update_fields=[
            "check_warnings",
            "check_warning_facts",
            "valid_count",
            "total_amount",
            "test_mode_skips",
            "test_mode_skips_key",
            "repeated_excluded",
        ]
    )
    audit_log(
        action=Action.RECIPIENTS_REPEATED_EXCLUDED,
        actor=actor,
        organization=locked.organization,
        target=locked,
        changes={
            "excluded": len(lines),
            "days": found.days,
            "dispatches": [str(d.public_id) for d, _count in found.dispatches],
        },
        request=request,
    )
    recipient_list.refresh_from_db()
    return len(lines)
