from __future__ import annotations

import os

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.integrations.qualtrics.models import QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxMixin
from muster.test import PASSWORD

pytestmark = pytest.mark.browser


def shot(page: object, name: str) -> None:
    folder = os.environ.get("MUSTER_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)  # type: ignore[attr-defined]


class ConnectBrowserTestCase(SandboxMixin, StaticLiveServerTestCase):
    def test_an_ops_manager_connects_qualtrics_from_settings(self) -> None:
        self.new_brand()
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"{self.live_server_url}/sign-in/")
            page.get_by_label("Email").fill("olga@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Settings").first.click()
            page.get_by_role("link", name="Connected Apps").click()
            shot(page, "connected_apps.png")
            page.get_by_role("link", name="Connect").click()
            page.get_by_label("Datacenter or account URL").fill(self.sandbox.url)
            page.get_by_label("Brand Administrator API token").fill(self.brand["adminToken"])
            page.get_by_label("User type for the service user").fill(self.brand["userTypes"]["standard"])
            shot(page, "connect.png")
            page.get_by_role("button", name="Connect").click()
            page.wait_for_url(f"{self.live_server_url}/settings/connected-apps/qualtrics/")
            assert page.get_by_text(f"Connected to Qualtrics brand {self.brand['brandId']}").is_visible()
            assert page.get_by_role("button", name="Test connection").is_visible()
            shot(page, "connection.png")
            page.get_by_role("button", name="Test connection").click()
            assert page.get_by_text("The connection works").is_visible()
            # The token field is never filled back in.
            for field in page.locator("input[type=password]").all():
                assert field.input_value() == ""
            # Disconnecting asks first, saying what it does; without a token, Connected Apps says so,
            # and what is left in Qualtrics.
            assert not page.get_by_role("button", name="Disconnect", exact=True).is_visible()
            page.get_by_text("Disconnect…").click()
            assert page.get_by_text("Responses stop coming in").is_visible()
            shot(page, "disconnect_confirm.png")
            page.get_by_role("button", name="Disconnect", exact=True).click()
            page.wait_for_url(f"{self.live_server_url}/settings/connected-apps/")
            assert page.get_by_text("Muster is disconnected from Qualtrics").is_visible()
            assert page.get_by_text(f"Brand {self.brand['brandId']} was disconnected by Olga Ops").is_visible()
            assert page.get_by_role("link", name="Connect").is_visible()
            shot(page, "disconnected.png")
        # Database checks stay outside the browser block: Playwright's greenlet would hold a
        # connection of its own that outlives the test (PostgreSQL then refuses to drop the test database).
        connection = QualtricsConnection.objects.get()
        assert connection.status == "disconnected"
        assert connection.connected_by is not None
        assert connection.connected_by.email == "olga@example.org"
        assert connection.disconnected_by == connection.connected_by
