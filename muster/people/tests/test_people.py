from __future__ import annotations

from django.db import IntegrityError, transaction

from muster.people import values as pv
from muster.people.models import MembershipStatus, Panel, PanelMembership, Person, PersonEmail, Source
from muster.people.properties import create_property
from muster.people.serialise import MASK
from muster.test import BaseTestCase


def emails_of(person: Person) -> list[tuple[str, bool]]:
    return list(
        PersonEmail.objects.filter(person=person).order_by("-is_primary", "email").values_list("email", "is_primary")
    )


class PersonPagesTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        # Ana has a secondary email: it is as taken as her primary one.
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        pv.set_emails(self.ana, "ana@example.org", ["ana.work@example.org"])

    def test_it_creates_a_person_with_normalised_emails(self) -> None:
        self.client.force_login(self.rita)
        data = {
            "email": "  Pat@Example.ORG ",
            "other_emails": " Pat.Home@EXAMPLE.org \n\n",
            "first_name": " Pat ",
            "last_name": "Lee",
        }
        r = self.client.post("/people/new/", data)
        pat = Person.objects.get(first_name="Pat")
        self.assertRedirects(r, f"/people/{pat.code}/?tab=properties")
        self.assertEqual((pat.last_name, pat.source, pat.opted_out), ("Lee", "manual", False))
        self.assertEqual(emails_of(pat), [("pat@example.org", True), ("pat.home@example.org", False)])

    def test_it_refuses_an_email_that_is_another_persons_secondary_email(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.post("/people/new/", {"email": " ANA.Work@example.org", "other_emails": ""})
        self.assertContains(r, "This email already belongs to another person.")
        self.assertEqual(Person.objects.count(), 1)

    def test_it_refuses_a_secondary_email_that_belongs_to_someone_else_and_creates_nobody(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.post("/people/new/", {"email": "pat@example.org", "other_emails": "Ana@Example.org"})
        self.assertContains(r, "This email already belongs to another person.")
        self.assertEqual(Person.objects.count(), 1)
        self.assertFalse(PersonEmail.objects.filter(email="pat@example.org").exists())

    def test_it_refuses_another_email_that_is_not_an_email(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.post("/people/new/", {"email": "pat@example.org", "other_emails": "pat at home"})
        self.assertContains(r, "Enter a valid email address.")
        self.assertEqual(Person.objects.count(), 1)

    def test_it_edits_a_person(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.ana.code}/edit/")
        self.assertContains(r, 'value="ana@example.org"')
        self.assertContains(r, "ana.work@example.org</textarea>")
        data = {
            "email": "ANA@new.example.org ",
            "other_emails": "ana@example.org",
            "first_name": "Anna",
            "last_name": "Bo",
        }
        r = self.client.post(f"/people/{self.ana.code}/edit/", data)
        self.assertRedirects(r, f"/people/{self.ana.code}/")
        self.ana.refresh_from_db()
        self.assertEqual((self.ana.first_name, self.ana.last_name), ("Anna", "Bo"))
        # The old work email is given up, and free for someone else.
        self.assertEqual(emails_of(self.ana), [("ana@new.example.org", True), ("ana@example.org", False)])
        pv.create_person("ana.work@example.org", source=Source.MANUAL)

    def test_editing_refuses_an_email_of_someone_else_and_changes_nothing(self) -> None:
        pv.create_person("ben@example.org", first_name="Ben", source=Source.MANUAL)
        self.client.force_login(self.rita)
        data = {"email": "ana@example.org", "other_emails": "BEN@example.org", "first_name": "Changed", "last_name": ""}
        r = self.client.post(f"/people/{self.ana.code}/edit/", data)
        self.assertContains(r, "This email already belongs to another person.")
        self.ana.refresh_from_db()
        self.assertEqual(self.ana.first_name, "Ana")
        self.assertEqual(emails_of(self.ana), [("ana@example.org", True), ("ana.work@example.org", False)])

    def test_roles_without_manage_people_may_not_create_edit_or_opt_out(self) -> None:
        for user in (self.dev, self.oscar):
            self.client.force_login(user)
            self.assertEqual(self.client.get("/people/new/").status_code, 403)
            self.assertEqual(self.client.post("/people/new/", {"email": "pat@example.org"}).status_code, 403)
            data = {"email": "x@example.org", "first_name": "X"}
            self.assertEqual(self.client.post(f"/people/{self.ana.code}/edit/", data).status_code, 403)
            self.assertEqual(self.client.post(f"/people/{self.ana.code}/opt-out/").status_code, 403)
        self.ana.refresh_from_db()
        self.assertEqual((self.ana.first_name, self.ana.opted_out, Person.objects.count()), ("Ana", False, 1))

    def test_it_opts_a_person_out_once(self) -> None:
        self.client.force_login(self.rita)
        self.assertEqual(self.client.get(f"/people/{self.ana.code}/opt-out/").status_code, 405)
        r = self.client.post(f"/people/{self.ana.code}/opt-out/", follow=True)
        self.assertContains(r, "Opted out: this person will not be invited or reminded.")
        self.assertContains(r, '<span class="badge warn">opted out</span>', html=True)
        self.assertContains(r, "not invited or reminded.")
        self.assertNotContains(r, ">Opt out</button>")
        self.ana.refresh_from_db()
        first = self.ana.opted_out_at
        self.assertTrue(self.ana.opted_out)
        self.assertIsNotNone(first)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        self.ana.refresh_from_db()
        self.assertEqual(self.ana.opted_out_at, first)

    def test_opting_out_leaves_the_person_editable_listed_and_addable(self) -> None:
        # Opt-out blocks invitations (muster.studies' tests) and nothing else.
        age = create_property("age", "Age", "number")
        panel = Panel.objects.create(name="Mobile")
        self.client.force_login(self.olga)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        # Still editable, still in lists and filters, still addable to panels.
        r = self.client.post(f"/people/{self.ana.code}/values/{age.code}/", {"value": "30"}, follow=True)
        self.assertContains(r, "Age saved.")
        self.assertContains(self.client.get("/people/?name=Ana"), f"/people/{self.ana.code}/")
        self.client.post(
            "/people/bulk/", {"scope": "selected", "person": str(self.ana.code), "target": f"panel:{panel.code}"}
        )
        self.assertTrue(PanelMembership.objects.filter(panel=panel, person=self.ana).exists())

    def test_it_opts_a_person_back_in(self) -> None:
        self.client.force_login(self.rita)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        r = self.client.post(f"/people/{self.ana.code}/opt-in/", follow=True)
        self.assertContains(r, "Say why they may be contacted again")
        self.ana.refresh_from_db()
        self.assertTrue(self.ana.opted_out)
        r = self.client.post(f"/people/{self.ana.code}/opt-in/", {"reason": "She asked to join again"}, follow=True)
        self.assertContains(r, "Opted back in: this person may be invited and reminded again.")
        self.assertContains(r, "May be contacted.")
        self.assertContains(r, "Opted back in")
        self.assertContains(r, "by Rita Researcher: She asked to join again")
        self.assertContains(r, '<summary class="button">Opt out…</summary>')
        self.ana.refresh_from_db()
        self.assertEqual((self.ana.opted_out, self.ana.opted_out_at), (False, None))
        record = list(self.ana.contact_changes.values_list("opted_out", "by", "reason"))
        self.assertEqual(record, [(False, self.rita.id, "She asked to join again"), (True, self.rita.id, "")])
        self.client.force_login(self.dev)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        self.assertEqual(self.client.post(f"/people/{self.ana.code}/opt-in/").status_code, 403)


class PersonApiTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        pv.set_emails(self.ana, "ana@example.org", ["ana.work@example.org"])

    def test_it_creates_a_person_with_normalised_emails_and_values(self) -> None:
        create_property("age", "Age", "number")
        body = {
            "email": " Pat@Example.ORG ",
            "other_emails": ["PAT.home@example.org "],
            "first_name": "Pat",
            "properties": {"age": 41},
        }
        r = self.api(self.rita, "post", "/people", body)
        self.assertEqual(r.status_code, 201, r.content)
        out = r.json()
        self.assertEqual((out["email"], out["other_emails"]), ("pat@example.org", ["pat.home@example.org"]))
        self.assertEqual((out["source"], out["opted_out"], out["properties"]), ("api", False, {"age": 41}))
        pat = Person.objects.get(code=out["code"])
        self.assertEqual(emails_of(pat), [("pat@example.org", True), ("pat.home@example.org", False)])

    def test_it_refuses_a_taken_email_primary_or_secondary(self) -> None:
        for body in (
            {"email": "ANA.WORK@example.org"},
            {"email": "pat@example.org", "other_emails": ["Ana@Example.org"]},
        ):
            r = self.api(self.rita, "post", "/people", body)
            self.assertEqual(r.status_code, 409)
            self.assertEqual(r.json()["message"], "This email already belongs to another person.")
        self.assertEqual(Person.objects.count(), 1)
        self.assertEqual(PersonEmail.objects.count(), 2)

    def test_it_refuses_an_email_that_is_not_an_email(self) -> None:
        for body in ({"email": "pat"}, {"email": "pat@example.org", "other_emails": ["pat at home"]}):
            r = self.api(self.rita, "post", "/people", body)
            self.assertEqual(r.status_code, 422)
            self.assertIn("email", r.json()["message"])
        r = self.api(self.rita, "patch", f"/people/{self.ana.code}", {"other_emails": ["nope"]})
        self.assertEqual(r.status_code, 422)
        self.assertEqual(Person.objects.count(), 1)
        self.assertEqual(emails_of(self.ana), [("ana@example.org", True), ("ana.work@example.org", False)])

    def test_it_updates_a_person(self) -> None:
        body = {"first_name": "Anna", "email": " ANA@new.example.org", "other_emails": ["Ana@Example.org"]}
        r = self.api(self.rita, "patch", f"/people/{self.ana.code}", body)
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["email"], "ana@new.example.org")
        self.assertEqual(r.json()["other_emails"], ["ana@example.org"])
        self.ana.refresh_from_db()
        self.assertEqual(self.ana.first_name, "Anna")
        self.assertEqual(emails_of(self.ana), [("ana@new.example.org", True), ("ana@example.org", False)])

    def test_a_patch_without_emails_keeps_them(self) -> None:
        r = self.api(self.rita, "patch", f"/people/{self.ana.code}", {"last_name": "Bo"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(emails_of(self.ana), [("ana@example.org", True), ("ana.work@example.org", False)])
        r = self.api(self.rita, "patch", f"/people/{self.ana.code}", {"email": "ana@new.example.org"})
        self.assertEqual(emails_of(self.ana), [("ana@new.example.org", True), ("ana.work@example.org", False)])

    def test_updating_refuses_an_email_of_someone_else(self) -> None:
        ben = pv.create_person("ben@example.org", source=Source.MANUAL)
        r = self.api(
            self.rita, "patch", f"/people/{ben.code}", {"first_name": "Benny", "other_emails": ["ana.work@example.org"]}
        )
        self.assertEqual(r.status_code, 409)
        self.assertEqual(r.json()["message"], "This email already belongs to another person.")
        ben.refresh_from_db()
        self.assertEqual(ben.first_name, "")
        self.assertEqual(emails_of(ben), [("ben@example.org", True)])

    def test_it_opts_a_person_out(self) -> None:
        r = self.api(self.rita, "patch", f"/people/{self.ana.code}", {"opted_out": True})
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.json()["opted_out"])
        self.ana.refresh_from_db()
        self.assertTrue(self.ana.opted_out)
        self.assertIsNotNone(self.ana.opted_out_at)
        # Other changes leave the opt-out alone.
        self.api(self.rita, "patch", f"/people/{self.ana.code}", {"first_name": "Anna"})
        r = self.api(self.dev, "get", f"/people/{self.ana.code}")
        self.assertEqual((r.json()["opted_out"], r.json()["first_name"]), (True, MASK))

    def test_it_opts_a_person_back_in_as_the_page_does(self) -> None:
        self.client.force_login(self.rita)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        self.ana.refresh_from_db()
        first = self.ana.opted_out_at
        # A second opt-out, through the API, keeps the time of the first, as on the page.
        self.api(self.rita, "patch", f"/people/{self.ana.code}", {"opted_out": True})
        self.ana.refresh_from_db()
        self.assertEqual(self.ana.opted_out_at, first)
        r = self.api(self.rita, "patch", f"/people/{self.ana.code}", {"opted_out": False})
        self.assertFalse(r.json()["opted_out"])
        self.ana.refresh_from_db()
        self.assertEqual((self.ana.opted_out, self.ana.opted_out_at), (False, None))

    def test_it_requires_manage_people(self) -> None:
        r = self.api(self.dev, "post", "/people", {"email": "pat@example.org"})
        self.assertEqual(r.status_code, 403)
        r = self.api(self.dev, "patch", f"/people/{self.ana.code}", {"opted_out": True})
        self.assertEqual(r.status_code, 403)
        self.assertEqual(Person.objects.count(), 1)
        self.ana.refresh_from_db()
        self.assertFalse(self.ana.opted_out)


class EmailConstraintsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.ana = pv.create_person("ana@example.org", source=Source.MANUAL)
        self.ben = pv.create_person("ben@example.org", source=Source.MANUAL)

    def test_saving_an_email_normalises_it(self) -> None:
        e = PersonEmail.objects.create(person=self.ben, email="  Ben.Work@Example.ORG ")
        self.assertEqual(PersonEmail.objects.get(id=e.id).email, "ben.work@example.org")

    def test_the_database_refuses_an_email_used_by_another_person_as_a_secondary(self) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic():
            PersonEmail.objects.create(person=self.ben, email="ana@example.org", is_primary=False)

    def test_the_database_refuses_a_secondary_email_used_by_another_person_as_primary(self) -> None:
        PersonEmail.objects.create(person=self.ana, email="shared@example.org", is_primary=False)
        with self.assertRaises(IntegrityError), transaction.atomic():
            PersonEmail.objects.bulk_create([PersonEmail(person=self.ben, email="shared@example.org")])

    def test_the_database_refuses_an_email_that_is_not_normalised(self) -> None:
        for address in ("Cleo@example.org", " cleo@example.org", "cleo@example.org "):
            with self.assertRaises(IntegrityError), transaction.atomic():
                PersonEmail.objects.bulk_create([PersonEmail(person=self.ben, email=address)])
        with self.assertRaises(IntegrityError), transaction.atomic():
            PersonEmail.objects.filter(person=self.ben).update(email="BEN@example.org")
        self.assertEqual(emails_of(self.ben), [("ben@example.org", True)])

    def test_the_database_refuses_a_differently_cased_duplicate(self) -> None:
        # Normalised on the way in, so the unique index sees the same address.
        with self.assertRaises(IntegrityError), transaction.atomic():
            PersonEmail.objects.create(person=self.ben, email=" ANA@Example.org")

    def test_the_database_refuses_a_second_primary_email(self) -> None:
        with self.assertRaises(IntegrityError), transaction.atomic():
            PersonEmail.objects.create(person=self.ben, email="ben2@example.org", is_primary=True)

    def test_create_person_turns_a_race_into_email_taken(self) -> None:
        with self.assertRaisesRegex(pv.EmailTaken, "already belongs to another person"):
            pv.create_person(" BEN@example.org", source=Source.MANUAL)
        self.assertEqual(Person.objects.count(), 2)


class ProfileTabsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        self.job = create_property("job", "Job", "text")
        self.ana = pv.create_person("ana@example.org", first_name="Ana", last_name="Lima", source=Source.MANUAL)
        pv.set_values(self.ana, {self.age: 30.0}, source=Source.MANUAL, user=self.rita)
        pv.set_values(self.ana, {self.age: 31.0}, source=Source.CSV, source_code="import-1")
        self.panel = Panel.objects.create(name="Mobile testers")
        PanelMembership.objects.create(panel=self.panel, person=self.ana, status=MembershipStatus.PENDING_REVIEW)

    def tab(self, name: str) -> str:
        r = self.client.get(f"/people/{self.ana.code}/?tab={name}")
        self.assertEqual(r.status_code, 200)
        self.assertContains(r, f'<a href="?tab={name}" aria-current="page">{name.capitalize()}</a>', html=True)
        return r.content.decode()

    def test_the_overview_tab(self) -> None:
        self.client.force_login(self.rita)
        page = self.tab("overview")
        self.assertIn("Ana Lima", page)
        self.assertIn("ana@example.org", page)
        self.assertIn("May be contacted.", page)
        self.assertIn("1 of 2 filled", page)
        self.assertIn(str(self.ana.code), page)

    def test_the_properties_tab_shows_values_and_their_history(self) -> None:
        self.client.force_login(self.rita)
        page = self.tab("properties")
        self.assertIn("2 changes", page)
        self.assertIn("<td>30</td><td>31</td>", page)
        self.assertIn("<td>—</td><td>30</td><td>Rita Researcher</td><td>Manual", page)
        self.assertIn("CSV import", page)
        self.assertIn("import-1", page)

    def test_the_panels_tab(self) -> None:
        self.client.force_login(self.rita)
        page = self.tab("panels")
        self.assertIn(f'<a href="/panels/{self.panel.code}/">Mobile testers</a>', page)
        self.assertIn("Pending review", page)

    def test_the_activity_tab(self) -> None:
        self.client.force_login(self.rita)
        page = self.tab("activity")
        self.assertIn("Age: 30 → 31", page)
        self.assertIn("Age: — → 30", page)

    def test_empty_tabs_say_so(self) -> None:
        ben = pv.create_person("ben@example.org", source=Source.MANUAL)
        self.client.force_login(self.rita)
        self.assertContains(self.client.get(f"/people/{ben.code}/?tab=panels"), "Not in any panel.")
        self.assertContains(self.client.get(f"/people/{ben.code}/?tab=activity"), "No activity yet.")

    def test_an_unknown_tab_shows_the_overview(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.ana.code}/?tab=secrets")
        self.assertContains(r, '<a href="?tab=overview" aria-current="page">Overview</a>', html=True)

    def test_an_observer_sees_every_tab_with_names_and_emails_masked(self) -> None:
        self.client.force_login(self.oscar)
        for name in ("overview", "properties", "panels", "activity"):
            page = self.tab(name)
            self.assertNotIn("ana@example.org", page)
            self.assertNotIn("Lima", page)
        self.assertIn(MASK, self.tab("overview"))
        self.assertNotIn('aria-label="Edit Age"', self.tab("properties"))

    def test_an_unknown_person_is_404(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/people/00000000-0000-0000-0000-000000000000/")
        self.assertEqual(r.status_code, 404)


class DateValuesOnPagesTestCase(BaseTestCase):
    def test_a_date_value_is_shown_in_the_pages_format_and_exported_as_iso(self) -> None:
        from muster.people import values as pv
        from muster.people.models import Source
        from muster.people.properties import create_property
        from muster.people.tests.test_csv import body

        signed_up = create_property("signed_up", "Signed up", "date")
        ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        pv.set_values(ana, {signed_up: pv.parse(signed_up, "2023-02-12")}, source=Source.MANUAL)
        self.client.force_login(self.olga)
        self.assertContains(self.client.get("/people/"), "12 Feb 2023")
        self.assertContains(self.client.get(f"/people/{ana.code}/?tab=properties"), "12 Feb 2023")
        export = body(self.client.get("/people/export.csv"))
        self.assertIn("2023-02-12", export)
        self.assertNotIn("12 Feb 2023", export)


class PersonTitlesTestCase(BaseTestCase):
    def test_a_persons_page_is_titled_with_them_masked_where_it_must_be(self) -> None:
        from muster.people import values as pv
        from muster.people.models import Source

        ana = pv.create_person("ana@example.org", first_name="Ana", last_name="Lee", source=Source.MANUAL)
        self.client.force_login(self.olga)
        self.assertContains(self.client.get(f"/people/{ana.code}/"), "<title>Ana Lee · Muster</title>")
        edit = self.client.get(f"/people/{ana.code}/edit/")
        self.assertContains(edit, "<title>Edit Ana Lee · Muster</title>")
        self.assertContains(edit, f'href="/people/{ana.code}/">Cancel</a>')
        self.client.force_login(self.oscar)
        page = self.client.get(f"/people/{ana.code}/").content.decode()
        self.assertIn(f"<title>Person {str(ana.code).replace('-', '')[:8]}", page)
        self.assertNotIn("Ana", page[: page.index("</title>")])
