"""Query strings no one meant: huge page numbers and NUL characters get a clear answer, never a 500."""

from __future__ import annotations

import json
from typing import Any

from muster.people import values as pv
from muster.people.models import Panel, PanelMembership, Person, Source
from muster.people.properties import create_property
from muster.studies.models import Study, StudyParticipant
from muster.test import BaseTestCase

HUGE = "100000000000000000000"


class BadQueriesTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.job = create_property("job", "Job", "text")
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", first_name="Ben", source=Source.MANUAL)
        pv.set_values(self.ana, {self.job: "Nurse"}, source=Source.MANUAL)
        self.client.force_login(self.rita)

    def get_api(self, url: str) -> tuple[int, Any]:
        r = self.api(self.rita, "get", url)
        return r.status_code, json.loads(r.content)

    def test_a_huge_page_number_shows_the_last_page_of_people(self) -> None:
        for query in ({"page": HUGE}, {"page": HUGE, "p.job": "nur"}, {"page": "-" + HUGE, "name": "a"}):
            r = self.client.get("/people/", query)
            self.assertEqual(r.status_code, 200, query)
            self.assertEqual(r.context["page"].number, 1)
            self.assertContains(r, "Ana")

    def test_a_huge_page_number_shows_the_last_page_of_a_panel_and_a_study(self) -> None:
        panel = Panel.objects.create(name="Panel")
        PanelMembership.objects.create(panel=panel, person=self.ana)
        study = Study.objects.create(name="Study", landing_slug="study")
        StudyParticipant.objects.create(study=study, person=self.ana)
        for url in (f"/panels/{panel.code}/", f"/studies/{study.code}/"):
            r = self.client.get(url, {"page": HUGE})
            self.assertEqual(r.status_code, 200, url)
            self.assertContains(r, "Ana")

    def test_the_api_answers_a_page_past_the_last_with_no_results(self) -> None:
        for filters in ("", "&p.job=nur"):
            status, body = self.get_api(f"/people?page={HUGE}{filters}")
            self.assertEqual(status, 200, body)
            self.assertEqual((body["page"], body["results"]), (int(HUGE), []))
            self.assertEqual(body["count"], 1 if filters else 2)
            status, body = self.get_api(f"/people?page=2{filters}")
            self.assertEqual((status, body["page"], body["pages"], body["results"]), (200, 2, 1, []))

    def test_the_api_refuses_a_page_or_page_size_it_cannot_serve(self) -> None:
        # Before, these were quietly replaced: page 0 by the last page, 1,000 a page by 200.
        for query, field in (("page=0", "page"), ("page=-1", "page"), ("page_size=0", "page_size")):
            status, body = self.get_api(f"/people?{query}")
            self.assertEqual(status, 422, query)
            self.assertIn(field, body["message"])
        status, body = self.get_api("/people?page_size=1000")
        self.assertEqual(status, 422)
        self.assertIn("page_size", body["message"])
        self.assertIn("200", body["message"])

    def test_a_nul_in_a_filter_is_refused_on_the_page(self) -> None:
        for query in ({"name": "A\x00na"}, {"p.job": "nur\x00"}, {"p.job\x00": "nurse"}):
            r = self.client.get("/people/", query)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(len(r.context["errors"]), 1, query)
            self.assertIn("NUL", r.context["errors"][0])
            self.assertContains(r, "NUL character")
            # Nothing is filtered on a value no one typed.
            self.assertEqual(r.context["chips"], [])

    def test_a_nul_in_a_filter_is_refused_by_the_api(self) -> None:
        for query in ("name=A%00na", "p.job=nur%00", "p.job%00=nurse", "email=%00"):
            status, body = self.get_api(f"/people?{query}")
            self.assertEqual(status, 422, query)
            self.assertIn("NUL", body["message"])

    def test_a_nul_in_a_bulk_action_or_an_export_filter_is_refused(self) -> None:
        r = self.client.get("/people/export.csv", {"name": "A\x00na"}, follow=True)
        self.assertContains(r, "NUL character")
        panel = Panel.objects.create(name="Panel")
        r = self.client.post(
            "/people/bulk/", {"scope": "filter", "query": "name=A%00na", "target": f"panel:{panel.code}"}, follow=True
        )
        self.assertContains(r, "NUL character")
        self.assertFalse(PanelMembership.objects.exists())

    def test_a_nul_in_an_api_body_is_refused(self) -> None:
        for url, body in (
            ("/people", {"email": "cleo@example.org", "first_name": "Cl\x00eo"}),
            ("/people", {"email": "cleo@example.org", "properties": {"job": "a\x00b"}}),
            ("/panels", {"name": "Pan\x00el"}),
        ):
            r = self.api(self.olga, "post", url, body)
            self.assertEqual(r.status_code, 422, (url, r.content))
            self.assertIn("NUL", json.loads(r.content)["message"])
        self.assertFalse(Panel.objects.exists())
        self.assertEqual(Person.objects.count(), 2)
