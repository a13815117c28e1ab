from __future__ import annotations

from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "muster.surveys"
    label = "surveys"

    def ready(self) -> None:
        from django.urls import reverse

        from muster.accounts.roles import Capability, can
        from muster.people import registry as people_registry
        from muster.studies import registry
        from muster.surveys import (
            ingest,  # noqa: F401  (connects the erased-response receiver)
            views,
        )
        from muster.surveys.models import SurveyForm

        registry.register_tab(registry.StudyTab("screener", "Screener", views.study_tab_url("screener"), order=10))
        registry.register_tab(registry.StudyTab("survey", "Survey", views.study_tab_url("survey"), order=20))
        people_registry.register_tab(
            people_registry.ProfileTab(
                key="responses",
                label="Responses",
                template="surveys/person_responses.html",
                context=views.person_responses,
                summary=views.person_responses_summary,
            )
        )
        people_registry.register_first_step(
            people_registry.FirstStep(
                50,
                "Attach a survey",
                "On a study's Screener or Survey tab: choose Qualtrics and the survey, then map its questions.",
                lambda: reverse("studies"),
                SurveyForm.objects.exists,
                lambda user: can(user, Capability.MANAGE_STUDIES) and can(user, Capability.USE_INTEGRATIONS),
            )
        )
