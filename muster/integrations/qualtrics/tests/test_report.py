"""The compatibility report says what a survey still needs, and how to fix it in Qualtrics (DESIGN §5.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.test import SimpleTestCase

from muster.integrations.qualtrics.importer import comparable_url, import_definition, readable_item
from muster.surveys.questions import ReportItem
from qualtrics_sandbox import builders as b

FIELD = "rallyParticipantId"
RETURN = "https://muster.example.org/q/return/?rid=${e://Field/ResponseID}&pid=${e://Field/rallyParticipantId}"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def a_survey(**kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"embedded": [FIELD], "eos_redirect_url": RETURN, **kwargs}
    definition = b.survey("Checkout", [b.text_entry("QID1", "Why?")], **options)
    definition["SurveyStatus"] = "Active"
    return definition


def report(definition: dict[str, Any], readable: ReportItem | None = None) -> dict[str, ReportItem]:
    found = import_definition(definition, FIELD, RETURN, readable=readable, now=NOW)
    return {item.item: item for item in found.report}


class ParticipantFieldTestCase(SimpleTestCase):
    def test_it_is_ok_when_the_field_is_declared_at_the_top_of_the_flow(self) -> None:
        item = report(a_survey())["Participant ID field"]
        self.assertEqual((item.ok, item.fix), (True, ""))

    def test_it_says_what_to_add_and_where_when_the_field_is_missing(self) -> None:
        item = report(a_survey(embedded=["somethingElse"]))["Participant ID field"]
        self.assertFalse(item.ok)
        self.assertIn("Survey flow → Add a New Element Here → Embedded Data", item.fix)
        self.assertIn("“rallyParticipantId”", item.fix)
        self.assertIn("top of the flow", item.fix)

    def test_it_finds_the_field_inside_a_group(self) -> None:
        definition = a_survey(embedded=None)
        declare = {"Type": "EmbeddedData", "FlowID": "FL_8", "EmbeddedData": [{"Field": FIELD, "Type": "Recipient"}]}
        definition["SurveyFlow"]["Flow"].insert(0, {"Type": "Group", "FlowID": "FL_7", "Flow": [declare]})
        self.assertTrue(report(definition)["Participant ID field"].ok)

    def test_a_field_declared_after_a_block_is_too_late(self) -> None:
        definition = a_survey(embedded=None)
        declare = {"Type": "EmbeddedData", "FlowID": "FL_8", "EmbeddedData": [{"Field": FIELD, "Type": "Recipient"}]}
        definition["SurveyFlow"]["Flow"].insert(1, declare)  # after BL_main
        item = report(definition)["Participant ID field"]
        self.assertFalse(item.ok)
        self.assertIn("after the first block", item.fix)
        self.assertIn("move the Embedded Data element", item.fix)

    def test_a_field_declared_only_inside_a_branch_does_not_reach_everyone(self) -> None:
        definition = a_survey(embedded=None)
        declare = {"Type": "EmbeddedData", "FlowID": "FL_8", "EmbeddedData": [{"Field": FIELD, "Type": "Recipient"}]}
        definition["SurveyFlow"]["Flow"].insert(0, {"Type": "Branch", "FlowID": "FL_7", "Flow": [declare]})
        item = report(definition)["Participant ID field"]
        self.assertFalse(item.ok)
        self.assertIn("inside a branch", item.fix)


class ReturnToMusterTestCase(SimpleTestCase):
    def test_it_is_ok_when_the_survey_redirects_to_the_return_url(self) -> None:
        self.assertEqual(report(a_survey())["Return to Muster"], ReportItem("Return to Muster", True))

    def test_it_gives_the_exact_url_to_paste_when_the_survey_shows_a_message(self) -> None:
        item = report(a_survey(eos_redirect_url=None))["Return to Muster"]
        self.assertFalse(item.ok)
        self.assertIn("Survey options → Survey termination → Redirect to a URL", item.fix)
        self.assertTrue(item.fix.endswith(RETURN))

    def test_a_redirect_elsewhere_is_not_enough(self) -> None:
        item = report(a_survey(eos_redirect_url="https://example.org/thanks"))["Return to Muster"]
        self.assertFalse(item.ok)

    def test_an_end_of_survey_element_with_its_own_options_must_redirect_too(self) -> None:
        definition = a_survey()
        end = definition["SurveyFlow"]["Flow"][-1]
        end.update({"EndingType": "Advanced", "Options": {"Advanced": "true", "SurveyTermination": "DefaultMessage"}})
        item = report(definition)["Return to Muster"]
        self.assertFalse(item.ok)
        self.assertIn("End of Survey element", item.fix)
        self.assertNotIn("Survey options →", item.fix)
        end["Options"].update({"SurveyTermination": "Redirect", "EOSRedirectURL": RETURN})
        self.assertTrue(report(definition)["Return to Muster"].ok)

    def test_an_end_of_survey_element_without_its_own_options_follows_the_survey(self) -> None:
        definition = a_survey()
        definition["SurveyFlow"]["Flow"].insert(0, {"Type": "EndSurvey", "FlowID": "FL_9"})
        self.assertTrue(report(definition)["Return to Muster"].ok)

    def test_it_ignores_trivial_differences_in_the_pasted_url(self) -> None:
        variants = [
            "  HTTPS://Muster.Example.org:443/q/return?pid=${e://Field/rallyParticipantId}"
            "&rid=${e://Field/ResponseID} ",
            "https://muster.example.org/q/return/?rid=%24%7Be%3A%2F%2FField%2FResponseID%7D&pid=${e://Field/rallyParticipantId}",
            RETURN + "#done",
        ]
        for variant in variants:
            self.assertEqual(comparable_url(variant), comparable_url(RETURN), variant)

    def test_a_different_field_in_the_url_is_not_trivial(self) -> None:
        self.assertNotEqual(
            comparable_url(RETURN.replace("rallyParticipantId", "rallyparticipantid")), comparable_url(RETURN)
        )
        self.assertNotEqual(comparable_url(RETURN.replace("https", "http")), comparable_url(RETURN))


class ActiveTestCase(SimpleTestCase):
    def test_it_is_ok_for_an_active_survey_without_dates(self) -> None:
        self.assertTrue(report(a_survey())["Survey is active"].ok)

    def test_an_inactive_survey_says_how_to_activate_it(self) -> None:
        definition = a_survey()
        definition["SurveyStatus"] = "Inactive"
        item = report(definition)["Survey is active"]
        self.assertFalse(item.ok)
        self.assertIn("Publish", item.fix)

    def test_a_survey_that_has_not_opened_yet_or_has_closed_is_not_ok(self) -> None:
        definition = a_survey()
        definition["SurveyOptions"]["SurveyStartDate"] = "2025-07-01 00:00:00"
        item = report(definition)["Survey is active"]
        self.assertFalse(item.ok)
        self.assertIn("only opens on 2025-07-01 00:00 UTC", item.fix)
        definition["SurveyOptions"].update({"SurveyStartDate": None, "SurveyExpirationDate": "2025-05-01T00:00:00Z"})
        item = report(definition)["Survey is active"]
        self.assertFalse(item.ok)
        self.assertIn("closed on 2025-05-01", item.fix)
        definition["SurveyOptions"]["SurveyExpirationDate"] = "2026-05-01T00:00:00Z"
        self.assertTrue(report(definition)["Survey is active"].ok)

    def test_a_survey_by_invitation_only_is_not_public(self) -> None:
        definition = a_survey()
        self.assertTrue(report(definition)["Anyone with the link can take it"].ok)
        definition["SurveyOptions"]["SurveyProtection"] = "ByInvitation"
        item = report(definition)["Anyone with the link can take it"]
        self.assertFalse(item.ok)
        self.assertIn("Open access", item.fix)


class ResponsesReadableTestCase(SimpleTestCase):
    def test_the_item_is_left_out_until_the_tool_checks_it(self) -> None:
        self.assertNotIn("Responses readable", report(a_survey()))

    def test_it_is_ok_or_says_how_to_share_the_survey(self) -> None:
        ok = report(a_survey(), readable_item(None, "Muster UXR"))["Responses readable"]
        self.assertEqual((ok.ok, ok.fix), (True, ""))
        refused = report(a_survey(), readable_item("You do not have permission", "Muster UXR"))["Responses readable"]
        self.assertFalse(refused.ok)
        self.assertIn("“Muster UXR”", refused.fix)
        self.assertIn("You do not have permission", refused.fix)
