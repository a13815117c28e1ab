from __future__ import annotations

from django.apps import AppConfig


class QualtricsConfig(AppConfig):
    name = "muster.integrations.qualtrics"
    label = "qualtrics"
    verbose_name = "Qualtrics"

    def ready(self) -> None:
        from muster.integrations.qualtrics import health

        health.register_jobs()
