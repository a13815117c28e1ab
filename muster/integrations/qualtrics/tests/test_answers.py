"""Qualtrics responses read into tool-neutral answers, whatever keying variant they carry (DESIGN §5.6)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from django.test import SimpleTestCase

from muster.integrations.qualtrics.answers import csv_values, read_response
from muster.integrations.qualtrics.importer import import_definition
from muster.integrations.qualtrics.tests.recorded import recorded_path
from muster.surveys.answers import Answer, ResponseData
from muster.surveys.questions import QuestionDef
from qualtrics_sandbox import builders as b

FIELD = "rallyParticipantId"


def questions() -> tuple[QuestionDef, ...]:
    definition = b.survey(
        "All kinds",
        [
            b.multiple_choice("QID1", "Often?", ["Weekly", "Monthly", "Never"], recodes={"1": "4", "2": "3", "3": "1"}),
            b.multiple_choice("QID2", "Devices", ["Phone", "Laptop", "Other"], selector="MAVR", other=3),
            b.text_entry("QID3", "Job"),
            b.form("QID4", "Household", ["Adults", "Children"]),
            b.slider("QID5", "Agree?", ["Fast", "Fair"], 0, 10),
            b.rank_order("QID6", "Rank", ["Price", "Speed", "Choice"]),
            b.nps("QID7", "Recommend?"),
            b.multiple_choice("QID8", "Role", ["Student", "Other"], other=2),
            b.matrix("QID9", "Satisfied?", ["App"], ["Bad", "Good"]),
            b.descriptive("QID10", "Thanks"),
        ],
        embedded=[FIELD],
    )
    return import_definition(definition, FIELD, "https://m/q/return/").questions


QUESTIONS = questions()
META = {
    "startDate": "2025-03-01T10:00:00Z",
    "recordedDate": "2025-03-01T10:05:00.123Z",
    "progress": 100,
    "finished": 1,
    "distributionChannel": "anonymous",
    "status": 0,
    "_recordId": "R_1",
}


def read(values: dict[str, Any], labels: dict[str, Any] | None = None, **kwargs: Any) -> ResponseData:
    return read_response(QUESTIONS, {**META, **values}, labels or {}, FIELD, "R_1", **kwargs)


def answers(values: dict[str, Any], labels: dict[str, Any] | None = None) -> dict[tuple[str, str | None], Any]:
    return {(a.qid, a.part): a.value for a in read(values, labels).answers}


class SingleChoiceTestCase(SimpleTestCase):
    def test_it_reads_a_recode_that_differs_from_the_choice_id(self) -> None:
        # Recode 4 is choice 1 ("Weekly"); recode 1 is choice 3, not choice 1.
        self.assertEqual(answers({"QID1": 4}), {("QID1", None): ("1",)})
        self.assertEqual(answers({"QID1": 1}), {("QID1", None): ("3",)})

    def test_it_reads_integer_float_and_string_codes(self) -> None:
        for value in (3, 3.0, "3", " 3 "):
            self.assertEqual(answers({"QID1": value}), {("QID1", None): ("2",)}, value)

    def test_it_falls_back_to_the_choice_id_then_the_label(self) -> None:
        found = read({"QID8": 2})  # QID8 has no recodes: id == recode
        self.assertEqual(found.answers, [Answer("QID8", None, ("2",), "Other")])
        self.assertEqual(answers({"QID1": "Monthly"}), {("QID1", None): ("2",)})  # a labels export

    def test_it_keeps_the_label_for_people_to_read(self) -> None:
        self.assertEqual(read({"QID1": 4}).answers, [Answer("QID1", None, ("1",), "Weekly")])

    def test_it_reads_the_other_text(self) -> None:
        self.assertEqual(
            answers({"QID8": 2, "QID8_2_TEXT": "Retired"}),
            {("QID8", None): ("2",), ("QID8", "2_text"): "Retired"},
        )

    def test_a_value_that_fits_no_choice_is_counted_not_raised(self) -> None:
        found = read({"QID1": 42})
        self.assertEqual(found.answers, [])
        self.assertEqual(found.unknown_keys, {"QID1": 1})


class MultipleChoiceTestCase(SimpleTestCase):
    def test_it_reads_an_array_of_choice_ids_in_choice_order(self) -> None:
        self.assertEqual(answers({"QID2": ["2", "1"]}), {("QID2", None): ("1", "2")})

    def test_it_reads_an_array_of_integers(self) -> None:
        self.assertEqual(answers({"QID2": [1, 3]}), {("QID2", None): ("1", "3")})

    def test_it_reads_one_key_per_choice(self) -> None:
        self.assertEqual(answers({"QID2_1": 1, "QID2_2": "1", "QID2_3": 0}), {("QID2", None): ("1", "2")})

    def test_it_reads_the_other_text_beside_the_selection(self) -> None:
        self.assertEqual(
            answers({"QID2": ["3"], "QID2_3_TEXT": "Watch"}),
            {("QID2", None): ("3",), ("QID2", "3_text"): "Watch"},
        )

    def test_nothing_selected_is_no_answer(self) -> None:
        self.assertEqual(answers({"QID2_1": 0, "QID2_2": ""}), {})


class NpsTestCase(SimpleTestCase):
    def test_it_reads_the_score_and_the_group_code(self) -> None:
        self.assertEqual(
            read({"QID7": 8, "QID7_NPS_GROUP": 2}).answers,
            [Answer("QID7", "score", 8.0, "8"), Answer("QID7", "group", ("2",), "Passive")],
        )

    def test_it_reads_the_group_by_its_label(self) -> None:
        self.assertEqual(answers({"QID7": "10", "QID7_NPS_GROUP": "Promoter"})[("QID7", "group")], ("3",))

    def test_it_works_the_group_out_when_the_key_is_missing(self) -> None:
        self.assertEqual(answers({"QID7": 6})[("QID7", "group")], ("1",))

    def test_a_score_outside_0_to_10_is_counted(self) -> None:
        found = read({"QID7": 11})
        self.assertEqual(found.answers, [])
        self.assertEqual(found.unknown_keys, {"QID7": 1})


class TextFormSliderRankTestCase(SimpleTestCase):
    def test_it_reads_text_under_either_key(self) -> None:
        self.assertEqual(answers({"QID3_TEXT": "Chef"}), {("QID3", None): "Chef"})
        self.assertEqual(answers({"QID3": "Chef"}), {("QID3", None): "Chef"})

    def test_blank_text_is_no_answer(self) -> None:
        self.assertEqual(answers({"QID3_TEXT": "   "}), {})

    def test_it_reads_form_fields_with_or_without_the_text_suffix(self) -> None:
        self.assertEqual(
            answers({"QID4_1": "2", "QID4_2_TEXT": "3"}),
            {("QID4", "1"): "2", ("QID4", "2"): "3"},
        )

    def test_it_reads_slider_statements_as_numbers(self) -> None:
        self.assertEqual(answers({"QID5_1": 7, "QID5_2": "3.5"}), {("QID5", "1"): 7.0, ("QID5", "2"): 3.5})

    def test_it_reads_a_decimal_comma(self) -> None:
        self.assertEqual(answers({"QID5_1": "3,5"}), {("QID5", "1"): 3.5})

    def test_it_reads_ranks_per_item(self) -> None:
        self.assertEqual(
            answers({"QID6_1": 2, "QID6_2": "1", "QID6_3": 3}),
            {("QID6", "1"): 2.0, ("QID6", "2"): 1.0, ("QID6", "3"): 3.0},
        )


class KeysThatAreNotAnswersTestCase(SimpleTestCase):
    def test_display_order_keys_are_ignored_not_unknown(self) -> None:
        found = read({"QID1": 4, "QID1_DO": ["3", "1", "2"], "QID9_ADO": ["1"], "QID2_DO_1": "2", "FL_3_DO": ["x"]})
        self.assertEqual(found.unknown_keys, {})
        self.assertEqual(len(found.answers), 1)

    def test_text_iq_columns_are_never_answers(self) -> None:
        found = read({"QID3_TEXT": "Chef", "QID3_TEXT_0a1b2c3d4e5f6a7b8c9d0e1fSentiment": "Positive"})
        self.assertEqual(found.answers, [Answer("QID3", None, "Chef")])
        self.assertEqual(found.unknown_keys, {})

    def test_seen_but_unanswered_recodes_are_no_answer(self) -> None:
        self.assertEqual(answers({"QID1": -99, "QID2": -99, "QID5_1": "-99", "QID7": -99}), {})
        self.assertEqual(read({"QID1": -1}, seen_unanswered=(-1,)).answers, [])

    def test_keys_missing_because_of_display_logic_are_no_answer_and_no_error(self) -> None:
        found = read({})
        self.assertEqual((found.answers, found.unknown_keys), ([], {}))

    def test_keys_it_does_not_understand_are_counted_per_question(self) -> None:
        found = read({"QID1_FOO": 1, "QID1_BAR": 2, "QID77": 1, "QID5_9": 4})
        self.assertEqual(found.unknown_keys, {"QID1": 2, "QID77": 1, "QID5": 1})

    def test_answers_of_unsupported_questions_are_kept_raw_not_counted(self) -> None:
        found = read({"QID9_1": 2, "QID10": "x"})
        self.assertEqual((found.answers, found.unknown_keys), ([], {}))
        self.assertEqual(found.raw["values"]["QID9_1"], 2)

    def test_nothing_raises_on_garbage(self) -> None:
        garbage: list[Any] = [None, {}, [], [[1]], {"a": 1}, True, False, "", "x", float("nan"), -0.0, 10**30]
        for value in garbage:
            for key in ("QID1", "QID2", "QID2_1", "QID3_TEXT", "QID4_1", "QID5_1", "QID6_1", "QID7", "QID7_NPS_GROUP"):
                read({key: value}, {key: value})
        for meta in garbage:
            read_response(QUESTIONS, {"finished": meta, "progress": meta, "recordedDate": meta, FIELD: meta}, {}, FIELD)
        read_response(QUESTIONS, "not a dict", None, FIELD)  # type: ignore[arg-type]


class MetadataTestCase(SimpleTestCase):
    def test_it_reads_the_responses_metadata(self) -> None:
        found = read({FIELD: "  01ARZ3NDEKTSV4RRFFQ69G5FAV  ", "lastModifiedDate": "2025-03-02T08:00:00Z"})
        self.assertEqual(found.response_id, "R_1")
        self.assertEqual(found.participant_id, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        self.assertTrue(found.finished)
        self.assertEqual(found.progress, 100)
        self.assertEqual(found.recorded_at, datetime(2025, 3, 1, 10, 5, 0, 123000, tzinfo=UTC))
        self.assertEqual(found.last_modified_at, datetime(2025, 3, 2, 8, 0, tzinfo=UTC))
        self.assertEqual(found.channel, "anonymous")
        self.assertFalse(found.is_test)

    def test_finished_comes_in_every_spelling(self) -> None:
        for value, finished in ((1, True), ("1", True), (True, True), ("True", True), ("true", True), (0, False)):
            self.assertEqual(read({"finished": value}).finished, finished, value)

    def test_the_export_column_spelling_of_last_modified_is_read_too(self) -> None:
        found = read({"LastModifiedDate": "2025-03-02 08:00:00"})
        self.assertEqual(found.last_modified_at, datetime(2025, 3, 2, 8, 0, tzinfo=UTC))

    def test_preview_and_test_responses_are_marked_test(self) -> None:
        self.assertTrue(read({"distributionChannel": "preview"}).is_test)
        self.assertTrue(read({"distributionChannel": "test"}).is_test)
        self.assertTrue(read({"distributionChannel": "anonymous", "status": 1}).is_test)
        self.assertTrue(read({}, {"status": "Survey Test"}).is_test)

    def test_a_missing_participant_field_is_empty(self) -> None:
        self.assertEqual(read({}).participant_id, "")


class CsvRowTestCase(SimpleTestCase):
    IMPORT_IDS = [
        '{"ImportId":"_recordId"}',
        '{"ImportId":"finished"}',
        '{"ImportId":"recordedDate","timeZone":"UTC"}',
        '{"ImportId":"QID1"}',
        '{"ImportId":"QID2","choiceId":"1"}',
        '{"ImportId":"QID2","choiceId":"2"}',
        '{"ImportId":"QID2_3_TEXT"}',
        '{"ImportId":"QID7_NPS_GROUP"}',
        '{"ImportId":"QID7"}',
        '{"ImportId":"QID1_DO","choiceId":"1"}',
        f'{{"ImportId":"{FIELD}"}}',
    ]

    def test_it_reads_a_csv_export_row_by_its_import_ids(self) -> None:
        row = ["R_9", "True", "2025-03-01 10:05:00", "Monthly", "1", "", "", "Passive", "8", "2", "P1"]
        values, labels = csv_values(self.IMPORT_IDS, row)
        found = read_response(QUESTIONS, values, labels, FIELD)
        self.assertEqual(found.response_id, "R_9")
        self.assertTrue(found.finished)
        self.assertEqual(found.participant_id, "P1")
        self.assertEqual(
            {(a.qid, a.part): a.value for a in found.answers},
            {("QID1", None): ("2",), ("QID2", None): ("1",), ("QID7", "score"): 8.0, ("QID7", "group"): ("2",)},
        )
        self.assertEqual(found.unknown_keys, {})

    def test_it_reads_the_recorded_nps_and_multiple_answer_csv(self) -> None:
        # QID18 NPS, QID36 MAVR with an "other" text entry, as recorded (useLabels: true).
        rows = list(csv.reader(io.StringIO(recorded_path(RECORDED_CSV).read_text(encoding="utf-8-sig"))))
        import_ids = rows[2]
        recorded = b.survey(
            "Recorded",
            [
                b.nps("QID18", "Recommend?"),
                b.multiple_choice("QID36", "Which?", [f"Option {i}" for i in range(1, 8)], selector="MAVR", other=7),
            ],
        )
        found_questions = import_definition(recorded, FIELD, "https://m/").questions
        found = [read_response(found_questions, *csv_values(import_ids, row), FIELD) for row in rows[3:]]
        first = found[0]
        self.assertEqual(first.response_id, "R_1hMCpoT7s2jVxQB")
        self.assertTrue(first.is_test)  # Response Type "Survey Preview", channel preview
        self.assertEqual(
            {(a.qid, a.part): a.value for a in first.answers},
            {("QID18", "score"): 9.0, ("QID18", "group"): ("3",), ("QID36", None): ("1", "2", "7")},
        )
        other = next(r for r in found if r.response_id == "R_88NGI8iX4wToT9T")
        self.assertIn(Answer("QID36", "7_text", "communal salami and catnip frenzy"), other.answers)
        # Text iQ columns of a question these questions lack count for that question, never as answers.
        self.assertEqual(first.unknown_keys["QID34"], 5)
        self.assertTrue(all(r.response_id.startswith("R_") for r in found))


RECORDED_CSV = "qualtRics__export-responses_file_SV_56icaa9YAafpAqx_csv_NPS_MAVR.csv"
