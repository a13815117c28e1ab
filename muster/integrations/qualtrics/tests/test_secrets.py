"""The brand-admin token appears nowhere after connect; stored secrets are encrypted at rest."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import httpx
import stamina
from django.core.management import call_command
from django.db import connection as db
from django.test import override_settings
from django.views.debug import ExceptionReporter

from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.models import QualtricsConnection
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase

# Sandbox faults that break each step of connect in turn: (method, path glob, fault, step named).
STEPS = [
    ("GET", "/API/v3/whoami", {"error500": 1}, "Checking the brand administrator token (whoami)"),
    ("GET", "/API/v3/users", {"dropConnection": 1}, "Looking for an earlier service user"),
    ("POST", "/API/v3/users", {"error503": 1}, "Creating the service user “Muster UXR”"),
    ("POST", "/API/v3/users/*/apitoken", {"error500": 1}, "Creating the service user's API token"),
    ("POST", "/API/v3/eventsubscriptions", {"error500": 1}, None),  # refused: kept as polling only
]


def dump_database() -> str:
    """Every row of every table, as the database holds it."""
    out = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")  # noqa: S608
            out.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(out)


@contextmanager
def every_logger_at_debug() -> Iterator[io.StringIO]:
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    loggers = [root] + [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        for lg, level in levels:
            lg.setLevel(level)


@override_settings(DEBUG=True)
class SecretsTestCase(SandboxTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.admin_token = self.brand["adminToken"]
        self.seen: list[str] = []
        self.client.force_login(self.olga)

    def connect_through_the_page(self, **overrides: str) -> None:
        data = {
            "base_url": self.sandbox.url,
            "brand_admin_token": self.admin_token,
            "user_type": self.brand["userTypes"]["standard"],
            **overrides,
        }
        r = self.client.post("/settings/connected-apps/qualtrics/connect/", data, follow=True)
        self.seen.append(r.content.decode())

    def connect_through_the_api(self, body: dict[str, object]) -> None:
        from muster.accounts.models import ApiToken

        _, raw = ApiToken.issue(self.olga, "t")
        r = self.client.post(
            "/api/v1/integrations/qualtrics/connect",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
        self.seen.append(r.content.decode())

    def assert_the_admin_token_is_nowhere(self, logs: io.StringIO) -> None:
        self.assertNotIn(self.admin_token, dump_database())
        self.assertNotIn(self.admin_token, logs.getvalue())
        for page in self.seen:
            self.assertNotIn(self.admin_token, page)

    def test_a_successful_connect_leaves_no_trace_of_it(self) -> None:
        with every_logger_at_debug() as logs:
            self.connect_through_the_page()
            self.assertTrue(QualtricsConnection.objects.exists())
            self.assertIn("DEBUG httpcore", logs.getvalue())  # the capture really saw debug output
        self.assert_the_admin_token_is_nowhere(logs)

    def test_a_disconnect_and_a_reconnect_leave_no_trace_of_it(self) -> None:
        with every_logger_at_debug() as logs:
            self.connect_through_the_page()
            first = QualtricsConnection.objects.get()
            held = (first.token_encrypted, first.shared_key_encrypted)
            r = self.client.post(
                "/settings/connected-apps/qualtrics/disconnect/", {"brand_admin_token": self.admin_token}, follow=True
            )
            self.seen.append(r.content.decode())
            self.connect_through_the_page()
            self.assertEqual(QualtricsConnection.objects.exclude(status="disconnected").count(), 1)
        self.assert_the_admin_token_is_nowhere(logs)
        # The disconnected connection holds no secret any more, not even encrypted.
        dump = dump_database()
        for secret in held:
            self.assertNotIn(secret, dump)

    def test_a_connect_failing_at_each_step_leaves_no_trace_of_it(self) -> None:
        stamina.set_testing(True, attempts=2)
        self.addCleanup(stamina.set_testing, False)
        self.addCleanup(self.control, "DELETE", "/_sandbox/faults")
        for method, path, fault, step in STEPS:
            QualtricsConnection.objects.all().delete()
            self.control("PUT", "/_sandbox/faults", {"endpoints": [{"method": method, "path": path, **fault}]})
            with every_logger_at_debug() as logs:
                self.connect_through_the_page()
            self.control("DELETE", "/_sandbox/faults")
            if step:
                self.assertIn(step.replace("'", "&#x27;") + " failed", self.seen[-1])
                self.assertFalse(QualtricsConnection.objects.exists())
                self.assertEqual([u for u in self.sandbox_users() if u["firstName"] == "Muster"], [])
            else:
                self.assertEqual(QualtricsConnection.objects.get().status, "polling_only")
            self.assert_the_admin_token_is_nowhere(logs)

    def test_a_refused_token_leaves_no_trace_of_it(self) -> None:
        self.admin_token = "not-a-real-token-" + "x" * 20
        with every_logger_at_debug() as logs:
            self.connect_through_the_page()
        self.assertIn("failed", self.seen[-1])
        self.assert_the_admin_token_is_nowhere(logs)

    def test_a_validation_error_does_not_echo_the_token(self) -> None:
        with every_logger_at_debug() as logs:
            self.connect_through_the_page(user_type="not-a-user-type")
            self.assertIn("A user type id starts with UT_", self.seen[-1])
            self.connect_through_the_api(
                {"datacenter": "iad1", "brand_admin_token": self.admin_token, "user_type": "?"}
            )
            self.assertIn("user_type", self.seen[-1])
        self.assert_the_admin_token_is_nowhere(logs)

    def test_the_api_leaves_no_trace_of_it(self) -> None:
        with every_logger_at_debug() as logs:
            body = {
                "base_url": self.sandbox.url,
                "brand_admin_token": self.admin_token,
                "user_type": self.brand["userTypes"]["standard"],
            }
            self.connect_through_the_api(body)
            self.assertTrue(QualtricsConnection.objects.exists())
            with mock.patch.object(client, "create_api_token", side_effect=client.QualtricsUnavailable("fault")):
                connection = QualtricsConnection.objects.get()
                connect.disconnect(connection, None)
                self.connect_through_the_api(body)
            self.assertIn("failed", self.seen[-1])
        self.assert_the_admin_token_is_nowhere(logs)

    def test_an_unexpected_crash_shows_no_token_on_the_debug_page_or_in_the_report(self) -> None:
        def explode(request: httpx.Request) -> httpx.Response:
            raise RuntimeError("something nobody expected")

        self.client.raise_request_exception = False
        real = client._http
        with (
            every_logger_at_debug() as logs,
            mock.patch.object(client, "_http", return_value=httpx.Client(transport=httpx.MockTransport(explode))),
        ):
            self.connect_through_the_page()
        self.assertIn("Checking the brand administrator token (whoami) failed", self.seen[-1])
        self.assert_the_admin_token_is_nowhere(logs)
        # And a crash that escapes the view entirely: Django's technical 500 page and the report.
        with (
            every_logger_at_debug() as logs,
            mock.patch.object(connect, "public_url_warning", side_effect=RuntimeError("boom")),
        ):
            r = self.client.post(
                "/settings/connected-apps/qualtrics/connect/",
                {
                    "base_url": self.sandbox.url,
                    "brand_admin_token": self.admin_token,
                    "user_type": self.brand["userTypes"]["standard"],
                },
            )
        self.assertEqual(r.status_code, 500)
        self.seen.append(r.content.decode())
        self.assertIn("RuntimeError", self.seen[-1])
        self.assert_the_admin_token_is_nowhere(logs)
        self.assertIs(client._http, real)

    def test_stored_secrets_are_encrypted_at_rest_and_rotate(self) -> None:
        connection = self.connect_as_admin()
        token, key = connection.token.value, connection.shared_key.value
        dump = dump_database()
        self.assertNotIn(token, dump)
        self.assertNotIn(key, dump)
        self.assertNotIn(token, repr(connection.token))
        self.assertNotIn(token, str(connection.token))
        old_row = (connection.token_encrypted, connection.shared_key_encrypted)
        from cryptography.fernet import Fernet
        from django.conf import settings

        new_key = Fernet.generate_key().decode()
        with override_settings(MUSTER_ENCRYPTION_KEYS=[new_key, *settings.MUSTER_ENCRYPTION_KEYS]):
            call_command("rotate_encryption_keys", stdout=io.StringIO())
            connection.refresh_from_db()
            self.assertNotEqual((connection.token_encrypted, connection.shared_key_encrypted), old_row)
            self.assertEqual(connection.token.value, token)
        # Only the new key reads them now.
        with override_settings(MUSTER_ENCRYPTION_KEYS=[new_key]):
            connection.refresh_from_db()
            self.assertEqual(connection.shared_key.value, key)


def test_an_exception_report_hides_a_token_held_in_a_request_header_frame() -> None:
    account = client.Account(
        base_url="https://iad1.qualtrics.com",
        token=Secret("tok-" + "s" * 30),
        transport=httpx.MockTransport(lambda r: (_ for _ in ()).throw(RuntimeError("bang"))),
    )
    try:
        client._request_once(account, "GET", "https://iad1.qualtrics.com/API/v3/whoami")
    except RuntimeError:
        report = ExceptionReporter(None, *sys.exc_info()).get_traceback_text()
    assert "bang" in report
    assert "tok-" not in report
