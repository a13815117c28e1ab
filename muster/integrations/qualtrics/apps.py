from __future__ import annotations

from django.apps import AppConfig


class QualtricsConfig(AppConfig):
    name = "muster.integrations.qualtrics"
    label = "qualtrics"
    verbose_name = "Qualtrics"

    def ready(self) -> None:
        from django.urls import reverse

        from muster.accounts.roles import Capability, can
        from muster.integrations.qualtrics import health, polling, shared
        from muster.integrations.qualtrics.models import current_connection
        from muster.integrations.qualtrics.tool import QualtricsTool
        from muster.people import registry
        from muster.surveys import tools

        health.register_jobs()
        polling.register_jobs()
        tools.register(QualtricsTool())

        def surveys_seen() -> bool:
            connection = current_connection()
            return connection is not None and shared.any_seen(connection)

        registry.register_first_step(
            registry.FirstStep(
                10,
                "Connect Qualtrics",
                "Settings → Connected Apps → Qualtrics → Connect, with a Brand Administrator API token.",
                lambda: reverse("connected_apps"),
                lambda: current_connection() is not None,
                lambda user: can(user, Capability.MANAGE_INTEGRATIONS),
            )
        )
        registry.register_first_step(
            registry.FirstStep(
                20,
                "Share a survey",
                "In Qualtrics, share a survey with Muster's service user (Collaborate), then open the survey list.",
                lambda: reverse("qualtrics_surveys"),
                surveys_seen,
                lambda user: can(user, Capability.USE_INTEGRATIONS),
            )
        )
