from __future__ import annotations

import io
import os
from unittest import mock

from django.core.management import CommandError, call_command

from muster.accounts.models import ApiToken, User, hash_token
from muster.test import BaseTestCase


class ApiTokensTestCase(BaseTestCase):
    def test_it_creates_a_token_shown_once_and_stored_hashed(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.post("/settings/api-tokens/", {"name": "Export script"})
        raw = r.context["new_token"]
        self.assertContains(r, raw)
        token = ApiToken.objects.get(user=self.rita)
        self.assertEqual(token.token_hash, hash_token(raw))
        self.assertNotIn(raw, str(ApiToken.objects.filter(user=self.rita).values()))
        r = self.client.get("/settings/api-tokens/")
        self.assertNotContains(r, raw)

    def test_a_token_acts_as_its_owner(self) -> None:
        _, raw = ApiToken.issue(self.rita, "t")
        r = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["email"], "rita@example.org")
        self.assertEqual(r.json()["role"], "researcher")
        self.assertIn("view_pii", r.json()["capabilities"])
        self.assertNotIn("manage_users", r.json()["capabilities"])

    def test_it_revokes_a_token(self) -> None:
        token, raw = ApiToken.issue(self.rita, "t")
        self.client.force_login(self.rita)
        self.client.post(f"/settings/api-tokens/{token.code}/revoke/")
        r = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        self.assertEqual(r.status_code, 401)
        self.assertIn("message", r.json())

    def test_it_will_not_revoke_someone_elses_token(self) -> None:
        token, _ = ApiToken.issue(self.olga, "t")
        self.client.force_login(self.rita)
        r = self.client.post(f"/settings/api-tokens/{token.code}/revoke/")
        self.assertEqual(r.status_code, 404)
        self.assertTrue(ApiToken.objects.filter(id=token.id).exists())

    def test_an_observer_owns_no_tokens(self) -> None:
        self.client.force_login(self.oscar)
        self.assertEqual(self.client.get("/settings/api-tokens/").status_code, 403)
        _, raw = ApiToken.issue(self.oscar, "made before a role change")
        r = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        self.assertEqual(r.status_code, 401)

    def test_a_deactivated_users_token_stops_working(self) -> None:
        _, raw = ApiToken.issue(self.rita, "t")
        self.rita.is_active = False
        self.rita.save()
        r = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        self.assertEqual(r.status_code, 401)

    def test_the_command_prints_a_working_token(self) -> None:
        out = io.StringIO()
        call_command("create_api_token", "DEV@example.org", stdout=out)
        raw = out.getvalue().strip()
        r = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
        self.assertEqual(r.json()["email"], "dev@example.org")

    def test_the_command_refuses_an_observer(self) -> None:
        with self.assertRaisesMessage(CommandError, "may not own API tokens"):
            call_command("create_api_token", "oscar@example.org", stdout=io.StringIO())


class CreateUserCommandTestCase(BaseTestCase):
    def test_it_creates_a_user_with_the_password_from_the_environment(self) -> None:
        with mock.patch.dict(os.environ, {"MUSTER_PASSWORD": "a long enough passphrase"}):
            call_command("create_user", "Pat@Example.org", "--role", "ops_manager", stdout=io.StringIO())
        user = User.objects.get(email="pat@example.org")
        self.assertEqual(user.role, "ops_manager")
        self.assertTrue(user.check_password("a long enough passphrase"))

    def test_it_refuses_a_weak_password(self) -> None:
        with mock.patch.dict(os.environ, {"MUSTER_PASSWORD": "123"}), self.assertRaises(CommandError):
            call_command("create_user", "pat@example.org", "--role", "researcher", stdout=io.StringIO())
        self.assertFalse(User.objects.filter(email="pat@example.org").exists())

    def test_it_refuses_an_existing_email(self) -> None:
        with mock.patch.dict(os.environ, {"MUSTER_PASSWORD": "a long enough passphrase"}):
            with self.assertRaisesMessage(CommandError, "already exists"):
                call_command("create_user", "RITA@example.org", "--role", "researcher", stdout=io.StringIO())
