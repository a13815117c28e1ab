"""A connection outlives a disconnect; a reconnect cleans up only this installation's leftovers."""

from __future__ import annotations

from unittest import mock
from urllib.parse import urlencode

import stamina
from django.conf import settings
from django.db import IntegrityError, transaction

from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.models import (
    ConnectionStatus,
    QualtricsConnection,
    WebhookEvent,
    current_connection,
)
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.integrations.qualtrics.webhook import sign

DISCONNECT = "/settings/connected-apps/qualtrics/disconnect/"
WEBHOOK = "/integrations/qualtrics/webhook/"


def signed_event(key: str, response_id: str = "R_1") -> str:
    msg = f'{{"Status":"Complete","SurveyID":"SV_1","ResponseID":"{response_id}","BrandID":"b"}}'
    return urlencode({"Topic": "b.surveyengine.completedResponse.SV_1", "MSG": msg, "HMAC": sign(msg, key)})


class DisconnectTestCase(SandboxTestCase):
    def post_event(self, body: str) -> int:
        return self.client.post(WEBHOOK, body, content_type="application/x-www-form-urlencoded").status_code

    def test_a_disconnect_keeps_the_connection_and_what_points_at_it_but_not_its_secrets(self) -> None:
        connection = self.connect_as_admin()
        event = WebhookEvent.objects.create(
            connection=connection, topic="t", kind="completedResponse", survey_id="SV_1", response_id="R_1", message={}
        )
        self.client.force_login(self.olga)
        self.client.post(DISCONNECT, {"brand_admin_token": self.brand["adminToken"]})
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.DISCONNECTED)
        self.assertEqual((connection.token_encrypted, connection.shared_key_encrypted), ("", ""))
        self.assertEqual(connection.disconnected_by, self.olga)
        self.assertIsNotNone(connection.disconnected_at)
        self.assertIn("service user disabled", connection.status_reason)
        self.assertTrue(WebhookEvent.objects.filter(pk=event.pk, connection=connection).exists())
        self.assertIsNone(current_connection())

    def test_connected_apps_and_the_api_say_it_was_disconnected(self) -> None:
        connection = self.connect_as_admin()
        self.client.force_login(self.olga)
        self.client.post(DISCONNECT, {})
        r = self.client.get("/settings/connected-apps/")
        self.assertContains(r, "Disconnected")
        self.assertContains(r, f"Brand <strong>{connection.brand_id}</strong> was disconnected by Olga Ops")
        self.assertContains(r, connection.subscription_id)  # still in Qualtrics: said so
        self.assertContains(r, 'href="/settings/connected-apps/qualtrics/connect/"')
        self.assertRedirects(self.client.get("/settings/connected-apps/qualtrics/"), "/settings/connected-apps/")
        status = self.api(self.olga, "get", "/integrations/qualtrics").json()
        self.assertFalse(status["connected"])
        self.assertEqual(status["status"], "disconnected")
        self.assertEqual(status["brand_id"], connection.brand_id)
        self.assertEqual(status["disconnected_by"], "olga@example.org")
        self.assertIsNotNone(status["disconnected_at"])
        self.assertEqual(self.api(self.olga, "post", "/integrations/qualtrics/test").status_code, 409)
        self.assertEqual(self.api(self.rita, "get", "/integrations/qualtrics/surveys").status_code, 409)

    def test_a_disconnected_connections_events_are_refused_and_a_reconnect_takes_only_its_new_key(self) -> None:
        first = self.connect_as_admin()
        old_key = first.shared_key.value
        connect.disconnect(first, None)
        self.assertEqual(self.post_event(signed_event(old_key)), 403)
        self.assertFalse(WebhookEvent.objects.exists())
        second = self.connect_as_admin()
        self.assertEqual(self.post_event(signed_event(old_key)), 403)
        self.assertEqual(self.post_event(signed_event(second.shared_key.value)), 200)
        self.assertEqual(WebhookEvent.objects.get().connection, second)

    def test_a_call_that_fails_after_a_disconnect_does_not_bring_the_connection_back(self) -> None:
        connection = self.connect_as_admin()
        with connect.connection_account(connection) as account:
            # Disconnecting with a token disables the service user: the call still running gets a 401.
            connect.disconnect(connection, Secret(self.brand["adminToken"]))
            with self.assertRaises(client.QualtricsAuthError):
                client.list_surveys(account)
        connection.refresh_from_db()
        self.assertEqual(connection.status, ConnectionStatus.DISCONNECTED)
        self.assertIsNone(current_connection())

    def test_the_database_holds_one_live_connection_at_most(self) -> None:
        first = self.connect_as_admin()
        another = {"base_url": "https://iad1.qualtrics.com", "brand_id": "b2", "service_user_id": "UR_2"}
        with self.assertRaises(IntegrityError), transaction.atomic():
            QualtricsConnection.objects.create(**another)
        connect.disconnect(first, None)
        QualtricsConnection.objects.create(**another)
        self.assertEqual(current_connection().brand_id, "b2")  # type: ignore[union-attr]

    def test_a_connect_that_loses_a_race_stores_nothing_and_removes_what_it_made(self) -> None:
        # Another process connected after this one checked: the database constraint decides.
        QualtricsConnection.objects.create(base_url="https://iad1.qualtrics.com", brand_id="b2", service_user_id="U")
        with (
            mock.patch.object(connect, "current_connection", return_value=None),
            self.assertRaisesMessage(connect.ConnectError, "Saving the connection failed: Muster was connected"),
        ):
            self.connect_as_admin()
        self.assertEqual(QualtricsConnection.objects.count(), 1)
        self.assertEqual(self.sandbox_subscriptions(), [])
        self.assertEqual([u for u in self.sandbox_users() if u["firstName"] == "Muster"], [])


