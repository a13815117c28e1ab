from __future__ import annotations

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.people.models import Property
from muster.people.tests.test_browser import shot, sign_in
from muster.test import PASSWORD

pytestmark = pytest.mark.browser


class PropertyFormBrowserTestCase(StaticLiveServerTestCase):
    def test_the_form_shows_only_the_fields_the_chosen_type_uses_and_makes_the_key(self) -> None:
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page()
            sign_in(page, url, "olga@example.org")
            page.goto(f"{url}/settings/properties/")
            unique, options = page.get_by_label("Unique"), page.get_by_label("Options")
            page.get_by_label("Text", exact=True).check()
            assert unique.is_visible() and not options.is_visible()
            page.get_by_label("Number", exact=True).check()
            assert not unique.is_visible() and not options.is_visible()
            page.get_by_label("Multi select", exact=True).check()
            assert options.is_visible() and not unique.is_visible()
            page.get_by_label("Label", exact=True).fill("Devices owned")
            options.fill("Phone\nLaptop")
            shot(page, "property_form")
            page.get_by_role("button", name="Create property").click()
            page.get_by_role("link", name="Devices owned").wait_for()
        assert Property.objects.get().key == "devices_owned"
