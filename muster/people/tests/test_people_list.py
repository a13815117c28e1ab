"""The People list: sorting by any shown column, a search box, clean links, and usable masked rows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now

from muster.people import values as pv
from muster.people.models import Person
from muster.people.properties import create_property
from muster.people.serialise import MASK
from muster.test import BaseTestCase


class PeopleListTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.size = create_property("size", "Size", "single_select", options=["Small", "Large"])
        self.phone = create_property("phone", "Phone", "text", pii=True)
        small, large = self.size.options.all()
        start = now() - timedelta(days=10)
        self.people = {}
        for i, (first, last, mail, age, size) in enumerate(
            [
                ("Cleo", "Abbot", "zed@example.org", 41, large),
                ("Ada", "Byron", "mia@example.org", 29, small),
                ("Bea", "Cole", "ann@example.org", None, None),
            ]
        ):
            p = pv.create_person(mail, first_name=first, last_name=last, source="manual")
            Person.objects.filter(id=p.id).update(created=start + timedelta(days=i))
            values = {self.phone: f"0770{i}"} | ({self.age: age, self.size: size} if age else {})
            pv.set_values(p, values, source="manual")
            self.people[first] = p

    def names_listed(self, url: str) -> list[str]:
        r = self.client.get(url)
        self.assertEqual(r.status_code, 200, url)
        rows = re.findall(r'<a href="/people/[0-9a-f-]+/">([^<]+)</a>', r.content.decode())
        return [row.split()[0] for row in rows]

    def test_it_sorts_by_name_email_created_and_a_property_either_way(self) -> None:
        self.client.force_login(self.rita)
        self.assertEqual(self.names_listed("/people/"), ["Bea", "Ada", "Cleo"])  # newest first
        self.assertEqual(self.names_listed("/people/?sort=name"), ["Cleo", "Ada", "Bea"])  # by last name
        self.assertEqual(self.names_listed("/people/?sort=-name"), ["Bea", "Ada", "Cleo"])
        self.assertEqual(self.names_listed("/people/?sort=email"), ["Bea", "Ada", "Cleo"])
        self.assertEqual(self.names_listed("/people/?sort=created"), ["Cleo", "Ada", "Bea"])
        # Empty values come last either way.
        self.assertEqual(self.names_listed("/people/?sort=p.age"), ["Ada", "Cleo", "Bea"])
        self.assertEqual(self.names_listed("/people/?sort=-p.age"), ["Cleo", "Ada", "Bea"])
        # Options sort in their order, not alphabetically.
        self.assertEqual(self.names_listed("/people/?sort=p.size"), ["Ada", "Cleo", "Bea"])

    def test_a_header_sorts_by_its_column_and_flips_when_already_sorted(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/?sort=p.age")
        self.assertContains(r, '<th aria-sort="ascending"><a href="?sort=-p.age">Age')
        self.assertContains(r, '<a href="?sort=name">Name</a>')
        r = self.client.get("/people/?sort=-p.age")
        self.assertContains(r, '<th aria-sort="descending"><a href="?sort=p.age">Age')

    def test_an_unknown_sort_is_said_and_the_list_keeps_its_default_order(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/?sort=p.nope")
        self.assertContains(r, "There is no column “p.nope” to sort by.")
        self.assertEqual(self.names_listed("/people/?sort=p.nope"), ["Bea", "Ada", "Cleo"])

    def test_masked_viewers_may_not_sort_by_what_they_cannot_see(self) -> None:
        for user in (self.oscar, self.dev):
            self.client.force_login(user)
            for column, label in (("name", "name"), ("email", "email"), ("p.phone", "Phone")):
                r = self.client.get(f"/people/?sort={column}")
                self.assertContains(r, f"Sorting by {label} needs a role that may see PII.")
            r = self.client.get("/people/?sort=p.age")
            self.assertNotContains(r, "needs a role")
            self.assertNotContains(r, 'href="?sort=p.phone"')

    def test_the_search_box_finds_people_by_name_or_email(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/")
        self.assertContains(r, '<input type="search" name="q"')
        self.assertEqual(self.names_listed("/people/?q=byron"), ["Ada"])
        self.assertEqual(self.names_listed("/people/?q=ZED%40"), ["Cleo"])
        self.assertEqual(self.names_listed("/people/?q=bea+cole"), ["Bea"])
        self.assertEqual(self.names_listed("/people/?q=ada+cole"), [])
        self.assertContains(self.client.get("/people/?q=nobody"), "Nobody matches “nobody”.")

    def test_masked_viewers_search_the_person_code_not_names_or_emails(self) -> None:
        cleo = self.people["Cleo"]
        self.client.force_login(self.oscar)
        r = self.client.get("/people/?q=cleo")
        self.assertContains(r, "Nobody matches")
        r = self.client.get(f"/people/?q={cleo.code.hex[:5].upper()}")
        self.assertContains(r, f"<code>{cleo.code.hex[:8]}</code>")
        self.assertEqual(r.content.decode().count("<code>"), 1)
        self.assertContains(r, "Search by person code")

    def test_masked_rows_show_the_short_person_code_and_no_names(self) -> None:
        self.client.force_login(self.dev)
        r = self.client.get("/people/")
        for p in self.people.values():
            self.assertContains(r, f'aria-label="Person {p.code.hex[:8]}"><code>{p.code.hex[:8]}</code></a>')
            self.assertNotContains(r, p.first_name)
        self.assertNotContains(r, "mia@example.org")
        self.assertContains(r, MASK)  # the phone column

    def test_row_checkboxes_appear_only_with_an_action_behind_them(self) -> None:
        self.client.force_login(self.oscar)
        self.assertNotContains(self.client.get("/people/"), 'type="checkbox" name="person"')
        self.client.force_login(self.olga)
        self.assertContains(self.client.get("/people/"), 'type="checkbox" name="person"', count=3)

    def test_a_submitted_form_with_blank_inputs_lands_on_a_clean_address(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/?q=&name=&p.age.min=&p.age.max=30&sort=&page=")
        self.assertRedirects(r, "/people/?p.age.max=30", fetch_redirect_response=False)
        r = self.client.get("/people/?q=&name=")
        self.assertRedirects(r, "/people/", fetch_redirect_response=False)

    def test_the_links_the_page_builds_carry_no_empty_parameters(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/?q=a&sort=-p.age")
        page = r.content.decode()
        for link in re.findall(r'href="([^"]*\?[^"]*)"', page):
            params = link.split("?", 1)[1].replace("&amp;", "&").split("&")
            self.assertTrue(all(p and not p.endswith("=") for p in params), link)
        self.assertContains(r, '<input type="hidden" name="sort" value="-p.age">')
        self.assertContains(r, 'href="/people/export.csv?q=a&amp;sort=-p.age"')

    def test_sorting_by_a_property_costs_the_same_queries_for_few_or_many_people(self) -> None:
        self.client.force_login(self.rita)
        counts = []
        for more in (0, 20):
            for i in range(more):
                p = pv.create_person(f"extra{i}@example.org", first_name=f"E{i}", source="manual")
                pv.set_values(p, {self.age: i, self.size: self.size.options.first()}, source="manual")
            for sort in ("p.age", "-p.size", "email", "name"):
                with CaptureQueriesContext(connection) as queries:
                    self.assertEqual(self.client.get(f"/people/?sort={sort}&q=example").status_code, 200)
                counts.append((sort, len(queries)))
        self.assertEqual(counts[:4], counts[4:])


class ColumnChooserTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.props = [create_property(f"k{i}", f"Prop {i}", "text") for i in range(6)]
        ann = pv.create_person("ann@example.org", first_name="Ann", source="manual")
        pv.set_values(ann, {self.props[4]: "xyz"}, source="manual")

    def headers(self, user: object, url: str = "/people/") -> list[str]:
        r = self.client.get(url)
        return re.findall(r">(Prop \d)<", r.content.decode().split("<tbody>")[0].split("<thead>")[1])

    def test_until_chosen_the_list_shows_the_first_four_properties(self) -> None:
        self.client.force_login(self.rita)
        self.assertEqual(self.headers(self.rita), ["Prop 0", "Prop 1", "Prop 2", "Prop 3"])

    def test_chosen_columns_are_remembered_per_user_in_the_properties_order(self) -> None:
        self.client.force_login(self.rita)
        chosen = [str(self.props[5].code), str(self.props[1].code), "not-a-code"]
        r = self.client.post("/people/columns/", {"column": chosen, "query": "sort=created&q="})
        self.assertRedirects(r, "/people/?sort=created", fetch_redirect_response=False)
        self.assertEqual(self.headers(self.rita), ["Prop 1", "Prop 5"])
        self.client.force_login(self.olga)
        self.assertEqual(self.headers(self.olga), ["Prop 0", "Prop 1", "Prop 2", "Prop 3"])

    def test_a_filtered_property_is_a_column_too(self) -> None:
        self.client.force_login(self.oscar)
        self.client.post("/people/columns/", {"column": [str(self.props[0].code)]})
        self.assertEqual(self.headers(self.oscar, "/people/?p.k4=x"), ["Prop 0", "Prop 4"])

    def test_choosing_no_column_shows_none(self) -> None:
        self.client.force_login(self.rita)
        self.client.post("/people/columns/", {})
        self.assertEqual(self.headers(self.rita), [])
        self.assertContains(self.client.get("/people/"), "Ann")


class PeopleApiSortAndSearchTests(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        for first, last, age in (("Ana", "Zed", 40), ("Ben", "Young", 20), ("Cleo", "Xu", 30)):
            pv.create_person(
                f"{first.lower()}@example.org",
                first_name=first,
                last_name=last,
                source="manual",
                values={self.age: float(age)},
            )

    def names(self, query: str, user: Any = None) -> list[str]:
        r = self.api(user or self.rita, "get", f"/people?{query}")
        assert r.status_code == 200, r.content
        return [p["first_name"] for p in r.json()["results"]]

    def test_it_sorts_by_a_property_either_way(self) -> None:
        assert self.names("sort=p.age") == ["Ben", "Cleo", "Ana"]
        assert self.names("sort=-p.age") == ["Ana", "Cleo", "Ben"]

    def test_it_sorts_by_name(self) -> None:
        assert self.names("sort=name") == ["Cleo", "Ben", "Ana"]

    def test_it_searches_names_and_emails(self) -> None:
        assert self.names("q=cleo") == ["Cleo"]
        assert self.names("q=example.org&sort=email") == ["Ana", "Ben", "Cleo"]

    def test_an_unknown_sort_column_is_refused_with_the_reason(self) -> None:
        r = self.api(self.rita, "get", "/people?sort=shoe_size")
        assert r.status_code == 422 and r.json()["message"] == "There is no column “shoe_size” to sort by."

    def test_sorting_by_name_needs_a_role_that_sees_pii(self) -> None:
        r = self.api(self.dev, "get", "/people?sort=name")
        assert r.status_code == 403
