"""A fresh clone deployed with plain Django commands (no make) connects to Qualtrics.

Exactly what README's "Running it yourself" says, with real processes: `migrate` on a scratch
data dir, then gunicorn, one db_worker and the scheduler; the sandbox stands in for Qualtrics.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from muster.running import scratch_database

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a deployment passphrase"
pytestmark = pytest.mark.slow


def fresh_clone(into: Path) -> Path:
    """The files a clone of this work would hold: tracked and new ones, nothing ignored (no data
    dir, no collected static files, no virtualenv)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Deployment:
    def __init__(self, clone: Path, data: Path, database_url: str | None) -> None:
        self.clone = clone
        self.web_port = free_port()
        self.sandbox_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.logs = data.parent / "logs"
        self.logs.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSTER_", "DJANGO_", "DATABASE_URL"))}
        self.env.update(
            {
                "MUSTER_DATA_DIR": str(data),
                "MUSTER_PUBLIC_URL": self.url,
                "MUSTER_QUALTRICS_ALLOWED_HOSTS": f"*.qualtrics.com,127.0.0.1:{self.sandbox_port}",
                "MUSTER_EMAIL_URL": "console://",
            }
        )
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def run(self, *args: str, **extra_env: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=self.clone,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=self.clone,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process, log))

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log"))

    def check_running(self) -> None:
        for name, process, _ in self.processes:
            assert process.poll() is None, f"{name} exited with {process.returncode}\n{self.output()}"

    def stop(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process, log in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            log.close()

    def wait_for(self, what: str, ready: Callable[[], bool], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.check_running()
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{what} did not happen in {seconds:.0f} s\n{self.output()}"
            time.sleep(0.3)


def csrf_token(page: httpx.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    clone = fresh_clone(tmp_path / "muster")
    with scratch_database("muster_deploy") as database_url:
        running = Deployment(clone, tmp_path / "data", database_url)
        try:
            yield running
        finally:
            running.stop()


def test_a_fresh_clone_deployed_without_make_connects_to_qualtrics(deployment: Deployment) -> None:
    d = deployment
    assert not (d.clone / "data").exists()
    sandbox_data = str(d.logs.parent / "sandbox")
    d.start("sandbox", "-m", "qualtrics_sandbox", "--port", str(d.sandbox_port), "--data", sandbox_data)
    # The deployment, as README's "Running it yourself" lists it: migrate, then the three processes.
    d.run("manage.py", "migrate", "--noinput")
    vendor = d.run("manage.py", "shell", "-c", "from django.db import connection as c; print(c.vendor)").split()[-1]
    assert vendor == ("postgresql" if "DATABASE_URL" in d.env else "sqlite")
    d.run("manage.py", "create_user", "ana@example.org", "--role", "ops_manager", MUSTER_PASSWORD=PASSWORD)
    d.start("web", "-m", "gunicorn", "muster.wsgi", "--bind", f"127.0.0.1:{d.web_port}", "--workers", "2")
    d.start("worker", "manage.py", "db_worker")
    d.start("scheduler", "manage.py", "scheduler")
    d.wait_for("the sandbox answering", lambda: httpx.get(f"{d.sandbox_url}/_sandbox/brands").status_code < 500)
    brand: dict[str, Any] = httpx.post(f"{d.sandbox_url}/_sandbox/brands", json={}).json()

    with httpx.Client(base_url=d.url, timeout=30) as browser:
        d.wait_for("the sign-in page", lambda: browser.get("/sign-in/").status_code == 200)
        page = browser.get("/sign-in/")
        signed_in = browser.post(
            "/sign-in/",
            data={"username": "ana@example.org", "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(page)},
        )
        assert signed_in.status_code == 302, signed_in.text[:2000]
        page = browser.get("/settings/connected-apps/qualtrics/connect/")
        assert page.status_code == 200, page.text[:2000]
        connected = browser.post(
            "/settings/connected-apps/qualtrics/connect/",
            data={
                "base_url": d.sandbox_url,
                "brand_admin_token": brand["adminToken"],
                "user_type": brand["userTypes"]["standard"],
                "csrfmiddlewaretoken": csrf_token(page),
            },
            follow_redirects=True,
        )
        assert connected.status_code == 200, connected.text[:2000]
        assert f"Connected to Qualtrics brand {brand['brandId']}" in connected.text, connected.text[:3000]
        tested = browser.post(
            "/settings/connected-apps/qualtrics/test/",
            data={"csrfmiddlewaretoken": csrf_token(connected)},
            follow_redirects=True,
        )
        assert "The connection works" in tested.text

    # The API (rate-limited through the database cache, which `migrate` made) sees it too.
    token = d.run("manage.py", "create_api_token", "ana@example.org").strip().splitlines()[-1]
    api = httpx.Client(base_url=f"{d.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    status = api.get("/integrations/qualtrics").json()
    assert status["connected"] is True, status
    assert status["status"] == "connected"

    # Qualtrics' events reach the running web app through the subscription connect made.
    survey = httpx.post(
        f"{d.sandbox_url}/_sandbox/surveys",
        json={"ownerId": brand["adminUserId"], "active": True, "definition": _definition()},
    ).json()["surveyId"]
    httpx.post(f"{d.sandbox_url}/_sandbox/surveys/{survey}/respond", json={"values": {"QID1": 1}, "finished": True})

    def event_arrived() -> bool:
        httpx.post(f"{d.sandbox_url}/_sandbox/webhooks/flush")
        return api.get("/integrations/qualtrics").json()["last_webhook_at"] is not None

    d.wait_for("the webhook delivery", event_arrived)

    # The scheduler enqueued its periodic jobs and the worker ran them.
    count = (
        "from django_tasks_db.models import DBTaskResult as R; "
        "print(R.objects.count(), R.objects.filter(status='SUCCESSFUL').count())"
    )

    def tasks_ran() -> bool:
        total, done = d.run("manage.py", "shell", "-c", count).split()[-2:]
        return int(total) >= 2 and total == done

    d.wait_for("the scheduler's tasks to run on the worker", tasks_ran)
    d.check_running()
    api.close()


def _definition() -> dict[str, Any]:
    from qualtrics_sandbox import builders

    return builders.survey("Deployed", [builders.multiple_choice("QID1", "Which?", ["A", "B"])])
