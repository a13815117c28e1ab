from __future__ import annotations

import os

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.test import PASSWORD

pytestmark = pytest.mark.browser


class SignInBrowserTestCase(StaticLiveServerTestCase):
    def test_a_researcher_signs_in_sees_the_navigation_and_signs_out(self) -> None:
        User.objects.create_user("rita@example.org", PASSWORD, name="Rita Researcher", role=Role.RESEARCHER)
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"{self.live_server_url}/")
            assert page.url.endswith("/sign-in/?next=/")
            page.get_by_label("Email").fill("rita@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{self.live_server_url}/people/")
            nav = page.get_by_role("navigation", name="Main")
            assert [link.inner_text() for link in nav.get_by_role("link").all()] == [
                "People",
                "Panels",
                "Studies",
                "Settings",
            ]
            if os.environ.get("MUSTER_SCREENSHOTS"):
                page.screenshot(path=os.path.join(os.environ["MUSTER_SCREENSHOTS"], "people.png"), full_page=True)
            page.get_by_text("Rita Researcher").click()
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{self.live_server_url}/sign-in/")
            page.goto(f"{self.live_server_url}/settings/")
            assert "/sign-in/" in page.url
