"""A Qualtrics definition becomes tool-neutral questions in survey order (DESIGN §1 step 3, §5.5)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.test import SimpleTestCase

from muster.integrations.qualtrics.importer import import_definition, import_question
from muster.integrations.qualtrics.tests.recorded import recorded_json
from muster.surveys.questions import NPS_GROUPS, Kind, QuestionDef, Support
from qualtrics_sandbox import builders as b
from qualtrics_sandbox import seed, surveys
from qualtrics_sandbox.store import Store

FIELD = "rallyParticipantId"
RETURN = "https://muster.example.org/q/return/?rid=${e://Field/ResponseID}&pid=${e://Field/rallyParticipantId}"

S, U, N = Support.SUPPORTED, Support.UNSUPPORTED, Support.NOT_ANSWERABLE


def imported(definition: dict[str, Any]) -> dict[str, QuestionDef]:
    return {q.qid: q for q in import_definition(definition, FIELD, RETURN).questions}


def kinds(definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(q.qid, q.kind, q.support) for q in import_definition(definition, FIELD, RETURN).questions]


def one(question: dict[str, Any]) -> QuestionDef:
    return import_question(str(question["QuestionID"]), question, 0)


class RecordedDefinitionTestCase(SimpleTestCase):
    def test_it_imports_the_recorded_definition_in_flow_order_without_the_trash(self) -> None:
        definition = recorded_json("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
        self.assertEqual(
            kinds(definition),
            [
                ("QID63", Kind.SINGLE_CHOICE, S),
                ("QID16", Kind.SINGLE_CHOICE, S),
                ("QID17", Kind.SINGLE_CHOICE, S),
                ("QID18", Kind.SINGLE_CHOICE, S),
                ("QID19", Kind.TEXT, S),
                ("QID22", Kind.TEXT, S),
            ],
        )

    def test_it_reads_the_recorded_definitions_survey_facts(self) -> None:
        definition = recorded_json("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
        found = import_definition(definition, FIELD, RETURN)
        self.assertEqual(found.survey_id, "SV_3gbwq8aJgqPwQDP")
        self.assertEqual(found.name, "Beskar Armor")
        self.assertEqual(found.brand, "conjoint")
        self.assertEqual(found.base_url, "https://conjoint.qualtrics.com")
        self.assertEqual(found.last_modified, datetime(2024, 6, 10, 23, 20, 9, tzinfo=UTC))
        self.assertEqual(len(found.digest), 64)

    def test_it_keeps_the_recorded_choice_order_and_plain_labels(self) -> None:
        definition = recorded_json("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
        question = imported(definition)["QID16"]
        self.assertEqual([c.id for c in question.choices], ["5", "4", "3", "2", "1"])
        self.assertEqual(question.choices[-1].label, "Extremely dissatisfied")  # was "<em>Extremely</em> ..."
        self.assertEqual(question.tool_kind, "MC/SAVR/TX")
        self.assertEqual(question.export_tag, "Q16")

    def test_it_classifies_every_recorded_question_type(self) -> None:
        body = recorded_json("CambridgeEducation__GET_survey-definitions_questions__list_trimmed.json")
        found = {q["QuestionID"]: one(q) for q in body["response_body"]["result"]["elements"]}
        expected = {
            "QID124": (Kind.MULTIPLE_CHOICE, S),
            "QID653": (Kind.SINGLE_CHOICE, S),
            "QID521": (Kind.SINGLE_CHOICE, S),
            "QID647": (Kind.MATRIX, U),
            "QID23": (Kind.TEXT, S),
            "QID467": (Kind.DESCRIPTIVE, N),
            "QID162": (Kind.MATRIX, U),
            "QID374": (Kind.MATRIX, U),
            "QID437": (Kind.MATRIX, U),
            "QID306": (Kind.MATRIX, U),
            "QID22": (Kind.TEXT, S),
            "QID220": (Kind.FILE_UPLOAD, U),
            "QID25": (Kind.SIDE_BY_SIDE, U),
        }
        self.assertEqual({qid: (q.kind, q.support) for qid, q in found.items()}, expected)
        self.assertEqual([c.id for c in found["QID124"].choices], ["1", "2", "3", "4", "5", "6"])  # int ChoiceOrder
        self.assertEqual(
            found["QID647"].reason,
            "Matrix tables can't be mapped to properties yet; their answers are kept and you can see them in "
            "Qualtrics.",
        )

    def test_it_imports_the_recorded_single_question(self) -> None:
        body = recorded_json("CambridgeEducation__GET_survey-definitions_questions_QID1.json")
        question = one(body["response_body"]["result"])
        self.assertEqual((question.kind, question.support, question.tool_kind), (Kind.MULTIPLE_CHOICE, S, "MC/MAVR/TX"))
        self.assertNotIn("&nbsp;", question.plain_text)


def demo_definitions() -> dict[str, dict[str, Any]]:
    """The demo brand's surveys exactly as the sandbox serves them."""
    store = Store()
    seed.seed_demo(store, "sandbox1", "https://muster.example.org")
    rows = store.all("SELECT * FROM surveys WHERE brand_id = ?", (seed.DEMO_BRAND,))
    return {row["name"]: surveys.stored_definition(row, "https://demobrand.sandbox1.qualtrics.com") for row in rows}


