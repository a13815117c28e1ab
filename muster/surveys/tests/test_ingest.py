"""Ingestion: a response is stored once, attached only by the Participant ID it carries, applied
through the one writer with its own as-of, and moves its participant forward."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from muster.people.erasure import erase
from muster.people.models import Property, PropertyValue, PropertyValueChange
from muster.people.serialise import MASK
from muster.people.values import create_person, values_of
from muster.studies.details import create_study
from muster.studies.models import Study, StudyParticipant
from muster.surveys.answers import Answer, ResponseData
from muster.surveys.attach import Owner, attach
from muster.surveys.ingest import Reader, ingest
from muster.surveys.mappings import Wanted
from muster.surveys.models import ErasedResponse, OwnerKind, Response
from muster.surveys.tests.test_forms import FormTestCase


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def reader(
    rid: str, pid: str, *answers: Answer, day: int = 1, edited: int | None = None, finished: bool = True, **more: Any
) -> Reader:
    def read(questions: Any, field: str) -> ResponseData:
        return ResponseData(
            rid,
            pid,
            finished,
            100 if finished else 40,
            at(day),
            at(edited) if edited else None,
            more.get("channel", "anonymous"),
            more.get("test", False),
            list(answers),
            more.get("unknown", {}),
            {"values": {"answers": [a.value for a in answers], "edited": edited}},
            started_at=at(day, 9),
        )

    return read


class IngestTestCase(FormTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.map(Wanted("QID1", create={"label": "Frequency"}), Wanted("QID3", create={"label": "Job"}))
        self.job = Property.objects.get(key="job")
        self.frequency = Property.objects.get(key="frequency")
        self.pat = create_person("pat@example.org", source="manual")
        self.participant = StudyParticipant.objects.create(study=self.study, person=self.pat)
        self.pid = self.participant.participant_id

    def ingest(self, *reads: Reader) -> list[str]:
        return [i.outcome for i in ingest("fake", "brand1", "SV_1", reads)]

    def values(self) -> dict[str, Any]:
        found = values_of([self.pat], [self.job, self.frequency])
        return {p.key: found.get((self.pat.id, p.id)) for p in (self.job, self.frequency)}


class IngestTests(IngestTestCase):
    def test_a_response_is_stored_attached_applied_and_moves_its_participant(self) -> None:
        assert self.ingest(reader("R_1", self.pid, Answer("QID1", None, ("2",)), Answer("QID3", None, "Chef"))) == [
            "created"
        ]
        response = Response.objects.get()
        assert response.participant == self.participant and not response.flagged
        assert response.version == self.form.version and response.answers == {"QID1": ["2"], "QID3": "Chef"}
        assert self.values() == {"job": "Chef", "frequency": "Monthly"}
        sources = set(PropertyValueChange.objects.values_list("revision__source", "revision__source_code"))
        assert sources == {("response", str(response.code))}
        self.participant.refresh_from_db()
        assert self.participant.status == "screener_completed"
        assert self.participant.screener_started_at == at(1, 9) and self.participant.screener_completed_at == at(1)
        assert PropertyValue.objects.get(property=self.job).as_of == at(1)

    def test_a_replay_changes_nothing_twice(self) -> None:
        read = reader("R_1", self.pid, Answer("QID3", None, "Chef"))
        assert self.ingest(read, read) == ["created", "unchanged"]
        assert self.ingest(read) == ["unchanged"]
        assert Response.objects.count() == 1 and PropertyValueChange.objects.count() == 1

    def test_an_edit_re_applies_and_an_older_copy_never_wins(self) -> None:
        self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Chef")))
        assert self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Head chef"), edited=5)) == ["updated"]
        assert self.values()["job"] == "Head chef"
        assert self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Chef"))) == ["unchanged"]
        assert self.values()["job"] == "Head chef"

    def test_an_older_response_never_overwrites_a_newer_value(self) -> None:
        self.ingest(reader("R_2", self.pid, Answer("QID3", None, "Pilot"), day=9))
        self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Chef"), day=2))
        assert self.values()["job"] == "Pilot"
        assert Response.objects.get(response_id="R_1").errors == []  # skipped as older: not an error

    def test_a_response_without_a_valid_participant_id_is_kept_unattached_and_flagged(self) -> None:
        forged = "A" * 26
        assert self.ingest(reader("R_1", forged, Answer("QID3", None, "Chef")), reader("R_2", "")) == [
            "created",
            "created",
        ]
        assert list(Response.objects.values_list("flagged", "participant", "carried_id").order_by("response_id")) == [
            (True, None, forged),
            (True, None, ""),
        ]
        assert not PropertyValue.objects.exists()

    def test_a_participant_of_another_study_does_not_attach(self) -> None:
        study = self.other_study()
        attach(Owner(OwnerKind.SCREENER, study=study), "fake", "SV_2", self.olga)
        stranger = StudyParticipant.objects.create(study=study, person=create_person("x@example.org", source="m"))
        self.ingest(reader("R_1", stranger.participant_id, Answer("QID3", None, "Chef")))
        assert Response.objects.get().flagged

    def other_study(self) -> Study:
        self.tool.questions["SV_2"] = list(self.tool.questions["SV_1"])
        return create_study(self.olga, name="Other", landing_slug="other")

    def test_test_responses_touch_neither_properties_nor_statuses(self) -> None:
        self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Chef"), test=True, channel="preview"))
        tester = StudyParticipant.objects.create(study=self.study, person=self.pat, is_test=True)
        self.ingest(reader("R_2", tester.participant_id, Answer("QID3", None, "Chef")))
        assert list(Response.objects.values_list("is_test", flat=True)) == [True, True]
        assert not PropertyValue.objects.exists()
        self.participant.refresh_from_db()
        tester.refresh_from_db()
        assert (self.participant.status, tester.status) == ("not_contacted", "not_contacted")

    def test_a_refused_answer_is_recorded_and_the_rest_applies(self) -> None:
        self.ingest(reader("R_1", self.pid, Answer("QID1", None, ("9",)), Answer("QID3", None, "Chef")))
        assert self.values()["job"] == "Chef"
        assert Response.objects.get().errors == [
            {"qid": "QID1", "part": None, "reason": "The answer is a choice the survey does not have (9)."}
        ]

    def test_a_partial_response_moves_to_started_only(self) -> None:
        self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Chef"), finished=False))
        self.participant.refresh_from_db()
        assert self.participant.status == "screener_started"

    def test_a_cancelled_participant_is_not_moved(self) -> None:
        StudyParticipant.objects.filter(id=self.participant.id).update(status="cancelled")
        self.ingest(reader("R_1", self.pid, Answer("QID3", None, "Chef")))
        self.participant.refresh_from_db()
        assert self.participant.status == "cancelled"

    def test_erasing_the_person_deletes_their_responses_and_none_comes_back(self) -> None:
        read = reader("R_1", self.pid, Answer("QID3", None, "Chef"))
        self.ingest(read)
        record = erase(self.pat, self.olga)
        assert record.counts.get("survey responses") == 1
        assert not Response.objects.exists() and ErasedResponse.objects.count() == 1
        assert self.ingest(read) == ["erased"]
        assert not Response.objects.exists()

    def test_unknown_keys_are_counted_per_question_once_per_change(self) -> None:
        read = reader("R_1", self.pid, unknown={"QID7": 2})
        self.ingest(read, read)
        self.form.refresh_from_db()
        assert self.form.unknown_keys == {"QID7": 2}

    def test_a_survey_no_form_uses_is_dropped(self) -> None:
        assert [i.outcome for i in ingest("fake", "brand1", "SV_404", [reader("R_1", self.pid)])] == ["dropped"]
        assert not Response.objects.exists()


class FormResponsesApiTests(IngestTestCase):
    def test_it_lists_a_forms_responses_newest_first_with_answers_and_errors(self) -> None:
        self.ingest(
            reader("R_1", self.pid, Answer("QID1", None, ("9",)), Answer("QID3", None, "Chef"), day=1),
            reader("R_2", "", Answer("QID1", None, ("1",)), day=2),
        )
        r = self.api(self.rita, "get", f"/forms/{self.form.code}/responses?page_size=1")
        assert r.status_code == 200, r.content
        body = r.json()
        assert (body["count"], body["pages"]) == (2, 2)
        (newest,) = body["items"]
        assert (newest["response_id"], newest["flagged"], newest["person"]) == ("R_2", True, None)
        oldest = self.api(self.rita, "get", f"/forms/{self.form.code}/responses?page_size=1&page=2").json()["items"][0]
        assert oldest["participant_id"] == self.pid and oldest["person"] == str(self.pat.code)
        assert oldest["answers"] == {"QID1": ["9"], "QID3": "Chef"} and oldest["version"] == 1
        assert [e["qid"] for e in oldest["errors"]] == ["QID1"]

    def test_free_text_answers_are_masked_for_roles_that_may_not_see_pii(self) -> None:
        self.ingest(reader("R_1", self.pid, Answer("QID1", None, ("2",)), Answer("QID3", None, "Chef")))
        (item,) = self.api(self.dev, "get", f"/forms/{self.form.code}/responses").json()["items"]
        assert item["answers"] == {"QID1": ["2"], "QID3": MASK}


class PersonResponsesTabTests(IngestTestCase):
    def test_the_profile_lists_the_persons_responses_and_what_did_not_write(self) -> None:
        self.ingest(reader("R_1", self.pid, Answer("QID1", None, ("9",)), Answer("QID3", None, "Chef")))
        self.client.force_login(self.oscar)
        page = self.client.get(f"/people/{self.pat.code}/?tab=responses")
        self.assertContains(page, ">Responses<")
        self.assertContains(page, "Survey SV_1")
        self.assertContains(page, "Completed")
        self.assertContains(page, "QID1: The answer is a choice the survey does not have (9).")
        self.assertContains(page, self.pid)
