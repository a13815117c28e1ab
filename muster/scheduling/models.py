from __future__ import annotations

from django.db import models
from django.utils.timezone import now


class PeriodicJob(models.Model):
    """One row per periodic job in muster.scheduling.jobs.JOBS; the scheduler claims due rows."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField(default=now)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        # Used by `manage.py scheduler` to find due work.
        indexes = [models.Index(fields=["next_run_at"], name="periodicjob_due")]

    def __str__(self) -> str:
        return self.name
