"""What studies adds to people's pages: the Studies tab of a profile and "Add … to a study"."""

from __future__ import annotations

from typing import Any

from muster.people import values as pv
from muster.people.models import PanelMembership, Source
from muster.studies.models import Study, StudyParticipant, StudyStatus
from muster.studies.participants import add_participants
from muster.test import BaseTestCase


class StudiesTabTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.ana = pv.create_person("ana@example.org", first_name="Ana", last_name="Lima", source=Source.MANUAL)
        self.study = Study.objects.create(name="Checkout study", landing_slug="checkout", status=StudyStatus.ACTIVE)
        (self.participant,), _ = add_participants(self.study, [self.ana])

    def test_the_profile_has_a_studies_tab_after_panels_and_before_responses(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.ana.code}/?tab=studies")
        self.assertContains(r, '<a href="?tab=studies" aria-current="page">Studies</a>', html=True)
        self.assertEqual(
            [key for key, _ in r.context["tabs"]],
            ["overview", "properties", "panels", "studies", "responses", "activity"],
        )
        self.assertContains(r, f'<a href="/studies/{self.study.code}/">Checkout study</a>', html=True)
        self.assertContains(r, self.participant.participant_id)
        self.assertContains(r, "Not contacted")

    def test_the_overview_counts_the_studies(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.ana.code}/")
        self.assertContains(r, "<dt>Studies</dt><dd>1</dd>", html=True)

    def test_an_empty_studies_tab_says_so(self) -> None:
        ben = pv.create_person("ben@example.org", source=Source.MANUAL)
        self.client.force_login(self.rita)
        self.assertContains(self.client.get(f"/people/{ben.code}/?tab=studies"), "Not in any study yet.")

    def test_an_observer_sees_the_tab_without_names_or_emails(self) -> None:
        self.client.force_login(self.oscar)
        r = self.client.get(f"/people/{self.ana.code}/?tab=studies")
        self.assertContains(r, "Checkout study")
        self.assertNotContains(r, "ana@example.org")
        self.assertNotContains(r, "Lima")


class AddToStudyTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", first_name="Ben", source=Source.MANUAL)

    def add(self, **data: object) -> Any:
        data = {"scope": "selected", "target": f"study:{self.study.code}"} | data
        return self.client.post("/people/bulk/", data, follow=True)

    def test_the_people_list_offers_open_studies_to_those_who_manage_studies(self) -> None:
        closed = Study.objects.create(name="Old study", landing_slug="old", status=StudyStatus.CLOSED)
        option = f'<option value="study:{self.study.code}">Onboarding</option>'
        self.client.force_login(self.rita)
        r = self.client.get("/people/")
        self.assertContains(r, option, html=True)
        self.assertNotContains(r, f"study:{closed.code}")
        self.client.force_login(self.dev)
        self.assertNotContains(self.client.get("/people/"), option, html=True)

    def test_it_adds_the_selected_people_to_a_study(self) -> None:
        self.client.force_login(self.rita)
        r = self.add(person=[str(self.ana.code), str(self.ben.code)])
        self.assertContains(r, "2 added to the study Onboarding.")
        r = self.add(person=[str(self.ana.code)])
        self.assertContains(r, "No one was added to the study Onboarding. Already in the study: ")
        self.assertEqual(StudyParticipant.objects.filter(study=self.study).count(), 2)

    def test_it_adds_everyone_a_filter_finds(self) -> None:
        self.client.force_login(self.rita)
        r = self.add(scope="filter", query="name=Ben")
        self.assertContains(r, "1 added to the study Onboarding.")
        self.assertEqual(list(StudyParticipant.objects.values_list("person", flat=True)), [self.ben.id])

    def test_it_refuses_a_selection_naming_nobody_and_adds_nobody(self) -> None:
        self.client.force_login(self.rita)
        r = self.add(person=[str(self.ana.code), "00000000-0000-0000-0000-000000000000"])
        self.assertContains(r, "Some of these people do not exist.")
        self.assertFalse(StudyParticipant.objects.exists())

    def test_it_requires_manage_studies(self) -> None:
        for user in (self.dev, self.oscar):
            self.client.force_login(user)
            r = self.add(person=[str(self.ana.code)])
            self.assertContains(r, "Your role does not allow this: manage studies.")
        self.assertFalse(StudyParticipant.objects.exists())

    def test_a_closed_study_says_it_takes_nobody(self) -> None:
        self.study.status = StudyStatus.CLOSED
        self.study.save()
        self.client.force_login(self.rita)
        r = self.add(person=[str(self.ana.code)])
        self.assertContains(r, "The study is closed: it takes no new participants.")

    def test_it_asks_for_a_panel_or_a_study(self) -> None:
        self.client.force_login(self.rita)
        r = self.add(person=[str(self.ana.code)], target="study:nonsense")
        self.assertContains(r, "Choose a panel or a study.")
        self.assertFalse(PanelMembership.objects.exists() or StudyParticipant.objects.exists())
