from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from django.test import override_settings

from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase


class ConnectTestCase(SandboxTestCase):
    def post_connect(self, **overrides: str) -> Any:
        self.client.force_login(self.olga)
        data = {
            "base_url": self.sandbox.url,
            "brand_admin_token": self.brand["adminToken"],
            "user_type": self.brand["userTypes"]["standard"],
            **overrides,
        }
        return self.client.post("/settings/connected-apps/qualtrics/connect/", data)

    def test_it_connects_and_provisions_a_service_user(self) -> None:
        r = self.post_connect()
        self.assertRedirects(r, "/settings/connected-apps/qualtrics/", fetch_redirect_response=False)
        connection = QualtricsConnection.objects.get()
        self.assertEqual(connection.brand_id, self.brand["brandId"])
        self.assertEqual(connection.status, ConnectionStatus.CONNECTED)
        self.assertEqual(connection.connected_by, self.olga)
        users = {u["id"]: u for u in self.sandbox_users()}
        service = users[connection.service_user_id]
        self.assertEqual((service["firstName"], service["lastName"]), ("Muster", "UXR"))
        self.assertEqual(service["username"], connect.service_username(self.brand["brandId"]))
        # The stored token is the service user's own, and it works.
        me = self.v3("GET", "whoami", connection.token.value).json()["result"]
        self.assertEqual(me["userId"], connection.service_user_id)
        [subscription] = self.sandbox_subscriptions()
        self.assertEqual(subscription["id"], connection.subscription_id)
        # The webhook URL names this installation, so a later reconnect knows the subscription is its own.
        url = urlsplit(subscription["publicationUrl"])
        self.assertEqual(url.path, "/integrations/qualtrics/webhook/")
        self.assertEqual(parse_qs(url.query), {"muster_instance": [connect.instance_id()]})
        self.assertIn("completedResponse", subscription["topics"])
        self.assertIn("partialResponse", subscription["topics"])

    def test_it_shows_the_connection_page(self) -> None:
        self.post_connect()
        r = self.client.get("/settings/connected-apps/qualtrics/")
        self.assertContains(r, self.brand["brandId"])
        self.assertContains(r, "Collaborate")
        self.assertContains(r, "Repair token")

    def test_it_warns_that_qualtrics_cannot_reach_a_loopback_public_url(self) -> None:
        r = self.post_connect()
        r = self.client.get(r["Location"])
        self.assertContains(r, "cannot reach")

    def test_it_adopts_the_service_user_it_created_before(self) -> None:
        first = self.connect_as_admin()
        old_token = first.token.value
        connect.disconnect(first, None)
        second = self.connect_as_admin()
        self.assertEqual(second.service_user_id, first.service_user_id)
        self.assertEqual(len([u for u in self.sandbox_users() if u["firstName"] == "Muster"]), 1)
        # The adopted user got a new token; the old one was invalidated by Qualtrics.
        self.assertEqual(self.v3("GET", "whoami", old_token).status_code, 401)
        self.assertEqual(self.v3("GET", "whoami", second.token.value).status_code, 200)

    def test_it_pins_the_host_qualtrics_names_when_it_is_allowed(self) -> None:
        port = self.sandbox.port
        alias = f"http://localhost:{port}"
        with override_settings(MUSTER_QUALTRICS_ALLOWED_HOSTS=[f"localhost:{port}", f"127.0.0.1:{port}"]):
            connection = connect.connect(
                base_url=alias,
                brand_admin_token=Secret(self.brand["adminToken"]),
                user_type=self.brand["userTypes"]["standard"],
                by=None,
            ).connection
        self.assertEqual(connection.base_url, f"http://127.0.0.1:{port}")

    def test_it_does_not_follow_a_notice_to_a_host_outside_the_allowlist(self) -> None:
        port = self.sandbox.port
        with override_settings(MUSTER_QUALTRICS_ALLOWED_HOSTS=[f"localhost:{port}"]):
            connection = connect.connect(
                base_url=f"http://localhost:{port}",
                brand_admin_token=Secret(self.brand["adminToken"]),
                user_type=self.brand["userTypes"]["standard"],
                by=None,
            ).connection
        self.assertEqual(connection.base_url, f"http://localhost:{port}")

    def test_it_refuses_a_host_outside_the_allowlist(self) -> None:
        r = self.post_connect(base_url="https://evil.example.org")
        self.assertContains(r, "not in MUSTER_QUALTRICS_ALLOWED_HOSTS")
        self.assertFalse(QualtricsConnection.objects.exists())

    def test_a_token_that_is_not_a_brand_admins_names_the_step_and_stores_nothing(self) -> None:
        # A standard user with API access: whoami works, user management does not.
        standard = self.v3(
            "POST",
            "users",
            self.brand["adminToken"],
            {
                "username": "pat#x",
                "password": "pw-12345678",
                "firstName": "Pat",
                "lastName": "Lee",
                "userType": self.brand["userTypes"]["standard"],
                "email": "pat@example.org",
            },
        ).json()["result"]["id"]
        token = self.v3("POST", f"users/{standard}/apitoken", self.brand["adminToken"]).json()["result"]["apiToken"]
        r = self.post_connect(brand_admin_token=token)
        self.assertContains(r, "Looking for an earlier service user failed")
        self.assertFalse(QualtricsConnection.objects.exists())

    def test_a_failure_after_the_user_was_created_removes_it_again(self) -> None:
        with mock.patch.object(client, "create_api_token", side_effect=client.QualtricsUnavailable("boom")):
            r = self.post_connect()
        self.assertContains(r, "Creating the service user&#x27;s API token failed: boom")
        self.assertFalse(QualtricsConnection.objects.exists())
        self.assertEqual([u for u in self.sandbox_users() if u["firstName"] == "Muster"], [])

    def test_a_failure_while_saving_removes_the_subscription_and_the_user(self) -> None:
        with mock.patch.object(QualtricsConnection, "save", side_effect=RuntimeError("disk full")):
            r = self.post_connect()
        self.assertContains(r, "Saving the connection failed")
        self.assertEqual(self.sandbox_subscriptions(), [])
        self.assertEqual([u for u in self.sandbox_users() if u["firstName"] == "Muster"], [])

    def test_a_refused_subscription_keeps_the_connection_as_polling_only(self) -> None:
        refused = client.QualtricsAuthError("The operation is forbidden.", 403, "AUTH_7.0")
        with mock.patch.object(client, "create_subscription", side_effect=refused):
            self.post_connect()
        connection = QualtricsConnection.objects.get()
        self.assertEqual(connection.status, ConnectionStatus.POLLING_ONLY)
        self.assertIn("polling only", connection.status_reason)
        self.assertEqual(connection.shared_key_encrypted, "")

    def test_it_requires_the_manage_integrations_capability(self) -> None:
        for user in (self.rita, self.oscar):
            self.client.force_login(user)
            self.assertEqual(self.client.get("/settings/connected-apps/").status_code, 403)
            r = self.client.post(
                "/settings/connected-apps/qualtrics/connect/",
                {"base_url": self.sandbox.url, "brand_admin_token": self.brand["adminToken"], "user_type": "UT_x"},
            )
            self.assertEqual(r.status_code, 403)
        self.assertFalse(QualtricsConnection.objects.exists())

    def test_settings_links_to_connected_apps_only_for_those_who_may_manage_them(self) -> None:
        self.client.force_login(self.dev)
        self.assertContains(self.client.get("/settings/"), "Connected Apps")
        self.client.force_login(self.rita)
        self.assertNotContains(self.client.get("/settings/"), "Connected Apps")


