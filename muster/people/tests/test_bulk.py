from __future__ import annotations

from typing import Any

from muster.people import values as pv
from muster.people.models import Person, PersonEmail, PropertyValueChange, Source
from muster.people.properties import create_property, update_option
from muster.test import BaseTestCase


class BulkPeopleTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.member = create_property("member_id", "Member ID", "text", unique=True)
        self.devices = create_property("devices", "Devices", "multi_select", options=["iPhone", "Android", "Mac"])
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        pv.set_emails(self.ana, "ana@example.org", ["ana.work@example.org"])
        pv.set_values(self.ana, {self.age: 30.0, self.member: "M-1"}, source=Source.MANUAL)

    def bulk(self, items: list[Any], user: Any = None, **extra: Any) -> Any:
        return self.api(user or self.rita, "post", "/people/bulk", {"items": items, **extra})

    def results(self, r: Any) -> list[tuple[int, str, str, list[str]]]:
        self.assertEqual(r.status_code, 200, r.content)
        return [(x["index"], x["email"], x["status"], x["errors"]) for x in r.json()["results"]]

    def values(self, email: str) -> dict[str, Any]:
        person = Person.objects.get(emails__email=email)
        props = [self.age, self.member, self.devices]
        found = pv.values_of([person], props)
        return {p.key: found[(person.id, p.id)] for p in props if (person.id, p.id) in found}

    def test_it_creates_unknown_people_and_updates_known_ones_by_any_of_their_emails(self) -> None:
        r = self.bulk(
            [
                {"email": " Ben@Example.org", "first_name": "Ben", "properties": {"age": 41, "devices": ["Mac"]}},
                {"email": "ana.work@example.org", "properties": {"age": 31}},
                {"email": "cleo@example.org"},
            ]
        )
        self.assertEqual(
            self.results(r),
            [
                (0, "ben@example.org", "created", []),
                (1, "ana.work@example.org", "updated", []),
                (2, "cleo@example.org", "created", []),
            ],
        )
        ben = Person.objects.get(emails__email="ben@example.org")
        self.assertEqual((ben.first_name, ben.source), ("Ben", Source.API))
        self.assertEqual(self.values("ben@example.org"), {"age": 41, "devices": ["Mac"]})
        self.assertEqual(self.values("ana@example.org"), {"age": 31, "member_id": "M-1"})
        change = PropertyValueChange.objects.filter(person=self.ana).latest("id")
        self.assertEqual((change.old, change.new, change.source, change.changed_by), (30, 31, "api", self.rita))

    def test_an_item_that_changes_nothing_is_unchanged(self) -> None:
        r = self.bulk(
            [{"email": "ana@example.org", "first_name": "Ana", "properties": {"age": 30, "member_id": "M-1"}}]
        )
        self.assertEqual(self.results(r), [(0, "ana@example.org", "unchanged", [])])

    def test_it_writes_every_valid_item_and_refuses_each_bad_one_with_all_its_problems(self) -> None:
        r = self.bulk(
            [
                {"email": "not-an-email", "first_name": 7, "properties": {"age": "old", "colour": "red"}},
                {"email": "dan@example.org", "properties": {"age": 50}},
                "dan@example.org",
                {"email": "eve@example.org", "nickname": "E"},
                {"email": "fay@example.org", "properties": {"age": "young", "devices": ["Fax"]}},
            ]
        )
        results = self.results(r)
        self.assertEqual(
            [(i, status) for i, _, status, _ in results],
            [(0, "refused"), (1, "created"), (2, "refused"), (3, "refused"), (4, "refused")],
        )
        self.assertEqual(
            results[0][3],
            ["email: missing or not an email address.", "first_name: must be text of at most 150 characters."],
        )
        self.assertEqual(results[2][3], ["The item must be a JSON object."])
        self.assertEqual(results[3][3], ["nickname: there is no such field."])
        self.assertEqual(len(results[4][3]), 2)
        self.assertIn("properties.age:", results[4][3][0])
        self.assertIn("is not one of the options of Devices", results[4][3][1])
        self.assertEqual(self.values("dan@example.org"), {"age": 50})
        self.assertFalse(PersonEmail.objects.filter(email__in=["eve@example.org", "fay@example.org"]).exists())

    def test_an_unknown_property_is_one_of_the_items_problems(self) -> None:
        r = self.bulk([{"email": "gus@example.org", "properties": {"colour": "red", "age": 3}}])
        self.assertEqual(
            self.results(r), [(0, "gus@example.org", "refused", ["properties.colour: there is no such property."])]
        )
        self.assertFalse(Person.objects.filter(emails__email="gus@example.org").exists())

    def test_two_items_with_the_same_email_are_refused_together(self) -> None:
        r = self.bulk(
            [
                {"email": "hal@example.org", "properties": {"age": 1}},
                {"email": "ivy@example.org"},
                {"email": "HAL@example.org", "properties": {"age": 2}},
                {"email": "jo@example.org", "properties": {"age": 3}},
                {"email": "jo@example.org", "properties": {"age": "three"}},
            ]
        )
        results = self.results(r)
        self.assertEqual([x[2] for x in results], ["refused", "created", "refused", "refused", "refused"])
        self.assertEqual(results[0][3], ["Duplicate email: items 0 and 2 have it."])
        self.assertEqual(results[2][3], results[0][3])
        self.assertEqual(results[3][3], ["Duplicate email: items 3 and 4 have it."])
        self.assertEqual(len(results[4][3]), 2)
        self.assertFalse(PersonEmail.objects.filter(email__in=["hal@example.org", "jo@example.org"]).exists())

    def test_two_items_with_the_same_unique_value_are_refused_together(self) -> None:
        r = self.bulk(
            [
                {"email": "ivy@example.org"},
                {"email": "jo@example.org", "properties": {"member_id": "M-7", "age": 20}},
                {"email": "kim@example.org", "properties": {"member_id": "M-7"}},
                {"email": "lea@example.org", "properties": {"member_id": "M-1"}},
                {"email": "ana@example.org", "properties": {"member_id": "M-1", "age": 33}},
            ]
        )
        results = self.results(r)
        self.assertEqual([x[2] for x in results], ["created", "refused", "refused", "refused", "updated"])
        self.assertEqual(results[1][3], ["Member ID: items 1 and 2 give the same value."])
        self.assertEqual(results[2][3], results[1][3])
        self.assertEqual(results[3][3], ["Member ID: the value is already another person's."])
        self.assertFalse(PersonEmail.objects.filter(email__in=["jo@example.org", "kim@example.org"]).exists())
        self.assertEqual(self.values("ana@example.org")["age"], 33)

    def test_only_if_empty_fills_blanks_and_says_what_it_skipped(self) -> None:
        r = self.bulk(
            [
                {
                    "email": "ana@example.org",
                    "first_name": "Anna",
                    "last_name": "Lima",
                    "properties": {"age": 99, "devices": ["Mac"]},
                }
            ],
            policy="only_if_empty",
        )
        self.assertEqual(self.results(r), [(0, "ana@example.org", "updated", [])])
        self.assertEqual(
            r.json()["results"][0]["skipped"],
            [{"property": "age", "reason": "The person already has a value and the policy fills only empty ones."}],
        )
        self.assertEqual(self.values("ana@example.org"), {"age": 30, "member_id": "M-1", "devices": ["Mac"]})
        self.ana.refresh_from_db()
        self.assertEqual((self.ana.first_name, self.ana.last_name), ("Ana", "Lima"))

    def test_add_unions_multi_select_values(self) -> None:
        self.bulk([{"email": "ana@example.org", "properties": {"devices": ["Mac"]}}])
        r = self.bulk([{"email": "ana@example.org", "properties": {"devices": ["iPhone"]}}], policy="add")
        self.assertEqual(self.results(r), [(0, "ana@example.org", "updated", [])])
        self.assertEqual(self.values("ana@example.org")["devices"], ["iPhone", "Mac"])

    def test_overwrite_with_null_empties_a_value(self) -> None:
        r = self.bulk([{"email": "ana@example.org", "properties": {"age": None}}])
        self.assertEqual(self.results(r), [(0, "ana@example.org", "updated", [])])
        self.assertNotIn("age", self.values("ana@example.org"))

    def test_whoever_holds_a_retired_option_may_keep_it_and_nobody_else_may_take_it(self) -> None:
        self.bulk([{"email": "ana@example.org", "properties": {"devices": ["Android"]}}])
        update_option(self.devices.options.get(label="Android"), retired=True)
        r = self.bulk(
            [
                {"email": "ana@example.org", "properties": {"devices": ["Android", "Mac"]}},
                {"email": "max@example.org", "properties": {"devices": ["Android"]}},
            ]
        )
        results = self.results(r)
        self.assertEqual([x[2] for x in results], ["updated", "refused"])
        self.assertIn("retired option of Devices", results[1][3][0])

    def test_it_refuses_more_than_1000_items_and_a_bad_policy_and_writes_nothing(self) -> None:
        r = self.bulk([{"email": f"p{i}@example.org"} for i in range(1001)])
        self.assertEqual(r.status_code, 422)
        self.assertIn("1000", r.json()["message"])
        r = self.bulk([{"email": "p@example.org"}], policy="replace")
        self.assertEqual(r.status_code, 422)
        self.assertEqual(Person.objects.count(), 1)

    def test_it_requires_manage_people(self) -> None:
        r = self.bulk([{"email": "dev@example.org"}], user=self.dev)
        self.assertEqual(r.status_code, 403)
        self.assertFalse(Person.objects.filter(emails__email="dev@example.org").exists())
        r = self.client.post("/api/v1/people/bulk", {"items": []}, content_type="application/json")
        self.assertEqual(r.status_code, 401)

    def test_it_writes_1000_items_in_one_call(self) -> None:
        items = [{"email": f"p{i}@example.org", "properties": {"age": i, "member_id": f"U-{i}"}} for i in range(1000)]
        r = self.bulk(items)
        self.assertEqual({x[2] for x in self.results(r)}, {"created"})
        self.assertEqual(self.values("p999@example.org"), {"age": 999, "member_id": "U-999"})
