"""The SQLite backend's writers lock between processes (`core/sqlitebackend`): a write
transaction holds an exclusive flock on `<database>-writers` from its BEGIN to its end, and a
writer waits for it instead of sleeping in SQLite's busy handler."""

import fcntl
import os
import threading

import pytest
from django.contrib.sessions.models import Session
from django.db import connection, connections, transaction
from django.utils import timezone

from ioportal.core.sqlitebackend.base import writers_lock_path

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the writers lock is SQLite's backend only"
)


def try_lock(path: str) -> bool:
    """Could another process take the writers lock now? (It is released again.)"""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("/srv/portal/db.sqlite3", "/srv/portal/db.sqlite3-writers"),
        (":memory:", None),
        ("file:memorydb_default?mode=memory&cache=shared", None),
        ("", None),
    ],
)
def test_the_lock_file_lies_beside_the_database(name: str, path: str | None) -> None:
    assert writers_lock_path(name) == path


@pytest.mark.django_db(transaction=True)
def test_a_write_transaction_holds_the_writers_lock_until_it_ends() -> None:
    path = writers_lock_path(connection.settings_dict["NAME"])
    assert path is not None
    assert try_lock(path)
    with transaction.atomic():
        Session.objects.create(session_key="k" * 32, session_data="", expire_date=timezone.now())
        assert not try_lock(path)
    assert try_lock(path)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert not try_lock(path)
        raise ZeroDivisionError  # a rollback releases it too
    assert try_lock(path)


@pytest.mark.django_db(transaction=True)
def test_a_writer_waits_for_the_lock_held_by_another_process() -> None:
    path = writers_lock_path(connection.settings_dict["NAME"])
    assert path is not None
    held = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)  # as another process's writer would
    written = threading.Event()

    def write() -> None:
        try:
            with transaction.atomic():
                Session.objects.create(
                    session_key="w" * 32, session_data="", expire_date=timezone.now()
                )
            written.set()
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not written.wait(0.5)
        assert not Session.objects.filter(session_key="w" * 32).exists()
    finally:
        os.close(held)  # the other process's transaction ends
    assert written.wait(10)
    writer.join(10)
    assert Session.objects.filter(session_key="w" * 32).exists()
    assert try_lock(path)
