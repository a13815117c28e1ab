"""Attaching, mapping and re-importing a survey, with a tool held in memory (the rules of `surveys`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from muster.people.models import Property, PropertyType
from muster.people.properties import create_property
from muster.people.serialise import Viewer
from muster.people.values import create_person
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant
from muster.surveys.answers import Answer, ResponseData
from muster.surveys.attach import Owner, attach, attached_form, detach, reimport
from muster.surveys.dryrun import dry_run
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.models import MappingStatus, OwnerKind, SurveyForm
from muster.surveys.questions import Choice, Kind
from muster.surveys.tests.fake import FakeTool, choice_question, fake_tool, nps_question, text_question
from muster.test import BaseTestCase


class FormTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        context = fake_tool()
        self.tool: FakeTool = context.__enter__()
        self.addCleanup(context.__exit__, None, None, None)
        self.tool.questions["SV_1"] = [
            choice_question("QID1", ["Weekly", "Monthly", "Never"]),
            choice_question("QID2", ["Phone", "Laptop"], kind=Kind.MULTIPLE_CHOICE),
            text_question("QID3"),
            nps_question("QID4"),
        ]
        self.study = create_study(self.olga, name="Checkout", landing_slug="checkout")
        self.owner = Owner(OwnerKind.SCREENER, study=self.study)
        self.form = attach(self.owner, "fake", "SV_1", self.olga)

    def map(self, *wanted: Wanted, may_create: bool = True) -> list[tuple[int, str]]:
        return save_mappings(self.form, list(wanted), self.olga, may_create=may_create).refused


class AttachingTests(FormTestCase):
    def test_it_imports_every_question_in_survey_order(self) -> None:
        assert [q.qid for q in self.form.questions.all()] == ["QID1", "QID2", "QID3", "QID4"]
        assert self.form.version is not None and self.form.version.number == 1

    def test_attaching_another_survey_detaches_the_first_and_keeps_it(self) -> None:
        self.tool.questions["SV_2"] = [text_question("QID1")]
        second = attach(self.owner, "fake", "SV_2", self.olga)
        assert attached_form(self.owner) == second
        self.form.refresh_from_db()
        assert self.form.detached_at is not None and self.form.detached_by == self.olga
        assert SurveyForm.objects.count() == 2

    def test_attaching_the_same_survey_again_is_a_reimport(self) -> None:
        again = attach(self.owner, "fake", "SV_1", self.olga)
        assert again.id == self.form.id and self.form.versions.count() == 1

    def test_a_detached_step_has_no_form(self) -> None:
        detach(self.form, self.olga)
        assert attached_form(self.owner) is None


class MappingTests(FormTestCase):
    def test_create_property_derives_type_and_options_from_the_question(self) -> None:
        assert self.map(Wanted("QID1", create={"label": "Shopping frequency"})) == []
        prop = Property.objects.get(key="shopping_frequency")
        assert prop.type == PropertyType.SINGLE_SELECT
        assert [o.label for o in prop.options.all()] == ["Weekly", "Monthly", "Never"]
        mapping = self.form.mappings.get()
        assert mapping.options == {c: o.id for c, o in zip(["1", "2", "3"], prop.options.all(), strict=True)}
        assert mapping.version == self.form.version

    def test_choices_are_suggested_by_label_and_can_be_changed(self) -> None:
        prop = create_property("devices", "Devices", PropertyType.MULTI_SELECT, options=["laptop", "Phone", "TV"])
        tv = prop.options.get(label="TV")
        assert self.map(Wanted("QID2", property="devices", options={"1": "TV"})) == []
        mapping = self.form.mappings.get()
        assert mapping.options == {"1": tv.id, "2": prop.options.get(label="laptop").id}

    def test_an_incompatible_property_is_refused_with_the_reason_and_the_rest_saved(self) -> None:
        create_property("age", "Age", PropertyType.NUMBER)
        refused = self.map(Wanted("QID2", property="age"), Wanted("QID3", create={"label": "Job title"}))
        assert refused == [(0, "Age is a number property: Several answers are not one number.")]
        assert [m.qid for m in self.form.mappings.all()] == ["QID3"]

    def test_a_refused_item_keeps_the_mapping_it_would_have_replaced(self) -> None:
        self.map(Wanted("QID3", create={"label": "Job title"}))
        refused = self.map(Wanted("QID3", property="no_such_key"))
        assert refused == [(0, "There is no property with the key “no_such_key”.")]
        assert self.form.mappings.get().property.key == "job_title"

    def test_mappings_not_asked_for_again_are_removed(self) -> None:
        self.map(Wanted("QID3", create={"label": "Job title"}), Wanted("QID4", "score", create={"label": "NPS"}))
        self.map(Wanted("QID3", property="job_title"))
        assert [m.qid for m in self.form.mappings.all()] == ["QID3"]

    def test_add_is_refused_for_a_property_that_holds_one_value(self) -> None:
        refused = self.map(Wanted("QID3", create={"label": "Job title"}, policy="add"))
        assert refused and "multi-select" in refused[0][1]
        assert not Property.objects.filter(key="job_title").exists()  # the refused item created nothing

    def test_a_role_that_may_not_create_properties_is_told_so(self) -> None:
        assert self.map(Wanted("QID3", create={"label": "Job"}), may_create=False) == [
            (0, "Your role cannot create properties.")
        ]

    def test_an_option_the_property_does_not_have_is_refused(self) -> None:
        create_property("freq", "Frequency", PropertyType.SINGLE_SELECT, options=["Weekly"])
        refused = self.map(Wanted("QID1", property="freq", options={"2": "Fortnightly"}))
        assert refused == [(0, "Frequency has no option “Fortnightly” (for choice “2”).")]

    def test_two_parts_may_not_write_to_one_property(self) -> None:
        create_property("score", "Score", PropertyType.NUMBER)
        refused = self.map(Wanted("QID4", "score", property="score"), Wanted("QID3", property="score"))
        assert refused == [(1, "Item 0 of this form already writes to Score.")]


class DriftTests(FormTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.map(
            Wanted("QID1", create={"label": "Frequency"}),
            Wanted("QID2", create={"label": "Devices"}),
            Wanted("QID3", create={"label": "Job title"}),
        )

    def change(self, qid: str, new: object) -> None:
        questions = self.tool.questions["SV_1"]
        index = next(i for i, q in enumerate(questions) if q.qid == qid)
        if new is None:
            questions.pop(index)
        else:
            questions[index] = new  # type: ignore[call-overload]

    def statuses(self) -> dict[str, str]:
        return {m.qid: m.status for m in self.form.mappings.all()}

    def test_an_unchanged_definition_makes_no_new_version(self) -> None:
        assert reimport(self.form).changed is False
        assert self.form.versions.count() == 1

    def test_a_new_question_appears_flagged_new(self) -> None:
        self.tool.questions["SV_1"].append(text_question("QID5"))
        result = reimport(self.form)
        assert result.changed and result.paused == []
        assert self.form.questions.get(qid="QID5").flags == ["new"]
        assert self.form.versions.count() == 2

    def test_a_renamed_choice_keeps_its_mapping(self) -> None:
        q1 = self.tool.questions["SV_1"][0]
        self.change("QID1", replace(q1, choices=(Choice("1", "1", "Every week"), *q1.choices[1:])))
        reimport(self.form)
        assert set(self.statuses().values()) == {MappingStatus.ACTIVE}
        assert self.form.questions.get(qid="QID1").flags == ["choice_renamed"]

    def test_a_removed_choice_pauses_only_the_mapping_that_uses_it(self) -> None:
        q1 = self.tool.questions["SV_1"][0]
        self.change("QID1", replace(q1, choices=q1.choices[:2]))
        result = reimport(self.form)
        assert [m.qid for m in result.paused] == ["QID1"]
        paused = self.form.mappings.get(qid="QID1")
        assert paused.paused_reason.startswith("The choice “Never” was removed.")
        assert self.statuses() == {"QID1": "paused", "QID2": "active", "QID3": "active"}

    def test_a_removed_question_is_flagged_and_pauses_its_mapping(self) -> None:
        self.change("QID3", None)
        reimport(self.form)
        row = self.form.questions.get(qid="QID3")
        assert row.removed and row.flags == ["removed"]
        assert self.statuses()["QID3"] == "paused"

    def test_a_retyped_question_pauses_its_mapping_with_both_kinds(self) -> None:
        self.change("QID3", replace(self.tool.questions["SV_1"][2], kind=Kind.MATRIX, reason="Not yet."))
        reimport(self.form)
        reason = self.form.mappings.get(qid="QID3").paused_reason
        assert "It was text entry and is now matrix table." in reason

    def test_mapping_a_paused_question_again_resumes_it_on_the_new_version(self) -> None:
        q1 = self.tool.questions["SV_1"][0]
        self.change("QID1", replace(q1, choices=q1.choices[:2]))
        reimport(self.form)
        self.form.refresh_from_db()
        self.map(Wanted("QID1", property="frequency"), Wanted("QID2", property="devices"))
        mapping = self.form.mappings.get(qid="QID1")
        assert mapping.status == "active" and mapping.version == self.form.version
        assert self.form.version is not None and self.form.version.number == 2

    def test_old_versions_keep_the_choices_they_had(self) -> None:
        q1 = self.tool.questions["SV_1"][0]
        self.change("QID1", replace(q1, choices=q1.choices[:2]))
        reimport(self.form)
        first = self.form.versions.get(number=1).question_defs()[0]
        assert [c.label for c in first.choices] == ["Weekly", "Monthly", "Never"]


class DryRunTests(FormTestCase):
    def response(self, pid: str, *answers: Answer, when: int = 1, test: bool = False, year: int = 2026) -> ResponseData:
        at = datetime(year, 3, when, tzinfo=UTC)
        return ResponseData(f"R_{pid}{when}", pid, True, 100, at, None, "anonymous", test, list(answers))

    def test_it_shows_what_would_change_and_writes_nothing(self) -> None:
        self.map(Wanted("QID1", create={"label": "Frequency"}), Wanted("QID3", create={"label": "Age"}))
        age = Property.objects.get(key="age")
        person = create_person("pat@example.org", first_name="Pat", source="manual", values={age: "old text"})
        participant = StudyParticipant.objects.create(study=self.study, person=person)
        pid = participant.participant_id
        self.tool.responses["SV_1"] = [
            self.response(pid, Answer("QID1", None, ("2",)), Answer("QID3", None, "new text")),
            self.response("", Answer("QID1", None, ("9",))),
        ]
        self.tool.responses["SV_1"].insert(0, self.response(pid, Answer("QID3", None, "newer text"), when=1, year=2099))
        results = dry_run(self.form, 10, Viewer(pii=True))
        assert results[0].changes == [{"property": "age", "old": "old text", "new": "newer text"}]
        # Answered before the value held was set: the writer keeps the newer one, and says so.
        assert results[1].changes == [{"property": "frequency", "old": None, "new": "Monthly"}]
        assert results[1].refused == [
            {"qid": "QID3", "part": None, "reason": "Age: A newer value is held: this change is as of an earlier time."}
        ]
        assert results[2].person is None and "no Participant ID" in results[2].note
        assert results[2].refused == [
            {"qid": "QID1", "part": None, "reason": "The answer is a choice the survey does not have (9)."}
        ]
        assert not person.values.filter(property__key="frequency").exists()

    def test_a_test_response_would_change_nothing(self) -> None:
        self.map(Wanted("QID3", create={"label": "Job"}))
        self.tool.responses["SV_1"] = [self.response("X", Answer("QID3", None, "a"), test=True)]
        (result,) = dry_run(self.form, 5, Viewer(pii=True))
        assert result.changes == [] and "test" in result.note
