"""An Ops Manager attaches the demo screener from the sandbox, maps it, runs a dry run and previews,
in a real browser, with Muster talking HTTP to the sandbox as it would to Qualtrics."""

from __future__ import annotations

import os

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings
from playwright.sync_api import Page

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.integrations.qualtrics.tests.sandbox import SandboxMixin
from muster.people.models import Property, PropertyValue
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant
from muster.surveys.models import QuestionMapping
from muster.test import PASSWORD

pytestmark = pytest.mark.browser

PUBLIC = "https://muster.example.org"


def row_of(page: Page, qid: str, part: str = "") -> str:
    """The field prefix of a question's (or part's) mapping row."""
    name = page.evaluate(
        """([qid, part]) => [...document.querySelectorAll('input[name$="-qid"]')]
            .map(i => i.name.slice(0, -4))
            .find(n => document.querySelector(`input[name="${n}-qid"]`).value === qid
                    && document.querySelector(`input[name="${n}-part"]`).value === part)""",
        [qid, part],
    )
    return str(name)


@override_settings(MUSTER_PUBLIC_URL=PUBLIC)
class DemoScreenerBrowserTestCase(SandboxMixin, StaticLiveServerTestCase):
    def test_an_ops_manager_attaches_maps_dry_runs_and_previews_the_demo_screener(self) -> None:
        self.new_brand()
        olga = User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        connection = self.connect_as_admin()
        survey = self.share_demo_screener(connection, PUBLIC, "SV_placeholder")
        create_property("region", "Region", "single_select", options=["Northern", "South", "East", "West"])
        study = create_study(olga, name="Grocery habits", landing_slug="grocery")
        pat = create_person("pat@example.org", first_name="Pat", source="manual")
        pid = StudyParticipant.objects.create(study=study, person=pat).participant_id
        answers = {"QID1": 4, "QID2": ["1", "2"], "QID3": 1, "QID9": 10, "QID12_1": 14}
        respond = {"values": answers, "embeddedData": {"rallyParticipantId": pid}}
        self.control("POST", f"/_sandbox/surveys/{survey}/respond", respond)
        shots = os.environ.get("MUSTER_SCREENSHOTS")

        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{self.live_server_url}/sign-in/")
            page.get_by_label("Email").fill("olga@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{self.live_server_url}/studies/{study.code}/")
            page.get_by_role("link", name="Screener").click()

            # The Qualtrics Survey picker lists the demo screener; attach it.
            page.locator("select[name=survey]").select_option(label="Muster demo screener")
            page.get_by_role("button", name="Attach", exact=True).click()
            page.get_by_text("“Muster demo screener” is attached").wait_for()
            assert page.locator(".report .badge.bad").count() == 0  # the compatibility report is clean
            assert page.locator("h2#report .badge.ok").inner_text() == "ready"

            # A multiple-choice question with Create Property, the region with an existing property.
            devices = row_of(page, "QID2")
            page.locator(f"select[name={devices}-property]").select_option("__create__")
            page.locator(f"input[name={devices}-label]").fill("Shopping devices")
            page.locator(f"input[name={devices}-key]").fill("shopping_devices")
            region = row_of(page, "QID3")
            page.locator(f"select[name={region}-property]").select_option(label="Region (single select)")
            page.get_by_role("button", name="Save Property Mapping").first.click()
            page.get_by_text("2 mappings saved").wait_for()
            # "North" has no option of that label: map it to "Northern" by hand, and save again.
            page.get_by_label("Option for North", exact=True).select_option(label="Northern")
            page.get_by_role("button", name="Save Property Mapping").first.click()
            page.get_by_text("2 mappings saved").wait_for()
            if shots:
                page.screenshot(path=os.path.join(shots, "demo_screener_mapped.png"), full_page=True)

            page.get_by_role("button", name="Dry run").click()
            page.get_by_text("Nothing was written.").wait_for()
            dry_run = page.locator("#dry-run").inner_text()
            assert pid in dry_run and "Northern" in dry_run and "Phone" in dry_run, dry_run
            if shots:
                page.locator("#dry-run").screenshot(path=os.path.join(shots, "demo_screener_dry_run.png"))

            # Preview: a new tab down the participant path, into the sandbox's survey.
            with page.context.expect_page() as opened:
                page.get_by_role("button", name="Preview").click()
            preview = opened.value
            preview.wait_for_load_state()
            assert preview.url.startswith(self.sandbox.url), preview.url
            preview.get_by_text("How often").first.wait_for()
            page.close()

        devices_prop = Property.objects.get(key="shopping_devices")
        assert devices_prop.type == "multi_select"
        assert [o.label for o in devices_prop.options.all()] == ["Phone", "Laptop", "Tablet", "Other, please specify"]
        region_mapping = QuestionMapping.objects.get(qid="QID3")
        assert region_mapping.options["1"] == region_mapping.property.options.get(label="Northern").id
        assert not PropertyValue.objects.exists()  # the dry run wrote nothing
        tester = StudyParticipant.objects.get(is_test=True)
        assert tester.status == "link_opened" and tester.person.source == "preview"
