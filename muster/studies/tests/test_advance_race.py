"""Two processes advancing the same participants at once never leave one behind the furthest event."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from muster.studies.tests.test_limit_race import database_url, manage, run  # noqa: F401 (database_url: fixture)

pytestmark = pytest.mark.slow

N = 300

SETUP = f"""
from muster.people.models import Person
from muster.studies.models import Study
from muster.studies.participants import add_participants
Person.objects.bulk_create(Person(first_name=str(i)) for i in range({N}))
study = Study.objects.create(name="Race", landing_slug="race")
add_participants(study, Person.objects.all())
"""

# Both walk the same participants in the same order, so they meet on many of them.
ADVANCE = """
import time
from django.utils.timezone import now
from muster.studies.models import StudyParticipant
from muster.studies.participants import advance
participants = list(StudyParticipant.objects.order_by("id"))
while time.time() < {start}:
    time.sleep(0.001)
moved = sum(advance(p, "{target}", now()) for p in participants)
print("MOVED", moved)
"""

COUNT = (
    "from muster.studies.models import StudyParticipant as P; "
    "print('STATUSES', sorted(set(P.objects.values_list('status', flat=True))), "
    "P.objects.filter(survey_completed_at__isnull=True).count())"
)


def test_concurrent_events_leave_every_participant_at_the_furthest(tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    run(tmp_path, database_url, "migrate", "--noinput", "-v0")
    run(tmp_path, database_url, "shell", "-c", SETUP)
    start = time.time() + 4
    both = [
        manage(tmp_path, ADVANCE.format(start=start, target=target), database_url)
        for target in ("survey_started", "survey_completed")
    ]
    outputs = [p.communicate(timeout=180)[0] for p in both]
    assert all(p.returncode == 0 for p in both), outputs
    # Every completion landed, whichever came first; survey_started only where it came first.
    assert int(outputs[1].split("MOVED")[1].split()[0]) == N, outputs
    assert "STATUSES ['survey_completed'] 0" in run(tmp_path, database_url, "shell", "-c", COUNT)
