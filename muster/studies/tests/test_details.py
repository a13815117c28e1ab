"""Creating and editing a study: the page and the API share one set of rules (studies.details)."""

from __future__ import annotations

from typing import Any

from muster.people import values as pv
from muster.people.models import Source
from muster.studies import details
from muster.studies.models import Study
from muster.studies.participants import add_participants
from muster.test import BaseTestCase

FORM = {"name": "Onboarding", "kind": "survey", "participation_limit": "", "landing_slug": "onboarding"}


class StudyDetailsTestCase(BaseTestCase):
    def page(self, url: str, **data: Any) -> Any:
        self.client.force_login(self.rita)
        return self.client.post(url, FORM | data, follow=True)

    def full_study(self) -> Study:
        """A study with two participants and a limit of two."""
        study = details.create_study(self.rita, name="Full", landing_slug="full", participation_limit=2)
        people = [pv.create_person(f"p{i}@example.org", source=Source.MANUAL) for i in range(2)]
        add_participants(study, people)
        return study

    def test_the_page_and_the_api_create_a_draft_with_tidied_text(self) -> None:
        self.page("/studies/new/", name="  Onboarding  ", landing_text="  Five minutes.\n")
        r = self.api(self.rita, "post", "/studies", {"name": "  Checkout ", "landing_slug": "checkout"})
        self.assertEqual(r.status_code, 201)
        got = Study.objects.order_by("id").values_list("name", "landing_text", "status", "created_by")
        self.assertEqual(
            list(got), [("Onboarding", "Five minutes.", "draft", self.rita.id), ("Checkout", "", "draft", self.rita.id)]
        )

    def test_both_refuse_a_taken_landing_address_with_the_same_words(self) -> None:
        self.page("/studies/new/")
        r = self.page("/studies/new/", name="Another")
        self.assertContains(r, "Another study uses this landing page address.")
        r = self.api(self.rita, "post", "/studies", {"name": "Another", "landing_slug": "onboarding"})
        self.assertEqual((r.status_code, r.json()["message"]), (409, "Another study uses this landing page address."))
        other = Study.objects.get()
        r = self.api(self.rita, "post", "/studies", {"name": "Checkout", "landing_slug": "checkout"})
        r = self.api(self.rita, "patch", f"/studies/{r.json()['code']}", {"landing_slug": "onboarding"})
        self.assertEqual((r.status_code, r.json()["message"]), (409, "Another study uses this landing page address."))
        self.assertEqual(Study.objects.filter(landing_slug="onboarding").get(), other)

    def test_both_refuse_a_name_of_spaces(self) -> None:
        r = self.api(self.rita, "post", "/studies", {"name": "   ", "landing_slug": "blank"})
        self.assertEqual((r.status_code, r.json()["message"]), (409, "Give the study a name."))
        self.assertFalse(Study.objects.exists())

    def test_the_page_refuses_a_landing_address_the_api_would_refuse(self) -> None:
        r = self.page("/studies/new/", landing_slug="Onboarding_2")
        self.assertContains(r, "Use lowercase letters, digits and hyphens for the landing page address.")
        self.assertFalse(Study.objects.exists())

    def test_both_refuse_a_limit_below_the_people_already_in(self) -> None:
        study = self.full_study()
        r = self.page(f"/studies/{study.code}/edit/", name="Full", landing_slug="full", participation_limit="1")
        self.assertContains(r, "2 people already take part: the limit cannot be lower.")
        r = self.api(self.rita, "patch", f"/studies/{study.code}", {"participation_limit": 1})
        self.assertEqual(
            (r.status_code, r.json()["message"]), (409, "2 people already take part: the limit cannot be lower.")
        )
        study.refresh_from_db()
        self.assertEqual(study.participation_limit, 2)

    def test_an_edit_keeps_the_seats_taken_meanwhile(self) -> None:
        study = details.create_study(self.rita, name="Open", landing_slug="open")
        stale = Study.objects.get(id=study.id)
        add_participants(study, [pv.create_person("p@example.org", source=Source.MANUAL)])
        details.update_study(stale, name="Renamed")
        study.refresh_from_db()
        self.assertEqual((study.name, study.seats_taken), ("Renamed", 1))

    def test_a_limit_below_seats_taken_meanwhile_is_refused_not_a_crash(self) -> None:
        study = details.create_study(self.rita, name="Open", landing_slug="open")
        stale = Study.objects.get(id=study.id)
        add_participants(study, [pv.create_person(f"p{i}@example.org", source=Source.MANUAL) for i in range(2)])
        with self.assertRaisesRegex(details.Invalid, "2 people already take part"):
            details.update_study(stale, participation_limit=1)
        study.refresh_from_db()
        self.assertIsNone(study.participation_limit)

    def test_the_api_leaves_what_it_is_not_given_and_null_lifts_the_limit(self) -> None:
        study = self.full_study()
        r = self.api(self.rita, "patch", f"/studies/{study.code}", {"name": "Full up", "landing_text": None})
        self.assertEqual(
            (r.json()["name"], r.json()["participation_limit"], r.json()["landing_slug"]), ("Full up", 2, "full")
        )
        r = self.api(self.rita, "patch", f"/studies/{study.code}", {"participation_limit": None})
        self.assertEqual((r.json()["participation_limit"], r.json()["seats_taken"]), (None, 2))
