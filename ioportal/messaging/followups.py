"""Follow-ups ("solleciti"): a new dispatch to some citizens of an earlier one.

From a dispatch that is sending or done, the operator chooses who gets a reminder
(`audience`, the one definition of each criterion), and the portal builds a recipient list of
those citizens with the values their deliveries were sent with (`follow_up_list_create`). The
list then goes through the normal compose flow (template, mapping, check, preview, approval,
confirmation) and its dispatch links to the origin (`Dispatch.origin`).
"""

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ioportal.accounts.models import Membership, User
from ioportal.core.crypto import DecryptionError
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.services import audit_log
from ioportal.core.yesno import YES
from ioportal.ioservices.models import IOService
from ioportal.messaging.audit import Action
from ioportal.messaging.dispatch_access import dispatches_visible_to
from ioportal.messaging.lists import message_spec, recipient_list_validate
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel, MessageTemplate
from ioportal.messaging.signals import follow_up_list_created
from ioportal.recipients.models import RecipientList
from ioportal.recipients.numbers import ITALIAN, format_cents
from ioportal.recipients.validation import (
    AMOUNT,
    ATTACHMENT,
    ATTACHMENT_KEY,
    DUE_DATE,
    FISCAL_CODE,
    INVALID_AFTER_DUE_DATE,
    NOTICE_NUMBER,
    PAYEE_FISCAL_CODE,
    mapping_errors,
)

NO = "no"


class Criterion(models.TextChoices):
    """Who a follow-up reaches; each label says what it counts (`audience` defines it)."""

    NOT_READ = (
        "not_read",
        gettext_lazy(
            "Non hanno letto il messaggio: accettato da IO da almeno alcuni giorni e non "
            "ancora letto"
        ),
    )
    NOT_PAID = (
        "not_paid",
        gettext_lazy(
            "Non hanno pagato l'avviso: messaggio con avviso accettato da IO e pagamento non "
            "risultato entro una data"
        ),
    )
    FAILED = (
        "failed",
        gettext_lazy("Il messaggio non è stato consegnato: rifiutato da IO o non riuscito"),
    )
    STOPPED = (
        "stopped",
        gettext_lazy("Il messaggio non è partito: fermato dall'annullamento dell'invio"),
    )


# A dispatch may be followed up once it has sent something (`has_outcomes`): while it runs
# or after.
FOLLOW_UP_STATES = (
    Dispatch.State.RUNNING,
    Dispatch.State.PAUSED,
    Dispatch.State.COMPLETED,
    Dispatch.State.CANCELLED,
)
# Citizens whose message IO accepted (and did not refuse afterwards).
RECEIVED = (Delivery.State.SUBMITTED, Delivery.State.PROCESSED)
# Citizens IO did not deliver to: refused by IO, or failed for good. Uncertain outcomes are
# left out until a supervisor closes them (as sent, or again to send).
NOT_DELIVERED = (Delivery.State.FAILED, Delivery.State.REJECTED)
# Messages of a dispatch still going on that may yet be sent.
STILL_TO_SEND = (
    Delivery.State.PENDING,
    Delivery.State.CHECKING,
    Delivery.State.READY,
    Delivery.State.RETRY_WAIT,
    Delivery.State.SUBMITTING,
)

# Column names of a follow-up list when the origin's list is gone (placeholders keep theirs).
DEFAULT_COLUMNS = {
    FISCAL_CODE: "codice_fiscale",
    DUE_DATE: "scadenza",
    AMOUNT: "importo_avviso",
    NOTICE_NUMBER: "codice_avviso",
    INVALID_AFTER_DUE_DATE: "non_pagabile_dopo_scadenza",
    PAYEE_FISCAL_CODE: "cf_ente_creditore",
    ATTACHMENT: "allegato",
}
PAYMENT_TARGETS = (AMOUNT, NOTICE_NUMBER, INVALID_AFTER_DUE_DATE, PAYEE_FISCAL_CODE)


