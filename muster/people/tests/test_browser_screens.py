"""The people-side screens in a browser: erasing a person, sorting and searching the People list."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from playwright.sync_api import Page

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.browser import chromium
from muster.people import values as pv
from muster.people.models import Erasure, Panel, Person
from muster.people.properties import create_property
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

    def test_opting_out_asks_first_and_opting_back_in_records_why(self) -> None:
        person = pv.create_person("otto@example.org", first_name="Otto", last_name="Lind", source="manual")
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, url, "olga@example.org")
            page.goto(f"{url}/people/{person.code}/")
            confirm = page.get_by_role("group", name="Opt out?")
            assert not confirm.is_visible()
            page.get_by_text("Opt out…").click()
            assert "Do not contact" in confirm.inner_text()
            confirm.get_by_role("button", name="Opt out Otto Lind").click()
            page.wait_for_load_state()
            person.refresh_from_db()
            assert person.opted_out
            page.get_by_text("Opt back in…").click()
            again = page.get_by_role("group", name="Opt back in?")
            again.get_by_label("Why").fill("They asked to take part again")
            shot(page, "person-opt-in-confirm")
            again.get_by_role("button", name="Opt back in").click()
            page.get_by_text("Opted back in: this person may be invited and reminded again.").wait_for()
            assert "by Olga Ops: They asked to take part again" in page.locator("main").inner_text()
        person.refresh_from_db()
        assert not person.opted_out
        change = person.contact_changes.first()
        assert change is not None and (change.opted_out, change.reason) == (False, "They asked to take part again")

    def test_the_people_list_sorts_by_a_header_and_searches_from_the_box(self) -> None:
        User.objects.create_user("oscar@example.org", PASSWORD, name="Oscar Observer", role=Role.OBSERVER)
        age = create_property("age", "Age", "number")
        for first, last, years in (("Cleo", "Abbot", 41), ("Ada", "Byron", 29), ("Bea", "Cole", 35)):
            p = pv.create_person(f"{first.lower()}@example.org", first_name=first, last_name=last, source="manual")
            pv.set_values(p, {age: years}, source="manual")
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, url, "olga@example.org")
            page.get_by_role("link", name="Age").click()
            page.wait_for_url(f"{url}/people/?sort=p.age")
            assert first_cells(page) == ["Ada Byron", "Bea Cole", "Cleo Abbot"]
            page.get_by_role("link", name="Age").click()
            page.wait_for_url(f"{url}/people/?sort=-p.age")
            assert first_cells(page) == ["Cleo Abbot", "Bea Cole", "Ada Byron"]
            page.get_by_role("searchbox", name="Search by name or email").fill("byron")
            page.keyboard.press("Enter")
            # The blank filter inputs are dropped from the address; the sort stays.
            page.wait_for_url(f"{url}/people/?q=byron&sort=-p.age")
            assert first_cells(page) == ["Ada Byron"]
            shot(page, "people-sorted-searched")
            page.set_viewport_size({"width": 390, "height": 800})
            # On a phone the list scrolls sideways in its box; the page itself does not.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            shot(page, "people-sorted-searched-390")
            page.get_by_text("Olga Ops").click()
            page.get_by_role("button", name="Sign out").click()

            sign_in(page, url, "oscar@example.org")
            page.set_viewport_size({"width": 390, "height": 800})
            codes = page.locator("tbody code").all_inner_texts()
            assert len(codes) == 3 and all(len(c) == 8 for c in codes)
            assert page.locator("tbody input[type=checkbox]").count() == 0
            shot(page, "people-masked-390")
            page.get_by_role("searchbox", name="Search by person code").fill(codes[1])
            page.keyboard.press("Enter")
            page.wait_for_url(f"{url}/people/?q={codes[1]}")
            assert page.locator("tbody code").all_inner_texts() == [codes[1]]


def first_cells(page: Page) -> list[str]:
    return [t.split(" opted out")[0] for t in page.locator("tbody tr td:has(a)").all_inner_texts()]


class SelectAllBrowserTestCase(StaticLiveServerTestCase):
    def test_select_all_on_the_page_then_all_matching_and_the_column_chooser(self) -> None:
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        create_property("age", "Age", "number")
        create_property("city", "City", "text")
        panel = Panel.objects.create(name="Night owls")
        for i in range(30):
            pv.create_person(f"p{i:02}@example.org", first_name=f"P{i:02}", source="manual")
        url = self.live_server_url
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            sign_in(page, url, "olga@example.org")
            page.get_by_label("Select everyone on this page").check()
            assert page.locator("tbody input[type=checkbox]:checked").count() == 25
            page.get_by_text("All 25 on this page are selected.").wait_for()
            page.get_by_role("button", name="Select all 30 matching").click()
            page.get_by_text("All 30 matching are selected.").wait_for()
            assert page.get_by_label("Add").input_value() == "filter"
            shot(page, "people-select-all")
            page.locator('select[name="target"]').select_option(label="Night owls")
            page.get_by_role("button", name="Add", exact=True).click()
            page.get_by_text("30 added to the panel Night owls.").wait_for()

            page.get_by_text("Columns", exact=True).click()
            page.get_by_role("group", name="Properties shown as columns").get_by_label("Age").uncheck()
            page.get_by_role("button", name="Save columns").click()
            page.get_by_text("The list shows 1 property as columns.").wait_for()
            headers = page.locator("thead th").all_inner_texts()
            assert "CITY" in headers and "AGE" not in headers, headers
            shot(page, "people-columns")
        self.assertEqual(panel.memberships.count(), 30)


class FilterPanelLayoutBrowserTestCase(StaticLiveServerTestCase):
    def test_no_two_filter_inputs_overlap_at_desktop_and_phone_widths(self) -> None:
        User.objects.create_user("olga@example.org", PASSWORD, name="Olga Ops", role=Role.OPS_MANAGER)
        # The demo's properties: one of each kind the filter panel lays out.
        panel_demo = __import__("muster.people.demo", fromlist=["load"])
        panel_demo.load()
        url = self.live_server_url
        with chromium() as browser:
            for width in (1920, 1366, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                sign_in(page, url, "olga@example.org")
                page.goto(f"{url}/people/")
                details = page.locator("form.filters details")
                for i in range(details.count()):
                    details.nth(i).evaluate("d => d.open = true")
                boxes = page.locator("form.filters input:visible, form.filters select:visible").evaluate_all(
                    "els => els.map(e => { const r = e.getBoundingClientRect();"
                    " return [e.name || e.id, r.left, r.top, r.right, r.bottom]; })"
                )
                assert len(boxes) > 5, boxes
                overlapping = [
                    (a[0], b[0])
                    for i, a in enumerate(boxes)
                    for b in boxes[i + 1 :]
                    if a[1] < b[3] - 1 and b[1] < a[3] - 1 and a[2] < b[4] - 1 and b[2] < a[4] - 1
                ]
                assert overlapping == [], f"{width}px: {overlapping}"
                right = page.evaluate("document.documentElement.scrollWidth")
                assert right <= width, f"{width}px: the page is {right}px wide"
                shot(page, f"filters-{width}")
                page.close()
