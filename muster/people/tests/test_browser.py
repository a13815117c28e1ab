from __future__ import annotations

import os

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from playwright.sync_api import Page

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.people.serialise import MASK
from muster.test import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/people/")


def shot(page: Page, name: str) -> None:
    if os.environ.get("MUSTER_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["MUSTER_SCREENSHOTS"], f"{name}.png"), full_page=True)


class PeopleBrowserTestCase(StaticLiveServerTestCase):
    def test_a_property_a_person_a_filter_and_the_masked_value_for_an_observer(self) -> None:
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        User.objects.create_user("oscar@example.org", PASSWORD, name="Oscar Observer", role=Role.OBSERVER)
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page()
            sign_in(page, url, "olga@example.org")
            page.goto(f"{url}/settings/properties/")
            page.get_by_label("Label", exact=True).fill("Pet name")
            page.get_by_label("Key").fill("pet_name")
            page.get_by_label("Text", exact=True).check()
            page.get_by_label("PII").check()
            page.get_by_role("button", name="Create property").click()
            page.get_by_role("link", name="Pet name").wait_for()
            shot(page, "properties")

            page.goto(f"{url}/people/new/")
            page.get_by_label("Email", exact=True).fill("ana@example.org")
            page.get_by_label("First name").fill("Ana")
            page.get_by_role("button", name="Add person").click()
            page.get_by_role("link", name="Edit Pet name").click()
            page.get_by_label("Pet name").fill("Biscuit")
            page.get_by_role("button", name="Save").click()
            page.get_by_text("Pet name saved.").wait_for()
            shot(page, "person")

            page.goto(f"{url}/people/")
            page.get_by_text("Filters", exact=True).click()
            page.get_by_role("group", name="Pet name").get_by_label("contains").fill("bisc")
            page.get_by_role("button", name="Apply filters").click()
            page.get_by_text("Pet name contains “bisc”").wait_for()
            assert page.get_by_role("cell", name="Biscuit").is_visible()
            shot(page, "people-filtered")
            page.get_by_text("Olga Ops").click()
            page.get_by_role("button", name="Sign out").click()

            sign_in(page, url, "oscar@example.org")
            # A masked list names people by their short code.
            page.get_by_role("link", name="Person ").first.click()
            page.get_by_role("link", name="Properties").click()
            row = page.get_by_role("row", name="Pet name")
            assert MASK in row.inner_text()
            assert "Biscuit" not in page.content()
