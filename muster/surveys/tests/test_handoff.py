from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core import mail

from muster.people import values as pv
from muster.people.models import Source
from muster.studies.models import ParticipantStatus, Study, StudyParticipant, StudyStatus
from muster.studies.participants import add_participants
from muster.surveys import tools
from muster.surveys.answers import ResponseData
from muster.surveys.models import SurveyForm
from muster.surveys.questions import ImportedDefinition, Links, QuestionDef, SurveySummary
from muster.test import BaseTestCase

S = ParticipantStatus


class FakeTool:
    """A survey tool that only knows where its surveys are taken."""

    name = "fake"
    label = "Fake"

    def unavailable(self) -> str:
        return ""

    def surveys(self) -> list[SurveySummary]:
        return []

    def definition(self, survey_id: str, participant_field: str) -> ImportedDefinition:
        raise NotImplementedError

    def latest_responses(
        self, survey_id: str, questions: Sequence[QuestionDef], participant_field: str, limit: int
    ) -> list[ResponseData]:
        return []

    def links(self, survey_id: str, base_url: str) -> Links:
        # A base URL with a query stands for a tool whose anonymous link carries one already.
        take = base_url if "?" in base_url else f"{base_url}/jfe/form/{survey_id}"
        return Links(take=take, edit="", data="")


class HandoffBase(BaseTestCase):
    """A study with a screener and a survey on the fake tool, and Ana in it."""

    def setUp(self) -> None:
        super().setUp()
        tools.register(FakeTool())
        self.addCleanup(tools.tools.pop, "fake")
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        (self.p,), _ = add_participants(self.study, [self.ana])
        self.screener = self.attach("screener", "SV_screen")
        self.survey = self.attach("survey", "SV_main")

    def attach(self, step: str, survey_id: str, **more: Any) -> SurveyForm:
        return SurveyForm.objects.create(
            tool="fake",
            brand="BR_1",
            survey_id=survey_id,
            survey_name=survey_id,
            base_url="https://brand.example.com",
            owner_kind=step,
            study=self.study,
            **more,
        )

    def go(self, participant: StudyParticipant | None = None, slug: str = "onboarding") -> Any:
        return self.client.get(f"/s/{slug}/go/{(participant or self.p).participant_id}/")

    def put(self, status: str, participant: StudyParticipant | None = None) -> None:
        StudyParticipant.objects.filter(id=(participant or self.p).id).update(status=status)

    def status(self) -> str:
        return StudyParticipant.objects.get(id=self.p.id).status


