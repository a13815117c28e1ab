"""A real Muster for tests: gunicorn and manage.py in their own processes, on a data dir of their own.

    muster = RunningMuster(tmp_path)
    muster.manage("migrate", "--noinput")
    with muster.serve() as url:
        httpx.get(f"{url}/sign-in/")

The processes share one SQLite file (the embedded default) and never touch the test database, so
what they show is what a deployment does: real HTTP framing, the database cache shared by every
process, settings read at start-up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = "postgres://postgres@127.0.0.1:5432"


@contextmanager
def new_postgres_database(server: str, name: str, **connect: Any) -> Iterator[str]:
    """A PostgreSQL database of its own for processes under test, dropped afterwards (even if a
    process still holds it). `server` is its URL, `connect` how to reach its postgres database."""
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **connect) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **connect) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@contextmanager
def scratch_database(prefix: str) -> Iterator[str | None]:
    """A database of its own: None (SQLite in the data dir) by default, or a new PostgreSQL
    database beside the suite's when the suite runs on PostgreSQL."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield None
        return
    port = db["PORT"] or 5432
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    where = {"host": db["HOST"], "port": port, "user": db["USER"], "password": db["PASSWORD"]}
    server = f"postgres://{db['USER']}{password}@{db['HOST']}:{port}"
    with new_postgres_database(server, f"{prefix}_{uuid.uuid4().hex[:12]}", **where) as url:
        yield url


@contextmanager
def local_postgres_database(prefix: str) -> Iterator[str]:
    """A new database on this machine's PostgreSQL (POSTGRES), whatever the suite runs on; the test
    is skipped when there is none."""
    import psycopg
    import pytest

    try:
        psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip(f"No PostgreSQL at {POSTGRES}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with new_postgres_database(POSTGRES, name, conninfo=f"{POSTGRES}/postgres") as url:
        yield url


class RunningMuster:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_") and k != "DATABASE_URL"}
        self.env.update(
            {
                "MUSTER_DATA_DIR": str(data_dir),
                "MUSTER_EMAIL_URL": "console://",
                "DJANGO_SETTINGS_MODULE": "muster.settings",
                **(env or {}),
            }
        )

    def manage(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def setup(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    @contextmanager
    def serve(self, workers: int = 1) -> Iterator[str]:
        """Runs gunicorn on a free loopback port (bound here, so no other test can take it)."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "muster.wsgi", "--bind", f"fd://{listener.fileno()}"]
        command += ["--workers", str(workers), "--log-level", "warning"]
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=self.env, pass_fds=[listener.fileno()], stderr=subprocess.PIPE, text=True
        )
        listener.close()
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.communicate()[1]
                try:
                    httpx.get(f"{url}/integrations/qualtrics/webhook/", timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "gunicorn did not answer within a minute"
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
