"""The periodic work the workers do: every schedule registered, every function importable."""

import pytest
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

from ioportal.core.management.commands.schedule_tasks import app_schedules

pytestmark = pytest.mark.django_db


def test_schedule_tasks_registers_every_schedule_once():
    call_command("schedule_tasks")
    call_command("schedule_tasks")  # idempotent
    registered = {s.func: s.minutes for s in Schedule.objects.all()}
    assert registered == {func: minutes for func, _name, minutes in app_schedules()}
    for func in registered:
        assert callable(import_string(func))


def test_schedule_tasks_queues_a_first_heartbeat(monkeypatch):
    queued = []
    monkeypatch.setattr(
        "ioportal.core.management.commands.schedule_tasks.async_task",
        lambda func, *args, **kwargs: queued.append(func),
    )
    call_command("schedule_tasks")
    assert queued == ["ioportal.core.tasks.heartbeat"]


def test_each_app_registers_its_own_schedules():
    assert {func.split(".")[1] for func, _name, _minutes in app_schedules()} == {
        "core",
        "dashboard",
        "messaging",
        "retention",
        "sending",
        "recipients",
        "remotecontent",
        "reachability",
        "reports",
    }


def test_retention_schedules_exist():
    funcs = {func for func, _name, _minutes in app_schedules()}
    assert "ioportal.remotecontent.tasks.attachments_retention" in funcs
    assert "ioportal.recipients.tasks.purge_expired_lists" in funcs
    assert "ioportal.reachability.tasks.reachability_purge" in funcs
    assert "ioportal.reports.tasks.purge_exports" in funcs