def has_notices(dispatch: Dispatch) -> bool:
    """Whether some message of `dispatch` carries a pagoPA notice (a notice number)."""
    return Delivery.objects.filter(dispatch=dispatch).exclude(notice_number="").exists()


def has_stopped(dispatch: Dispatch) -> bool:
    """Whether `dispatch` was cancelled with messages nothing had been sent for (CANCELLED)."""
    return (
        dispatch.state == Dispatch.State.CANCELLED
        and Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.CANCELLED).exists()
    )


def criteria_for(dispatch: Dispatch) -> list[Criterion]:
    """The criteria that make sense for `dispatch`: read and payment status are known only
    for Premium messages, and payment only for messages with a notice; the messages a cancel
    stopped only on a cancelled dispatch that has some. One to three queries."""
    criteria = []
    if dispatch.feature_level == FeatureLevel.ADVANCED:
        criteria.append(Criterion.NOT_READ)
        if has_notices(dispatch):
            criteria.append(Criterion.NOT_PAID)
    criteria.append(Criterion.FAILED)
    if has_stopped(dispatch):
        criteria.append(Criterion.STOPPED)
    return criteria


def unavailable_criteria(dispatch: Dispatch, offered: list[Criterion]) -> dict[str, str]:
    """Why each criterion not `offered` for `dispatch` (`criteria_for`) is not, in Italian:
    what the form says to a request for it."""
    premium_only = _(
        "Lettura e pagamento sono noti solo per i messaggi Premium: per questo invio non si "
        "può sollecitare chi non ha letto o non ha pagato."
    )
    reasons = {
        Criterion.NOT_READ: premium_only,
        Criterion.NOT_PAID: premium_only,
        Criterion.FAILED: "",
        Criterion.STOPPED: _(
            "Nessun messaggio di questo invio è stato fermato da un annullamento."
        ),
    }
    if dispatch.feature_level == FeatureLevel.ADVANCED:
        reasons[Criterion.NOT_PAID] = _(
            "I messaggi di questo invio non hanno un avviso di pagamento: non si può "
            "sollecitare chi non ha pagato."
        )
    return {str(c.value): reason for c, reason in reasons.items() if c not in offered}


def has_outcomes(dispatch: Dispatch) -> bool:
    """Whether some citizen of `dispatch` has an outcome a criterion reaches: IO accepted the
    message (RECEIVED) or did not deliver it (NOT_DELIVERED). A dispatch that has sent
    nothing yet (all queued, waiting for its window or its share of the day, or all skipped)
    has no one to remind."""
    return Delivery.objects.filter(dispatch=dispatch, state__in=RECEIVED + NOT_DELIVERED).exists()


def can_follow_up(dispatch: Dispatch) -> bool:
    """Whether `dispatch` may have a follow-up: a real dispatch (not a test send) that is
    sending or done, whose personal data are still kept, and that has sent something."""
    return (
        dispatch.kind != Dispatch.Kind.TEST
        and dispatch.state in FOLLOW_UP_STATES
        and dispatch.personal_data_purged_at is None
        and has_outcomes(dispatch)
    )


def end_of_day(day: date) -> datetime:
    """The last moment of `day` in Italy (TIME_ZONE), aware."""
    return datetime.combine(day, time.max, tzinfo=ZoneInfo(settings.TIME_ZONE))