class ConnectionLifecycleTestCase(SandboxTestCase):
    def test_a_revoked_token_marks_the_connection_broken_and_shows_a_banner(self) -> None:
        connection = self.connect_as_admin()
        # Someone regenerates the service user's token in Qualtrics.
        self.v3("POST", f"users/{connection.service_user_id}/apitoken", self.brand["adminToken"])
        from muster.integrations.qualtrics.health import check_connection

        self.assertTrue(check_connection.call().startswith("broken"))
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.BROKEN)
        self.client.force_login(self.olga)
        self.assertContains(self.client.get("/people/"), "The Qualtrics connection is broken")
        self.client.force_login(self.rita)
        self.assertNotContains(self.client.get("/people/"), "The Qualtrics connection is broken")

    def test_any_failing_call_with_a_dead_token_marks_it_broken(self) -> None:
        connection = self.connect_as_admin()
        self.v3("PUT", f"users/{connection.service_user_id}", self.brand["adminToken"], {"status": "Disabled"})
        with self.assertRaises(client.QualtricsAuthError):
            client.list_surveys(connect.connection_account(connection))
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.BROKEN)

    def test_repair_issues_a_working_token(self) -> None:
        connection = self.connect_as_admin()
        self.v3("PUT", f"users/{connection.service_user_id}", self.brand["adminToken"], {"status": "Disabled"})
        self.client.force_login(self.olga)
        self.client.post("/settings/connected-apps/qualtrics/test/")
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.BROKEN)
        r = self.client.post(
            "/settings/connected-apps/qualtrics/repair/", {"brand_admin_token": self.brand["adminToken"]}, follow=True
        )
        self.assertContains(r, "new, working token")
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.CONNECTED)
        self.assertEqual(self.v3("GET", "whoami", connection.token.value).status_code, 200)

    def test_resubscribe_replaces_the_subscription_and_its_key(self) -> None:
        connection = self.connect_as_admin()
        old_id, old_key = connection.subscription_id, connection.shared_key.value
        connect.resubscribe(connection, Secret(self.brand["adminToken"]))
        connection.refresh_from_db()
        self.assertNotEqual(connection.subscription_id, old_id)
        self.assertNotEqual(connection.shared_key.value, old_key)
        self.assertEqual([s["id"] for s in self.sandbox_subscriptions()], [connection.subscription_id])

    def test_disconnect_with_a_token_cleans_up_qualtrics(self) -> None:
        connection = self.connect_as_admin()
        self.client.force_login(self.olga)
        self.client.post(
            "/settings/connected-apps/qualtrics/disconnect/", {"brand_admin_token": self.brand["adminToken"]}
        )
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.DISCONNECTED)
        self.assertEqual(connection.subscription_id, "")
        self.assertEqual(self.sandbox_subscriptions(), [])
        self.assertEqual(self.v3("GET", "whoami", connection.token.value).status_code, 401)

    def test_disconnect_without_a_token_lists_what_to_remove_by_hand(self) -> None:
        connection = self.connect_as_admin()
        self.client.force_login(self.olga)
        r = self.client.post("/settings/connected-apps/qualtrics/disconnect/", {}, follow=True)
        self.assertContains(r, "Remove in Qualtrics by hand")
        self.assertContains(r, connection.subscription_id)
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.DISCONNECTED)
        self.assertEqual((connection.token_encrypted, connection.shared_key_encrypted), ("", ""))
        # The subscription is still in Qualtrics; the row remembers it so a reconnect removes it.
        self.assertEqual([s["id"] for s in self.sandbox_subscriptions()], [connection.subscription_id])


class DemoConnectValuesTests(SandboxTestCase):
    def test_the_demo_offers_the_sandbox_values_and_fills_what_is_not_secret(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "connect.json"
            values = {"base_url": "http://127.0.0.1:8100", "brand_admin_token": "sandbox-token", "user_type": "UT_1"}
            path.write_text(json.dumps(values))
            self.client.force_login(self.olga)
            with override_settings(MUSTER_DEMO_CONNECT_FILE=str(path)):
                page = self.client.get("/settings/connected-apps/qualtrics/connect/")
                self.assertContains(page, "sandbox-token")
                filled = self.client.get("/settings/connected-apps/qualtrics/connect/?demo=1")
                self.assertContains(filled, 'value="http://127.0.0.1:8100"')
                self.assertContains(filled, 'value="UT_1"')
                self.assertNotContains(filled, 'value="sandbox-token"')  # a password field is never filled
        self.assertNotContains(self.client.get("/settings/connected-apps/qualtrics/connect/"), "Demo:")
