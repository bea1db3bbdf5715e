"""A real django-q2 cluster runs the portal's tasks through the configured broker."""

import time

import pytest
from django.conf import settings
from django_q.tasks import async_task

from ioportal.core.models import WorkerHeartbeat
from tests.processes import manage, purge_task_queue


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_qcluster_runs_a_task():
    purge_task_queue()
    worker = manage("qcluster")
    try:
        async_task("ioportal.core.tasks.heartbeat")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
            time.sleep(0.2)
        assert WorkerHeartbeat.objects.exists(), "the worker did not run the task in 60 s"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert "Traceback" not in output, output


@pytest.mark.redis
def test_redis_broker_when_configured():
    if not settings.REDIS_URL:
        pytest.skip("this run uses the ORM broker; CI runs it again with REDIS_URL set")
    from django_q.brokers import get_broker

    broker = get_broker()
    assert type(broker).__name__ == "Redis"
    assert broker.ping()
