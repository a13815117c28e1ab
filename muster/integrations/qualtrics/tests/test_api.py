from __future__ import annotations

from typing import Any

from muster.accounts.models import User
from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase


class QualtricsApiTestCase(SandboxTestCase):
    def call(self, user: User, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.api(user, method, "/integrations/qualtrics" + path, body)

    def connect_body(self) -> dict[str, str]:
        return {
            "base_url": self.sandbox.url,
            "brand_admin_token": self.brand["adminToken"],
            "user_type": self.brand["userTypes"]["standard"],
        }

    def test_a_developer_connects_and_reads_the_status(self) -> None:
        r = self.call(self.dev, "post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 201, r.content)
        self.assertEqual(r.json()["brand_id"], self.brand["brandId"])
        self.assertNotIn(self.brand["adminToken"], r.content.decode())
        status = self.call(self.dev, "get", "").json()
        self.assertTrue(status["connected"])
        self.assertEqual(status["status"], ConnectionStatus.CONNECTED)
        self.assertEqual(status["connected_by"], "dev@example.org")
        self.assertTrue(self.call(self.dev, "post", "/test").json()["ok"])

    def test_it_lists_active_shared_surveys_only(self) -> None:
        self.call(self.olga, "post", "/connect", self.connect_body())
        connection = QualtricsConnection.objects.get()
        shared_active = self.add_survey(name="Shared and active")
        shared_inactive = self.add_survey(active=False, name="Shared but inactive")
        self.add_survey(name="Not shared")
        for survey in (shared_active, shared_inactive):
            self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        # A Researcher may not connect but may pick surveys.
        r = self.call(self.rita, "get", "/surveys")
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual([s["name"] for s in r.json()], ["Shared and active"])
        self.assertEqual(r.json()[0]["id"], shared_active)
        self.assertTrue(r.json()[0]["last_modified"])

    def test_the_surveys_page_shows_the_same_surveys(self) -> None:
        self.call(self.olga, "post", "/connect", self.connect_body())
        connection = QualtricsConnection.objects.get()
        for name, active in (("Shared and active", True), ("Shared but inactive", False)):
            survey = self.add_survey(active=active, name=name)
            self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        self.add_survey(name="Not shared")
        self.client.force_login(self.rita)
        r = self.client.get("/settings/qualtrics-surveys/")
        self.assertContains(r, "Shared and active")
        self.assertNotContains(r, "Shared but inactive")
        self.assertNotContains(r, "Not shared")
        self.client.force_login(self.oscar)
        self.assertEqual(self.client.get("/settings/qualtrics-surveys/").status_code, 403)

    def test_a_researcher_cannot_connect(self) -> None:
        r = self.call(self.rita, "post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 403)
        self.assertFalse(QualtricsConnection.objects.exists())

    def test_it_says_which_step_failed(self) -> None:
        r = self.call(self.olga, "post", "/connect", {**self.connect_body(), "brand_admin_token": "wrong"})
        self.assertEqual(r.status_code, 502)
        self.assertIn("Checking the brand administrator token (whoami) failed", r.json()["message"])

    def test_it_needs_a_location(self) -> None:
        body = {"brand_admin_token": "t", "user_type": "UT_1"}
        r = self.call(self.olga, "post", "/connect", body)
        self.assertEqual(r.status_code, 422)
        self.assertNotIn('"t"', r.content.decode())

    def test_repair_resubscribe_and_disconnect(self) -> None:
        self.call(self.olga, "post", "/connect", self.connect_body())
        admin = {"brand_admin_token": self.brand["adminToken"]}
        self.assertEqual(self.call(self.olga, "post", "/repair", admin).status_code, 200)
        old = QualtricsConnection.objects.get().subscription_id
        r = self.call(self.olga, "post", "/resubscribe", admin)
        self.assertNotEqual(r.json()["subscription_id"], old)
        r = self.call(self.olga, "delete", "", admin)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["remove_by_hand"], [])
        self.assertEqual(r.json()["connection"]["status"], ConnectionStatus.DISCONNECTED)
        self.assertEqual(QualtricsConnection.objects.get().status, ConnectionStatus.DISCONNECTED)
        self.assertEqual(self.sandbox_subscriptions(), [])

    def test_a_second_connect_is_refused(self) -> None:
        self.call(self.olga, "post", "/connect", self.connect_body())
        r = self.call(self.olga, "post", "/connect", self.connect_body())
        self.assertEqual(r.status_code, 409)
