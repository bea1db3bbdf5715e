"""SQLite with one writer at a time, queued in the process and between processes.

SQLite has one write lock for the whole file. A thread that finds it taken sleeps in SQLite's
busy handler for 1, 2, 5, 10 … up to 100 ms between tries, so with many threads writing (the
sending workers: one account run per thread, each taking limiter tokens and writing outcomes
in short transactions) the lock often stays free while its waiters sleep: in the sending
benchmark's profile (docs/sending.md) the account runs spent most of their time there.

Here a writer takes two turns before `BEGIN IMMEDIATE`:

1. the process's turn, a lock of the process: its threads queue in order and are woken at
   once. The wait is bounded by the database's `timeout` option (seconds, as SQLite's own
   busy timeout): past it, OperationalError("database is locked"), as SQLite would raise;
2. the database's turn between processes: an exclusive `flock` on the file beside the
   database, `<name>-writers` (as SQLite's own `-wal` and `-shm`), held until the
   transaction ends. The kernel hands it to a waiting process as soon as it is released,
   where SQLite's busy handler would let the waiters of the other processes sleep while the
   first process's threads took the lock back to back (the sending benchmark with two worker
   processes: each process's writer waited for the other 30–40 % of the time, mostly asleep
   with the lock free). The file is opened for each transaction and closed at its end, which
   releases the lock, also when the process dies. This wait is not bounded: a process stopped
   in the middle of a write transaction stops the other writers too, where SQLite would have
   failed them after `timeout`.

SQLite's own lock still decides: a writer that takes neither turn (another program on the
file) waits in SQLite's busy handler, as before. In-memory databases take only the process's
turn. Transactions in DEFERRED mode take no turn (they may never write).
"""

import fcntl
import os
import threading
from pathlib import Path

from django.db import OperationalError
from django.db.backends.sqlite3 import base, creation

_turn = threading.Lock()


def writers_lock_path(name: object) -> str | None:
    """The file whose `flock` orders the writers of the database `name` (its NAME setting), or
    None for an in-memory database."""
    text = str(name)
    if not text or text == ":memory:" or text.startswith("file:") or "mode=memory" in text:
        return None
    return f"{text}-writers"


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        super()._destroy_test_db(test_database_name, verbosity)  # type: ignore[misc]
        path = writers_lock_path(test_database_name)
        if path is not None:
            Path(path).unlink(missing_ok=True)


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation
    _has_turn = False
    _writers_fd: int | None = None

    def _start_transaction_under_autocommit(self) -> None:
        # Django's private hooks (not in its type stubs): mypy is told so below.
        mode = self.transaction_mode  # type: ignore[attr-defined]
        if mode in ("IMMEDIATE", "EXCLUSIVE") and not self._has_turn:
            timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
            if not _turn.acquire(timeout=timeout):
                raise OperationalError("database is locked (no turn to write in this process)")
            self._has_turn = True
            try:
                path = writers_lock_path(self.settings_dict["NAME"])
                if path is not None:
                    self._writers_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    fcntl.flock(self._writers_fd, fcntl.LOCK_EX)
            except BaseException:
                self._end_turn()
                raise
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._end_turn()
            raise

    def _end_turn(self) -> None:
        if self._has_turn:
            self._has_turn = False
            fd, self._writers_fd = self._writers_fd, None
            try:
                if fd is not None:
                    os.close(fd)  # releases the flock
            finally:
                _turn.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            if not self.connection.in_transaction:
                self._end_turn()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._end_turn()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._end_turn()