class DemoSurveysTestCase(SimpleTestCase):
    demo: ClassVar[dict[str, dict[str, Any]]]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.demo = demo_definitions()

    def test_it_classifies_every_question_of_the_demo_screener(self) -> None:
        self.assertEqual(
            kinds(self.demo["Muster demo screener"]),
            [
                ("QID1", Kind.SINGLE_CHOICE, S),
                ("QID2", Kind.MULTIPLE_CHOICE, S),
                ("QID3", Kind.SINGLE_CHOICE, S),
                ("QID4", Kind.TEXT, S),
                ("QID5", Kind.TEXT, S),
                ("QID6", Kind.FORM, S),
                ("QID7", Kind.SLIDER, S),
                ("QID8", Kind.RANK_ORDER, S),
                ("QID9", Kind.NPS, S),
                ("QID10", Kind.MATRIX, U),
                ("QID12", Kind.DRILL_DOWN, U),
            ],
        )

    def test_it_classifies_the_other_demo_surveys(self) -> None:
        self.assertEqual(
            kinds(self.demo["Muster demo study survey"]),
            [("QID1", Kind.SINGLE_CHOICE, S), ("QID2", Kind.NPS, S), ("QID3", Kind.TEXT, S)],
        )
        self.assertEqual(
            kinds(self.demo["Muster demo panel sign-up"]),
            [
                ("QID1", Kind.TEXT, S),
                ("QID2", Kind.TEXT, S),
                ("QID3", Kind.TEXT, S),
                ("QID4", Kind.SINGLE_CHOICE, S),
                ("QID5", Kind.MULTIPLE_CHOICE, S),
            ],
        )
        self.assertEqual(kinds(self.demo["Old pilot (inactive)"]), [("QID1", Kind.TEXT, S)])
        self.assertEqual(kinds(self.demo["HR pulse (not shared)"]), [("QID1", Kind.NPS, S)])

    def test_the_screeners_parts_are_what_each_kind_maps_through(self) -> None:
        questions = imported(self.demo["Muster demo screener"])
        self.assertEqual([p.part for p in questions["QID2"].parts], ["4_text"])
        self.assertEqual(questions["QID2"].parts[0].kind, "text")
        self.assertTrue(questions["QID2"].whole)
        self.assertEqual(
            [(p.part, p.kind) for p in questions["QID6"].parts], [("1", "text"), ("2", "text"), ("3", "text")]
        )
        slider = questions["QID7"].parts[0]
        self.assertEqual((slider.part, slider.label, slider.kind), ("1", "Delivery is fast", "number"))
        self.assertEqual([p.part for p in questions["QID8"].parts], ["1", "2", "3", "4"])
        nps = questions["QID9"]
        self.assertEqual([(p.part, p.kind) for p in nps.parts], [("score", "number"), ("group", "choice")])
        self.assertEqual([(c.id, c.label) for c in nps.parts[1].choices], list(NPS_GROUPS))
        for qid in ("QID6", "QID7", "QID8", "QID9"):
            self.assertFalse(questions[qid].whole, qid)

    def test_the_demo_surveys_pass_the_report_but_the_inactive_one(self) -> None:
        for name, definition in self.demo.items():
            report = {i.item: i.ok for i in import_definition(definition, FIELD, RETURN).report}
            if name in seed.REDIRECTED:
                self.assertTrue(all(report.values()), (name, report))
        pilot = {i.item: i.ok for i in import_definition(self.demo["Old pilot (inactive)"], FIELD, RETURN).report}
        self.assertFalse(pilot["Survey is active"])
        self.assertFalse(pilot["Return to Muster"])


