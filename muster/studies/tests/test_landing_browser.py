"""A study's landing page in a browser, wide and on a phone: the form, then the same answer for everyone."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.people import values as pv
from muster.people.models import Source
from muster.people.tests.test_browser import shot, sign_in
from muster.studies.models import Study, StudyStatus
from muster.studies.participants import add_participants
from muster.test import PASSWORD

pytestmark = pytest.mark.browser


class LandingBrowserTestCase(StaticLiveServerTestCase):
    def test_the_landing_page_reads_well_wide_and_narrow_and_answers_everyone_alike(self) -> None:
        Study.objects.create(
            name="Redesigning sign-up",
            landing_slug="signup",
            status=StudyStatus.ACTIVE,
            landing_text="We are redesigning how people sign up.\n\nThe survey takes about ten minutes.",
        )
        url = self.live_server_url
        with chromium() as browser:
            for width in (1366, 390):
                page = browser.new_page(viewport={"width": width, "height": 800})
                page.goto(f"{url}/s/signup/")
                assert "The survey takes about ten minutes." in page.inner_text("main")
                # Nothing spills sideways on a phone.
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                shot(page, f"landing-{width}")
                page.get_by_label("Email").fill(f"someone{width}@example.org")
                page.get_by_label("First name").fill("Sam")
                page.get_by_role("button", name="Take part").click()
                page.get_by_text("Check your email: we sent you a link to continue.").wait_for()
                shot(page, f"landing-sent-{width}")
                page.close()

    def test_the_study_page_shows_a_link_to_copy_for_each_participant(self) -> None:
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        (p,), _ = add_participants(study, [ana])
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, url, "olga@example.org")
            page.goto(f"{url}/studies/{study.code}/")
            link = page.get_by_label("Hand-off link of Ana")
            assert link.input_value().endswith(f"/s/onboarding/go/{p.participant_id}/")
            # The list fits the page: the link sits under the Participant ID, not in a column of its own.
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366
            shot(page, "study-participant-links")
