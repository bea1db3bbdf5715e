"""Claiming deliveries: a claim is committed before any IO call and fences every later write.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` on the candidate rows, then an UPDATE, in one
short transaction, so concurrent workers never wait for or share a row. SQLite (one host, no
row locks): compare-and-set per candidate (`UPDATE ... WHERE id=? AND <still claimable>`,
keep the rows where one row changed) inside an IMMEDIATE transaction.

Times come from the worker's clock (synchronise the machines' clocks).
"""

import uuid
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model, Q, QuerySet
from django.db.models.functions import Coalesce

from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending import clock, gate
from ioportal.sending.conf import sending_settings

S = Delivery.State


def _due_work(now) -> Q:
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return (Q(state__in=(S.PENDING, S.RETRY_WAIT)) & due) | (Q(state=S.READY) & free)


def work_queryset(
    *, organization_id: int, now=None, within: gate.Gate | None = None
) -> QuerySet[Delivery]:
    """Deliveries of the organization's running dispatches that a worker may claim now
    (inside the send window, with daily quota left: `gate.py`)."""
    now = now or clock.now()
    if within is None:
        within = gate.gate(organization_id=organization_id, now=now)
    return Delivery.objects.filter(
        _due_work(now),
        within.q(),
        dispatch__organization_id=organization_id,
        dispatch__state=Dispatch.State.RUNNING,
        io_message_id__isnull=True,
    )


def poll_queryset(*, organization_id: int, now=None) -> QuerySet[Delivery]:
    """Submitted (or Premium processed) deliveries whose status refresh is due."""
    now = now or clock.now()
    return Delivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        dispatch__organization_id=organization_id,
        state__in=(S.SUBMITTED, S.PROCESSED),
        next_poll_at__lte=now,
    )


def _claim(
    candidates: QuerySet[Delivery],
    claimable: Q,
    *,
    limit: int,
    worker: str,
    to_checking: bool,
    token: uuid.UUID | None = None,
) -> tuple[uuid.UUID, list[int]]:
    token = token or uuid.uuid4()
    now = clock.now()
    lease = now + timedelta(seconds=sending_settings().lease_seconds)
    common = {
        "claim_token": token,
        "claimed_by": worker[:100],
        "claimed_at": now,
        "lease_until": lease,
    }
    claimed: list[int] = []
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            rows = list(
                candidates.select_for_update(skip_locked=True, of=("self",))
                .order_by("id")
                .values_list("id", "state")[:limit]
            )
            claimed = [pk for pk, _state in rows]
            _apply(rows, common, now, to_checking)
        else:
            # SQLite: the transaction is IMMEDIATE (settings.py), so it holds the database's
            # write lock from its start and no other writer can change the rows read here
            # before the UPDATE; the claimable condition is checked again all the same.
            rows = list(candidates.order_by("id").values_list("id", "state")[:limit])
            by_state: dict[str, list[int]] = {}
            for pk, state in rows:
                by_state.setdefault(state, []).append(pk)
            for state, pks in by_state.items():
                fields = _fields(state, common, now, to_checking)
                changed = Delivery.objects.filter(claimable, pk__in=pks, state=state).update(
                    **fields
                )
                if changed == len(pks):
                    claimed += pks
                else:  # another writer got in between (a deferred transaction)
                    claimed += Delivery.objects.filter(pk__in=pks, claim_token=token).values_list(
                        "pk", flat=True
                    )
    return token, claimed


def _fields(state: str, common: dict, now, to_checking: bool) -> dict:
    fields = dict(common)
    if to_checking and state in (S.PENDING, S.RETRY_WAIT):
        fields["state"] = S.CHECKING
        fields["first_attempt_at"] = Coalesce("first_attempt_at", now)
    return fields


def _apply(rows: list[tuple[int, str]], common: dict, now, to_checking: bool) -> None:
    by_state: dict[str, list[int]] = {}
    for pk, state in rows:
        by_state.setdefault(state, []).append(pk)
    for state, pks in by_state.items():
        Delivery.objects.filter(pk__in=pks).update(**_fields(state, common, now, to_checking))


def claim_work(*, organization_id: int, worker: str, limit: int) -> tuple[uuid.UUID, list[int]]:
    """Claim up to `limit` deliveries of the organization's running dispatches.

    Pending and retry-wait ones become CHECKING; READY ones (profile already checked) keep
    their state. All get one new claim token and a lease. Committed on return. Returns
    (token, ids claimed). Idempotent in effect: a row is claimed by one worker at a time.
    Outside the organization's send window only test sends are claimed, and a paced
    dispatch gives at most the quota it has left today (`gate.py`).
    """
    now = clock.now()
    claimable = _due_work(now) & Q(io_message_id__isnull=True)
    with transaction.atomic():
        # Send windows and daily quotas; paced dispatches locked until the claim commits.
        within = gate.gate(organization_id=organization_id, now=now, lock=True)
        candidates = work_queryset(organization_id=organization_id, now=now, within=within)
        small = within.small(limit)
        if not small:
            return _claim(candidates, claimable, limit=limit, worker=worker, to_checking=True)
        token, ids = uuid.uuid4(), list[int]()
        for dispatch_id, left in small.items():
            if len(ids) < limit:
                ids += _claim(
                    candidates.filter(dispatch_id=dispatch_id),
                    claimable,
                    limit=min(left, limit - len(ids)),
                    worker=worker,
                    to_checking=True,
                    token=token,
                )[1]
        if len(ids) < limit:
            ids += _claim(
                candidates.exclude(dispatch_id__in=small),
                claimable,
                limit=limit - len(ids),
                worker=worker,
                to_checking=True,
                token=token,
            )[1]
        return token, ids


