"""Preview: the real participant path, as the user's own test participant."""

from __future__ import annotations

from muster.people.models import Person
from muster.studies.models import StudyParticipant
from muster.surveys.tests.test_pages import PageTestCase


class PreviewTests(PageTestCase):
    def preview(self) -> str:
        r = self.post(self.rita, {"action": "preview"}, follow=False)
        assert r.status_code == 302, r.content
        return str(r["Location"])

    def test_it_sends_the_user_down_the_participant_path_as_a_test_participant(self) -> None:
        self.attach()
        handoff = self.preview()
        participant = StudyParticipant.objects.get()
        assert participant.is_test and participant.person.source == "preview"
        assert handoff == f"/s/checkout/go/{participant.participant_id}/"
        # The draft study still takes a test participant to its screener, carrying the Participant ID.
        r = self.client.get(handoff)
        assert r["Location"] == f"https://fake.example/take/SV_1?rallyParticipantId={participant.participant_id}"
        participant.refresh_from_db()
        assert participant.status == "link_opened"

    def test_a_second_preview_goes_on_with_the_same_test_participant_and_takes_no_seat(self) -> None:
        self.attach()
        assert self.preview() == self.preview()
        self.study.refresh_from_db()
        assert StudyParticipant.objects.count() == 1 and self.study.seats_taken == 0
        assert Person.objects.filter(source="preview").count() == 1

    def test_a_finished_preview_starts_again_with_a_new_test_participant(self) -> None:
        self.attach()
        first = self.preview()
        StudyParticipant.objects.update(status="survey_completed")
        assert self.preview() != first

    def test_observers_cannot_preview(self) -> None:
        self.attach()
        self.client.force_login(self.oscar)
        assert self.client.post(self.url, {"action": "preview"}).status_code == 403