def audience(
    dispatch: Dispatch,
    criterion: str,
    *,
    days: int | None = None,
    paid_by: date | None = None,
    now: datetime | None = None,
) -> QuerySet[Delivery]:
    """The deliveries of `dispatch` whose citizens a follow-up with `criterion` reaches.

    - NOT_READ (Premium only; `days` ≥ 0): IO accepted the message at least `days` days
      before `now` and the last read status from IO is not READ (UNREAD, not allowed by the
      citizen, or not known yet).
    - NOT_PAID (Premium only; `paid_by`, a day not after today): IO accepted a message with a
      pagoPA notice, and the notice was not paid by the end of `paid_by` (Italian time): IO
      never reported it PAID, or the portal learned it later (`paid_at`).
    - FAILED: IO refused the message (REJECTED) or it failed for good (FAILED). Citizens
      not on IO or who blocked the service (SKIPPED) are not reached by IO anyway: they are
      in the hand-off list. The messages a cancel stopped are not failures: STOPPED.
    - STOPPED (a cancelled dispatch): nothing was sent, the cancel stopped the message
      (CANCELLED).

    Raises ValueError for an unknown criterion, one the dispatch does not allow
    (`criteria_for`), or a missing or invalid parameter.
    """
    if criterion not in Criterion.values:
        raise ValueError(f"unknown criterion {criterion!r}")
    if criterion not in criteria_for(dispatch):
        raise ValueError(f"criterion {criterion!r} does not apply to this dispatch")
    now = now or timezone.now()
    deliveries = Delivery.objects.filter(dispatch=dispatch)
    if criterion == Criterion.NOT_READ:
        if days is None or days < 0:
            raise ValueError("NOT_READ needs days >= 0")
        return deliveries.filter(
            state__in=RECEIVED, submitted_at__lte=now - timedelta(days=days)
        ).exclude(read_status="READ")
    if criterion == Criterion.NOT_PAID:
        if paid_by is None or paid_by > timezone.localdate(now):
            raise ValueError("NOT_PAID needs a day not after today")
        cutoff = end_of_day(paid_by)
        return (
            deliveries.filter(state__in=RECEIVED)
            .exclude(notice_number="")
            .filter(~Q(payment_status="PAID") | Q(paid_at__gt=cutoff))
        )
    if criterion == Criterion.STOPPED:
        return deliveries.filter(state=Delivery.State.CANCELLED)
    return deliveries.filter(state__in=NOT_DELIVERED)


