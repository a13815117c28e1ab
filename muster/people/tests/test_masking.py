from __future__ import annotations

from typing import Any

from muster.accounts.models import ApiToken
from muster.people import csvio, export
from muster.people import values as pv
from muster.people.models import Source
from muster.people.properties import create_property
from muster.people.serialise import MASK
from muster.people.tests.test_history import queued_import
from muster.test import BaseTestCase


class MaskingTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.phone = create_property("phone", "Phone", "text", pii=True, unique=True)
        self.age = create_property("age", "Age", "number")
        self.person = pv.create_person("secret.ana@example.org", first_name="Anasecret", source=Source.MANUAL)
        pv.set_values(self.person, {self.phone: "+44 700", self.age: 30.0}, source=Source.MANUAL)
        pv.set_values(self.person, {self.phone: "+44 999"}, source=Source.MANUAL)

    def assert_masked(self, text: str) -> None:
        for secret in ("+44 700", "+44 999", "secret.ana", "Anasecret"):
            self.assertNotIn(secret, text)
        self.assertIn(MASK, text)

    def test_pages_mask_pii_for_an_observer_and_a_developer(self) -> None:
        for user in (self.oscar, self.dev):
            self.client.force_login(user)
            for url in ("/people/", f"/people/{self.person.code}/", f"/people/{self.person.code}/?tab=properties"):
                r = self.client.get(url)
                self.assert_masked(r.content.decode())
            r = self.client.get(f"/people/{self.person.code}/?tab=properties")
            self.assertContains(r, "30")  # not PII

    def test_pages_show_pii_to_a_researcher(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get(f"/people/{self.person.code}/?tab=properties")
        self.assertContains(r, "+44 999")
        self.assertContains(r, "+44 700")  # in the history

    def test_the_api_masks_pii_values_names_emails_and_history_for_a_developer(self) -> None:
        _, raw = ApiToken.issue(self.dev, "t")
        auth = {"Authorization": f"Bearer {raw}"}
        for url in (
            "/api/v1/people",
            f"/api/v1/people/{self.person.code}",
            f"/api/v1/people/{self.person.code}/history",
        ):
            r = self.client.get(url, headers=auth)
            self.assertEqual(r.status_code, 200)
            self.assert_masked(str(r.json()))
        r = self.client.get(f"/api/v1/people/{self.person.code}", headers=auth)
        self.assertEqual(r.json()["properties"], {"phone": MASK, "age": 30})

    def test_csv_export_masks_pii(self) -> None:
        self.client.force_login(self.dev)
        self.assertEqual(self.client.get("/people/export.csv").status_code, 403)
        self.client.force_login(self.rita)
        r = self.client.get("/people/export.csv")
        self.assertIn("+44 999", body(r))
        rows = list(
            export.export_rows(self.person.__class__.objects.all(), [self.phone, self.age], viewer_without_pii())
        )
        self.assert_masked(str(rows))
        self.assertIn("30", rows[1])

    def test_error_text_masks_a_pii_value(self) -> None:
        other = pv.create_person("bob@example.org", source=Source.MANUAL)
        _, raw = ApiToken.issue(self.rita, "t")
        r = self.client.put(
            f"/api/v1/people/{other.code}/properties",
            {"properties": {"phone": "+44 999"}},
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
        self.assertEqual(r.status_code, 409)
        self.assertNotIn("+44 999", r.json()["message"])
        from muster.people.serialise import Viewer, error_text

        self.assertEqual(error_text(Viewer(pii=False), self.phone, "+44 1", "is bad."), f"“{MASK}” is bad.")
        self.assertEqual(error_text(Viewer(pii=False), self.age, "x", "is bad."), "“x” is bad.")

    def test_the_import_report_masks_pii_values_for_roles_without_pii(self) -> None:
        from muster.people.models import ImportRejection
        from muster.people.serialise import Viewer, rejection_row

        imp = queued_import(self.rita, "email,phone\nnew@example.org,+44 999\n", {"phone": str(self.phone.code)})
        csvio.import_people.call(str(imp.code))
        rejection = ImportRejection.objects.get()
        self.assertEqual(rejection_row(Viewer(pii=True), rejection)["value"], "+44 999")
        self.assertEqual(rejection_row(Viewer(pii=False), rejection)["value"], MASK)
        self.assertEqual(rejection_row(Viewer(pii=False), rejection)["email"], MASK)


def viewer_without_pii():
    from muster.people.serialise import Viewer

    return Viewer(pii=False)


def body(r: Any) -> str:
    return b"".join(r.streaming_content).decode()
