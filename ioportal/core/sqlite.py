"""SQLite's page cache for bulk inserts into indexed tables."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

# SQLite's page cache while many rows are inserted, in KiB: the default 2 MiB cannot hold the
# pages of an index on random values (a public id, a fiscal-code hash), so each insert reads
# them again; 64 MiB holds those of a 100,000-row list or dispatch.
SQLITE_BULK_CACHE_KIB = 64 * 1024


@contextmanager
def bulk_page_cache(db: BaseDatabaseWrapper) -> Iterator[None]:
    """On SQLite, the connection's page cache at SQLITE_BULK_CACHE_KIB for the block, then
    back to what it was; elsewhere nothing."""
    if db.vendor != "sqlite":
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone() or (-2000,)
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")