def why_nobody(
    dispatch: Dispatch,
    criterion: str,
    *,
    days: int | None = None,
    paid_by: date | None = None,
    now: datetime | None = None,
) -> str:
    """Why `audience` finds nobody for `criterion` (with the same parameters), in Italian:
    what the criterion counts, and the messages it leaves out that the operator may have
    in mind (stopped by a cancel, outcomes still uncertain, still to send, not on IO)."""
    now = now or timezone.now()
    deliveries = Delivery.objects.filter(dispatch=dispatch)
    counts = dict(
        deliveries.order_by().values("state").annotate(n=Count("id")).values_list("state", "n")
    )

    def count(*states: str) -> int:
        return sum(counts.get(state, 0) for state in states)

    lead = _("Nessun cittadino corrisponde alla scelta.")
    if criterion == Criterion.NOT_READ:
        if not count(*RECEIVED):
            reason = _("IO non ha ancora accettato nessun messaggio di questo invio.")
        elif not deliveries.filter(
            state__in=RECEIVED, submitted_at__lte=now - timedelta(days=days or 0)
        ).exists():
            reason = ngettext(
                "Nessun messaggio è stato accettato da IO da almeno %(days)s giorno: prova "
                "con meno giorni.",
                "Nessun messaggio è stato accettato da IO da almeno %(days)s giorni: prova "
                "con meno giorni.",
                days or 0,
            ) % {"days": days}
        else:
            reason = ngettext(
                "Tutti i messaggi accettati da IO da almeno %(days)s giorno risultano letti.",
                "Tutti i messaggi accettati da IO da almeno %(days)s giorni risultano letti.",
                days or 0,
            ) % {"days": days}
        return f"{lead} {reason}"
    if criterion == Criterion.NOT_PAID:
        if not deliveries.filter(state__in=RECEIVED).exclude(notice_number="").exists():
            reason = _(
                "IO non ha ancora accettato nessun messaggio con avviso di pagamento di questo "
                "invio."
            )
        else:
            reason = _(
                "Gli avvisi di tutti i messaggi accettati da IO risultano pagati entro il %(day)s."
            ) % {"day": date_format(paid_by or timezone.localdate(now), "SHORT_DATE_FORMAT")}
        return f"{lead} {reason}"
    if criterion == Criterion.STOPPED:
        reason = _("Nessun messaggio di questo invio è stato fermato da un annullamento.")
        return f"{lead} {reason}"
    reasons = [_("IO non ha rifiutato nessun messaggio di questo invio e nessuno è fallito.")]
    if stopped := count(Delivery.State.CANCELLED):
        reasons.append(
            ngettext(
                "%(n)s messaggio fermato dall'annullamento non è mai partito: non è contato "
                "qui, per sollecitarlo scegli «%(criterion)s».",
                "%(n)s messaggi fermati dall'annullamento non sono mai partiti: non sono "
                "contati qui, per sollecitarli scegli «%(criterion)s».",
                stopped,
            )
            % {"n": stopped, "criterion": Criterion.STOPPED.label}
        )
    if uncertain := count(Delivery.State.UNCERTAIN):
        reasons.append(
            ngettext(
                "%(n)s esito incerto non è contato finché un supervisore non lo chiude.",
                "%(n)s esiti incerti non sono contati finché un supervisore non li chiude.",
                uncertain,
            )
            % {"n": uncertain}
        )
    if waiting := count(*STILL_TO_SEND):
        reasons.append(
            ngettext(
                "%(n)s messaggio è ancora da inviare.",
                "%(n)s messaggi sono ancora da inviare.",
                waiting,
            )
            % {"n": waiting}
        )
    if skipped := count(Delivery.State.SKIPPED):
        reasons.append(
            ngettext(
                "%(n)s cittadino non raggiungibile su IO non è contato: è nell'elenco dei "
                "cittadini non raggiunti.",
                "%(n)s cittadini non raggiungibili su IO non sono contati: sono nell'elenco "
                "dei cittadini non raggiunti.",
                skipped,
            )
            % {"n": skipped}
        )
    return " ".join([lead, *reasons])


def _origin_columns(origin: Dispatch, deliveries: QuerySet[Delivery]) -> dict[str, str]:
    """target -> column name of the follow-up list: the origin list's own columns while it
    is kept (so the template's remembered mapping fits; only the targets it mapped), else
    DEFAULT_COLUMNS and the placeholders' names. Only targets the origin's deliveries may
    have a value for. Two targets may share a column, as in the origin's file."""
    names = [str(p.get("name", "")) for p in origin.placeholders or [] if p.get("name")]
    targets = [FISCAL_CODE, *names]
    if deliveries.filter(due_date__isnull=False).exists():
        targets.append(DUE_DATE)
    if deliveries.exclude(notice_number="").exists():
        targets += list(PAYMENT_TARGETS)
    kept = RecipientList.objects.filter(dispatch=origin).values_list("column_mapping", flat=True)
    saved: dict[str, str] = dict(kept.first() or {})
    if saved:
        return {target: saved[target] for target in targets if saved.get(target)}
    columns: dict[str, str] = {}
    for target in targets:
        base = name = DEFAULT_COLUMNS.get(target, target)
        number = 2
        while name in columns.values():
            name, number = f"{base}_{number}", number + 1
        columns[target] = name
    return columns


def _value(delivery: Delivery, fiscal_code: str, target: str) -> str:
    """The text of a delivery's value for one column, as a file would have it (Italian
    numbers; a due date in Italian time to the second)."""
    if target == FISCAL_CODE:
        return fiscal_code
    if target == DUE_DATE:
        if delivery.due_date is None:
            return ""
        return timezone.localtime(delivery.due_date).strftime("%Y-%m-%d %H:%M:%S")
    if target == AMOUNT:
        return "" if delivery.payment_amount is None else format_cents(delivery.payment_amount)
    if target == NOTICE_NUMBER:
        return delivery.notice_number
    if target == INVALID_AFTER_DUE_DATE:
        return YES if delivery.invalid_after_due_date else NO
    if target == PAYEE_FISCAL_CODE:
        return delivery.payee_fiscal_code
    return str((delivery.variables or {}).get(target, ""))