class HandoffTestCase(HandoffBase):
    def test_it_records_link_opened_and_sends_them_to_the_screener(self) -> None:
        r = self.go()
        self.assertRedirects(
            r,
            f"https://brand.example.com/jfe/form/SV_screen?rallyParticipantId={self.p.participant_id}",
            fetch_redirect_response=False,
        )
        p = StudyParticipant.objects.get(id=self.p.id)
        self.assertEqual(p.status, S.LINK_OPENED)
        self.assertIsNotNone(p.link_opened_at)

    def test_it_sends_them_back_to_the_screener_they_started(self) -> None:
        self.put(S.SCREENER_STARTED)
        self.assertIn("/SV_screen?", self.go()["Location"])
        self.assertEqual(self.status(), S.SCREENER_STARTED)

    def test_it_sends_a_qualified_participant_to_the_survey(self) -> None:
        self.put(S.SCREENER_QUALIFIED)
        r = self.go()
        self.assertEqual(
            r["Location"], f"https://brand.example.com/jfe/form/SV_main?rallyParticipantId={self.p.participant_id}"
        )
        self.assertEqual(self.status(), S.SCREENER_QUALIFIED)

    def test_it_sends_them_to_the_survey_when_the_study_has_no_screener(self) -> None:
        self.screener.detached_at = self.screener.attached_at
        self.screener.save()
        self.assertIn("/SV_main?", self.go()["Location"])
        self.assertEqual(self.status(), S.LINK_OPENED)

    def test_it_uses_the_forms_own_participant_field_and_keeps_the_links_query(self) -> None:
        self.screener.participant_field = "pid"
        self.screener.base_url = "https://brand.example.com/jfe/form/SV_screen?Q_CHL=si&pid=stale"
        self.screener.save()
        location = self.go()["Location"]
        self.assertEqual(urlsplit(location).query, f"Q_CHL=si&pid={self.p.participant_id}")

    def test_a_completed_screener_waits_for_a_decision(self) -> None:
        self.put(S.SCREENER_COMPLETED)
        self.assertContains(self.go(), "The research team will be in touch")

    def test_a_not_qualified_participant_is_thanked_and_not_moved(self) -> None:
        self.put(S.SCREENER_NOT_QUALIFIED)
        r = self.go()
        self.assertContains(r, "not looking for more participants like you")
        self.assertEqual(self.status(), S.SCREENER_NOT_QUALIFIED)

    def test_a_cancelled_participant_is_told_and_not_moved(self) -> None:
        self.put(S.CANCELLED)
        self.assertContains(self.go(), "Your participation in this study was cancelled")
        p = StudyParticipant.objects.get(id=self.p.id)
        self.assertEqual(p.status, S.CANCELLED)
        self.assertIsNone(p.link_opened_at)

    def test_a_participant_who_took_part_is_told_so(self) -> None:
        self.put(S.SURVEY_COMPLETED)
        self.assertContains(self.go(), "You have already taken part")

    def test_a_forged_participant_id_or_the_wrong_study_is_404(self) -> None:
        self.assertEqual(self.client.get("/s/onboarding/go/AAAAAAAAAAAAAAAAAAAAAAAAAA/").status_code, 404)
        self.assertEqual(self.client.get("/s/onboarding/go/not-an-id/").status_code, 404)
        Study.objects.create(name="Other", landing_slug="other", status=StudyStatus.ACTIVE)
        self.assertEqual(self.go(slug="other").status_code, 404)
        self.assertEqual(self.status(), S.NOT_CONTACTED)

    def test_guessing_participant_ids_is_slowed_down(self) -> None:
        self.hold_rate_limit_clock()
        for _ in range(60):
            self.client.get("/s/onboarding/go/AAAAAAAAAAAAAAAAAAAAAAAAAA/")
        self.assertEqual(self.client.get("/s/onboarding/go/AAAAAAAAAAAAAAAAAAAAAAAAAA/").status_code, 429)
        # A real link still works.
        self.assertEqual(self.go().status_code, 302)

    def test_a_study_that_is_not_active_shows_its_state_and_moves_nobody(self) -> None:
        for status, text in (
            (StudyStatus.PAUSED, "This study is paused; please come back later"),
            (StudyStatus.CLOSED, "This study is closed"),
            (StudyStatus.DRAFT, "This study has not opened yet"),
        ):
            Study.objects.filter(id=self.study.id).update(status=status)
            self.assertContains(self.go(), text)
        self.assertEqual(self.status(), S.NOT_CONTACTED)

    def test_a_full_study_still_lets_its_participants_through(self) -> None:
        Study.objects.filter(id=self.study.id).update(participation_limit=1)
        self.assertEqual(self.go().status_code, 302)

    def test_a_test_participant_goes_the_same_way_even_in_a_draft(self) -> None:
        Study.objects.filter(id=self.study.id).update(status=StudyStatus.DRAFT)
        (preview,), _ = add_participants(self.study, [self.ana], is_test=True)
        r = self.go(preview)
        self.assertEqual(
            r["Location"], f"https://brand.example.com/jfe/form/SV_screen?rallyParticipantId={preview.participant_id}"
        )
        self.assertEqual(StudyParticipant.objects.get(id=preview.id).status, S.LINK_OPENED)

    def test_with_no_form_for_the_next_step_there_is_nothing_to_take_yet(self) -> None:
        SurveyForm.objects.filter(study=self.study).delete()
        self.assertContains(self.go(), "There is nothing to take yet")
        self.assertEqual(self.status(), S.LINK_OPENED)

    def test_a_tool_that_is_not_installed_says_to_try_later(self) -> None:
        SurveyForm.objects.filter(id=self.screener.id).update(tool="gone")
        self.assertContains(self.go(), "cannot be opened just now", status_code=503)

    def test_it_rejects_post(self) -> None:
        self.assertEqual(self.client.post(f"/s/onboarding/go/{self.p.participant_id}/").status_code, 405)


class LandingToSurveyTestCase(HandoffBase):
    def test_a_new_email_goes_from_the_landing_page_to_the_screener(self) -> None:
        r = self.client.post("/s/onboarding/", {"email": "nia@example.org", "first_name": "Nia"})
        self.assertContains(r, "Check your email")
        (link,) = re.findall(r"https?://\S+/continue/\S+/", str(mail.outbox[0].body))
        r = self.client.post(urlsplit(link).path, follow=False)
        handoff = r["Location"]
        nia = StudyParticipant.objects.get(person__emails__email="nia@example.org")
        self.assertEqual(handoff, f"/s/onboarding/go/{nia.participant_id}/")
        r = self.client.get(handoff)
        self.assertEqual(
            r["Location"], f"https://brand.example.com/jfe/form/SV_screen?rallyParticipantId={nia.participant_id}"
        )
        self.assertEqual(StudyParticipant.objects.get(id=nia.id).status, S.LINK_OPENED)
