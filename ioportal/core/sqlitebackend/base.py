"""SQLite with one writer at a time per process, queued in the process.

SQLite has one write lock for the whole file. A thread that finds it taken sleeps in SQLite's
busy handler for 1, 2, 5, 10 … up to 100 ms between tries, so with many threads writing (the
sending workers: one account run per thread, each taking limiter tokens and writing outcomes
in short transactions) the lock often stays free while its waiters sleep: in the sending
benchmark's profile (docs/sending.md) the account runs spent most of their time there.
Here the threads of one process take turns on a lock of the process before `BEGIN
IMMEDIATE`, in order and woken at once, and only the turn's holder competes with the other
processes for SQLite's lock.

The wait for a turn is bounded by the database's `timeout` option (seconds, as SQLite's own
busy timeout): past it, OperationalError("database is locked"), as SQLite would raise.
Transactions in DEFERRED mode take no turn (they may never write).
"""

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_turn = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _has_turn = False

    def _start_transaction_under_autocommit(self) -> None:
        # Django's private hooks (not in its type stubs): mypy is told so below.
        mode = self.transaction_mode  # type: ignore[attr-defined]
        if mode in ("IMMEDIATE", "EXCLUSIVE") and not self._has_turn:
            timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
            if not _turn.acquire(timeout=timeout):
                raise OperationalError("database is locked (no turn to write in this process)")
            self._has_turn = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._end_turn()
            raise

    def _end_turn(self) -> None:
        if self._has_turn:
            self._has_turn = False
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
