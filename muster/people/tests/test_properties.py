from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from muster.people import csvio
from muster.people import values as pv
from muster.people.models import ImportRejection, Person, Property, PropertyOption, PropertyValue, Source
from muster.people.properties import create_property
from muster.people.serialise import MASK, Viewer, rejection_row
from muster.people.tests.test_history import queued_import
from muster.test import BaseTestCase

TYPES = ("text", "number", "date", "boolean", "single_select", "multi_select")


class PropertiesPageTestCase(BaseTestCase):
    def create(self, **given: str) -> Any:
        data = {"label": "Thing", "key": "thing", "type": "text", "options": ""} | given
        return self.client.post("/settings/properties/", data)

    def test_it_creates_a_property_of_each_type(self) -> None:
        self.client.force_login(self.olga)
        for t in TYPES:
            options = "Red\nGreen\n" if t in ("single_select", "multi_select") else ""
            r = self.create(label=f"A {t}", key=f"a_{t}", type=t, options=options)
            self.assertRedirects(r, "/settings/properties/")
        self.assertEqual(list(Property.objects.values_list("key", "type")), [(f"a_{t}", t) for t in TYPES])
        for key in ("a_single_select", "a_multi_select"):
            labels = list(PropertyOption.objects.filter(property__key=key).values_list("label", "position"))
            self.assertEqual(labels, [("Red", 0), ("Green", 1)])
        r = self.client.get("/settings/properties/")
        self.assertContains(r, "Multi select")
        self.assertContains(r, "Yes / no")

    def test_an_empty_key_is_made_from_the_label(self) -> None:
        self.client.force_login(self.olga)
        self.assertRedirects(self.create(label="Signed up (date)", key=""), "/settings/properties/")
        self.assertTrue(Property.objects.filter(key="signed_up_date", label="Signed up (date)").exists())
        self.assertRedirects(self.create(label="Pays €", key=""), "/settings/properties/")
        self.assertTrue(Property.objects.filter(key="pays").exists())

    def test_a_bad_key_gets_a_plain_answer_not_jargon(self) -> None:
        self.client.force_login(self.olga)
        r = self.create(key="Signed up!")
        self.assertContains(r, "“Signed up!” cannot be a key: use up to 64 lowercase letters, digits, _ or -")
        self.assertNotContains(r, "slug")
        r = self.create(label="???", key="")
        self.assertContains(r, "its label has no letters or digits to make one from")
        self.assertFalse(Property.objects.exists())

    def test_a_select_property_needs_an_option_on_the_page_and_in_the_api(self) -> None:
        self.client.force_login(self.olga)
        r = self.create(type="single_select", options="  \n")
        self.assertContains(r, "A select property needs at least one option")
        reply = self.api(self.olga, "post", "/properties", {"key": "colour", "label": "Colour", "type": "multi_select"})
        self.assertEqual(reply.status_code, 409, reply.content)
        self.assertIn("at least one option", reply.json()["message"])
        self.assertFalse(Property.objects.exists())

    def test_an_admin_may_create_a_property(self) -> None:
        self.client.force_login(self.alice)
        self.assertRedirects(self.create(), "/settings/properties/")
        self.assertTrue(Property.objects.filter(key="thing").exists())

    def test_an_observer_and_a_researcher_may_not_create_a_property(self) -> None:
        for user in (self.oscar, self.rita, self.dev):
            self.client.force_login(user)
            self.assertEqual(self.client.get("/settings/properties/").status_code, 403)
            self.assertEqual(self.create().status_code, 403)
        self.assertFalse(Property.objects.exists())

    def test_an_observer_may_not_edit_a_property_or_its_options(self) -> None:
        prop = create_property("colour", "Colour", "single_select", options=["Red"])
        red = prop.options.get()
        self.client.force_login(self.oscar)
        data = {"label": "Hacked", "position": "0"}
        self.assertEqual(self.client.post(f"/settings/properties/{prop.code}/", data).status_code, 403)
        r = self.client.post(f"/settings/properties/{prop.code}/options/", {"label": "Blue"})
        self.assertEqual(r.status_code, 403)
        r = self.client.post(f"/settings/properties/{prop.code}/options/{red.code}/", {"action": "retire"})
        self.assertEqual(r.status_code, 403)
        prop.refresh_from_db()
        red.refresh_from_db()
        self.assertEqual((prop.label, prop.options.count(), red.retired), ("Colour", 1, False))

    def test_it_refuses_a_duplicate_key(self) -> None:
        create_property("thing", "Thing", "number")
        self.client.force_login(self.olga)
        r = self.create(type="text")
        self.assertContains(r, "A property with the key “thing” already exists.")
        self.assertEqual(Property.objects.get().type, "number")

    def test_it_refuses_options_for_a_type_without_options(self) -> None:
        self.client.force_login(self.olga)
        r = self.create(type="number", options="One\nTwo")
        self.assertContains(r, "Only select properties have options.")
        self.assertFalse(Property.objects.exists())

    def test_the_type_cannot_be_changed_from_the_edit_form(self) -> None:
        prop = create_property("age", "Age", "number")
        self.client.force_login(self.olga)
        r = self.client.get(f"/settings/properties/{prop.code}/")
        self.assertContains(r, "Number (fixed)")
        self.assertNotContains(r, 'name="type"')
        data = {"label": "Age in years", "type": "text", "position": "0"}
        r = self.client.post(f"/settings/properties/{prop.code}/", data)
        self.assertRedirects(r, f"/settings/properties/{prop.code}/")
        prop.refresh_from_db()
        self.assertEqual((prop.label, prop.type), ("Age in years", "number"))

    def test_unique_is_only_allowed_for_text(self) -> None:
        self.client.force_login(self.olga)
        for t in TYPES[1:]:
            options = "Red" if t in ("single_select", "multi_select") else ""
            r = self.create(key=f"k_{t}", type=t, unique="on", options=options)
            self.assertContains(r, "Only text properties can be unique.")
        self.assertFalse(Property.objects.exists())
        self.assertRedirects(self.create(key="phone", type="text", unique="on"), "/settings/properties/")
        self.assertTrue(Property.objects.get(key="phone").unique)

    def test_the_edit_form_refuses_to_make_a_number_unique(self) -> None:
        prop = create_property("age", "Age", "number")
        self.client.force_login(self.olga)
        r = self.client.post(f"/settings/properties/{prop.code}/", {"label": "Age", "unique": "on", "position": "0"})
        self.assertContains(r, "Only text properties can be unique.")
        prop.refresh_from_db()
        self.assertFalse(prop.unique)

    def test_the_edit_form_refuses_to_make_a_shared_text_unique(self) -> None:
        prop = create_property("team", "Team", "text")
        for address in ("a@example.org", "b@example.org"):
            person = pv.create_person(address, source=Source.MANUAL)
            pv.set_values(person, {prop: "Blue"}, source=Source.MANUAL)
        self.client.force_login(self.olga)
        r = self.client.post(f"/settings/properties/{prop.code}/", {"label": "Team", "unique": "on", "position": "0"})
        self.assertContains(r, "Some people share a value of Team: it cannot be unique yet.")
        prop.refresh_from_db()
        self.assertFalse(prop.unique)
        self.assertFalse(PropertyValue.objects.filter(is_unique=True).exists())

    def test_making_a_text_unique_later_enforces_it_from_then_on(self) -> None:
        prop = create_property("handle", "Handle", "text")
        ana = pv.create_person("ana@example.org", source=Source.MANUAL)
        ben = pv.create_person("ben@example.org", source=Source.MANUAL)
        pv.set_values(ana, {prop: "@ana"}, source=Source.MANUAL)
        self.client.force_login(self.olga)
        data = {"label": "Handle", "unique": "on", "position": "0"}
        self.assertRedirects(
            self.client.post(f"/settings/properties/{prop.code}/", data), f"/settings/properties/{prop.code}/"
        )
        self.assertTrue(PropertyValue.objects.get(person=ana).is_unique)
        prop.refresh_from_db()
        with self.assertRaisesRegex(pv.InvalidValue, "is already the Handle of another person"):
            pv.set_values(ben, {prop: "@ana"}, source=Source.MANUAL)

    def test_the_pii_flag_is_set_shown_and_can_be_changed(self) -> None:
        self.client.force_login(self.olga)
        self.create(label="Phone", key="phone", pii="on")
        prop = Property.objects.get(key="phone")
        self.assertTrue(prop.pii)
        self.assertContains(self.client.get("/settings/properties/"), '<span class="badge warn">PII</span>', html=True)
        self.client.post(f"/settings/properties/{prop.code}/", {"label": "Phone", "position": "0"})
        prop.refresh_from_db()
        self.assertFalse(prop.pii)

    def test_the_pii_flag_masks_values_for_an_observer(self) -> None:
        prop = create_property("phone", "Phone", "text")
        person = pv.create_person("ana@example.org", source=Source.MANUAL)
        pv.set_values(person, {prop: "+44 7000"}, source=Source.MANUAL)
        self.client.force_login(self.oscar)
        self.assertContains(self.client.get(f"/people/{person.code}/?tab=properties"), "+44 7000")
        self.client.force_login(self.olga)
        self.client.post(f"/settings/properties/{prop.code}/", {"label": "Phone", "pii": "on", "position": "0"})
        self.client.force_login(self.oscar)
        self.assertNotContains(self.client.get(f"/people/{person.code}/?tab=properties"), "+44 7000")


class UniqueValuesTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.phone = create_property("phone", "Phone", "text", unique=True)
        self.ana = pv.create_person("ana@example.org", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", source=Source.MANUAL)
        pv.set_values(self.ana, {self.phone: "+44 1"}, source=Source.MANUAL)

    def test_the_page_refuses_a_second_person_with_the_same_unique_value(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.post(f"/people/{self.ben.code}/values/{self.phone.code}/", {"value": " +44 1 "}, follow=True)
        self.assertContains(r, "is already the Phone of another person.")
        self.assertFalse(PropertyValue.objects.filter(person=self.ben).exists())

    def test_the_api_refuses_a_second_person_with_the_same_unique_value(self) -> None:
        r = self.api(self.rita, "put", f"/people/{self.ben.code}/properties", {"properties": {"phone": "+44 1"}})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "This value is already the Phone of another person.")
        self.assertFalse(PropertyValue.objects.filter(person=self.ben).exists())

    def test_the_api_refuses_a_new_person_with_a_taken_unique_value_and_creates_nobody(self) -> None:
        body = {"email": "cleo@example.org", "properties": {"phone": "+44 1"}}
        r = self.api(self.rita, "post", "/people", body)
        self.assertEqual(r.status_code, 409)
        self.assertIn("already the Phone of another person", r.json()["message"])
        self.assertEqual(Person.objects.count(), 2)

    def test_a_person_may_keep_their_own_unique_value(self) -> None:
        changes = pv.set_values(self.ana, {self.phone: "+44 1"}, source=Source.MANUAL)
        self.assertEqual(changes, [])
        r = self.api(self.rita, "put", f"/people/{self.ana.code}/properties", {"properties": {"phone": "+44 1"}})
        self.assertEqual(r.status_code, 200)

    def test_the_database_refuses_a_duplicate_unique_value(self) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic():
            PropertyValue.objects.create(person=self.ben, property=self.phone, value_text="+44 1", is_unique=True)

    def test_the_database_refuses_a_unique_property_that_is_not_text(self) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic():
            Property.objects.create(key="age", label="Age", type="number", unique=True)

    def test_a_value_freed_by_its_owner_may_be_taken(self) -> None:
        pv.set_values(self.ana, {self.phone: None}, source=Source.MANUAL)
        pv.set_values(self.ben, {self.phone: "+44 1"}, source=Source.MANUAL)
        self.assertEqual(PropertyValue.objects.get(property=self.phone).person, self.ben)


class PropertiesApiTestCase(BaseTestCase):
    def test_it_creates_a_property_of_each_type(self) -> None:
        for t in TYPES:
            options = ["Red", "Green"] if t in ("single_select", "multi_select") else []
            body = {"key": f"a_{t}", "label": f"A {t}", "type": t, "options": options}
            r = self.api(self.olga, "post", "/properties", body)
            self.assertEqual(r.status_code, 201, r.content)
            self.assertEqual(r.json()["type"], t)
            self.assertEqual([o["label"] for o in r.json()["options"]], options)
        self.assertEqual(sorted(Property.objects.values_list("type", flat=True)), sorted(TYPES))
        r = self.api(self.dev, "get", "/properties")
        self.assertEqual([p["key"] for p in r.json()], [f"a_{t}" for t in TYPES])

    def test_it_requires_the_manage_properties_capability(self) -> None:
        for user in (self.rita, self.dev):
            r = self.api(user, "post", "/properties", {"key": "age", "label": "Age", "type": "number"})
            self.assertEqual(r.status_code, 403)
            self.assertIn("manage property definitions", r.json()["message"])
        self.assertFalse(Property.objects.exists())

    def test_an_observer_has_no_api_access(self) -> None:
        r = self.api(self.oscar, "post", "/properties", {"key": "age", "label": "Age", "type": "number"})
        self.assertEqual(r.status_code, 401)
        self.assertFalse(Property.objects.exists())

    def test_it_refuses_an_unknown_type(self) -> None:
        r = self.api(self.olga, "post", "/properties", {"key": "age", "label": "Age", "type": "integer"})
        self.assertEqual(r.status_code, 422)
        self.assertTrue(r.json()["message"].startswith("body.type: Input should be 'text'"))
        self.assertFalse(Property.objects.exists())

    def test_the_type_cannot_be_changed(self) -> None:
        prop = create_property("age", "Age", "number")
        r = self.api(self.olga, "patch", f"/properties/{prop.code}", {"type": "text"})
        self.assertEqual(r.status_code, 422)
        self.assertIn("type", r.json()["message"])
        prop.refresh_from_db()
        self.assertEqual(prop.type, "number")

    def test_it_changes_label_pii_and_position(self) -> None:
        prop = create_property("age", "Age", "number")
        r = self.api(
            self.olga, "patch", f"/properties/{prop.code}", {"label": "Age (years)", "pii": True, "position": 5}
        )
        self.assertEqual(r.status_code, 200)
        self.assertEqual((r.json()["label"], r.json()["pii"], r.json()["position"]), ("Age (years)", True, 5))
        prop.refresh_from_db()
        self.assertEqual((prop.label, prop.pii, prop.position, prop.type), ("Age (years)", True, 5, "number"))

    def test_unique_is_only_allowed_for_text(self) -> None:
        r = self.api(self.olga, "post", "/properties", {"key": "age", "label": "Age", "type": "number", "unique": True})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Only text properties can be unique.")
        self.assertFalse(Property.objects.exists())
        prop = create_property("age", "Age", "number")
        r = self.api(self.olga, "patch", f"/properties/{prop.code}", {"unique": True})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Only text properties can be unique.")
        r = self.api(
            self.olga, "post", "/properties", {"key": "email2", "label": "Email 2", "type": "text", "unique": True}
        )
        self.assertEqual(r.status_code, 201)
        self.assertTrue(r.json()["unique"])

    def test_it_refuses_a_blank_label(self) -> None:
        r = self.api(self.olga, "post", "/properties", {"key": "age", "label": "  ", "type": "number"})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Give the property a label.")
        self.assertFalse(Property.objects.exists())
        prop = create_property("age", "Age", "number")
        r = self.api(self.olga, "patch", f"/properties/{prop.code}", {"label": " "})
        self.assertEqual(r.status_code, 409)
        prop.refresh_from_db()
        self.assertEqual(prop.label, "Age")

    def test_it_creates_a_pii_property(self) -> None:
        r = self.api(self.olga, "post", "/properties", {"key": "phone", "label": "Phone", "type": "text", "pii": True})
        self.assertEqual(r.status_code, 201)
        self.assertTrue(Property.objects.get(key="phone").pii)

    def test_it_refuses_a_duplicate_key(self) -> None:
        create_property("age", "Age", "number")
        r = self.api(self.olga, "post", "/properties", {"key": "age", "label": "Age", "type": "text"})
        self.assertEqual(r.status_code, 409)
        self.assertIn("already exists", r.json()["message"])
        self.assertEqual(Property.objects.get().type, "number")


class OptionsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.country = create_property("country", "Country", "single_select", options=["UK", "France", "Japan"])
        self.devices = create_property("devices", "Devices", "multi_select", options=["iPhone", "Android", "Mac"])
        self.ana = pv.create_person("ana@example.org", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", source=Source.MANUAL)

    def option(self, prop: Property, label: str) -> PropertyOption:
        return prop.options.get(label=label)

    def labels(self, prop: Property) -> list[str]:
        return list(prop.options.order_by("position", "id").values_list("label", flat=True))

    def test_the_page_adds_an_option_at_the_end(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post(f"/settings/properties/{self.country.code}/options/", {"label": " Peru "})
        self.assertRedirects(r, f"/settings/properties/{self.country.code}/")
        self.assertEqual(self.labels(self.country), ["UK", "France", "Japan", "Peru"])
        self.assertEqual(self.option(self.country, "Peru").position, 3)

    def test_the_page_refuses_a_duplicate_or_empty_option(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post(f"/settings/properties/{self.country.code}/options/", {"label": "uk"}, follow=True)
        self.assertContains(r, "Country already has the option “uk”.")
        r = self.client.post(f"/settings/properties/{self.country.code}/options/", {"label": "  "}, follow=True)
        self.assertContains(r, "Give the option a label.")
        self.assertEqual(self.labels(self.country), ["UK", "France", "Japan"])

    def test_the_page_renames_an_option_and_values_follow(self) -> None:
        uk = self.option(self.country, "UK")
        pv.set_values(self.ana, {self.country: uk}, source=Source.MANUAL)
        self.client.force_login(self.olga)
        url = f"/settings/properties/{self.country.code}/options/{uk.code}/"
        self.client.post(url, {"action": "rename", "label": "United Kingdom"})
        self.assertEqual(self.labels(self.country), ["United Kingdom", "France", "Japan"])
        self.assertEqual(pv.values_of([self.ana], [self.country]), {(self.ana.id, self.country.id): "United Kingdom"})

    def test_the_page_refuses_to_rename_an_option_to_a_sibling_label(self) -> None:
        uk = self.option(self.country, "UK")
        self.client.force_login(self.olga)
        url = f"/settings/properties/{self.country.code}/options/{uk.code}/"
        r = self.client.post(url, {"action": "rename", "label": "FRANCE"}, follow=True)
        self.assertContains(r, "Country already has the option “FRANCE”.")
        self.assertEqual(self.labels(self.country), ["UK", "France", "Japan"])

    def test_the_page_reorders_options(self) -> None:
        self.client.force_login(self.olga)
        japan = self.option(self.country, "Japan")
        self.client.post(f"/settings/properties/{self.country.code}/options/{japan.code}/", {"action": "up"})
        self.assertEqual(self.labels(self.country), ["UK", "Japan", "France"])
        uk = self.option(self.country, "UK")
        self.client.post(f"/settings/properties/{self.country.code}/options/{uk.code}/", {"action": "down"})
        self.assertEqual(self.labels(self.country), ["Japan", "UK", "France"])
        positions = sorted(self.country.options.values_list("position", flat=True))
        self.assertEqual(positions, [0, 1, 2])
        # The first stays first and the last stays last.
        japan.refresh_from_db()
        self.client.post(f"/settings/properties/{self.country.code}/options/{japan.code}/", {"action": "up"})
        france = self.option(self.country, "France")
        self.client.post(f"/settings/properties/{self.country.code}/options/{france.code}/", {"action": "down"})
        self.assertEqual(self.labels(self.country), ["Japan", "UK", "France"])

    def test_the_page_retires_and_restores_an_option(self) -> None:
        uk = self.option(self.country, "UK")
        self.client.force_login(self.olga)
        url = f"/settings/properties/{self.country.code}/options/{uk.code}/"
        self.client.post(url, {"action": "retire"})
        uk.refresh_from_db()
        self.assertTrue(uk.retired)
        r = self.client.get(f"/settings/properties/{self.country.code}/")
        self.assertContains(r, '<span class="badge">retired</span>', html=True)
        self.client.post(url, {"action": "restore"})
        uk.refresh_from_db()
        self.assertFalse(uk.retired)

    def test_a_retired_option_keeps_existing_values(self) -> None:
        uk = self.option(self.country, "UK")
        pv.set_values(self.ana, {self.country: uk}, source=Source.MANUAL)
        self.client.force_login(self.olga)
        self.client.post(f"/settings/properties/{self.country.code}/options/{uk.code}/", {"action": "retire"})
        self.assertEqual(PropertyValue.objects.get(person=self.ana).value_option, uk)
        r = self.client.get(f"/people/{self.ana.code}/?tab=properties")
        self.assertContains(r, "UK")
        r = self.api(self.olga, "get", f"/people/{self.ana.code}")
        self.assertEqual(r.json()["properties"], {"country": "UK"})

    def test_a_retired_option_is_refused_for_a_new_value_on_the_page(self) -> None:
        uk = self.option(self.country, "UK")
        uk.retired = True
        uk.save()
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.ben.code}/?tab=properties&edit={self.country.code}")
        self.assertNotContains(r, f'value="{uk.code}"')
        r = self.client.post(
            f"/people/{self.ben.code}/values/{self.country.code}/", {"value": str(uk.code)}, follow=True
        )
        self.assertContains(r, "“UK” is a retired option of Country.")
        self.assertFalse(PropertyValue.objects.filter(person=self.ben).exists())

    def test_a_retired_option_is_refused_for_a_new_value_through_the_api(self) -> None:
        mac = self.option(self.devices, "Mac")
        mac.retired = True
        mac.save()
        body = {"properties": {"devices": ["iPhone", "Mac"]}}
        r = self.api(self.rita, "put", f"/people/{self.ben.code}/properties", body)
        self.assertEqual(r.status_code, 422)
        self.assertEqual(r.json()["message"], "properties.devices: “iPhone, Mac” includes a retired option of Devices.")
        r = self.api(self.rita, "put", f"/people/{self.ben.code}/properties", {"properties": {"devices": "mac"}})
        self.assertEqual(r.json()["message"], "properties.devices: “mac” includes a retired option of Devices.")
        self.assertFalse(PropertyValue.objects.filter(person=self.ben).exists())

    def test_a_person_keeps_a_retired_option_when_saving_the_page_unchanged(self) -> None:
        uk = self.option(self.country, "UK")
        pv.set_values(self.ana, {self.country: uk}, source=Source.MANUAL)
        uk.retired = True
        uk.save()
        self.client.force_login(self.rita)
        # The edit form still offers the person's own retired option, selected.
        r = self.client.get(f"/people/{self.ana.code}/?tab=properties&edit={self.country.code}")
        self.assertContains(r, f'value="{uk.code}" selected')
        r = self.client.post(
            f"/people/{self.ana.code}/values/{self.country.code}/", {"value": str(uk.code)}, follow=True
        )
        self.assertContains(r, "Country is unchanged.")
        self.assertEqual(PropertyValue.objects.get(person=self.ana).value_option, uk)

    def test_a_person_keeps_a_retired_option_when_adding_another_to_a_multi_select(self) -> None:
        iphone, mac = self.option(self.devices, "iPhone"), self.option(self.devices, "Mac")
        pv.set_values(self.ana, {self.devices: [mac]}, source=Source.MANUAL)
        mac.retired = True
        mac.save()
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.ana.code}/?tab=properties&edit={self.devices.code}")
        self.assertContains(r, f'value="{mac.code}" checked')
        url = f"/people/{self.ana.code}/values/{self.devices.code}/"
        r = self.client.post(url, {"value": [str(iphone.code), str(mac.code)]}, follow=True)
        self.assertContains(r, "Devices saved.")
        self.assertEqual(pv.values_of([self.ana], [self.devices]), {(self.ana.id, self.devices.id): ["iPhone", "Mac"]})
        # Through the API too, and a retired option the person does not hold is still refused.
        r = self.api(self.rita, "put", f"/people/{self.ana.code}/properties", {"properties": {"devices": ["Mac"]}})
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["properties"]["devices"], ["Mac"])
        r = self.api(self.rita, "put", f"/people/{self.ben.code}/properties", {"properties": {"devices": ["Mac"]}})
        self.assertEqual(r.status_code, 422)

    def test_a_csv_import_refuses_a_retired_option_without_naming_it(self) -> None:
        diagnosis = create_property("diagnosis", "Diagnosis", "single_select", pii=True, options=["Flu", "Rare thing"])
        PropertyOption.objects.filter(label="Rare thing").update(retired=True)
        text = "email,diagnosis\ncleo@example.org,Rare thing\ndan@example.org,Flu\n"
        imp = queued_import(self.rita, text, {"diagnosis": str(diagnosis.code)})
        csvio.import_people.call(str(imp.code))
        rejection = ImportRejection.objects.get()
        # The reason is shown unmasked to everyone who sees the report: it must not carry the value.
        self.assertEqual(rejection.reason, "diagnosis: the value is a retired option of Diagnosis.")
        self.assertEqual(rejection_row(Viewer(pii=False), rejection)["value"], MASK)
        flu = diagnosis.options.get(label="Flu")
        self.assertEqual(PropertyValue.objects.get(property=diagnosis).value_option, flu)

    def test_the_api_adds_renames_reorders_and_retires_options(self) -> None:
        r = self.api(self.olga, "post", f"/properties/{self.country.code}/options", {"label": "Peru"})
        self.assertEqual(r.status_code, 201)
        self.assertEqual((r.json()["label"], r.json()["position"], r.json()["retired"]), ("Peru", 3, False))
        peru = self.option(self.country, "Peru")
        url = f"/properties/{self.country.code}/options/{peru.code}"
        r = self.api(self.olga, "patch", url, {"label": "Perú", "position": 0})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.labels(self.country), ["Perú", "UK", "France", "Japan"])
        self.assertEqual(sorted(self.country.options.values_list("position", flat=True)), [0, 1, 2, 3])
        r = self.api(self.olga, "patch", url, {"retired": True})
        self.assertEqual(r.json()["retired"], True)
        r = self.api(self.olga, "get", "/properties")
        options = r.json()[0]["options"]
        self.assertEqual((options[0]["label"], options[0]["retired"]), ("Perú", True))

    def test_the_api_refuses_a_duplicate_option_and_options_on_other_types(self) -> None:
        r = self.api(self.olga, "post", f"/properties/{self.country.code}/options", {"label": "france"})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Country already has the option “france”.")
        age = create_property("age", "Age", "number")
        r = self.api(self.olga, "post", f"/properties/{age.code}/options", {"label": "Old"})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Only select properties have options.")
        self.assertEqual(PropertyOption.objects.count(), 6)

    def test_the_api_refuses_a_blank_option_label(self) -> None:
        r = self.api(self.olga, "post", f"/properties/{self.country.code}/options", {"label": "   "})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Give the option a label.")
        uk = self.option(self.country, "UK")
        r = self.api(self.olga, "patch", f"/properties/{self.country.code}/options/{uk.code}", {"label": "  "})
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "Give the option a label.")
        self.assertEqual(self.labels(self.country), ["UK", "France", "Japan"])

    def test_the_api_requires_the_manage_properties_capability_for_options(self) -> None:
        uk = self.option(self.country, "UK")
        r = self.api(self.rita, "post", f"/properties/{self.country.code}/options", {"label": "Peru"})
        self.assertEqual(r.status_code, 403)
        r = self.api(self.rita, "patch", f"/properties/{self.country.code}/options/{uk.code}", {"retired": True})
        self.assertEqual(r.status_code, 403)
        uk.refresh_from_db()
        self.assertFalse(uk.retired)
        self.assertEqual(self.labels(self.country), ["UK", "France", "Japan"])
