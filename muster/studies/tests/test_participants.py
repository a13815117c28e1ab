from __future__ import annotations

import re
from typing import Any

from django.test import RequestFactory

from muster.accounts.models import ApiToken
from muster.people import values as pv
from muster.people.models import Panel, PanelMembership, Person, Source
from muster.studies.models import Study, StudyParticipant, StudyStatus, StudyStatusChange
from muster.studies.participants import Refused, add_explained, add_participants, change_study_status, move
from muster.studies.views import _who
from muster.test import BaseTestCase


class ParticipantsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", first_name="Ben", source=Source.MANUAL)

    def test_each_participant_gets_a_128_bit_base32_participant_id(self) -> None:
        added, _ = add_participants(self.study, [self.ana, self.ben])
        ids = [p.participant_id for p in added]
        self.assertTrue(all(re.fullmatch(r"[A-Z2-7]{26}", i) for i in ids))
        self.assertEqual(len(set(ids)), 2)

    def test_the_machine_allows_the_listed_moves_and_stamps_each(self) -> None:
        (p,), _ = add_participants(self.study, [self.ana])
        for status in ("invited", "link_opened", "screener_started", "screener_completed", "screener_qualified"):
            move(p, status)
        self.assertEqual(p.status, "screener_qualified")
        self.assertIsNotNone(p.invited_at)
        self.assertIsNotNone(p.screener_qualified_at)

    def test_a_refused_move_says_why(self) -> None:
        (p,), _ = add_participants(self.study, [self.ana])
        with self.assertRaisesRegex(
            Refused, "From “Not contacted” a participant can move to .*not to “Survey completed”"
        ):
            move(p, "survey_completed")
        move(p, "cancelled")
        with self.assertRaisesRegex(Refused, "cancelled"):
            move(p, "invited")
        with self.assertRaisesRegex(Refused, "not a participant status"):
            move(p, "teleported")

    def test_a_completed_survey_is_final(self) -> None:
        (p,), _ = add_participants(self.study, [self.ana])
        for status in ("link_opened", "survey_started", "survey_completed"):
            move(p, status)
        with self.assertRaisesRegex(Refused, "final"):
            move(p, "cancelled")

    def test_an_opted_out_person_is_not_invited_but_a_link_they_open_counts(self) -> None:
        self.client.force_login(self.olga)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        (p,), _ = add_participants(self.study, Person.objects.filter(id=self.ana.id))
        with self.assertRaisesRegex(Refused, "This person opted out"):
            move(p, "invited")
        p.refresh_from_db()
        self.assertEqual(p.status, "not_contacted")
        # Opt-out is "do not contact", nothing more.
        move(p, "link_opened")
        self.assertEqual(StudyParticipant.objects.get().status, "link_opened")

    def test_the_participation_limit_stops_adds_and_cancelling_frees_a_seat(self) -> None:
        self.study.participation_limit = 1
        self.study.save()
        added, notes = add_participants(self.study, [self.ana, self.ben])
        self.assertEqual(len(added), 1)
        self.assertIn("limit", notes[0])
        move(added[0], "cancelled")
        added, _ = add_participants(self.study, [self.ben])
        self.assertEqual(len(added), 1)

    def test_test_participants_do_not_count(self) -> None:
        self.study.participation_limit = 0
        self.study.save()
        added, _ = add_participants(self.study, [self.ana], is_test=True)
        self.assertEqual(len(added), 1)

    def test_a_closed_study_takes_nobody(self) -> None:
        change_study_status(self.study, "closed")
        with self.assertRaisesRegex(Refused, "closed"):
            add_participants(self.study, [self.ana])

    def test_the_study_status_machine_refuses_with_a_reason(self) -> None:
        change_study_status(self.study, "paused")
        change_study_status(self.study, "closed")
        with self.assertRaisesRegex(Refused, "can move to “Active”, “Archived”"):
            change_study_status(self.study, "paused")
        change_study_status(self.study, "archived")
        with self.assertRaisesRegex(Refused, "can move to “Closed”, not|can move to “Closed”"):
            change_study_status(self.study, "draft")

    def test_the_study_page_lists_participants_by_status_with_counts(self) -> None:
        added, _ = add_participants(self.study, [self.ana, self.ben])
        move(added[0], "invited")
        self.client.force_login(self.rita)
        r = self.client.get(f"/studies/{self.study.code}/?status=invited")
        self.assertContains(r, "Ana")
        self.assertNotContains(r, "ben@example.org")
        self.assertEqual(dict((s, n) for s, _, n in r.context["counts"])["invited"], 1)

    def test_a_researcher_moves_a_participant_and_sees_a_refusal(self) -> None:
        (p,), _ = add_participants(self.study, [self.ana])
        self.client.force_login(self.rita)
        self.client.post(f"/studies/{self.study.code}/participants/{p.code}/status/", {"status": "invited"})
        p.refresh_from_db()
        self.assertEqual(p.status, "invited")
        r = self.client.post(
            f"/studies/{self.study.code}/participants/{p.code}/status/", {"status": "survey_completed"}, follow=True
        )
        self.assertContains(r, "not to “Survey completed”")

    def test_people_are_added_from_the_people_list_and_from_a_panel(self) -> None:
        panel = Panel.objects.create(name="P")
        PanelMembership.objects.create(panel=panel, person=self.ben)
        self.client.force_login(self.rita)
        self.client.post(
            "/people/bulk/", {"scope": "selected", "person": [self.ana.code], "target": f"study:{self.study.code}"}
        )
        self.client.post(f"/studies/{self.study.code}/add-panel/", {"panel": panel.code})
        self.assertEqual(StudyParticipant.objects.filter(study=self.study).count(), 2)

    def test_the_api_adds_by_code_or_email_and_refuses_a_move_with_a_reason(self) -> None:
        _, raw = ApiToken.issue(self.rita, "t")
        auth = {"Authorization": f"Bearer {raw}"}
        r = self.client.post(
            f"/api/v1/studies/{self.study.code}/participants",
            {"people": [str(self.ana.code)], "emails": ["BEN@example.org"]},
            content_type="application/json",
            headers=auth,
        )
        self.assertEqual(len(r.json()["added"]), 2)
        code = r.json()["added"][0]["code"]
        r = self.client.post(
            f"/api/v1/studies/{self.study.code}/participants/{code}/status",
            {"status": "survey_completed"},
            content_type="application/json",
            headers=auth,
        )
        self.assertEqual(r.status_code, 409)
        self.assertIn("can move to", r.json()["message"])


class ReversibleStudiesTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)

    def status(self, target: str) -> Any:
        return self.client.post(f"/studies/{self.study.code}/status/", {"status": target}, follow=True)

    def test_closing_asks_first_and_names_what_it_does(self) -> None:
        self.client.force_login(self.rita)
        page = self.client.get(f"/studies/{self.study.code}/").content.decode()
        start = page.index('<details class="confirm">')
        confirm = page[start : page.index("</details>", start)]
        self.assertIn("<summary", confirm)
        self.assertIn("takes no new participants", confirm)
        self.assertIn("You can reopen it later", confirm)
        self.assertIn('value="closed"', confirm)
        # Pause needs no confirmation: it is a plain button, outside any confirmation.
        self.assertNotIn('value="paused"', confirm)
        self.assertIn('value="paused"', page)

    def test_a_closed_study_is_reopened_and_an_archived_one_restored_with_a_record_of_who(self) -> None:
        self.client.force_login(self.rita)
        self.status("closed")
        self.assertContains(self.status("active"), "The study is now active.")
        self.status("closed")
        self.status("archived")
        page = self.status("closed")
        self.assertContains(page, "The study is now closed.")
        self.study.refresh_from_db()
        self.assertEqual(self.study.status, "closed")
        record = list(StudyStatusChange.objects.filter(study=self.study).values_list("from_status", "to_status", "by"))
        self.assertEqual(
            record,
            [
                ("archived", "closed", self.rita.id),
                ("closed", "archived", self.rita.id),
                ("active", "closed", self.rita.id),
                ("closed", "active", self.rita.id),
                ("active", "closed", self.rita.id),
            ],
        )
        self.assertContains(page, "Status history")
        self.assertContains(page, "Rita Researcher")

    def test_an_ended_study_offers_no_adding_or_moving_and_refuses_both(self) -> None:
        Panel.objects.create(name="Parents")
        (p,), _ = add_participants(self.study, [self.ana])
        change_study_status(self.study, "closed")
        self.client.force_login(self.rita)
        page = self.client.get(f"/studies/{self.study.code}/")
        self.assertNotContains(page, "Add from panel")
        self.assertNotContains(page, 'aria-label="New status"')
        self.assertContains(page, "it takes no new participants and nobody in it can be moved")
        with self.assertRaisesRegex(Refused, "The study is closed: reopen it"):
            move(p, "invited")
        reply = self.api(
            self.rita, "post", f"/studies/{self.study.code}/participants/{p.code}/status", {"status": "invited"}
        )
        self.assertEqual(reply.status_code, 409)
        self.assertIn("reopen it", reply.json()["message"])
        p.refresh_from_db()
        self.assertEqual(p.status, "not_contacted")

    def test_a_draft_study_only_lets_you_cancel_participants(self) -> None:
        draft = Study.objects.create(name="Later", landing_slug="later")
        (p,), _ = add_participants(draft, [self.ana])
        with self.assertRaisesRegex(Refused, "The study is a draft: activate it first"):
            move(p, "invited")
        self.client.force_login(self.rita)
        row = self.client.get(f"/studies/{draft.code}/").context["participants"][0]
        self.assertEqual((row["moves"], row["can_cancel"]), ([], True))
        move(p, "cancelled")

    def test_the_api_records_who_changed_a_status(self) -> None:
        reply = self.api(self.olga, "post", f"/studies/{self.study.code}/status", {"status": "closed"})
        self.assertEqual(reply.status_code, 200, reply.content)
        self.assertEqual(StudyStatusChange.objects.get(study=self.study).by, self.olga)

    def test_cancelling_a_participant_asks_first_and_says_it_cannot_be_undone(self) -> None:
        add_participants(self.study, [self.ana])
        self.client.force_login(self.rita)
        r = self.client.get(f"/studies/{self.study.code}/")
        row = r.context["participants"][0]
        self.assertNotIn("cancelled", [s for s, _ in row["moves"]])
        page = r.content.decode()
        start = page.index('aria-label="Cancel Ana?"')
        confirm = page[start : page.index("</details>", start)]
        self.assertIn("cannot be moved again", confirm)
        self.assertIn('name="status" value="cancelled"', confirm)


class HonestAddsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(
            name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE, participation_limit=2
        )
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", first_name="Ben", source=Source.MANUAL)
        self.cyd = pv.create_person("cyd@example.org", first_name="Cyd", source=Source.MANUAL)

    def add(self, *people: Person) -> Any:
        return self.client.post(
            "/people/bulk/",
            {"scope": "selected", "person": [p.code for p in people], "target": f"study:{self.study.code}"},
            follow=True,
        )

    def message(self, reply: Any) -> tuple[str, str]:
        *_, m = list(reply.context["messages"])
        return m.level_tag, str(m)

    def test_everyone_added_is_a_success(self) -> None:
        self.client.force_login(self.rita)
        self.assertEqual(self.message(self.add(self.ana)), ("success", "1 added to the study Onboarding."))

    def test_nobody_added_is_a_warning_naming_who_and_why(self) -> None:
        add_participants(self.study, [self.ana])
        self.client.force_login(self.rita)
        level, text = self.message(self.add(self.ana))
        self.assertEqual(level, "warning")
        self.assertEqual(text, "No one was added to the study Onboarding. Already in the study: Ana.")

    def test_a_partial_add_names_who_the_limit_left_out(self) -> None:
        self.client.force_login(self.rita)
        level, text = self.message(self.add(self.ana, self.ben, self.cyd))
        self.assertEqual(level, "warning")
        self.assertIn("2 added to the study Onboarding.", text)
        self.assertIn("Not added, the participation limit (2) is reached: Cyd.", text)

    def test_adding_an_opted_out_person_warns_that_they_will_not_be_invited(self) -> None:
        self.client.force_login(self.olga)
        self.client.post(f"/people/{self.ben.code}/opt-out/")
        level, text = self.message(self.add(self.ben))
        self.assertEqual(level, "warning")
        self.assertIn("Added but opted out, so Muster will not invite them: Ben.", text)

    def test_a_masked_viewer_is_never_shown_names(self) -> None:
        add_participants(self.study, [self.ana])
        request = RequestFactory().get("/")
        request.user = self.dev
        outcome = add_explained(self.study, Person.objects.filter(id=self.ana.id))
        outcome_text = _who(request, outcome.already_in)
        self.assertNotIn("Ana", outcome_text)
        self.assertNotIn("ana@example.org", outcome_text)
