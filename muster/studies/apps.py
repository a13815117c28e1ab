from __future__ import annotations

from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "muster.studies"
    label = "studies"

    def ready(self) -> None:
        from muster.people import registry
        from muster.studies import views

        registry.register_tab(
            registry.ProfileTab(
                key="studies",
                label="Studies",
                template="studies/person_studies.html",
                context=views.person_studies,
                summary=views.person_studies_summary,
            )
        )
        registry.register_target(
            registry.AddTarget(
                kind="study", group="Studies", noun="a study", choices=views.study_choices, add=views.add_people
            )
        )
