from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def manage(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
    env.update({"MUSTER_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "muster.settings"})
    # The processes share a real SQLite file (the embedded default), never the test database.
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run(data_dir: Path, *args: str) -> str:
    p = manage(data_dir, *args)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 0, out
    return out


def count_tasks(data_dir: Path) -> str:
    code = (
        "from django_tasks_db.models import DBTaskResult as R; "
        "R = R.objects.filter(task_path__endswith='prune_expired_sessions'); "
        "print(R.count(), R.filter(status='SUCCESSFUL').count())"
    )
    return run(data_dir, "shell", "-c", code).strip().splitlines()[-1]


def test_two_schedulers_run_a_due_job_once_and_a_worker_runs_its_task(tmp_path: Path) -> None:
    run(tmp_path, "migrate", "--noinput", "-v0")
    for round_ in range(3):
        make_due = "from muster.scheduling.models import PeriodicJob as J; from django.utils.timezone import now; "
        run(tmp_path, "shell", "-c", make_due + "J.objects.update(next_run_at=now())")
        both = [manage(tmp_path, "scheduler", "--once"), manage(tmp_path, "scheduler", "--once")]
        for p in both:
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0, out
        # One task per round, however many schedulers raced for it.
        assert count_tasks(tmp_path).split()[0] == str(round_ + 1)
    run(tmp_path, "db_worker", "--batch", "--no-startup-delay")
    assert count_tasks(tmp_path) == "3 3"


def test_the_scheduler_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    run(tmp_path, "migrate", "--noinput", "-v0")
    p = manage(tmp_path, "scheduler")
    deadline = time.monotonic() + 60
    assert p.stdout is not None
    while "Scheduler started." not in p.stdout.readline():
        assert time.monotonic() < deadline
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0
    assert "Scheduler stopped." in out
