"""A response fetched right after it was recorded answers 202 "not yet available" (REFERENCE §13).

Against a sandbox started with its response delay (`--response-delay-seconds`), over HTTP; the
sandbox's clock is moved past the delay rather than waited out.
"""

from __future__ import annotations

from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.models import ConnectionStatus
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase

DELAY = 60


class NotYetAvailableTestCase(SandboxTestCase):
    sandbox_options = {"response_delay_seconds": DELAY}

    def record_a_response(self, survey: str) -> str:
        body = {"values": {"QID1": 1}, "finished": True}
        [response_id] = self.control("POST", f"/_sandbox/surveys/{survey}/respond", body)["responseIds"]
        return str(response_id)

    def test_a_just_recorded_response_is_not_ready_and_arrives_once_its_delay_has_passed(self) -> None:
        connection = self.connect_as_admin()
        survey = self.add_survey()
        self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        response_id = self.record_a_response(survey)
        with connect.connection_account(connection) as account:
            with self.assertRaises(client.QualtricsNotReady) as caught:
                client.get_response(account, survey, response_id)
            self.assertEqual(caught.exception.status, 202)
            self.assertEqual(
                caught.exception.message, "The Survey Response is not yet available. Please try again later."
            )
            self.assertFalse(caught.exception.permanent)
            self.assertNotIsInstance(caught.exception, client.UnexpectedPayload)
            # Transient: the connection stays as it was.
            connection.refresh_from_db()
            self.assertEqual(connection.status, ConnectionStatus.CONNECTED)

            self.control("POST", "/_sandbox/clock", {"advanceSeconds": DELAY + 1})
            response = client.get_response(account, survey, response_id)
        self.assertEqual(response.response_id, response_id)
        self.assertEqual(response.values["QID1"], 1)

    def test_only_the_response_still_within_its_delay_is_not_ready(self) -> None:
        connection = self.connect_as_admin()
        survey = self.add_survey()
        self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        earlier = self.record_a_response(survey)
        self.control("POST", "/_sandbox/clock", {"advanceSeconds": DELAY + 1})
        just_now = self.record_a_response(survey)
        with connect.connection_account(connection) as account:
            self.assertEqual(client.get_response(account, survey, earlier).response_id, earlier)
            with self.assertRaises(client.QualtricsNotReady):
                client.get_response(account, survey, just_now)
