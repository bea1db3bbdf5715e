"""Reachability checks with real processes: qcluster workers and the IO simulator, over real
HTTP. The checks read profiles and submit nothing: the simulator's ledger stays empty."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Max, Min

from ioportal.accounts.models import Membership, Organization
from ioportal.reachability import runs, services
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.recipients.parsing import parse_table
from ioportal.sending.models import ApiCall
from ioportal.sending.triggers import wake_up
from tests import builders
from tests.processes import Clusters, purge_task_queue, stop_process, wait_until
from tests.sending.conftest import Simulator
from tests.sending.support import (
    PRIMARY_KEY,
    SECONDARY_KEY,
    fiscal_code,
    fiscal_codes,
    simulated_service,
    simulator_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TEST_SERVICE_ID = "01JSEND0SERV1CE0000000000T"
NORMAL = fiscal_code("RSSMRA80A01H501")
NOT_ON_IO = fiscal_code("XXXMRA80A01H501")
BLOCKED = fiscal_code("YYYMRA80A01H501")
SUBMIT = "submitMessageforUserWithFiscalCodeInBody"


@pytest.fixture
def organization_user(db: None) -> tuple[Organization, Any]:
    organization = builders.organization()
    return organization, builders.user(Membership.Role.OPERATOR, organization)


def start(
    organization: Organization, start_simulator: Callable[[dict[str, Any]], Simulator]
) -> Simulator:
    """The simulator with the organization's production service and a test-mode one that may
    write only to NORMAL and NOT_ON_IO."""
    config = simulator_config(organization, rate_limit=100)
    config["accounts"][0]["services"].append(
        {
            "service_id": TEST_SERVICE_ID,
            "name": "Anagrafe (prova)",
            "primary_key": "c3" + PRIMARY_KEY[2:],
            "secondary_key": "d4" + SECONDARY_KEY[2:],
            "test_mode": True,
            "authorized_recipients": [NORMAL, NOT_ON_IO],
        }
    )
    return start_simulator(config)


def create_check(service: Any, author: Any, codes: list[str]) -> ReachabilityCheck:
    text = "Codice fiscale;Nome\n" + "".join(f"{code};Cittadino\n" for code in codes)
    table = parse_table(data=text.encode(), filename="elenco.csv")
    return services.reachability_check_create(
        service=service,
        table=table,
        column=services.fiscal_code_column(table.headers),
        source_name="elenco.csv",
        actor=author,
    )


def finished(*checks: ReachabilityCheck) -> bool:
    return not ReachabilityCheck.objects.filter(
        pk__in=[c.pk for c in checks], state__in=ReachabilityCheck.ACTIVE
    ).exists()


def test_checks_through_real_workers_submit_nothing(
    start_simulator: Callable[[dict[str, Any]], Simulator],
    clusters: Clusters,
    organization_user: tuple[Organization, Any],
) -> None:
    organization, author = organization_user
    simulator = start(organization, start_simulator)
    production = builders.service(organization, **simulated_service(simulator.api_url))
    test_mode = builders.service(
        organization,
        service_id=TEST_SERVICE_ID,
        name="Anagrafe (prova)",
        test_mode=True,
        authorized_recipients=[NORMAL, NOT_ON_IO],
        api_base_url=simulator.api_url,
        primary_key="c3" + PRIMARY_KEY[2:],
        secondary_key="d4" + SECONDARY_KEY[2:],
    )
    others = fiscal_codes(40, not_on_io_every=10, blocked_every=10)
    purge_task_queue()
    workers = [clusters.start()]
    main = create_check(production, author, [NORMAL, NOT_ON_IO, BLOCKED, *others])
    trial = create_check(test_mode, author, [NORMAL, NOT_ON_IO, BLOCKED, others[0]])

    done = wait_until(lambda: finished(main, trial), timeout=120, tick=runs.sweep)
    for process in workers:
        stop_process(process)
    main.refresh_from_db()
    trial.refresh_from_db()
    assert done, clusters.logs()

    expected_not_on_io = 1 + sum(code.startswith("XXX") for code in others)
    expected_blocked = 1 + sum(code.startswith("YYY") for code in others)
    assert main.state == ReachabilityCheck.State.DONE
    assert (main.not_on_io, main.blocked, main.errors) == (expected_not_on_io, expected_blocked, 0)
    assert main.reachable == main.total - expected_not_on_io - expected_blocked
    rows = ReachabilityRow.objects.filter(check_run=main)
    assert not rows.filter(result=ReachabilityRow.Result.PENDING).exists()
    assert set(rows.values_list("source", flat=True)) == {"profile"}

    # Test mode: IO is asked only about the two authorised citizens.
    assert trial.state == ReachabilityCheck.State.DONE
    assert (trial.reachable, trial.not_on_io, trial.not_authorized) == (1, 1, 2)

    stats = simulator.inspect("stats")
    profile_calls = sum(stats["calls"].get("getProfileByPOST", {}).values())
    assert profile_calls == main.total + 2
    assert not stats["calls"].get(SUBMIT), stats["calls"]
    assert stats["messages"] == 0
    assert simulator.inspect("ledger") == []
    assert ApiCall.objects.filter(organization=organization).count() == profile_calls


def test_a_killed_worker_leaves_nothing_unchecked(
    start_simulator: Callable[[dict[str, Any]], Simulator],
    clusters: Clusters,
    organization_user: tuple[Organization, Any],
) -> None:
    organization, author = organization_user
    simulator = start(organization, start_simulator)
    simulator.set_faults(latency_ms=40, jitter_ms=20)
    production = builders.service(organization, **simulated_service(simulator.api_url))
    codes = fiscal_codes(300, not_on_io_every=10, blocked_every=10)
    purge_task_queue()
    first = clusters.start()
    check = create_check(production, author, codes)
    started = wait_until(
        lambda: (
            ReachabilityRow.objects.filter(check_run=check)
            .exclude(result=ReachabilityRow.Result.PENDING)
            .count()
            >= 20
        ),
        timeout=60,
    )
    assert started, clusters.logs()
    stop_process(first, kill=True)
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.RUNNING and check.lease_until is not None
    second = clusters.start()
    done = wait_until(lambda: finished(check), timeout=180, tick=runs.sweep)
    stop_process(second)
    assert done, clusters.logs()
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.DONE and check.errors == 0
    assert check.checked == check.total == 300
    assert check.not_on_io == sum(code.startswith("XXX") for code in codes)
    assert check.blocked == sum(code.startswith("YYY") for code in codes)
    stats = simulator.inspect("stats")
    reads = sum(stats["calls"].get("getProfileByPOST", {}).values())
    # The rows the killed run was reading are read again: a few more calls, no submission.
    assert 300 <= reads <= 300 + 5, reads
    assert stats["messages"] == 0 and simulator.inspect("ledger") == []
    print(f"\nkilled worker: {reads} profile reads for 300 citizens")


def test_a_dispatch_of_the_same_account_goes_first(
    start_simulator: Callable[[dict[str, Any]], Simulator],
    clusters: Clusters,
    organization_user: tuple[Organization, Any],
) -> None:
    organization, author = organization_user
    simulator = start(organization, start_simulator)
    production = builders.service(organization, **simulated_service(simulator.api_url))
    codes = fiscal_codes(160)
    dispatch = builders.dispatch(production, author, codes[:120])
    purge_task_queue()
    workers = [clusters.start()]
    check = create_check(production, author, codes[120:])
    wake_up(organization_id=organization.pk)

    done = wait_until(lambda: finished(check), timeout=180, tick=runs.sweep)
    for process in workers:
        stop_process(process)
    assert done, clusters.logs()
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.DONE and check.reachable == 40

    # Accepted submissions: a loaded machine may add refused or timed-out attempts (429,
    # 5xx) that the pipeline repeats; the ledger below proves no message went twice.
    submissions = ApiCall.objects.filter(
        delivery__dispatch=dispatch, operation__icontains="submit", outcome="ok"
    )
    assert submissions.count() == 120
    last_submission = submissions.aggregate(at=Max("created_at"))["at"]
    first_read = ApiCall.objects.filter(organization=organization, delivery__isnull=True).aggregate(
        at=Min("created_at")
    )["at"]
    # The check waits while the dispatch has deliveries to check or submit: its first read
    # comes once the last submission has left (its row is written at the answer).
    assert first_read >= last_submission - timedelta(seconds=2), (first_read, last_submission)
    assert sum(entry["count"] for entry in simulator.inspect("ledger")) == 120
