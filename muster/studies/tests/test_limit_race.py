from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from muster.running import local_postgres_database

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow

SETUP = """
from muster.people import values as pv
from muster.studies.models import Study
Study.objects.create(name="Race", landing_slug="race", participation_limit=1)
for i in range(2):
    pv.create_person(f"p{i}@example.org", source="manual")
"""

ADD = """
import time
from muster.people.models import Person
from muster.studies.models import Study
from muster.studies.participants import add_participants
study = Study.objects.get(landing_slug="race")
person = Person.objects.get(emails__email="p{n}@example.org")
while time.time() < {start}:
    time.sleep(0.001)
added, notes = add_participants(study, [person])
print("ADDED", len(added))
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The embedded default (a SQLite file), then a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    with local_postgres_database("muster_race") as url:
        yield url


def environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
    env.update({"MUSTER_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "muster.settings"})
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(data_dir: Path, code: str, database_url: str | None) -> subprocess.Popen[str]:
    env = environment(data_dir, database_url)
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run(data_dir: Path, database_url: str | None, *args: str) -> str:
    env = environment(data_dir, database_url)
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_two_processes_adding_at_once_never_exceed_the_participation_limit(
    tmp_path: Path, database_url: str | None
) -> None:
    run(tmp_path, database_url, "migrate", "--noinput", "-v0")
    run(tmp_path, database_url, "shell", "-c", SETUP)
    start = time.time() + 4
    both = [manage(tmp_path, ADD.format(n=n, start=start), database_url) for n in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in both]
    assert all(p.returncode == 0 for p in both), outputs
    added = sorted(int(o.split("ADDED")[1].split()[0]) for o in outputs)
    assert added == [0, 1], outputs
    count = (
        "from muster.studies.models import StudyParticipant as P, Study as S; "
        "print('N', P.objects.count(), S.objects.get().seats_taken)"
    )
    assert "N 1 1" in run(tmp_path, database_url, "shell", "-c", count)
