"""The periodic jobs and the claim the scheduler makes on them.

A job's function runs inside the scheduler and should only enqueue tasks or do very small work:
the db_worker does the heavy lifting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.utils.timezone import now

from muster.scheduling.models import PeriodicJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    run: Callable[[], object]
    every: timedelta


def _enqueue_prune_sessions() -> object:
    from muster.scheduling.tasks import prune_expired_sessions

    return prune_expired_sessions.enqueue()


def _reclaim_lapsed_leases() -> object:
    from muster.scheduling.leases import reclaim_lapsed

    return reclaim_lapsed()


JOBS: dict[str, Job] = {
    "prune_expired_sessions": Job(_enqueue_prune_sessions, timedelta(hours=1)),
    # Work whose worker died resumes within a lease plus this.
    "reclaim_lapsed_leases": Job(_reclaim_lapsed_leases, timedelta(minutes=1)),
}


def register(name: str, job: Job) -> None:
    JOBS[name] = job


def ensure_rows() -> None:
    for name in JOBS:
        PeriodicJob.objects.get_or_create(name=name)


def find_due_job() -> PeriodicJob | None:
    return PeriodicJob.objects.filter(next_run_at__lte=now(), name__in=list(JOBS)).order_by("next_run_at").first()


def claim(job: PeriodicJob) -> bool:
    """Moves the job's next_run_at forward, but only WHERE it still holds the value we read.

    Exactly one updated row means the job is ours; none means another scheduler got there first.
    """
    started = now()
    claimed = PeriodicJob.objects.filter(id=job.id, next_run_at=job.next_run_at).update(
        next_run_at=started + JOBS[job.name].every, last_started_at=started
    )
    return claimed == 1


def claim_due_job() -> PeriodicJob | None:
    """Claims the job whose next_run_at passed longest ago; None when nothing is due."""
    while (job := find_due_job()) is not None:
        if claim(job):
            return job
    return None


def run_job(job: PeriodicJob) -> bool:
    """Runs a claimed job; a failure is recorded on its row and never stops the scheduler."""
    error = ""
    try:
        JOBS[job.name].run()
    except Exception as e:
        logger.exception("Periodic job %s failed", job.name)
        error = f"{type(e).__name__}: {e}"
    PeriodicJob.objects.filter(id=job.id).update(last_finished_at=now(), last_error=error, runs=job.runs + 1)
    return not error