class IrregularShapesTestCase(SimpleTestCase):
    def test_it_reads_choices_given_as_an_array(self) -> None:
        question = b.multiple_choice("QID1", "Pick", ["A", "B", "C"])
        question["Choices"] = [{"Display": "A"}, {"Display": "B"}, {"Display": "C"}]
        question["ChoiceOrder"] = ["2", "0", "1"]
        self.assertEqual([(c.id, c.label) for c in one(question).choices], [("2", "C"), ("0", "A"), ("1", "B")])

    def test_it_reads_an_integer_and_a_mixed_choice_order(self) -> None:
        question = b.multiple_choice("QID1", "Pick", ["A", "B", "C"], int_order=True)
        self.assertEqual([c.id for c in one(question).choices], ["1", "2", "3"])
        question["ChoiceOrder"] = [3, "1", 2]
        self.assertEqual([c.id for c in one(question).choices], ["3", "1", "2"])

    def test_it_keeps_choices_a_missing_or_partial_choice_order_leaves_out(self) -> None:
        question = b.multiple_choice("QID1", "Pick", ["A", "B", "C"])
        del question["ChoiceOrder"]
        self.assertEqual([c.id for c in one(question).choices], ["1", "2", "3"])
        question["ChoiceOrder"] = ["3", "99"]
        self.assertEqual([c.id for c in one(question).choices], ["3", "1", "2"])

    def test_it_keeps_a_recode_that_differs_from_the_choice_id(self) -> None:
        question = b.multiple_choice("QID1", "Often?", ["Weekly", "Never"], recodes={"1": "4", "2": "1"})
        self.assertEqual([(c.id, c.recode) for c in one(question).choices], [("1", "4"), ("2", "1")])

    def test_a_choice_without_a_recode_is_recoded_as_its_id(self) -> None:
        question = b.multiple_choice("QID1", "Often?", ["Weekly", "Never"], recodes={"1": "4"})
        self.assertEqual([(c.id, c.recode) for c in one(question).choices], [("1", "4"), ("2", "2")])

    def test_it_removes_scripts_from_the_text_and_all_markup_from_plain_text_and_labels(self) -> None:
        question = b.multiple_choice(
            "QID1",
            '<p>How <strong>often</strong>?<script>alert("x")</script><img src="https://t.example/p.gif"></p>',
            ['<span style="color:red">Daily</span><script>steal()</script>', "Rarely &amp; never"],
        )
        found = one(question)
        self.assertNotIn("script", found.text)
        self.assertNotIn("alert", found.text)
        self.assertNotIn("<img", found.text)
        self.assertIn("<strong>often</strong>", found.text)
        self.assertEqual(found.plain_text, "How often?")
        self.assertEqual([c.label for c in found.choices], ["Daily", "Rarely & never"])

    def test_it_marks_an_other_choice_with_a_text_part(self) -> None:
        found = one(b.multiple_choice("QID1", "Role", ["Student", "Other"], other=2))
        self.assertEqual([c.has_text for c in found.choices], [False, True])
        self.assertEqual([(p.part, p.kind) for p in found.parts], [("2_text", "text")])

    def test_a_choice_question_with_no_choices_is_unsupported_and_says_why(self) -> None:
        question = b.multiple_choice("QID1", "Pick", ["A"])
        del question["Choices"], question["ChoiceOrder"]
        found = one(question)
        self.assertEqual((found.kind, found.support), (Kind.OTHER, U))
        self.assertIn("no choices", found.reason)

    def test_it_leaves_out_questions_in_the_trash_and_appends_those_in_no_block(self) -> None:
        definition = b.survey(
            "S",
            [b.text_entry("QID2", "Second"), b.text_entry("QID1", "First")],
            trashed=[b.text_entry("QID3", "Deleted")],
        )
        definition["Questions"]["QID10"] = b.text_entry("QID10", "Loose ten")
        definition["Questions"]["QID9"] = b.text_entry("QID9", "Loose nine")
        found = import_definition(definition, FIELD, RETURN).questions
        self.assertEqual([q.qid for q in found], ["QID2", "QID1", "QID9", "QID10"])
        self.assertEqual([q.position for q in found], [0, 1, 2, 3])

    def test_it_follows_blocks_nested_in_the_flow(self) -> None:
        definition = b.survey("S", [b.text_entry("QID1", "Main")])
        definition["Questions"]["QID2"] = b.text_entry("QID2", "Branch")
        definition["Blocks"]["BL_branch"] = {
            "Type": "Standard",
            "ID": "BL_branch",
            "BlockElements": [{"Type": "Question", "QuestionID": "QID2"}],
        }
        flow = definition["SurveyFlow"]["Flow"]
        flow.insert(0, {"Type": "Branch", "FlowID": "FL_9", "Flow": [{"Type": "Standard", "ID": "BL_branch"}]})
        self.assertEqual([q.qid for q in import_definition(definition, FIELD, RETURN).questions], ["QID2", "QID1"])

    def test_it_reads_blocks_given_as_a_list(self) -> None:
        definition = b.survey("S", [b.text_entry("QID1", "One")], trashed=[b.text_entry("QID2", "Gone")])
        definition["Blocks"] = list(definition["Blocks"].values())
        self.assertEqual([q.qid for q in import_definition(definition, FIELD, RETURN).questions], ["QID1"])

    def test_it_classifies_every_unsupported_and_not_answerable_type(self) -> None:
        cases = {
            ("Matrix", "Likert"): Kind.MATRIX,
            ("SBS", "SBSMatrix"): Kind.SIDE_BY_SIDE,
            ("CS", "VRTL"): Kind.CONSTANT_SUM,
            ("PGR", "DragAndDrop"): Kind.PICK_GROUP_RANK,
            ("HotSpot", "OnOff"): Kind.HOT_SPOT,
            ("HeatMap", "Standard"): Kind.HEAT_MAP,
            ("DD", "DL"): Kind.DRILL_DOWN,
            ("HL", "Text"): Kind.HIGHLIGHT,
            ("TE", "Signature"): Kind.SIGNATURE,
            ("FileUpload", "FileUpload"): Kind.FILE_UPLOAD,
            ("DB", "TB"): Kind.DESCRIPTIVE,
            ("Timing", "PageTimer"): Kind.TIMING,
            ("Meta", "Browser"): Kind.META,
            ("Captcha", "V2"): Kind.CAPTCHA,
            ("Draw", "Draw"): Kind.OTHER,
            ("MC", "Carousel"): Kind.OTHER,
        }
        for (qtype, selector), kind in cases.items():
            question = b.descriptive("QID1", "Q")
            question.update({"QuestionType": qtype, "Selector": selector})
            found = one(question)
            self.assertEqual(found.kind, kind, (qtype, selector))
            self.assertTrue(found.reason, (qtype, selector))
        question = b.descriptive("QID1", "Q")
        question.update({"QuestionType": "Draw", "Selector": "Draw"})
        self.assertIn("Draw/Draw", one(question).reason)

    def test_text_entry_selectors_are_text_and_password_too(self) -> None:
        for selector in ("SL", "ML", "ESTB", "PW"):
            self.assertEqual(one(b.text_entry("QID1", "Q", selector=selector)).kind, Kind.TEXT, selector)

    def test_every_choice_selector_maps_to_single_or_multiple(self) -> None:
        for selector in ("SAVR", "SAHR", "SACOL", "DL", "SB"):
            self.assertEqual(one(b.multiple_choice("QID1", "Q", ["A"], selector=selector)).kind, Kind.SINGLE_CHOICE)
        for selector in ("MAVR", "MAHR", "MACOL", "MSB"):
            self.assertEqual(one(b.multiple_choice("QID1", "Q", ["A"], selector=selector)).kind, Kind.MULTIPLE_CHOICE)


