"""IO's subscriptions feed: a daily sync per service with feed access, and the lookup the
recipient check uses to skip the profile call.

The feed of day D (UTC) lists IO's hashes (SHA-256 of the fiscal code) of the citizens who
subscribed to / unsubscribed from the service that day; it is available from D+1 00:00 UTC
(earlier: 404 "Data not available yet"). It is a delta: `FeedSubscription` keeps, per
service and hash, the latest event seen. Only hashes are stored, never fiscal codes.

A citizen not in the table is unknown (profile call as usual). The table is trusted only
while the service's last synced day is recent (`SENDING_FEED_MAX_LAG_DAYS`): a feed that
stopped syncing falls back to profile calls instead of acting on stale consent.
"""

import logging
from datetime import UTC, date, datetime, timedelta

from django.db import transaction

from ioportal.core.fiscalcode import fiscal_code_hash
from ioportal.ioapi import IOApiError, NotFoundError, SubscriptionsFeed
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ServiceKeyUnavailableError
from ioportal.sending.conf import sending_settings
from ioportal.sending.gateway import OutOfTime, gateway_for, get_subscriptions_feed
from ioportal.sending.models import FeedDay, FeedSubscription

logger = logging.getLogger(__name__)
CHUNK = 500
# A sync run waits at most this long for the account's tokens before giving up until the
# next run (the feed is an optimisation: sending has priority).
SYNC_BUDGET = 120.0


def utc_today() -> date:
    return datetime.now(UTC).date()


def missing_days(*, service: IOService, today: date | None = None) -> list[date]:
    """Past days (oldest first, at most SENDING_FEED_BACKFILL_DAYS back, up to yesterday)
    whose feed was not applied yet for `service`."""
    today = today or utc_today()
    first = today - timedelta(days=sending_settings().feed_backfill_days)
    done = set(
        FeedDay.objects.filter(service=service, day__gte=first).values_list("day", flat=True)
    )
    days = (first + timedelta(days=n) for n in range((today - first).days))
    return [day for day in days if day not in done]


@transaction.atomic
def apply_feed_day(*, service: IOService, feed: SubscriptionsFeed) -> FeedDay:
    """Store one day of the feed: each hash's latest event (a row already holding a later day
    is left alone, so backfilling an old gap never undoes newer news). A hash in both lists
    of the same day is forgotten (unknown: the profile call decides). Idempotent."""
    day = feed.date_utc
    subscribed = {h.lower() for h in feed.subscriptions}
    unsubscribed = {h.lower() for h in feed.unsubscriptions}
    both = subscribed & unsubscribed
    events = {h: True for h in subscribed - both} | {h: False for h in unsubscribed - both}
    if both:
        FeedSubscription.objects.filter(
            service=service, fiscal_code_hash__in=both, day__lte=day
        ).delete()
    hashes = sorted(events)
    for start in range(0, len(hashes), CHUNK):
        chunk = hashes[start : start + CHUNK]
        existing = {
            row.fiscal_code_hash: row
            for row in FeedSubscription.objects.filter(service=service, fiscal_code_hash__in=chunk)
        }
        FeedSubscription.objects.bulk_create(
            [
                FeedSubscription(service=service, fiscal_code_hash=h, subscribed=events[h], day=day)
                for h in chunk
                if h not in existing
            ],
            ignore_conflicts=True,
        )
        changed = []
        for h, row in existing.items():
            if row.day <= day and (row.subscribed != events[h] or row.day != day):
                row.subscribed, row.day = events[h], day
                changed.append(row)
        FeedSubscription.objects.bulk_update(changed, ["subscribed", "day"])
    record, _ = FeedDay.objects.update_or_create(
        service=service,
        day=day,
        defaults={"subscriptions": len(subscribed), "unsubscriptions": len(unsubscribed)},
    )
    return record


def sync_service_feed(*, service_id: int, today: date | None = None) -> dict[str, int]:
    """Fetch and apply every missing past day of one service's subscriptions feed.

    Each call goes through the account's IO gateway: a token from the shared limiter (low
    priority), an ApiCall row, key fallback on 401, a 429 pauses the account.
    Stops at the first day not available yet or at any error; the next run resumes from the
    first missing day. Does nothing for services without feed access. Returns counters.
    """
    service = IOService.objects.select_related("organization").get(pk=service_id)
    stats = {"days": 0, "subscriptions": 0, "unsubscriptions": 0, "errors": 0}
    if not (service.feed_access and service.is_active):
        return stats
    gateway = gateway_for(service.organization)
    for day in missing_days(service=service, today=today):
        try:
            feed = gateway.call(
                service, get_subscriptions_feed(day), low_priority=True, max_wait=SYNC_BUDGET
            )
        except NotFoundError as exc:
            if exc.title != "Data not available yet":
                stats["errors"] += 1
            break
        except (IOApiError, ServiceKeyUnavailableError, OutOfTime) as exc:
            # Service and day only: no key, no hash in the log.
            logger.warning(
                "feed sync of service %s stopped at %s: %s", service.pk, day, type(exc).__name__
            )
            stats["errors"] += 1
            break
        record = apply_feed_day(service=service, feed=feed)
        stats["days"] += 1
        stats["subscriptions"] += record.subscriptions
        stats["unsubscriptions"] += record.unsubscriptions
    return stats


def known_consent(*, service: IOService, fiscal_code: str) -> bool | None:
    """What the feed says about this citizen and service: True (latest event: subscribed),
    False (unsubscribed) or None (unknown, no feed access, or the feed is not recent)."""
    if not service.feed_access:
        return None
    cutoff = utc_today() - timedelta(days=1 + sending_settings().feed_max_lag_days)
    if not FeedDay.objects.filter(service=service, day__gte=cutoff).exists():
        return None
    return (
        FeedSubscription.objects.filter(
            service=service, fiscal_code_hash=fiscal_code_hash(fiscal_code)
        )
        .values_list("subscribed", flat=True)
        .first()
    )
