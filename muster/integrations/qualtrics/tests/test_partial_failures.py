"""After a multi-step operation fails half-way, the page and the API say what was done in
Qualtrics, what was not and what to remove by hand, and what Muster stored matches Qualtrics.
Individual steps fail through the sandbox's faults document."""

from __future__ import annotations

from typing import Any

import stamina

from muster.integrations.qualtrics import connect
from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase

CONNECT_URL = "/settings/connected-apps/qualtrics/connect/"
DISCONNECT_URL = "/settings/connected-apps/qualtrics/disconnect/"


class PartialFailureTestCase(SandboxTestCase):
    def setUp(self) -> None:
        super().setUp()
        # A failing step fails at once instead of after Qualtrics' retry backoff.
        stamina.set_testing(True, attempts=1)
        self.addCleanup(stamina.set_testing, False)
        self.addCleanup(self.control, "DELETE", "/_sandbox/faults")

    def break_calls(self, *calls: tuple[str, str]) -> None:
        rules = [{"method": method, "path": path, "error500": 1} for method, path in calls]
        self.control("PUT", "/_sandbox/faults", {"endpoints": rules})

    def connect_body(self) -> dict[str, str]:
        return {
            "base_url": self.sandbox.url,
            "brand_admin_token": self.brand["adminToken"],
            "user_type": self.brand["userTypes"]["standard"],
        }

    def muster_users(self) -> list[dict[str, Any]]:
        return [u for u in self.sandbox_users() if u["firstName"] == "Muster"]

    def test_a_disconnect_whose_user_disable_fails_says_the_subscription_is_gone_and_the_user_is_not(self) -> None:
        connection = self.connect_as_admin()
        subscription_id = connection.subscription_id
        self.break_calls(("PUT", "/API/v3/users/*"))
        self.client.force_login(self.olga)
        r = self.client.post(DISCONNECT_URL, {"brand_admin_token": self.brand["adminToken"]}, follow=True)
        self.assertNotContains(r, "Nothing was disconnected")
        self.assertContains(r, f"Removed the event subscription {subscription_id}")
        self.assertContains(r, "Disabling the service user failed")
        self.assertContains(r, f"Remove in Qualtrics by hand: The Qualtrics user {connection.service_username}")
        # What Muster keeps matches Qualtrics: no subscription either side, and the row says what is left.
        self.assertEqual(self.sandbox_subscriptions(), [])
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.DISCONNECTED)
        self.assertEqual(connection.subscription_id, "")
        self.assertIn(connection.service_user_id, connection.status_reason)
        [user] = self.muster_users()
        self.assertEqual(user["accountStatus"], "active")

    def test_the_api_says_the_same_of_that_disconnect(self) -> None:
        connection = self.connect_as_admin()
        self.break_calls(("PUT", "/API/v3/users/*"))
        r = self.call_api("delete", "", {"brand_admin_token": self.brand["adminToken"]})
        self.assertEqual(r.status_code, 200, r.content)
        body = r.json()
        self.assertEqual(body["done"], [f"Removed the event subscription {connection.subscription_id}."])
        self.assertEqual(len(body["not_done"]), 1)
        self.assertIn("Disabling the service user failed", body["not_done"][0])
        self.assertEqual(len(body["remove_by_hand"]), 1)
        self.assertIn(connection.service_user_id, body["remove_by_hand"][0])
        self.assertIsNone(body["connection"]["subscription_id"])
        self.assertEqual(body["connection"]["status"], ConnectionStatus.DISCONNECTED)

    def test_a_disconnect_whose_first_step_fails_changes_nothing_and_says_so(self) -> None:
        connection = self.connect_as_admin()
        self.break_calls(("DELETE", "/API/v3/eventsubscriptions/*"))
        self.client.force_login(self.olga)
        r = self.client.post(DISCONNECT_URL, {"brand_admin_token": self.brand["adminToken"]}, follow=True)
        self.assertContains(r, "Removing the event subscription failed")
        self.assertContains(r, "Nothing was changed in Qualtrics or in Muster")
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.CONNECTED)
        self.assertEqual([s["id"] for s in self.sandbox_subscriptions()], [connection.subscription_id])

    def test_a_connect_whose_undo_fails_names_the_user_left_in_qualtrics(self) -> None:
        self.break_calls(("POST", "/API/v3/users/*/apitoken"), ("DELETE", "/API/v3/users/*"))
        self.client.force_login(self.olga)
        r = self.client.post(CONNECT_URL, self.connect_body())
        self.assertContains(r, "Creating the service user&#x27;s API token failed")
        [user] = self.muster_users()
        self.assertContains(r, f"Created the Qualtrics user {user['username']} ({user['id']})")
        self.assertContains(r, f"Could not remove the Qualtrics user {user['username']} ({user['id']})")
        self.assertContains(r, "Remove in Qualtrics by hand")
        self.assertNotContains(r, "Nothing was saved. If a step fails")
        self.assertFalse(QualtricsConnection.objects.exists())

    def test_the_api_names_the_user_left_in_qualtrics_too(self) -> None:
        self.break_calls(("POST", "/API/v3/users/*/apitoken"), ("DELETE", "/API/v3/users/*"))
        r = self.call_api("post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 502, r.content)
        body = r.json()
        [user] = self.muster_users()
        self.assertIn("Creating the service user's API token failed", body["message"])
        self.assertIn(f"Created the Qualtrics user {user['username']} ({user['id']}).", body["done"])
        self.assertEqual(len(body["remove_by_hand"]), 1)
        self.assertIn(user["id"], body["remove_by_hand"][0])

    def test_a_connect_whose_undo_works_says_what_it_removed_again(self) -> None:
        self.break_calls(("POST", "/API/v3/users/*/apitoken"))
        r = self.call_api("post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 502, r.content)
        body = r.json()
        self.assertEqual(body["remove_by_hand"], [])
        self.assertTrue(any(line.startswith("Removed the Qualtrics user") for line in body["done"]), body)
        self.assertEqual(self.muster_users(), [])

    def test_a_resubscribe_that_removed_the_old_subscription_but_made_no_new_one_stores_none(self) -> None:
        connection = self.connect_as_admin()
        old_id = connection.subscription_id
        self.break_calls(("POST", "/API/v3/eventsubscriptions"))
        self.client.force_login(self.olga)
        url = "/settings/connected-apps/qualtrics/resubscribe/"
        r = self.client.post(url, {"brand_admin_token": self.brand["adminToken"]}, follow=True)
        self.assertContains(r, "Creating the event subscription failed")
        self.assertContains(r, f"Removed the event subscription {old_id}")
        self.assertEqual(self.sandbox_subscriptions(), [])
        connection.refresh_from_db()
        self.assertEqual(connection.subscription_id, "")
        self.assertEqual(connection.shared_key_encrypted, "")
        self.assertEqual(connection.status, ConnectionStatus.POLLING_ONLY)

    def test_a_repair_whose_new_token_fails_its_check_keeps_the_new_token_and_says_it_is_broken(self) -> None:
        connection = self.connect_as_admin()
        old_token = connection.token.value
        # The new token is created; the check with it fails (whoami answers 500 for every token).
        self.break_calls(("GET", "/API/v3/whoami"))
        r = self.call_api("post", "/repair", {"brand_admin_token": self.brand["adminToken"]})
        self.assertEqual(r.status_code, 502, r.content)
        self.assertIn("Created a new API token for the service user", " ".join(r.json()["done"]))
        self.control("DELETE", "/_sandbox/faults")
        # Qualtrics invalidated the old token when it issued the new one: Muster keeps the one that exists.
        connection.refresh_from_db()
        self.assertEqual(self.v3("GET", "whoami", old_token).status_code, 401)
        self.assertEqual(self.v3("GET", "whoami", connection.token.value).status_code, 200)

    def test_a_connect_says_what_it_made_in_qualtrics_on_the_page_and_in_the_api(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post(CONNECT_URL, self.connect_body(), follow=True)
        connection = QualtricsConnection.objects.get()
        self.assertContains(r, f"Done in Qualtrics: Created the event subscription {connection.subscription_id}.")
        self.assertContains(r, f"Done in Qualtrics: Created the Qualtrics user {connection.service_username}")
        connect.disconnect(connection, None)
        r = self.call_api("post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 201, r.content)
        body = r.json()
        self.assertIn(f"Removed this Muster's earlier event subscription {connection.subscription_id}.", body["done"])
        self.assertIn(f"Created the event subscription {body['subscription_id']}.", body["done"])
        self.assertEqual((body["not_done"], body["remove_by_hand"]), ([], []))

    def test_a_connect_whose_subscription_is_refused_says_so_in_the_api(self) -> None:
        self.break_calls(("POST", "/API/v3/eventsubscriptions"))
        r = self.call_api("post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 201, r.content)
        [refused] = r.json()["not_done"]
        self.assertIn("Qualtrics refused the event subscription", refused)
        self.assertEqual(r.json()["status"], ConnectionStatus.POLLING_ONLY)
        self.assertEqual(self.sandbox_subscriptions(), [])

    def call_api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.api(self.olga, method, "/integrations/qualtrics" + path, body)