class DigestTestCase(SimpleTestCase):
    def test_equal_definitions_have_equal_digests_whatever_their_key_order(self) -> None:
        definition = b.survey("S", [b.text_entry("QID1", "One")])
        shuffled = dict(reversed(list(copy.deepcopy(definition).items())))
        self.assertEqual(
            import_definition(definition, FIELD, RETURN).digest, import_definition(shuffled, FIELD, RETURN).digest
        )

    def test_reading_or_activating_the_survey_does_not_change_the_digest(self) -> None:
        definition = b.survey("S", [b.text_entry("QID1", "One")])
        later = copy.deepcopy(definition)
        later.update({"LastAccessed": "2025-01-01T00:00:00Z", "SurveyStatus": "Inactive", "LastModified": "2025-01-02"})
        self.assertEqual(
            import_definition(definition, FIELD, RETURN).digest, import_definition(later, FIELD, RETURN).digest
        )

    def test_an_edited_question_changes_the_digest(self) -> None:
        definition = b.survey("S", [b.text_entry("QID1", "One")])
        edited = copy.deepcopy(definition)
        edited["Questions"]["QID1"]["QuestionText"] = "Uno"
        self.assertNotEqual(
            import_definition(definition, FIELD, RETURN).digest, import_definition(edited, FIELD, RETURN).digest
        )
