"""One connect at a time: a second is refused while one runs, and a claim left by a connect that
crashed lapses by itself. (Two real processes racing: test_connect_race.)"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

from django.utils.timezone import now

from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.models import ConnectClaim, QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.scheduling import leases

CONNECT_URL = "/settings/connected-apps/qualtrics/connect/"


class SingleFlightTestCase(SandboxTestCase):
    def connect_body(self) -> dict[str, str]:
        return {
            "base_url": self.sandbox.url,
            "brand_admin_token": self.brand["adminToken"],
            "user_type": self.brand["userTypes"]["standard"],
        }

    def a_connect_crashed_half_way(self) -> None:
        # It claimed the right to connect and never got to release it.
        connect.claim(self.dev)

    def test_a_second_connect_is_refused_on_the_page_while_one_runs(self) -> None:
        self.a_connect_crashed_half_way()
        self.client.force_login(self.olga)
        self.assertContains(self.client.get(CONNECT_URL), "Another connect to Qualtrics is in progress")
        self.assertContains(self.client.get("/settings/connected-apps/"), "in progress (started by Dev Developer)")
        r = self.client.post(CONNECT_URL, self.connect_body())
        self.assertContains(r, "Another connect to Qualtrics is in progress (started by Dev Developer at")
        self.assertContains(r, "Nothing was asked of Qualtrics.")
        self.assertFalse(QualtricsConnection.objects.exists())
        self.assertEqual([u for u in self.sandbox_users() if u["firstName"] == "Muster"], [])

    def test_a_second_connect_is_refused_by_the_api_while_one_runs(self) -> None:
        self.a_connect_crashed_half_way()
        r = self.api(self.olga, "post", "/integrations/qualtrics/connect", self.connect_body())
        self.assertEqual(r.status_code, 409, r.content)
        self.assertIn("Another connect to Qualtrics is in progress", r.json()["message"])
        self.assertEqual(r.json()["done"], [])
        self.assertFalse(QualtricsConnection.objects.exists())

    def test_a_claim_left_by_a_crashed_connect_lapses(self) -> None:
        self.a_connect_crashed_half_way()
        later = now() + timedelta(seconds=connect.CLAIM_SECONDS + 1)
        with mock.patch.object(leases, "now", return_value=later):
            r = self.api(self.olga, "post", "/integrations/qualtrics/connect", self.connect_body())
        self.assertEqual(r.status_code, 201, r.content)
        self.assertEqual(QualtricsConnection.objects.get().brand_id, self.brand["brandId"])

    def test_a_finished_connect_lets_the_next_one_start(self) -> None:
        first = self.connect_as_admin()
        connect.disconnect(first, None)
        second = self.connect_as_admin()
        self.assertEqual(QualtricsConnection.objects.exclude(status="disconnected").get(), second)

    def test_a_failed_connect_lets_the_next_one_start(self) -> None:
        self.client.force_login(self.olga)
        self.client.post(CONNECT_URL, {**self.connect_body(), "brand_admin_token": "wrong-token-" + "x" * 20})
        self.assertIsNone(connect.connect_in_progress())
        self.assertTrue(self.connect_as_admin().pk)

    def test_a_connect_that_stalled_past_its_claim_stops_before_its_next_step(self) -> None:
        real_list_users = client.list_users

        def stall_then_list(account: client.Account) -> list[client.QualtricsUser]:
            # While this connect hangs, its claim lapses and another connect takes it over.
            ConnectClaim.objects.update(lease_expires=now() - timedelta(seconds=1))
            connect.claim(self.dev)
            return real_list_users(account)

        with mock.patch.object(client, "list_users", side_effect=stall_then_list):
            r = self.api(self.olga, "post", "/integrations/qualtrics/connect", self.connect_body())
        self.assertEqual(r.status_code, 502, r.content)
        self.assertIn("another one took over", r.json()["message"])
        self.assertFalse(QualtricsConnection.objects.exists())
        self.assertEqual([u for u in self.sandbox_users() if u["firstName"] == "Muster"], [])
        # The claim is the other connect's still: this one's ending did not release it.
        self.assertIsNotNone(connect.connect_in_progress())
