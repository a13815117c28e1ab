from __future__ import annotations

from muster.accounts.models import ApiToken
from muster.people import csvio
from muster.people import values as pv
from muster.people.models import ImportStatus, PersonImport, PropertyValue, PropertyValueChange, Source
from muster.people.properties import create_property
from muster.test import BaseTestCase


class HistoryTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.devices = create_property("devices", "Devices", "multi_select", options=["iPhone", "Mac"])
        self.person = pv.create_person("pat@example.org", first_name="Pat", source=Source.MANUAL)

    def test_a_manual_edit_records_old_new_who_and_source(self) -> None:
        self.client.force_login(self.rita)
        self.client.post(f"/people/{self.person.code}/values/{self.age.code}/", {"value": "30"})
        self.client.post(f"/people/{self.person.code}/values/{self.age.code}/", {"value": "31"})
        in_order = PropertyValueChange.objects.order_by("id")
        changes = list(in_order.values_list("old", "new", "revision__source", "revision__changed_by"))
        self.assertEqual(changes, [(None, 30, "manual", self.rita.id), (30, 31, "manual", self.rita.id)])
        r = self.client.get(f"/people/{self.person.code}/?tab=properties")
        self.assertContains(r, "2 changes")
        self.assertContains(r, "Rita Researcher")

    def test_emptying_a_value_is_history_too(self) -> None:
        pv.set_values(self.person, {self.age: 30.0}, source=Source.MANUAL)
        pv.set_values(self.person, {self.age: None}, source=Source.MANUAL)
        self.assertFalse(PropertyValue.objects.exists())
        self.assertEqual(PropertyValueChange.objects.latest("id").new, None)

    def test_an_unchanged_value_records_nothing(self) -> None:
        pv.set_values(self.person, {self.age: 30.0}, source=Source.MANUAL)
        pv.set_values(self.person, {self.age: 30.0}, source=Source.MANUAL)
        self.assertEqual(PropertyValueChange.objects.count(), 1)

    def test_an_api_write_records_its_source(self) -> None:
        _, raw = ApiToken.issue(self.olga, "t")
        r = self.client.put(
            f"/api/v1/people/{self.person.code}/properties",
            {"properties": {"devices": ["Mac", "iPhone"]}},
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["properties"]["devices"], ["iPhone", "Mac"])
        change = PropertyValueChange.objects.get()
        self.assertEqual((change.source, change.changed_by, change.new), ("api", self.olga, ["iPhone", "Mac"]))
        r = self.client.get(f"/api/v1/people/{self.person.code}/history", headers={"Authorization": f"Bearer {raw}"})
        self.assertEqual(r.json()[0]["changed_by"], "olga@example.org")

    def test_a_csv_import_records_its_source_and_import_code(self) -> None:
        pv.set_values(self.person, {self.age: 30.0}, source=Source.MANUAL)
        imp = queued_import(
            self.rita, "email,age\npat@example.org,44\nnew@example.org,20\n", {"age": str(self.age.code)}
        )
        csvio.import_people.call(str(imp.code))
        changes = PropertyValueChange.objects.filter(revision__source="csv").order_by("new")
        self.assertEqual(
            [(c.old, c.new, c.source_code) for c in changes], [(None, 20, str(imp.code)), (30, 44, str(imp.code))]
        )
        self.assertEqual(changes[0].changed_by, self.rita)


def queued_import(user, text: str | bytes, mapping: dict[str, str]) -> PersonImport:
    data = text.encode() if isinstance(text, str) else text
    imp = PersonImport(created_by=user, filename="people.csv", size=len(data))
    path = csvio.import_dir() / f"{imp.code}.csv"
    path.write_bytes(data)
    imp.path = str(path)
    imp.columns = csvio.read_header(path)
    imp.mapping = {c: mapping.get(c, "email" if c == "email" else "") for c in imp.columns}
    imp.status = ImportStatus.QUEUED
    imp.save()
    return imp
