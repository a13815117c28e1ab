"""Text from Qualtrics is stored, shown and logged only without the tokens and keys Muster holds
or was just given: a misbehaving server may echo them in an error message or a notice."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from unittest import mock

import httpx
import stamina

from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.health import check_connection
from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection
from muster.integrations.qualtrics.probe import Probe
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.integrations.qualtrics.tests.test_secrets import dump_database, every_logger_at_debug

CONNECT_URL = "/settings/connected-apps/qualtrics/connect/"


class ScrubTestCase(SandboxTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.admin_token = self.brand["adminToken"]
        self.client.force_login(self.olga)

    def connect_body(self) -> dict[str, str]:
        return {
            "base_url": self.sandbox.url,
            "brand_admin_token": self.admin_token,
            "user_type": self.brand["userTypes"]["standard"],
        }

    def echoing(self, *tokens: str) -> client.QualtricsAuthError:
        return client.QualtricsAuthError(f"Token {' and '.join(tokens)} may not subscribe.", 403, "AUTH_3.1")

    def test_a_refused_subscription_echoing_the_admin_token_is_stored_and_shown_without_it(self) -> None:
        with mock.patch.object(client, "create_subscription", side_effect=self.echoing(self.admin_token)):
            r = self.client.post(CONNECT_URL, self.connect_body(), follow=True)
        connection = QualtricsConnection.objects.get()
        self.assertEqual(connection.status, ConnectionStatus.POLLING_ONLY)
        self.assertIn("may not subscribe", connection.status_reason)
        self.assertNotIn(self.admin_token, connection.status_reason)
        self.assertNotIn(self.admin_token, dump_database())
        self.assertNotContains(r, self.admin_token)
        self.assertNotIn(self.admin_token, self.api(self.olga, "get", "/integrations/qualtrics").content.decode())

    def test_a_refused_subscription_echoing_the_new_service_token_is_stored_without_it(self) -> None:
        def refuse(account: client.Account, **kwargs: object) -> str:
            service_token = self.sandbox_token_of_the_service_user()
            raise self.echoing(service_token)

        with mock.patch.object(client, "create_subscription", side_effect=refuse):
            self.client.post(CONNECT_URL, self.connect_body())
        connection = QualtricsConnection.objects.get()
        self.assertIn("may not subscribe", connection.status_reason)
        self.assertNotIn(connection.token.value, connection.status_reason)

    def sandbox_token_of_the_service_user(self) -> str:
        [user] = [u for u in self.sandbox_users() if u["firstName"] == "Muster"]
        r = self.v3("GET", f"users/{user['id']}/apitoken", self.admin_token)
        return str(r.json()["result"]["apiToken"])

    def test_a_failed_connect_echoing_the_admin_token_shows_and_logs_it_nowhere(self) -> None:
        stamina.set_testing(True, attempts=1)
        self.addCleanup(stamina.set_testing, False)
        echo = client.QualtricsUnavailable(f"Internal error for token {self.admin_token}", 500)
        with (
            every_logger_at_debug() as logs,
            mock.patch.object(client, "create_api_token", side_effect=echo),
            mock.patch.object(client, "delete_user", side_effect=echo),
        ):
            r = self.client.post(CONNECT_URL, self.connect_body())
            api = self.api(self.olga, "post", "/integrations/qualtrics/connect", self.connect_body())
        self.assertContains(r, "Internal error for token")
        self.assertNotContains(r, self.admin_token)
        self.assertIn("Internal error for token", api.content.decode())
        self.assertNotIn(self.admin_token, api.content.decode())
        self.assertIn("Could not remove the Qualtrics user", logs.getvalue())
        self.assertNotIn(self.admin_token, logs.getvalue())

    def test_a_reason_stored_before_holding_the_service_token_is_never_shown(self) -> None:
        connection = self.connect_as_admin()
        held = connection.token.value
        QualtricsConnection.objects.filter(pk=connection.pk).update(
            status=ConnectionStatus.BROKEN, status_reason=f"Qualtrics said: token {held} is disabled."
        )
        pages = [
            self.client.get("/settings/connected-apps/qualtrics/"),
            self.client.get("/settings/connected-apps/"),
            self.client.get("/people/"),
            self.client.get("/settings/qualtrics-surveys/"),
            self.api(self.olga, "get", "/integrations/qualtrics"),
            self.api(self.olga, "get", "/integrations/qualtrics/surveys"),
        ]
        for page in pages:
            self.assertIn("is disabled", page.content.decode())
            self.assertNotIn(held, page.content.decode())

    def test_the_client_never_repeats_the_token_it_sent(self) -> None:
        token = "tok-" + "e" * 36

        def echo(request: httpx.Request) -> httpx.Response:
            sent = request.headers["X-API-TOKEN"]
            error = {"errorMessage": f"Token {sent} is not valid here", "errorCode": "AUTH_6.0"}
            return httpx.Response(401, json={"meta": {"httpStatus": "401 - Unauthorized", "error": error}})

        account = client.Account(
            base_url="https://iad1.qualtrics.com", token=Secret(token), transport=httpx.MockTransport(echo)
        )
        with self.assertRaises(client.QualtricsAuthError) as caught, self.assertLogs(level=logging.DEBUG) as logs:
            logging.getLogger("muster").debug("start")
            client.whoami(account)
        self.assertIn("is not valid here", str(caught.exception))
        self.assertNotIn(token, str(caught.exception))
        self.assertNotIn(token, "\n".join(logs.output))

    def test_the_scheduled_check_keeps_and_logs_no_held_key_qualtrics_echoes(self) -> None:
        connection = self.connect_as_admin()
        key = connection.shared_key.value
        echo = client.QualtricsUnavailable(f"Upstream failed for key {key}", 503)
        with every_logger_at_debug() as logs, mock.patch.object(connect, "test_connection", side_effect=echo):
            result = check_connection.call()
        self.assertIn("Upstream failed", result)
        self.assertNotIn(key, result)
        self.assertIn("Upstream failed", logs.getvalue())
        self.assertNotIn(key, logs.getvalue())

    def test_the_probe_saves_and_prints_no_token_qualtrics_echoes(self) -> None:
        token = "tok-" + "p" * 36

        def echo(request: httpx.Request) -> httpx.Response:
            notice = f"Request proxied for {request.headers['X-API-TOKEN']}."
            me = {"brandId": "b", "userId": "UR_1", "userName": "u"}
            if request.url.path.endswith("/whoami"):
                return httpx.Response(200, json={"result": me, "meta": {"notice": notice}})
            error = {"errorMessage": f"No surveys for {request.headers['X-API-TOKEN']}", "errorCode": "X"}
            return httpx.Response(400, json={"meta": {"error": error}})

        out = Path(self.enterContext(tempfile.TemporaryDirectory()))
        account = client.Account(
            base_url="https://iad1.qualtrics.com", token=Secret(token), transport=httpx.MockTransport(echo)
        )
        steps = Probe(account, out).run()
        self.assertIn("No surveys for", " ".join(s.detail for s in steps))
        self.assertNotIn(token, " ".join(s.detail for s in steps))
        saved = "".join(p.read_text() for p in out.iterdir() if p.is_file())
        self.assertIn("Request proxied", saved)
        self.assertNotIn(token, saved)
