from __future__ import annotations

import re

from django.core import mail

from muster.accounts.models import User
from muster.accounts.roles import Role
from muster.test import BaseTestCase


class UsersTestCase(BaseTestCase):
    def test_it_lists_users_for_an_admin(self) -> None:
        self.client.force_login(self.alice)
        r = self.client.get("/settings/users/")
        self.assertContains(r, "oscar@example.org")

    def test_it_requires_the_admin_role(self) -> None:
        for user in (self.olga, self.rita, self.dev, self.oscar):
            self.client.force_login(user)
            self.assertEqual(self.client.get("/settings/users/").status_code, 403)

    def test_it_changes_a_role(self) -> None:
        self.client.force_login(self.alice)
        r = self.client.post(f"/settings/users/{self.oscar.code}/", {"role": "researcher", "is_active": "on"})
        self.assertRedirects(r, "/settings/users/", fetch_redirect_response=False)
        self.oscar.refresh_from_db()
        self.assertEqual(self.oscar.role, Role.RESEARCHER)

    def test_it_deactivates_a_user(self) -> None:
        self.client.force_login(self.alice)
        self.client.post(f"/settings/users/{self.rita.code}/", {"role": "researcher"})
        self.rita.refresh_from_db()
        self.assertFalse(self.rita.is_active)

    def test_it_keeps_an_admin_from_demoting_herself(self) -> None:
        self.client.force_login(self.alice)
        self.client.post(f"/settings/users/{self.alice.code}/", {"role": "observer", "is_active": "on"})
        self.alice.refresh_from_db()
        self.assertEqual(self.alice.role, Role.ADMIN)

    def test_it_refuses_an_unknown_role(self) -> None:
        self.client.force_login(self.alice)
        self.client.post(f"/settings/users/{self.oscar.code}/", {"role": "superuser", "is_active": "on"})
        self.oscar.refresh_from_db()
        self.assertEqual(self.oscar.role, Role.OBSERVER)

    def test_a_non_admin_cannot_change_a_role(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post(f"/settings/users/{self.olga.code}/", {"role": "admin", "is_active": "on"})
        self.assertEqual(r.status_code, 403)
        self.olga.refresh_from_db()
        self.assertEqual(self.olga.role, Role.OPS_MANAGER)

    def test_it_adds_a_user_who_is_emailed_a_link(self) -> None:
        self.client.force_login(self.alice)
        r = self.client.post("/settings/users/", {"email": "New@Example.org", "name": "New", "role": "researcher"})
        self.assertRedirects(r, "/settings/users/", fetch_redirect_response=False)
        user = User.objects.get(email="new@example.org")
        self.assertEqual(user.role, Role.RESEARCHER)
        self.assertFalse(user.has_usable_password())
        self.assertEqual(len(mail.outbox), 1)
        self.assertIn("/password-reset/", mail.outbox[0].body)

    def test_it_refuses_a_duplicate_email(self) -> None:
        self.client.force_login(self.alice)
        r = self.client.post("/settings/users/", {"email": "RITA@example.org", "role": "researcher"})
        self.assertContains(r, "already exists")

    def test_only_admins_reach_django_admin(self) -> None:
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get("/admin/").status_code, 200)
        self.client.force_login(self.olga)
        self.assertEqual(self.client.get("/admin/", follow=True).status_code, 403)

    def invitation_page(self) -> str:
        self.client.force_login(self.alice)
        self.client.post("/settings/users/", {"email": "new@example.org", "name": "New", "role": "researcher"})
        self.client.logout()
        link = re.search(r"http://testserver(\S+)", str(mail.outbox[-1].body))
        assert link is not None
        return self.client.get(link.group(1), follow=True).content.decode()

    def test_an_invited_user_is_asked_to_set_their_password_not_to_reset_it(self) -> None:
        page = self.invitation_page()
        self.assertIn("Set your password", page)
        self.assertNotIn("new password", page.lower())
        self.assertEqual(mail.outbox[-1].subject, "Set your password for Muster")

    def test_a_reset_still_asks_for_a_new_password(self) -> None:
        self.client.post("/password-reset/", {"email": "rita@example.org"})
        link = re.search(r"http://testserver(\S+)", str(mail.outbox[-1].body))
        assert link is not None
        page = self.client.get(link.group(1), follow=True).content.decode()
        self.assertIn("Choose a new password", page)

    def test_deactivating_asks_first_and_saving_a_role_keeps_a_user_active(self) -> None:
        self.client.force_login(self.alice)
        page = self.client.get("/settings/users/").content.decode()
        start = page.index(f'aria-label="Deactivate {self.rita.email}?"')
        self.assertIn("can no longer sign in", page[start : page.index("</details>", start)])
        # The role form of an active user carries their being active: changing a role deactivates nobody.
        row = page[page.index(f'id="user-{self.rita.code}"') :]
        self.assertIn('name="is_active" value="on"', row[: row.index("</form>")])
        r = self.client.post(f"/settings/users/{self.rita.code}/", {"role": "observer", "is_active": "on"}, follow=True)
        self.rita.refresh_from_db()
        self.assertTrue(self.rita.is_active)
        self.assertContains(r, "is now Observer")
        r = self.client.post(f"/settings/users/{self.rita.code}/", {"role": "observer"}, follow=True)
        self.assertContains(r, "was deactivated")
        self.assertContains(r, "Reactivate")
        r = self.client.post(f"/settings/users/{self.rita.code}/", {"role": "observer", "is_active": "on"}, follow=True)
        self.assertContains(r, "was reactivated as Observer")

    def test_revoking_a_token_asks_first(self) -> None:
        self.client.force_login(self.rita)
        self.client.post("/settings/api-tokens/", {"name": "Nightly export"})
        page = self.client.get("/settings/api-tokens/").content.decode()
        start = page.index('<details class="confirm">')
        confirm = page[start : page.index("</details>", start)]
        self.assertIn("stops working at once", confirm)
        self.assertIn("Revoke “Nightly export”", confirm)


class TimeZoneTestCase(BaseTestCase):
    def test_a_user_chooses_a_time_zone_and_every_page_shows_times_in_it(self) -> None:
        from datetime import UTC, datetime

        from muster.studies.models import Study

        Study.objects.create(name="Late", landing_slug="late", created=datetime(2026, 1, 1, 23, 30, tzinfo=UTC))
        self.client.force_login(self.olga)
        self.assertContains(self.client.get("/studies/"), "1 Jan 2026")
        r = self.client.post("/account/", {"time_zone": "Asia/Tokyo"}, follow=True)
        self.assertContains(r, "Times are now shown in Asia/Tokyo.")
        self.assertContains(self.client.get("/studies/"), "2 Jan 2026")
        # Another user's pages keep the installation's zone.
        self.client.force_login(self.rita)
        self.assertContains(self.client.get("/studies/"), "1 Jan 2026")

    def test_an_unknown_time_zone_is_refused_and_nothing_changes(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post("/account/", {"time_zone": "Mars/Olympus"}, follow=True)
        self.assertContains(r, "Choose one of the listed time zones.")
        self.olga.refresh_from_db()
        self.assertEqual(self.olga.time_zone, "")