def _rows(
    deliveries: QuerySet[Delivery], targets: list[str]
) -> Iterator[tuple[int, str, list[str]]]:
    """Per delivery, in the origin's order: its id, the name of its own file in the origin's
    list ("" without), and its values for `targets`."""
    for delivery in deliveries.order_by("row_number", "id").iterator(chunk_size=1000):
        fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        own_file = str((delivery.variables or {}).get(ATTACHMENT_KEY) or "")
        yield delivery.pk, own_file, [_value(delivery, fiscal_code, t) for t in targets]


def _own_files_column(origin: Dispatch, columns: dict[str, str]) -> str:
    """The name of the follow-up list's column with each citizen's own file: the origin
    list's while it is kept, else "allegato" (made unique among `columns`)."""
    kept = RecipientList.objects.filter(dispatch=origin).values_list("column_mapping", flat=True)
    saved = str(dict(kept.first() or {}).get(ATTACHMENT) or "")
    if saved and saved not in columns.values():
        return saved
    base = name = DEFAULT_COLUMNS[ATTACHMENT]
    number = 2
    while name in columns.values():
        name, number = f"{base}_{number}", number + 1
    return name


def follow_up_list_create(
    *,
    origin: Dispatch,
    criterion: str,
    template: MessageTemplate,
    service: IOService,
    actor: User,
    days: int | None = None,
    paid_by: date | None = None,
    request: HttpRequest | None = None,
) -> RecipientList:
    """A recipient list of the `audience` of `origin`, for `template` and `service`, with
    the fiscal code and the values each citizen's delivery was sent with (decrypted, then
    sealed like an uploaded list), and `origin` recorded on it (the launch copies it to the
    new dispatch). When every column the template needs is there, the list is checked at
    once (the normal check: a due date already past rejects its row); otherwise it waits for
    the column mapping. The origin's Premium files are carried over by the receivers of
    `signals.follow_up_list_created`: the shared PDF, and each citizen's own PDF for exactly
    the citizens of the follow-up (a file-name column, mapped, names them); what cannot be
    carried is listed with the list's files, with the reason.

    The caller checks that the actor sees `origin` and may use `service`. Raises NotAllowed
    (Italian message) when `origin` may not be followed up (`can_follow_up`), its
    organization is not the template's or the service's, or nobody matches; ValueError as
    `audience` does. Audited: who, origin, criterion and its parameter, how many citizens.
    The list, its rows and the audit event are written in one transaction; the check, when
    it runs, in its own (`recipient_list_validate`): should it fail, the list waits for the
    column mapping.
    """
    if not can_follow_up(origin):
        raise NotAllowed(_("Questo invio non consente un sollecito."))
    if not (origin.organization_id == template.organization_id == service.organization_id):
        raise NotAllowed(_("Il modello o il servizio non appartengono a questo ente."))
    deliveries = audience(origin, criterion, days=days, paid_by=paid_by)
    count = deliveries.count()
    if not count:
        raise NotAllowed(why_nobody(origin, criterion, days=days, paid_by=paid_by))
    columns = _origin_columns(origin, deliveries)
    # One column per name; a shared column takes the value of its first target.
    first_target = {name: target for target, name in reversed(columns.items())}
    headers = list(dict.fromkeys(columns.values()))
    targets = [first_target[name] for name in headers]
    try:
        read = list(_rows(deliveries, targets))
    except DecryptionError:
        raise NotAllowed(
            _("I codici fiscali dell'invio non sono leggibili (chiave di cifratura errata).")
        ) from None
    file_name = (_("Sollecito di «%(title)s»") % {"title": origin.title})[:255]
    # The origin's deliveries were read and decrypted above, outside the transaction: on SQLite
    # it holds the database's write lock from its start. The check has its own (short) one.
    with transaction.atomic():
        recipient_list = RecipientList.objects.create(
            organization=origin.organization,
            created_by=actor,
            template=template,
            service=service,
            file_name=file_name,
            file_format="origin",
            headers=headers,
            row_count=len(read),
            number_format=ITALIAN,
            column_mapping={},
            origin=origin,
            expires_at=timezone.now() + timedelta(hours=settings.RECIPIENTS_LIST_TTL_HOURS),
        )
        answers = follow_up_list_created.send(
            sender=Dispatch,
            origin=origin,
            recipient_list=recipient_list,
            deliveries=deliveries,
            own_files={pk: name for pk, name, _values in read if name},
        )
        own_files: dict[int, str] = {}
        for _receiver, answer in answers:
            own_files.update(cast(dict[int, str], answer or {}))
        rows = [values for _pk, _name, values in read]
        if own_files:
            # Each citizen's own file, by the name the receivers gave it (no file: no name, and
            # the check says so for that row).
            columns[ATTACHMENT] = _own_files_column(origin, columns)
            headers.append(columns[ATTACHMENT])
            for (pk, _name, _values), row in zip(read, rows, strict=True):
                row.append(own_files.get(pk, ""))
        recipient_list.headers = headers
        recipient_list.save(update_fields=["headers"])
        recipient_list.set_rows(rows, list(range(2, len(rows) + 2)))
        spec = message_spec(template=template, service=service, recipient_list=recipient_list)
        # The origin's template (any version) keeps its optional due date and notice.
        same = origin.template is not None and origin.template.family == template.family
        wanted = [FISCAL_CODE, *(str(p["name"]) for p in template.placeholders or [])]
        if template.has_due_date or same:
            wanted.append(DUE_DATE)
        if template.has_payment or same:
            wanted += PAYMENT_TARGETS
        if template.feature_level == FeatureLevel.ADVANCED:
            wanted.append(ATTACHMENT)
        mapping = {target: columns[target] for target in wanted if target in columns}
        recipient_list.column_mapping = mapping
        recipient_list.save(update_fields=["column_mapping"])
        parameter: dict[str, Any] = {}
        if criterion == Criterion.NOT_READ:
            parameter = {"days": days}
        elif criterion == Criterion.NOT_PAID:
            parameter = {"paid_by": str(paid_by)}
        audit_log(
            action=Action.DISPATCH_FOLLOW_UP_STARTED,
            actor=actor,
            organization=origin.organization,
            target=origin,
            changes={
                "criterion": criterion,
                **parameter,
                "citizens": count,
                "list": str(recipient_list.public_id),
                "template": template.name,
                "service": service.name,
            },
            request=request,
        )
    if not mapping_errors(headers=recipient_list.headers, mapping=mapping, spec=spec):
        recipient_list = recipient_list_validate(recipient_list=recipient_list, mapping=mapping)
    return recipient_list


def follow_up_links(membership: Membership, dispatch: Dispatch) -> dict[str, Any]:
    """For the dispatch page: whether the member may start a follow-up of `dispatch`
    (operators and above, `can_follow_up`), its origin and its follow-ups, each only when
    the member sees it (`dispatches_visible_to`)."""
    visible = dispatches_visible_to(membership)
    origin = None
    if dispatch.origin_id is not None:
        origin = visible.filter(pk=dispatch.origin_id).first()
    return {
        "can_follow_up": membership.has_role(Membership.Role.OPERATOR) and can_follow_up(dispatch),
        "follow_up_origin": origin,
        "follow_ups": list(visible.filter(origin=dispatch).order_by("created_at")[:50]),
    }
