"""Server time of the supervision pages on a large PostgreSQL database.

Seeds (once; --reseed to start again) one organization with 2,000 dispatches and 1,000,000
deliveries (one dispatch of 10,000, the others sharing the rest), inserted in bulk on the
server (INSERT ... SELECT generate_series), with a citizen who appears in 20 dispatches and
IO calls for the big dispatch; then VACUUM ANALYZE. Then it requests, through Django's test
client in this process (so the time is the server's: middleware, queries, templates, no
network), each page REPEAT times and prints the median, the slowest and the number of
queries:

- the history (first page, and filtered by title and state);
- the page of the dispatch with 10,000 deliveries, and its outcome block (polled by htmx);
- a delivery page with its IO calls;
- the search by fiscal code.

Target: median under 300 ms for each. Exits 1 when a target is missed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python benchmarks/history_benchmark.py [--deliveries 1000000] [--reseed]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled).")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from ioportal.accounts.models import Membership, Organization, User  # noqa: E402
from ioportal.core import crypto  # noqa: E402
from ioportal.core.fiscalcode import protect_fiscal_code  # noqa: E402
from ioportal.ioservices.services import ioservice_create  # noqa: E402
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel  # noqa: E402
from ioportal.sending.models import ApiCall  # noqa: E402

ORG_FISCAL_CODE = "80000000001"
DISPATCHES = 2000
BIG = 10_000
CITIZEN = "RSSMRA80A01H501U"
CITIZEN_DISPATCHES = 20
REPEAT = 15
TARGET_MS = 300.0


def _seed(total: int) -> None:
    started = time.perf_counter()
    organization = Organization.objects.create(
        name="Comune del benchmark", fiscal_code=ORG_FISCAL_CODE
    )
    author = User.objects.create_user(username="bench-autore", password="x" * 20)
    supervisor = User.objects.create_user(username="bench-supervisore", password="x" * 20)
    Membership.objects.create(user=author, organization=organization, role=Membership.Role.OPERATOR)
    Membership.objects.create(
        user=supervisor, organization=organization, role=Membership.Role.SUPERVISOR
    )
    services = [
        ioservice_create(
            organization=organization,
            actor="benchmark",
            service_id=f"01JBENCHSERV1CE0000000000{n}",
            name=f"Servizio {n}",
            primary_key=f"{n:02d}" + "a" * 30,
            premium_enabled=True,
        )
        for n in range(4)
    ]
    titles = ["TARI 2026", "Carta d'identità in scadenza", "Accertamento IMU", "Mensa scolastica"]
    states = [Dispatch.State.COMPLETED] * 19 + [Dispatch.State.RUNNING]
    dispatches = Dispatch.objects.bulk_create(
        Dispatch(
            organization=organization,
            service=services[n % 4],
            title=f"{titles[n % 4]} – lotto {n}",
            subject="Avviso di pagamento TARI 2026",
            markdown="Gentile {{ nome }}, "
            + "ti ricordiamo l'avviso di pagamento della TARI. " * 3,
            placeholders=[{"name": "nome", "type": "text", "required": True}],
            feature_level=FeatureLevel.ADVANCED if n % 3 == 0 else FeatureLevel.STANDARD,
            state=states[n % 20],
            created_by=author,
        )
        for n in range(DISPATCHES)
    )
    ids = [d.pk for d in dispatches]
    big = ids[-1]  # the newest: first on the history page
    per_dispatch, remainder = divmod(total - BIG, DISPATCHES - 1)
    code = protect_fiscal_code("BNCMRA80A01H501X")
    variables = crypto.encrypt('{"nome": "Cittadino del benchmark"}')
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_dispatch SET created_at = now() - (interval '1 hour' * (%s - id)),"
            " started_at = now() - (interval '1 hour' * (%s - id)),"
            " finished_at = CASE WHEN state = 'completed'"
            " THEN now() - (interval '1 hour' * (%s - id)) + interval '20 minutes' END"
            " WHERE organization_id = %s",
            [big, big, big, organization.pk],
        )
        # g: a global row number; each dispatch gets a contiguous range of g.
        insert = """
            INSERT INTO messaging_delivery (
                public_id, dispatch_id, row_number, fiscal_code_encrypted, fiscal_code_hmac,
                fiscal_code_masked, variables, notice_number, invalid_after_due_date,
                payee_fiscal_code, state, attempts, claimed_by, skip_reason, last_error_code,
                last_error_parts, io_message_id, io_status, read_status, payment_status,
                submitted_at, polls, finished_at, created_at, first_attempt_at
            )
            SELECT gen_random_uuid(), %(dispatch)s, g - %(start)s + 1, %(encrypted)s,
                md5(g::text) || md5('cf' || g::text), %(masked)s, %(variables)s, '', false, '',
                s.state, 1, '',
                CASE WHEN s.state = 'skipped' THEN 'not_on_io' ELSE '' END,
                CASE WHEN s.state = 'failed' THEN 'retries_exhausted' ELSE '' END, '[]',
                CASE WHEN s.state = 'processed' THEN 'B' || lpad(g::text, 25, '0') END,
                CASE WHEN s.state = 'processed' THEN 'PROCESSED' ELSE '' END,
                CASE WHEN s.state = 'processed' AND %(premium)s
                    THEN (CASE WHEN g %% 3 = 0 THEN 'UNREAD' ELSE 'READ' END) ELSE '' END,
                '', now() - interval '1 day', 0, now() - interval '1 day',
                now() - interval '1 day', now() - interval '1 day'
            FROM generate_series(%(start)s, %(end)s) AS g,
                LATERAL (SELECT CASE
                    WHEN g %% 20 < 16 THEN 'processed'
                    WHEN g %% 20 < 19 THEN 'skipped'
                    ELSE 'failed' END AS state) AS s
        """
        start = 1
        for number, dispatch in enumerate(dispatches):
            size = BIG if dispatch.pk == big else per_dispatch + (number < remainder)
            cursor.execute(
                insert,
                {
                    "dispatch": dispatch.pk,
                    "start": start,
                    "end": start + size - 1,
                    "encrypted": code["fiscal_code_encrypted"],
                    "masked": code["fiscal_code_masked"],
                    "variables": variables,
                    "premium": dispatch.feature_level == FeatureLevel.ADVANCED,
                },
            )
            start += size
            if number % 200 == 0:
                print(f"  {start - 1:,} deliveries…", flush=True)
    # One citizen found in 20 dispatches (the search), with real encrypted values.
    citizen = protect_fiscal_code(CITIZEN)
    Delivery.objects.bulk_create(
        Delivery(
            dispatch_id=pk,
            row_number=per_dispatch + 2,
            variables={"nome": "Mario Rossi"},
            state=Delivery.State.PROCESSED,
            io_message_id=f"C{n:025d}",
            **citizen,
        )
        for n, pk in enumerate(ids[-CITIZEN_DISPATCHES:])
    )
    # IO calls: two per delivery of the big dispatch.
    big_ids = list(Delivery.objects.filter(dispatch_id=big).values_list("pk", flat=True))
    ApiCall.objects.bulk_create(
        (
            ApiCall(
                organization=organization,
                service=services[(DISPATCHES - 1) % 4],
                delivery_id=pk,
                operation=operation,
                status_code=status,
                duration_ms=90,
                outcome="ok",
            )
            for pk in big_ids
            for operation, status in (("get_profile", 200), ("submit_message", 201))
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def _client(user: User) -> Client:
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="default", defaults={"confirmed": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def _measure(client: Client, url: str) -> tuple[float, float, int]:
    client.get(url)  # warm: templates compiled, connection open
    times = []
    queries = 0
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured.captured_queries)
    return statistics.median(times), max(times), queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    existing = Organization.objects.filter(fiscal_code=ORG_FISCAL_CODE).first()
    if existing is not None and (
        args.reseed or not Dispatch.objects.filter(organization=existing).exists()
    ):
        print("removing the previous seed…", flush=True)
        with transaction.atomic():
            ApiCall.objects.filter(organization=existing).delete()
            Delivery.objects.filter(dispatch__organization=existing)._raw_delete("default")
            Dispatch.objects.filter(organization=existing).delete()
            existing.delete()
            User.objects.filter(username__startswith="bench-").delete()
        existing = None
    if existing is None:
        print(f"seeding {DISPATCHES:,} dispatches and {args.deliveries:,} deliveries…", flush=True)
        _seed(args.deliveries)
    organization = Organization.objects.get(fiscal_code=ORG_FISCAL_CODE)
    total = Delivery.objects.filter(dispatch__organization=organization).count()
    big = Dispatch.objects.filter(organization=organization).order_by("-created_at", "-id").first()
    assert big is not None
    delivery = Delivery.objects.filter(dispatch=big).order_by("row_number").first()
    assert delivery is not None
    client = _client(User.objects.get(username="bench-supervisore"))
    pages = [
        ("history, first page", reverse("sending:dispatch_list")),
        (
            "history, title + state filter",
            reverse("sending:dispatch_list") + "?q=TARI&stato=completed&ordine=titolo",
        ),
        (
            f"dispatch page ({big.deliveries.count():,} deliveries)",
            reverse("sending:dispatch_detail", args=[big.public_id]),
        ),
        (
            "dispatch outcome block (htmx)",
            reverse("sending:dispatch_progress", args=[big.public_id]),
        ),
        ("delivery page", reverse("sending:delivery_detail", args=[delivery.public_id])),
        ("fiscal-code search", reverse("sending:delivery_search") + f"?codice_fiscale={CITIZEN}"),
    ]
    print(
        f"\nPostgreSQL {connection.pg_version}, {DISPATCHES:,} dispatches, {total:,} deliveries; "  # type: ignore[attr-defined]
        f"{REPEAT} requests each, in-process test client (server time)\n"
    )
    print(f"{'page':45} {'median':>9} {'max':>9} {'queries':>8}")
    missed = False
    for name, url in pages:
        median, slowest, queries = _measure(client, url)
        flag = "" if median < TARGET_MS else "  > target"
        missed = missed or bool(flag)
        print(f"{name:45} {median:7.1f}ms {slowest:7.1f}ms {queries:8d}{flag}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