def claim_polls(*, organization_id: int, worker: str, limit: int) -> tuple[uuid.UUID, list[int]]:
    """Claim up to `limit` deliveries whose status refresh is due (state unchanged). With
    none due, no transaction: a run asks every few seconds while it sends, and on SQLite each
    claim's transaction takes the database's write lock."""
    now = clock.now()
    candidates = poll_queryset(organization_id=organization_id, now=now)
    if not candidates.exists():
        return uuid.uuid4(), []
    return _claim(
        candidates,
        (Q(lease_until__isnull=True) | Q(lease_until__lt=now)) & Q(next_poll_at__lte=now),
        limit=limit,
        worker=worker,
        to_checking=False,
    )


def _submittable(mine: Q) -> QuerySet[Delivery]:
    """The deliveries of `mine` (ids with the token their caller holds) that may be claimed
    for submission: READY or CHECKING, no IO id yet, dispatch running."""
    return Delivery.objects.filter(
        mine,
        state__in=(S.READY, S.CHECKING),
        io_message_id__isnull=True,
        dispatch__state=Dispatch.State.RUNNING,
    )


def _submitting(new_token: uuid.UUID) -> dict[str, Any]:
    """The fields a submission claim writes: SUBMITTING under `new_token`, leased from now."""
    now = clock.now()
    return {
        "state": S.SUBMITTING,
        "claim_token": new_token,
        "claimed_at": now,
        "lease_until": now + timedelta(seconds=sending_settings().lease_seconds),
    }


def claim_submission(*, delivery_id: int, token: uuid.UUID) -> uuid.UUID | None:
    """READY (or CHECKING whose profile check just passed) → SUBMITTING, with a fresh token,
    in one UPDATE that the caller commits before the call.

    Only if the caller still holds `token`, the delivery has no IO id and its dispatch is
    still running: a pause or cancel stops every submission not yet claimed. Returns the new
    token, or None when the delivery may not be submitted (nothing changed).
    """
    new_token = uuid.uuid4()
    updated = _submittable(Q(pk=delivery_id, claim_token=token)).update(**_submitting(new_token))
    return new_token if updated else None


def claim_submissions(
    *, claimed: list[tuple[int, uuid.UUID]]
) -> tuple[uuid.UUID, set[tuple[int, uuid.UUID]]]:
    """`claim_submission` for several deliveries at once, under one new token, with the same
    conditions per row (the caller's token, READY or CHECKING, no IO id, dispatch running).
    Returns (new token, the (id, caller's token) pairs claimed); the caller commits before any
    request leaves. A delivery may appear twice with different tokens (a run still holding
    a job of an expired claim and one of the delivery's new claim): only the pair with the
    row's token is claimed, so only that job may send.

    One statement executed for every row (`executemany`: compiled once, sent in one call),
    and a SELECT only when some row was not claimed: under the limiter's pacing a run claims
    a few submissions at a time, and building the ORM's UPDATE (and the SELECT of the rows
    it changed) for each was the larger part of the run's CPU (figure 3)."""
    new_token = uuid.uuid4()
    if not claimed:
        return new_token, set()
    fields = _submitting(new_token)
    quote = connection.ops.quote_name

    def field(model: type[Model], name: str) -> Field:
        found = model._meta.get_field(name)
        assert isinstance(found, Field)
        return found

    def column(name: str, model: type[Model] = Delivery) -> str:
        return quote(str(field(model, name).column))

    def value(name: str, raw: object) -> Any:
        return field(Delivery, name).get_db_prep_save(raw, connection)

    # Identifiers from the models' metadata, every value a parameter.
    sql = (
        f"UPDATE {quote(Delivery._meta.db_table)} SET {column('state')} = %s, "  # noqa: S608
        f"{column('claim_token')} = %s, {column('claimed_at')} = %s, "
        f"{column('lease_until')} = %s "
        f"WHERE {column('id')} = %s AND {column('claim_token')} = %s "
        f"AND {column('state')} IN (%s, %s) AND {column('io_message_id')} IS NULL "
        f"AND {column('dispatch')} IN (SELECT {column('id', Dispatch)} "
        f"FROM {quote(Dispatch._meta.db_table)} WHERE {column('state', Dispatch)} = %s)"
    )
    token_value = value("claim_token", new_token)
    claimed_at = value("claimed_at", fields["claimed_at"])
    lease_until = value("lease_until", fields["lease_until"])

    def params(delivery_id: int, token: uuid.UUID) -> tuple:
        return (
            S.SUBMITTING,
            token_value,
            claimed_at,
            lease_until,
            delivery_id,
            value("claim_token", token),
            S.READY,
            S.CHECKING,
            Dispatch.State.RUNNING,
        )

    ids = [pk for pk, _token in claimed]
    with connection.cursor() as cursor:
        if len(set(ids)) < len(ids):
            # The same delivery under two tokens: which pair matched is known per row only.
            won = set()
            for pair in claimed:
                cursor.execute(sql, params(*pair))
                if cursor.rowcount:
                    won.add(pair)
            return new_token, won
        cursor.executemany(sql, [params(*pair) for pair in claimed])
        changed = cursor.rowcount
    if changed == len(ids):
        return new_token, set(claimed)
    # Each id appears once: the rows now under the new token are the pairs claimed.
    mine = set(
        Delivery.objects.filter(pk__in=ids, claim_token=new_token).values_list("pk", flat=True)
    )
    return new_token, {pair for pair in claimed if pair[0] in mine}
