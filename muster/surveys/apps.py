from __future__ import annotations

from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "muster.surveys"
    label = "surveys"

    def ready(self) -> None:
        from muster.studies import registry
        from muster.surveys import views

        registry.register_tab(registry.StudyTab("screener", "Screener", views.study_tab_url("screener"), order=10))
        registry.register_tab(registry.StudyTab("survey", "Survey", views.study_tab_url("survey"), order=20))
