"""Database and interpreter settings for the length of a CSV import (measured in bench/writer.py)."""

from __future__ import annotations

import gc
import logging
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection

log = logging.getLogger(__name__)

# SQLite, for this connection while it imports (the previous values come back after):
IMPORT_PRAGMAS = {
    # SQLite checkpoints after any commit that leaves 1,000 pages in the WAL, and a checkpoint
    # waits on fsync. Every import batch writes more than that, so the import would wait on a
    # checkpoint after each batch. A second thread checkpoints instead (`checkpoints`), while the
    # import writes the next batch. Other connections' commits still checkpoint as usual.
    "wal_autocheckpoint": 32768,  # pages: ~128 MiB of WAL
    # A batch touches tens of thousands of pages spread over the value indexes. A smaller cache
    # spills them to the WAL mid-transaction and reads them back.
    "cache_size": -262144,  # KiB
}


@contextmanager
def import_pragmas() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with asynchronous_commits():
            yield
        return
    if connection.vendor != "sqlite":
        yield
        return
    before = {}
    with connection.cursor() as cursor:
        for name, value in IMPORT_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name}")
            before[name] = int(cursor.fetchone()[0])
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in before.items():
                cursor.execute(f"PRAGMA {name} = {value}")


@contextmanager
def asynchronous_commits() -> Iterator[None]:
    """PostgreSQL: the import's commits return before their WAL is flushed to disk.

    A batch commit would otherwise wait on fsync of everything it wrote. The database stays
    consistent after a crash; what is lost is at most the batches of the last moment (a few hundred
    milliseconds). A crash cuts an import short either way, and importing the file again is safe:
    rows are matched by email, and values already written are unchanged, so they add no history.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


@contextmanager
def checkpoints() -> Iterator[Callable[[], None]]:
    """SQLite in WAL mode: a function that checkpoints in a second thread, on a connection of its own.

    A checkpoint copies committed pages from the WAL into the database file and waits on fsync.
    SQLite does this in C without Python's lock, so it runs on another core while the import
    parses and writes its next batch. The last one runs when the import ends, so the import
    leaves no more WAL behind than usual.
    """
    path = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite" or not wal_file(path):
        yield lambda: None
        return
    db = sqlite3.connect(path, timeout=20, check_same_thread=False)
    worker = ThreadPoolExecutor(1, thread_name_prefix="checkpoint")
    running: list[Future[Any]] = []

    def checkpoint() -> None:
        if not running or running[-1].done():
            running.append(worker.submit(db.execute, "PRAGMA wal_checkpoint(PASSIVE)"))

    try:
        yield checkpoint
    finally:
        running.append(worker.submit(db.execute, "PRAGMA wal_checkpoint(PASSIVE)"))
        worker.shutdown(wait=True)
        db.close()
        # The data is committed whatever happens here: a failed checkpoint is only logged.
        for failed in {str(f.exception()) for f in running if f.exception() is not None}:
            log.warning("A checkpoint during a CSV import failed: %s", failed)


@contextmanager
def collections_per_batch() -> Iterator[Callable[[], object]]:
    """Python's cycle collector, paused while the import runs and run by hand after each batch.

    A batch allocates about 100,000 lists and tuples. The collector would run after every 700 of
    them, and every few batches walk all the objects the process holds (hundreds of thousands in
    a Django process). Collecting the young generations after each batch frees whatever cycles the
    batch left, so memory stays flat however long the file is.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if was_enabled:
            gc.enable()


def wal_file(path: Any) -> bool:
    if not isinstance(path, str | Path) or str(path).startswith(("file:", ":memory:")) or not Path(path).exists():
        return False
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        return bool(cursor.fetchone()[0] == "wal")
