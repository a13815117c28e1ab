from __future__ import annotations

from datetime import date

from django.core.paginator import Paginator

from muster.people import values as pv
from muster.people.filters import page_of, parse_filters
from muster.people.models import Person, Source
from muster.people.properties import create_property
from muster.people.serialise import Viewer
from muster.test import BaseTestCase


class FiltersTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.born = create_property("born", "Born", "date")
        self.job = create_property("job", "Job", "text")
        self.app = create_property("app", "Uses app", "boolean")
        self.country = create_property("country", "Country", "single_select", options=["UK", "France", "Japan"])
        self.devices = create_property("devices", "Devices", "multi_select", options=["iPhone", "Android", "Mac"])
        self.phone = create_property("phone", "Phone", "text", pii=True)
        rows = [
            # email, first, age, born, job, app, country, devices
            ("ana@example.org", "Ana", 25, date(1999, 5, 1), "Product Designer", True, "UK", "iPhone;Mac"),
            ("ben@example.org", "Ben", 40, date(1984, 2, 2), "Nurse", False, "France", "Android"),
            ("cleo@example.org", "Cleo", 33, date(1991, 7, 9), "UX designer", True, "France", "iPhone"),
            ("dan@example.org", "Dan", None, None, None, None, None, None),
            ("eve@example.org", "Eve", 61, date(1963, 1, 1), "Teacher", False, "Japan", "Mac"),
        ]
        self.people = {}
        for email, first, age, born, job, app, country, devices in rows:
            person = pv.create_person(email, first_name=first, source=Source.MANUAL)
            given = {
                self.age: age,
                self.born: born,
                self.job: job,
                self.app: app,
                self.country: country,
                self.devices: devices,
            }
            parsed = {p: pv.parse(p, v) for p, v in given.items() if v is not None}
            pv.set_values(person, parsed, source=Source.MANUAL)
            self.people[first] = person
        pv.set_values(self.people["Ana"], {self.phone: "+44 1"}, source=Source.MANUAL)

    def found(self, query: dict[str, list[str]], viewer: Viewer | None = None) -> list[str]:
        props = [self.age, self.born, self.job, self.app, self.country, self.devices, self.phone]
        filters = parse_filters(query, props, viewer or Viewer(pii=True))
        self.assertEqual(filters.errors, [])
        return sorted(p.first_name for p in filters.apply(Person.objects.all()))

    def test_a_number_range_includes_both_ends(self) -> None:
        self.assertEqual(self.found({"p.age.min": ["25"], "p.age.max": ["40"]}), ["Ana", "Ben", "Cleo"])

    def test_a_date_range_filters_on_dates(self) -> None:
        self.assertEqual(self.found({"p.born.min": ["1985-01-01"]}), ["Ana", "Cleo"])

    def test_text_contains_ignores_case(self) -> None:
        self.assertEqual(self.found({"p.job": ["DESIGNER"]}), ["Ana", "Cleo"])

    def test_a_single_select_matches_any_of_the_options(self) -> None:
        self.assertEqual(self.found({"p.country": ["France", "japan"]}), ["Ben", "Cleo", "Eve"])

    def test_a_select_filter_accepts_option_codes(self) -> None:
        uk = self.country.options.get(label="UK")
        self.assertEqual(self.found({"p.country": [str(uk.code)]}), ["Ana"])

    def test_a_multi_select_matches_people_with_any_of_the_options(self) -> None:
        self.assertEqual(self.found({"p.devices": ["Mac", "Android"]}), ["Ana", "Ben", "Eve"])

    def test_a_boolean_filter(self) -> None:
        self.assertEqual(self.found({"p.app": ["no"]}), ["Ben", "Eve"])

    def test_empty_and_not_empty(self) -> None:
        self.assertEqual(self.found({"p.age.is": ["empty"]}), ["Dan"])
        self.assertEqual(self.found({"p.job.is": ["not_empty"]}), ["Ana", "Ben", "Cleo", "Eve"])

    def test_name_and_email_filters(self) -> None:
        self.assertEqual(self.found({"name": ["e"]}), ["Ben", "Cleo", "Eve"])
        self.assertEqual(self.found({"email": ["DAN@"]}), ["Dan"])

    def test_filters_combine_with_and(self) -> None:
        query = {"p.country": ["France"], "p.age.min": ["35"], "p.devices": ["Android"], "p.app": ["no"]}
        self.assertEqual(self.found(query), ["Ben"])

    def test_filters_are_one_sql_query(self) -> None:
        props = [self.age, self.country, self.devices]
        filters = parse_filters({"p.age.min": ["30"], "p.country": ["France"]}, props, Viewer(pii=True))
        with self.assertNumQueries(1):
            self.assertEqual(sorted(p.first_name for p in filters.apply(Person.objects.all())), ["Ben", "Cleo"])

    def test_it_explains_an_unusable_filter(self) -> None:
        filters = parse_filters(
            {"p.age.min": ["old"], "p.nope": ["x"], "p.job.min": ["3"]}, [self.age, self.job], Viewer(True)
        )
        self.assertEqual(len(filters.errors), 3)
        self.assertIn("is not a number", filters.errors[0])
        self.assertEqual(filters.items, [])

    def test_a_role_without_pii_cannot_filter_on_pii(self) -> None:
        filters = parse_filters({"p.phone": ["+44"], "email": ["ana"]}, [self.phone], Viewer(pii=False))
        self.assertEqual(filters.items, [])
        self.assertIn("Phone", filters.errors[0])
        self.assertIn("email", filters.errors[1])

    def test_the_people_page_filters_and_paginates(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/", {"p.country": "France", "p.age.min": "35"})
        self.assertEqual(r.context["page"].paginator.count, 1)
        self.assertContains(r, "Ben")
        self.assertContains(r, "Country is France")
        self.assertNotContains(r, "Cleo")

    def test_the_api_lists_people_with_the_same_filters(self) -> None:
        from muster.accounts.models import ApiToken

        _, raw = ApiToken.issue(self.rita, "t")
        r = self.client.get(
            "/api/v1/people", {"p.devices": "iPhone", "page_size": "1"}, headers={"Authorization": f"Bearer {raw}"}
        )
        self.assertEqual(r.json()["count"], 2)
        self.assertEqual(r.json()["pages"], 2)
        self.assertEqual(len(r.json()["results"]), 1)

    def test_filtered_pages_match_the_stock_paginator(self) -> None:
        # page_of counts with the page query; it must give what Django's Paginator gives.
        props = [self.age, self.born, self.job, self.app, self.country, self.devices, self.phone]
        for query in ({"p.age.min": ["20"], "p.age.max": ["62"]}, {"p.country": ["France", "UK"]}, {"p.job": ["zzz"]}):
            filters = parse_filters(query, props, Viewer(pii=True))
            people = filters.apply(Person.objects.order_by("-created", "-id"))
            for number in (None, "1", "2", "3", "99", "0", "-1", "x", "2.0", 2):
                stock = Paginator(people, 2).get_page(number)
                page = page_of(people, number, 2, filtered=True)
                self.assertEqual(
                    (page.number, page.paginator.count, page.paginator.num_pages, list(page.object_list)),
                    (stock.number, stock.paginator.count, stock.paginator.num_pages, list(stock.object_list)),
                    (query, number),
                )

    def test_a_filtered_page_counts_in_the_page_query(self) -> None:
        filters = parse_filters({"p.country": ["France"]}, [self.country], Viewer(pii=True))
        with self.assertNumQueries(1):
            page = page_of(filters.apply(Person.objects.order_by("-created", "-id")), "1", 25, filtered=True)
            self.assertEqual((page.paginator.count, len(page.object_list)), (2, 2))

    def test_a_range_on_one_property_is_one_subquery(self) -> None:
        filters = parse_filters({"p.born.min": ["1984-02-02"], "p.born.max": ["1991-07-09"]}, [self.born], Viewer(True))
        sql = str(filters.apply(Person.objects.all()).query)
        self.assertEqual(sql.count("people_propertyvalue"), 1)
        self.assertEqual(self.found({"p.born.min": ["1984-02-02"], "p.born.max": ["1991-07-09"]}), ["Ben", "Cleo"])


class IndexesTestCase(BaseTestCase):
    def test_values_and_history_carry_no_index_the_queries_do_not_need(self) -> None:
        from django.db import connection

        def indexes(table: str) -> set[tuple[str, ...]]:
            with connection.cursor() as cursor:
                found = connection.introspection.get_constraints(cursor, table)
            return {tuple(c["columns"]) for c in found.values() if (c["index"] or c["unique"]) and not c["primary_key"]}

        values = indexes("people_propertyvalue")
        for single in ("person_id", "property_id", "value_option_id"):
            self.assertNotIn((single,), values)
        self.assertIn(("person_id", "property_id"), values)
        self.assertIn(("property_id", "person_id"), values)
        self.assertIn(("value_option_id", "property_id", "person_id"), values)
        # History is read by person only; every index more costs each of the rows an import appends.
        self.assertEqual(indexes("people_propertyvaluechange"), {("person_id",)})
