"""Proofs of sending: time of one PDF, and time and memory of a dispatch's ZIP.

Creates a dispatch whose deliveries all reached IO (payment notice, due date, a name with
accents in the text), against a throw-away SQLite database in var/ (deleted at the end; or
DATABASE_URL). Prints:

- one proof (`reports.proofs.proof_pdf`): median and slowest of REPEAT, and its size;
- the ZIP of the whole dispatch (`dispatch_proofs_zip`), consumed as the response streams it:
  total time, proofs per second, archive size, and the process's peak RSS before and after
  it (the ZIP keeps one PDF in memory: the peak must not grow with the deliveries);
- the time a ZIP of 10,000 and 100,000 proofs would take at that rate.

    .venv/bin/python benchmarks/proof_benchmark.py [--deliveries 300]
"""

import argparse
import os
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")

from benchmarks.common import remove_throwaway_database, use_throwaway_database  # noqa: E402

DB = use_throwaway_database("proofs")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # as in production: no query log

from django.core.management import call_command  # noqa: E402

from ioportal.accounts.models import Membership, Organization, User  # noqa: E402
from ioportal.core.fiscalcode import protect_fiscal_code  # noqa: E402
from ioportal.ioservices.services import ioservice_create  # noqa: E402
from ioportal.messaging.models import Delivery, Dispatch  # noqa: E402
from ioportal.reports import proofs  # noqa: E402

REPEAT = 20
SUBMITTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARKDOWN = (
    "Gentile {{ nome }},\n\nle ricordiamo che la **TARI 2026** scade il giorno indicato. "
    "Può pagare con l'avviso pagoPA direttamente dall'app IO, oppure presso gli sportelli "
    "dell'Ufficio Tributi del Comune, dal lunedì al venerdì.\n\n- Ufficio Tributi"
)


def seed(deliveries: int) -> Dispatch:
    organization = Organization.objects.create(name="Comune di Forlì", fiscal_code="80001230582")
    author = User.objects.create_user(username="bench-autore", password="x" * 20)
    Membership.objects.create(user=author, organization=organization, role="operator")
    service = ioservice_create(
        organization=organization,
        actor="bench",
        primary_key="3f1c0a9b7e4412d5a6b8c9d0e1f2a3b4",
        secondary_key="9b7e44d5a6b8c9d0e1f2a3b43f1c0a12",
        service_id="01JD3M0SERV1CE000000000001",
        name="Tributi",
    )
    dispatch = Dispatch.objects.create(
        organization=organization,
        service=service,
        state=Dispatch.State.COMPLETED,
        created_by=author,
        title="TARI 2026",
        subject="Avviso di pagamento TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "nome", "type": "text", "required": True}],
    )
    rows = []
    for n in range(deliveries):
        code = f"RSSMRA80A01{n:05d}"  # unique per citizen; the portal checks no format here
        rows.append(
            Delivery(
                dispatch=dispatch,
                row_number=n + 1,
                variables={"nome": f"Niccolò Łukasiewicz {n}"},
                state=Delivery.State.PROCESSED,
                io_message_id=f"01JBENCH{n:018d}",
                payment_amount=12345 + n,
                notice_number=f"3{n:017d}",
                due_date=SUBMITTED + timedelta(days=60),
                submitted_at=SUBMITTED + timedelta(seconds=n),
                finished_at=SUBMITTED + timedelta(seconds=n + 3),
                **protect_fiscal_code(code),
            )
        )
    Delivery.objects.bulk_create(rows, batch_size=1000)
    return dispatch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    dispatch = seed(args.deliveries)
    delivery = proofs.proof_deliveries(dispatch).select_related(
        "dispatch__organization", "dispatch__service", "dispatch__created_by"
    )[0]
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        pdf = proofs.proof_pdf(delivery)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"one proof:  median {statistics.median(times):6.1f} ms  slowest {max(times):6.1f} ms  "
        f"size {len(pdf) / 1024:5.1f} KiB"
    )

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    size = 0
    for chunk in proofs.dispatch_proofs_zip(dispatch):
        size += len(chunk)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = args.deliveries / elapsed
    print(
        f"ZIP of {args.deliveries:,} proofs: {elapsed:6.1f} s  {rate:5.1f} proofs/s  "
        f"size {size / 1024 / 1024:6.1f} MiB  peak RSS {before:5.0f} MiB before, "
        f"{after:5.0f} MiB after"
    )
    for count in (10_000, 100_000):
        print(f"at that rate, {count:,} proofs: {count / rate / 60:6.1f} min")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        remove_throwaway_database(DB)