class ReconnectTestCase(SandboxTestCase):
    def subscribe(self, url: str) -> str:
        body = {"topics": connect.TOPICS, "publicationUrl": url, "encrypt": False}
        return str(self.v3("POST", "eventsubscriptions", self.brand["adminToken"], body).json()["result"]["id"])

    def test_it_removes_this_installations_stale_subscriptions_and_never_anothers(self) -> None:
        first = self.connect_as_admin()
        connect.disconnect(first, None)  # its subscription stays in Qualtrics
        address = f"{settings.MUSTER_PUBLIC_URL}{WEBHOOK}"
        ours = connect.instance_id()
        # Other installations on the same brand, even ones posting to the very same address.
        foreign = {
            self.subscribe(f"{address}?muster_instance=0123456789"),
            self.subscribe(address),
            self.subscribe(f"{address}?muster_instance={ours}0"),
            self.subscribe("https://crm.example.org/hooks/qualtrics"),
        }
        # This installation's, left at an address it no longer uses (the public URL changed).
        moved = self.subscribe(f"https://old.example.org{WEBHOOK}?muster_instance={ours}")
        second = self.connect_as_admin()
        remaining = {s["id"] for s in self.sandbox_subscriptions()}
        self.assertEqual(remaining, foreign | {second.subscription_id})
        self.assertNotIn(first.subscription_id, remaining)
        self.assertNotIn(moved, remaining)
        # The disconnected connection has nothing left to remove by hand.
        first.refresh_from_db()
        self.assertEqual(first.subscription_id, "")
        self.assertEqual(first.status, ConnectionStatus.DISCONNECTED)
        self.assertEqual(QualtricsConnection.objects.count(), 2)
        self.assertEqual(current_connection(), second)

    def test_a_subscription_it_cannot_remove_is_a_warning_not_a_failed_connect(self) -> None:
        first = self.connect_as_admin()
        connect.disconnect(first, None)
        self.control(
            "PUT",
            "/_sandbox/faults",
            {"endpoints": [{"method": "DELETE", "path": "/API/v3/eventsubscriptions/*", "error500": 1}]},
        )
        self.addCleanup(self.control, "DELETE", "/_sandbox/faults")
        stamina.set_testing(True, attempts=1)
        self.addCleanup(stamina.set_testing, False)
        outcome = connect.connect(
            base_url=self.sandbox.url,
            brand_admin_token=Secret(self.brand["adminToken"]),
            user_type=self.brand["userTypes"]["standard"],
            by=None,
        )
        self.assertEqual(outcome.connection.status, ConnectionStatus.CONNECTED)
        self.assertTrue(any(first.subscription_id in w for w in outcome.warnings), outcome.warnings)
        # It is still there, and the disconnected connection still says so.
        self.assertIn(first.subscription_id, {s["id"] for s in self.sandbox_subscriptions()})
        first.refresh_from_db()
        self.assertNotEqual(first.subscription_id, "")


def test_only_an_exact_instance_id_in_the_url_makes_a_subscription_ours() -> None:
    ours = connect.instance_id()

    def sub(url: str) -> client.EventSubscription:
        return client.EventSubscription.model_validate({"id": "SUB_1", "publicationUrl": url})

    assert connect.is_ours(sub(connect.webhook_url()))
    assert connect.is_ours(sub(f"https://elsewhere.example/x/?muster_instance={ours}"))
    assert not connect.is_ours(sub(f"https://elsewhere.example/x/?muster_instance={ours}0"))
    assert not connect.is_ours(sub(f"https://elsewhere.example/x/?other={ours}"))
    assert not connect.is_ours(sub(connect.webhook_url().partition("?")[0]))
    assert not connect.is_ours(client.EventSubscription.model_validate({"id": "SUB_2"}))
