"""One resolver for "these people" (codes and emails): the panels and studies endpoints and the People
list answer alike."""

from __future__ import annotations

from typing import Any

from muster.people import values as pv
from muster.people.lookup import CHUNK
from muster.people.models import Panel, PanelMembership, Person, Source
from muster.studies.models import Study, StudyParticipant, StudyStatus
from muster.test import BaseTestCase


class ResolvingPeopleTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        pv.set_emails(self.ana, "ana@example.org", ["ana.work@example.org"])
        self.ben = pv.create_person("ben@example.org", first_name="Ben", source=Source.MANUAL)
        self.panel = Panel.objects.create(name="Mobile testers")
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)

    def both(self, body: dict[str, Any]) -> list[Any]:
        """Sends the same people to the panel and to the study."""
        return [
            self.api(self.olga, "post", f"/panels/{self.panel.code}/members", body),
            self.api(self.olga, "post", f"/studies/{self.study.code}/participants", body),
        ]

    def joined(self) -> tuple[set[str], set[str]]:
        members = set(PanelMembership.objects.values_list("person__first_name", flat=True))
        participants = set(StudyParticipant.objects.values_list("person__first_name", flat=True))
        return members, participants

    def test_one_person_named_by_code_and_by_email_is_added_once(self) -> None:
        body = {"people": [str(self.ana.code)], "emails": ["ANA@example.org", "ana.work@example.org"]}
        panel, study = self.both(body)
        self.assertEqual((panel.status_code, study.status_code), (200, 200), (panel.content, study.content))
        self.assertEqual([m["person"] for m in panel.json()], [str(self.ana.code)])
        self.assertEqual([p["person"] for p in study.json()["added"]], [str(self.ana.code)])
        self.assertEqual(self.joined(), ({"Ana"}, {"Ana"}))

    def test_codes_and_emails_of_different_people_add_them_all(self) -> None:
        panel, study = self.both({"people": [str(self.ana.code)], "emails": [" Ben@Example.org "]})
        self.assertEqual((panel.status_code, study.status_code), (200, 200))
        self.assertEqual(self.joined(), ({"Ana", "Ben"}, {"Ana", "Ben"}))

    def test_an_unknown_email_or_code_refuses_everyone(self) -> None:
        for body in (
            {"people": [str(self.ana.code)], "emails": ["nobody@example.org"]},
            {"people": [str(self.ana.code), "00000000-0000-0000-0000-000000000000"]},
        ):
            for r in self.both(body):
                self.assertEqual(r.status_code, 422)
                self.assertEqual(r.json()["message"], "Some of these people do not exist.")
        self.assertEqual(self.joined(), (set(), set()))

    def test_more_people_than_one_query_takes_are_all_found(self) -> None:
        emails = [f"p{i}@example.org" for i in range(CHUNK + 5)]
        Person.objects.bulk_create(Person(first_name=f"P{i}", source=Source.CSV) for i in range(len(emails)))
        people = list(Person.objects.filter(first_name__startswith="P").order_by("id"))
        for person, email in zip(people, emails, strict=True):
            pv.set_emails(person, email)
        panel, study = self.both({"emails": emails, "people": [str(p.code) for p in people]})
        self.assertEqual((panel.status_code, study.status_code), (200, 200))
        self.assertEqual(PanelMembership.objects.count(), len(emails))
        self.assertEqual(StudyParticipant.objects.count(), len(emails))
