"""Qualtrics as a survey tool, over real HTTP against the sandbox."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
import ijson
from django.test import SimpleTestCase, override_settings

from muster.integrations.qualtrics import client
from muster.integrations.qualtrics.exports import elements
from muster.integrations.qualtrics.models import QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.integrations.qualtrics.tool import QualtricsTool, return_url, tool_error
from muster.surveys import tools
from muster.surveys.questions import Kind, Links
from muster.surveys.tools import ToolError
from qualtrics_sandbox import builders as b
from qualtrics_sandbox import seed

PUBLIC = "https://muster.example.org"
FIELD = "rallyParticipantId"


def a_survey_of_every_kind() -> dict[str, Any]:
    return b.survey(
        "Every kind",
        [
            b.multiple_choice("QID1", "Often?", ["Weekly", "Never"], recodes={"1": "4", "2": "1"}),
            b.multiple_choice("QID2", "Devices", ["Phone", "Laptop", "Other"], selector="MAVR", other=3),
            b.text_entry("QID3", "Job"),
            b.form("QID4", "Household", ["Adults", "Children"]),
            b.slider("QID5", "Agree?", ["Fast"], 0, 10),
            b.rank_order("QID6", "Rank", ["Price", "Speed"]),
            b.nps("QID7", "Recommend?"),
        ],
        embedded=[FIELD],
        eos_redirect_url=seed.return_url(PUBLIC),
    )


@override_settings(MUSTER_PUBLIC_URL=PUBLIC)
class QualtricsToolTestCase(SandboxTestCase):
    tool = QualtricsTool()

    def connected(self) -> QualtricsConnection:
        return self.connect_as_admin()

    def shared_survey(self, connection: QualtricsConnection, permissions: dict[str, Any] | None = None) -> str:
        body = {"ownerId": self.brand["adminUserId"], "active": True, "definition": a_survey_of_every_kind()}
        survey = str(self.control("POST", "/_sandbox/surveys", body)["surveyId"])
        share: dict[str, Any] = {"userId": connection.service_user_id}
        if permissions is not None:
            share["permissions"] = permissions
        self.control("POST", f"/_sandbox/surveys/{survey}/share", share)
        return survey

    def respond(self, survey: str, values: dict[str, Any], recorded: str, **more: Any) -> str:
        body = {"values": values, "recordedDate": recorded, **more}
        return str(self.control("POST", f"/_sandbox/surveys/{survey}/respond", body)["responseIds"][0])

    def test_it_is_the_registered_qualtrics_tool(self) -> None:
        found = tools.get("qualtrics")
        self.assertEqual((found.name, found.label), ("qualtrics", "Qualtrics"))
        self.assertIn(("qualtrics", "Qualtrics"), tools.choices())

    def test_it_says_to_connect_first_when_there_is_no_connection(self) -> None:
        self.assertEqual(self.tool.unavailable(), "Connect Qualtrics first: Settings → Connected Apps.")
        with self.assertRaises(ToolError) as caught:
            self.tool.surveys()
        self.assertEqual(str(caught.exception), "Connect Qualtrics first: Settings → Connected Apps.")

    def test_it_lists_the_surveys_shared_with_the_service_user_active_or_not(self) -> None:
        connection = self.connected()
        self.assertEqual(self.tool.unavailable(), "")
        active = self.shared_survey(connection)
        inactive = self.add_survey(active=False, name="Old pilot")
        self.control("POST", f"/_sandbox/surveys/{inactive}/share", {"userId": connection.service_user_id})
        self.add_survey(name="Not shared")
        found = {s.survey_id: s for s in self.tool.surveys()}
        self.assertEqual(set(found), {active, inactive})
        self.assertEqual((found[active].name, found[active].active), ("Every kind", True))
        self.assertFalse(found[inactive].active)
        self.assertIsNotNone(found[active].last_modified)

    def test_it_fetches_a_definition_with_a_passing_report(self) -> None:
        connection = self.connected()
        survey = self.shared_survey(connection)
        found = self.tool.definition(survey, FIELD)
        self.assertEqual(found.survey_id, survey)
        self.assertEqual(found.brand, self.brand["brandId"])
        self.assertEqual(found.base_url, self.sandbox.url)
        self.assertEqual(
            [q.kind for q in found.questions],
            [
                Kind.SINGLE_CHOICE,
                Kind.MULTIPLE_CHOICE,
                Kind.TEXT,
                Kind.FORM,
                Kind.SLIDER,
                Kind.RANK_ORDER,
                Kind.NPS,
            ],
        )
        self.assertEqual(
            [(i.item, i.ok) for i in found.report],
            [
                ("Participant ID field", True),
                ("Return to Muster", True),
                ("Survey is active", True),
                ("Anyone with the link can take it", True),
                ("Responses readable", True),
            ],
        )
        self.assertEqual(self.tool.definition(survey, FIELD).digest, found.digest)

    def test_the_return_url_is_the_one_the_sandbox_demo_pastes(self) -> None:
        self.assertEqual(return_url(FIELD), seed.return_url(PUBLIC))

    def test_a_service_user_that_may_not_read_responses_is_reported(self) -> None:
        connection = self.connected()
        survey = self.shared_survey(connection, permissions={"surveyManagement": {"editSurveys": True}})
        report = {i.item: i for i in self.tool.definition(survey, FIELD).report}
        self.assertFalse(report["Responses readable"].ok)
        self.assertIn("“Muster UXR”", report["Responses readable"].fix)

    def test_a_survey_that_is_not_shared_is_a_tool_error_in_words(self) -> None:
        self.connected()
        survey = self.add_survey(name="Not shared")
        with self.assertRaises(ToolError) as caught:
            self.tool.definition(survey, FIELD)
        self.assertIn("Share the survey with “Muster UXR”", str(caught.exception))
        with self.assertRaises(ToolError) as caught:
            self.tool.definition("SV_doesnotexist0000", FIELD)
        self.assertIn("can't find it", str(caught.exception))
        self.assertFalse(caught.exception.transient)

    def test_it_reads_the_latest_responses_into_answers_newest_first(self) -> None:
        connection = self.connected()
        survey = self.shared_survey(connection)
        questions = self.tool.definition(survey, FIELD).questions
        oldest = self.respond(survey, {"QID1": 4}, "2025-01-01T10:00:00Z", embeddedData={FIELD: "P-OLD"})
        newest = self.respond(
            survey,
            {
                "QID1": 1,
                "QID2": ["1", "3"],
                "QID2_3_TEXT": "Watch",
                "QID3_TEXT": "Chef",
                "QID4_1": "2",
                "QID5_1": 7,
                "QID6_1": 2,
                "QID6_2": 1,
                "QID7": 9,
            },
            "2025-03-01T10:00:00Z",
            embeddedData={FIELD: "P-NEW"},
        )
        middle = self.respond(survey, {"QID3_TEXT": "Preview"}, "2025-02-01T10:00:00Z", responseType="preview")
        latest = self.tool.latest_responses(survey, questions, FIELD, 2)
        self.assertEqual([r.response_id for r in latest], [newest, middle])
        first = latest[0]
        self.assertEqual(first.participant_id, "P-NEW")
        self.assertFalse(first.is_test)
        self.assertTrue(latest[1].is_test)
        self.assertEqual(
            {(a.qid, a.part): a.value for a in first.answers},
            {
                ("QID1", None): ("2",),
                ("QID2", None): ("1", "3"),
                ("QID2", "3_text"): "Watch",
                ("QID3", None): "Chef",
                ("QID4", "1"): "2",
                ("QID5", "1"): 7.0,
                ("QID6", "1"): 2.0,
                ("QID6", "2"): 1.0,
                ("QID7", "score"): 9.0,
                ("QID7", "group"): ("3",),
            },
        )
        self.assertEqual(first.unknown_keys, {})
        everything = self.tool.latest_responses(survey, questions, FIELD, 10)
        self.assertEqual([r.response_id for r in everything], [newest, middle, oldest])
        self.assertEqual(self.tool.latest_responses(survey, questions, FIELD, 0), [])

    def test_links_point_at_the_brand_host(self) -> None:
        links = self.tool.links("SV_abc", "https://acme.iad1.qualtrics.com/")
        self.assertEqual(
            links,
            Links(
                take="https://acme.iad1.qualtrics.com/jfe/form/SV_abc",
                edit="https://acme.iad1.qualtrics.com/survey-builder/SV_abc/edit",
                data="https://acme.iad1.qualtrics.com/responses/#/surveys/SV_abc",
                preview="https://acme.iad1.qualtrics.com/jfe/preview/SV_abc?Q_CHL=preview&Q_SurveyVersionID=current",
            ),
        )

    def test_the_take_link_opens_the_survey_in_the_sandbox(self) -> None:
        connection = self.connected()
        survey = self.shared_survey(connection)
        found = self.tool.definition(survey, FIELD)
        r = httpx.get(self.tool.links(survey, found.base_url).take, timeout=10, follow_redirects=True)
        self.assertEqual(r.status_code, 200)


class ToolErrorsTestCase(SimpleTestCase):
    def test_client_failures_become_plain_messages_transient_when_worth_retrying(self) -> None:
        cases = [
            (client.QualtricsAuthError("Forbidden", 403), "Share the survey with “Muster UXR”", False),
            (client.QualtricsNotFound("Survey not found.", 404), "can't find it", False),
            (client.QualtricsRateLimited("Too many"), "try again in a minute", True),
            (client.QualtricsUnavailable("Boom", 503), "try again in a few minutes", True),
            (client.QualtricsNotReady("Not yet", 202), "try again in a few minutes", True),
            (client.UnexpectedPayload("Unexpected definition"), "doesn't understand", False),
        ]
        for error, words, transient in cases:
            found = tool_error(error)
            self.assertIn(words, str(found), error)
            self.assertEqual(found.transient, transient, error)

    def test_an_export_file_it_cannot_read_yields_nothing_rather_than_garbage(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "export.json"
            path.write_bytes(b'{"responses":[{"responseId":"R_1","values":{}}, {"responseId":')
            found = elements(path)
            self.assertEqual(next(found)["responseId"], "R_1")
            with self.assertRaises(ijson.JSONError):
                next(found)
