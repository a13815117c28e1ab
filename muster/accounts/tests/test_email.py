from __future__ import annotations

import socket
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from django.test import override_settings

from muster import config
from muster.test import BaseTestCase


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpTestCase(BaseTestCase):
    def test_a_password_reset_goes_out_through_a_real_smtp_server(self) -> None:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        self.addCleanup(controller.stop)
        email = config.email_settings(f"smtp://muster:secret@127.0.0.1:{controller.port}", Path("/nonexistent"))
        # aiosmtpd offers no AUTH without TLS; the URL's credentials are parsed but not used here.
        email.update(EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="")
        with override_settings(**email, DEFAULT_FROM_EMAIL="research@example.org"):
            r = self.client.post("/password-reset/", {"email": "rita@example.org"})
        self.assertEqual(r.status_code, 302)
        [message] = inbox.messages
        self.assertEqual(message["To"], "rita@example.org")  # type: ignore[index]
        self.assertEqual(message["From"], "research@example.org")  # type: ignore[index]
        self.assertIn("/password-reset/", message.get_payload())  # type: ignore[attr-defined]

    def test_file_mail_lands_in_the_data_dir(self) -> None:
        folder = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))
        with override_settings(**config.email_settings(f"file://{folder}", folder)):
            self.client.post("/password-reset/", {"email": "rita@example.org"})
        [sent] = list(folder.iterdir())
        self.assertIn("rita@example.org", sent.read_text())
