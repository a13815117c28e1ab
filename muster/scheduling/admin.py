from __future__ import annotations

from django.contrib import admin

from muster.scheduling.models import PeriodicJob


@admin.register(PeriodicJob)
class PeriodicJobAdmin(admin.ModelAdmin[PeriodicJob]):
    list_display = ["name", "next_run_at", "last_started_at", "last_finished_at", "runs", "last_error"]
