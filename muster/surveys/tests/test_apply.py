"""apply_mappings: each kind of answer becomes the value its property type holds, or a refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from muster.people.models import PropertyType
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.surveys.answers import Answer
from muster.surveys.apply import apply_mappings, for_applying
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.questions import Choice
from muster.surveys.tests.fake import choice_question, slider_question
from muster.surveys.tests.test_forms import FormTestCase

WHEN = datetime(2026, 5, 1, tzinfo=UTC)


class ApplyTests(FormTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.person = create_person("pat@example.org", source="manual")

    def apply(self, *answers: Answer) -> tuple[dict[str, tuple[Any, str]], list[str]]:
        version = self.form.versions.get(number=self.form.version.number)  # type: ignore[union-attr]
        questions = {q.qid: q for q in version.question_defs()}
        changes, refused = apply_mappings(
            questions, for_applying(self.form.mappings.all()), list(answers), self.person.id, WHEN
        )
        assert all(c.as_of == WHEN and c.person == self.person.id for c in changes)
        values = {c.prop.key: (c.value, c.policy) for c in changes}
        return values, [r.reason for r in refused]

    def map(self, *wanted: Wanted, may_create: bool = True) -> list[tuple[int, str]]:
        refused = save_mappings(self.form, list(wanted), self.olga, may_create=may_create).refused
        assert refused == []
        return refused

    def test_a_single_choice_writes_its_mapped_option(self) -> None:
        self.map(Wanted("QID1", create={"label": "Frequency"}))
        values, refused = self.apply(Answer("QID1", None, ("2",)))
        assert values["frequency"][0].label == "Monthly" and refused == []

    def test_a_single_choice_writes_its_recode_to_a_number(self) -> None:
        self.tool.questions["SV_2"] = [choice_question("QID1", ["Low", "High"])]
        q = self.tool.questions["SV_2"][0]
        self.tool.questions["SV_2"][0] = q.__class__(
            **{**q.__dict__, "choices": (Choice("1", "10", "Low"), Choice("2", "x", "High"))}
        )
        from muster.surveys.attach import Owner, attach
        from muster.surveys.models import OwnerKind

        self.form = attach(Owner(OwnerKind.SURVEY, study=self.study), "fake", "SV_2", self.olga)
        create_property("level", "Level", PropertyType.NUMBER)
        self.map(Wanted("QID1", property="level"))
        assert self.apply(Answer("QID1", None, ("1",)))[0]["level"][0] == 10.0
        values, refused = self.apply(Answer("QID1", None, ("2",)))
        assert values == {} and refused == [
            "The answer is not a number (Level): write digits, with a point for decimals and no separators."
        ]

    def test_a_choice_writes_yes_or_no_as_mapped(self) -> None:
        create_property("weekly", "Shops weekly", PropertyType.BOOLEAN)
        self.map(Wanted("QID1", property="weekly", options={"1": "yes", "2": "no"}))
        assert self.apply(Answer("QID1", None, ("1",)))[0]["weekly"][0] is True
        values, refused = self.apply(Answer("QID1", None, ("3",)))
        assert values == {} and refused == ["“Never” is mapped to neither yes nor no (Shops weekly)."]

    def test_several_choices_are_added_to_a_multi_select_with_the_add_policy(self) -> None:
        self.map(Wanted("QID2", create={"label": "Devices"}, policy="add"))
        values, _ = self.apply(Answer("QID2", None, ("1", "2")))
        options, policy = values["devices"]
        assert [o.label for o in options] == ["Phone", "Laptop"] and policy == "add"

    def test_several_choices_write_their_labels_to_text(self) -> None:
        create_property("devices_text", "Devices", PropertyType.TEXT)
        self.map(Wanted("QID2", property="devices_text"))
        assert self.apply(Answer("QID2", None, ("2", "1")))[0]["devices_text"][0] == "Laptop; Phone"

    def test_a_text_answer_that_is_not_a_number_is_refused_and_the_rest_applies(self) -> None:
        create_property("age", "Age", PropertyType.NUMBER)
        self.map(Wanted("QID3", property="age"), Wanted("QID1", create={"label": "Frequency"}))
        values, refused = self.apply(Answer("QID3", None, "thirty"), Answer("QID1", None, ("1",)))
        assert list(values) == ["frequency"]
        assert refused == [
            "The answer is not a number (Age): write digits, with a point for decimals and no separators."
        ]

    def test_nps_score_and_group_write_to_their_own_properties(self) -> None:
        self.map(Wanted("QID4", "score", create={"label": "NPS"}), Wanted("QID4", "group", create={"label": "Group"}))
        values, _ = self.apply(Answer("QID4", "score", 9.0), Answer("QID4", "group", ("3",)))
        assert values["nps"][0] == 9.0
        assert values["group"][0].label == "Promoter"

    def test_a_slider_statement_writes_its_position(self) -> None:
        self.tool.questions["SV_1"].append(slider_question("QID5", ["Fast", "Fair"]))
        from muster.surveys.attach import reimport

        reimport(self.form)
        self.form.refresh_from_db()
        self.map(Wanted("QID5", "2", create={"label": "Fair prices"}))
        assert self.apply(Answer("QID5", "2", 7.5))[0]["fair_prices"][0] == 7.5

    def test_an_empty_answer_changes_nothing(self) -> None:
        self.map(Wanted("QID3", create={"label": "Job"}))
        assert self.apply(Answer("QID3", None, "")) == ({}, [])

    def test_a_paused_mapping_writes_nothing(self) -> None:
        self.map(Wanted("QID3", create={"label": "Job"}))
        self.form.mappings.update(status="paused")
        assert self.apply(Answer("QID3", None, "Engineer")) == ({}, [])
