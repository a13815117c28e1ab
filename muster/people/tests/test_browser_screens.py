"""The people-side screens in a browser: erasing a person, sorting and searching the People list."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.people import values as pv
from muster.people.models import Erasure, Person
from muster.people.tests.test_browser import shot, sign_in
from muster.test import PASSWORD

pytestmark = pytest.mark.browser


class ScreensBrowserTestCase(StaticLiveServerTestCase):
    def setUp(self) -> None:
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)

    def test_erasing_a_person_asks_first_naming_what_goes_then_removes_them(self) -> None:
        person = pv.create_person("erin@example.org", first_name="Erin", last_name="Zephyr", source="manual")
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, url, "olga@example.org")
            page.goto(f"{url}/people/{person.code}/")
            confirm = page.get_by_role("group", name="Erase this person?")
            assert not confirm.is_visible()
            page.get_by_text("Erase…").click()
            assert "Erasing is not opting out." in confirm.inner_text()
            assert "1 email, 0 property values" in confirm.inner_text()
            shot(page, "person-erase-confirm")
            confirm.get_by_role("button", name="Erase Erin Zephyr").click()
            page.get_by_text("Erased: 2 records about this person are gone.").wait_for()
            shot(page, "people-after-erasure")
        self.assertFalse(Person.objects.exists())
        self.assertEqual(Erasure.objects.get().counts, {"emails": 1, "person": 1})
