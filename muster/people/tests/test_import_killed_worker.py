"""A CSV import whose db_worker is killed with SIGKILL is taken up by another worker and completes,
every row written exactly once. Real processes: two `manage.py db_worker`s and the scheduler, on a
database of their own (SQLite, or PostgreSQL when the suite runs on it)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from muster.running import ROOT, RunningMuster, scratch_database

pytestmark = pytest.mark.slow
ROWS = 60_000


def connect(data_dir: Path, database_url: str | None) -> Callable[[str], list[tuple[Any, ...]]]:
    """Runs SQL on the processes' database, from the test: quicker to poll than a manage.py shell."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        if database_url is None:
            with sqlite3.connect(data_dir / "muster.sqlite3", timeout=30) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as db:
            cursor = db.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    return query


def worker(muster: RunningMuster, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.2"],
        cwd=ROOT,
        env=muster.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(what: str, ready: Callable[[], bool], log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:.0f} s\n{log.read_text()[-4000:]}"
        time.sleep(0.05)


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None for SQLite in the data dir; on PostgreSQL, a new database beside the suite's."""
    with scratch_database("muster_killed") as url:
        yield url


def test_an_import_whose_worker_is_killed_is_resumed_by_another_and_writes_every_row_once(
    tmp_path: Path, database_url: str | None
) -> None:
    muster = RunningMuster(tmp_path / "data", {"DATABASE_URL": database_url} if database_url else {})
    muster.manage("migrate", "--noinput", "-v0")
    source = tmp_path / "people.csv"
    source.write_text("email,Age\n" + "".join(f"person{n}@example.org,{n % 90}\n" for n in range(ROWS)))
    code = muster.shell(
        "import shutil; from muster.people import csvio; from muster.people.models import PersonImport, ImportStatus; "
        "from muster.people.properties import create_property; "
        "age = create_property('age', 'Age', 'number'); "
        f"imp = PersonImport(filename='people.csv', size={source.stat().st_size}); "
        "path = csvio.import_dir() / f'{imp.code}.csv'; "
        f"shutil.copy({str(source)!r}, path); "
        "imp.path = str(path); imp.columns = csvio.read_header(path); "
        "imp.mapping = {'email': 'email', 'Age': str(age.code)}; imp.status = ImportStatus.QUEUED; imp.save(); "
        "csvio.import_people.enqueue(str(imp.code)); print(imp.code.hex)"
    ).split()[-1]
    query = connect(tmp_path / "data", database_url)
    # Django keeps a UUID as 32 hex digits on SQLite, as a uuid on PostgreSQL.
    where = f"code = '{code}'" if database_url is None else f"code = '{code}'::uuid"

    def progress() -> tuple[str, int]:
        status, done = query(f"SELECT status, rows_done FROM people_personimport WHERE {where}")[0]  # noqa: S608
        return status, done

    log = tmp_path / "workers.log"
    first = worker(muster, log)
    try:
        wait_for("the first batches", lambda: progress()[1] >= 4000, log)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    status, done = progress()
    assert status == "running", "the import ended before its worker was killed: make the file longer"
    assert 0 < done < ROWS
    # Time passes: the dead worker's lease runs out (the lease lasts minutes; the test does not wait).
    query(f"UPDATE people_personimport SET lease_expires = '2000-01-01 00:00:00' WHERE {where}")  # noqa: S608
    muster.manage("scheduler", "--once")  # reclaims the lapsed lease and enqueues the import again

    second = worker(muster, log)
    try:
        wait_for("the resumed import", lambda: progress()[0] != "running", log)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    imp = query(
        f"SELECT status, error, rows_done, rows_created, rows_rejected, path FROM people_personimport WHERE {where}"  # noqa: S608
    )[0]
    assert imp == ("done", "", ROWS, ROWS, 0, ""), log.read_text()[-4000:]
    emails = query("SELECT COUNT(*), COUNT(DISTINCT email) FROM people_personemail")[0]
    assert emails == (ROWS, ROWS)
    assert query("SELECT COUNT(*) FROM people_person")[0][0] == ROWS
    assert query("SELECT COUNT(*), COUNT(DISTINCT person_id) FROM people_propertyvalue")[0] == (ROWS, ROWS)
    # One history row per value: no row was written twice, even the batch the kill cut short.
    assert query("SELECT COUNT(*) FROM people_propertyvaluechange")[0][0] == ROWS
    assert not list((tmp_path / "data" / "uploads" / "imports").iterdir())
