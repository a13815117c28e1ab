from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.people.models import PropertyType
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant
from muster.surveys import tools
from muster.surveys.answers import Answer, ResponseData
from muster.surveys.attach import Owner, attach, reimport
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.models import OwnerKind
from muster.surveys.questions import ImportedDefinition, Kind, ReportItem
from muster.surveys.tests.fake import (
    FakeTool,
    choice_question,
    matrix_question,
    nps_question,
    slider_question,
    text_question,
)
from muster.test import PASSWORD

pytestmark = pytest.mark.browser

RETURN = "https://muster.example/q/return/?rid=${e://Field/ResponseID}&pid=${e://Field/rallyParticipantId}"


def shot(page: object, name: str) -> None:
    folder = os.environ.get("MUSTER_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)  # type: ignore[attr-defined]


class ReportingTool(FakeTool):
    """The fake tool with a report that still needs a fix."""

    def definition(self, survey_id: str, participant_field: str) -> ImportedDefinition:
        imported = super().definition(survey_id, participant_field)
        report = (
            *imported.report,
            ReportItem("End of survey redirects to Muster", False, f"Set every end of survey to redirect to {RETURN}"),
            ReportItem("Survey is active", True),
        )
        return replace(imported, name="Checkout screener", report=report)


class StepBrowserTestCase(StaticLiveServerTestCase):
    def test_a_researcher_maps_a_screener(self) -> None:
        tool = ReportingTool()
        tools.register(tool)
        self.addCleanup(tools.tools.pop, tool.name, None)
        self._run(tool)

    def _run(self, tool: FakeTool) -> None:
        olga = User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        tool.questions["SV_1"] = [
            replace(
                choice_question("QID1", ["Weekly", "Monthly", "Never"]),
                text="<p>How often do you <strong>shop online</strong>?</p>",
                plain_text="How often do you shop online?",
                export_tag="shop_freq",
            ),
            replace(
                choice_question("QID2", ["Phone", "Laptop", "Tablet"], kind=Kind.MULTIPLE_CHOICE),
                text="Which devices do you own?",
                plain_text="Which devices do you own?",
                export_tag="devices",
            ),
            replace(text_question("QID3"), text="What is your job title?", plain_text="What is your job title?"),
            replace(nps_question("QID4"), text="How likely are you to recommend us?", plain_text="Recommend us?"),
            replace(slider_question("QID6", ["Price", "Speed"]), text="Rate what matters", plain_text="Rate"),
            replace(matrix_question("QID5"), text="Rate each feature", plain_text="Rate each feature"),
        ]
        create_property("frequency", "Shopping frequency", PropertyType.SINGLE_SELECT, options=["weekly", "Monthly"])
        create_property("devices", "Devices", PropertyType.MULTI_SELECT, options=["Phone", "Laptop", "TV"])
        study = create_study(olga, name="Checkout redesign", landing_slug="checkout")
        form = attach(Owner(OwnerKind.SCREENER, study=study), tool.name, "SV_1", olga)
        save_mappings(
            form,
            [
                Wanted("QID1", property="frequency"),
                Wanted("QID2", property="devices", policy="add"),
                Wanted("QID3", create={"label": "Job title"}),
            ],
            olga,
            may_create=True,
        )
        q2 = tool.questions["SV_1"][1]
        tool.questions["SV_1"][1] = replace(q2, choices=q2.choices[:2])
        reimport(form)
        person = create_person("pat@example.org", first_name="Pat", source="manual")
        pid = StudyParticipant.objects.create(study=study, person=person).participant_id
        at = datetime(2026, 3, 1, tzinfo=UTC)
        tool.responses["SV_1"] = [
            ResponseData(
                "R_1",
                pid,
                True,
                100,
                at,
                None,
                "anonymous",
                False,
                [Answer("QID1", None, ("1",)), Answer("QID3", None, "Designer")],
            ),
            ResponseData("R_2", "", True, 100, at, None, "anonymous", False, [Answer("QID1", None, ("3",))]),
        ]
        url = f"{self.live_server_url}/studies/{study.code}/screener/"
        with chromium() as browser:
            for width, height in ((1366, 900), (390, 844)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{self.live_server_url}/sign-in/")
                page.get_by_label("Email").fill("olga@example.org")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.goto(f"{self.live_server_url}/studies/{study.code}/")
                page.get_by_role("link", name="Screener").click()
                page.wait_for_url(url)
                shot(page, f"step_{width}.png")
                if width < 600:
                    total = page.evaluate("document.body.scrollHeight")
                    for i, y in enumerate(range(0, total, height)):
                        page.evaluate(f"window.scrollTo(0, {y})")
                        folder = os.environ.get("MUSTER_SCREENSHOTS")
                        if folder:
                            page.screenshot(path=os.path.join(folder, f"step_{width}_{i}.png"))
                # Choosing Create Property shows its fields, without script.
                page.locator("select[name=m2-property]").select_option("__create__")
                assert page.locator("input[name=m2-label]").is_visible()
                page.locator("select[name=m0-property]").select_option("")
                if os.environ.get("MUSTER_SCREENSHOTS"):
                    for qid in ("QID1", "QID3"):
                        page.locator(f"#q-{qid}").screenshot(
                            path=os.path.join(os.environ["MUSTER_SCREENSHOTS"], f"editing_{qid}_{width}.png")
                        )
                page.get_by_role("button", name="Dry run").click()
                assert page.get_by_text("Nothing was written.").is_visible()
                shot(page, f"dry_run_{width}.png")
                if os.environ.get("MUSTER_SCREENSHOTS"):
                    page.locator("#dry-run").screenshot(
                        path=os.path.join(os.environ["MUSTER_SCREENSHOTS"], f"dry_run_section_{width}.png")
                    )
                page.goto(url + "?change=1")
                shot(page, f"change_{width}.png")
                page.close()
        assert not person.values.exists()
