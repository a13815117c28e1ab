from __future__ import annotations

from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "muster.studies"
    label = "studies"

    def ready(self) -> None:
        from django.urls import reverse

        from muster.accounts.roles import Capability, can
        from muster.people import registry
        from muster.studies import views
        from muster.studies.models import Study, StudyParticipant

        registry.register_first_step(
            registry.FirstStep(
                30,
                "Create a study",
                "Studies → New study: a name, a kind and a participation limit.",
                lambda: reverse("study_new"),
                Study.objects.exists,
                lambda user: can(user, Capability.MANAGE_STUDIES),
            )
        )
        registry.register_first_step(
            registry.FirstStep(
                40,
                "Add participants",
                "Select people below (or filter them) and add them to the study, or add a panel's members.",
                lambda: reverse("people"),
                StudyParticipant.objects.filter(is_test=False).exists,
                lambda user: can(user, Capability.MANAGE_STUDIES),
            )
        )

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
