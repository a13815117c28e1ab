from __future__ import annotations

from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "muster.scheduling"
    label = "scheduling"
