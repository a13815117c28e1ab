"""Qualtrics (the sandbox) posts signed events to a running Muster over real HTTP."""

from __future__ import annotations

import time

from django.test import LiveServerTestCase, override_settings

from muster.integrations.qualtrics.models import WebhookEvent
from muster.integrations.qualtrics.tests.sandbox import SandboxMixin


class LiveWebhookTestCase(SandboxMixin, LiveServerTestCase):
    def test_a_completed_response_arrives_as_a_recorded_event(self) -> None:
        self.new_brand()
        with override_settings(MUSTER_PUBLIC_URL=self.live_server_url):
            connection = self.connect_as_admin()
        survey = self.add_survey()
        self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        [response_id] = self.control(
            "POST",
            f"/_sandbox/surveys/{survey}/respond",
            {
                "values": {"QID1": 1, "QID2_TEXT": "faster"},
                "embeddedData": {"rallyParticipantId": "P1"},
                "finished": True,
            },
        )["responseIds"]
        deadline = time.monotonic() + 20
        while not WebhookEvent.objects.filter(response_id=response_id).exists():
            assert time.monotonic() < deadline, self.control("GET", "/_sandbox/webhooks")
            self.control("POST", "/_sandbox/webhooks/flush")
            time.sleep(0.2)
        event = WebhookEvent.objects.get(response_id=response_id)
        self.assertEqual(event.survey_id, survey)
        self.assertEqual(event.kind, "completedResponse")
        deliveries = self.control("GET", "/_sandbox/webhooks")["deliveries"]
        self.assertTrue(any(d["status"] == "delivered" or d.get("attemptLog") for d in deliveries))

    def test_a_forged_delivery_is_refused(self) -> None:
        import httpx

        self.new_brand()
        with override_settings(MUSTER_PUBLIC_URL=self.live_server_url):
            self.connect_as_admin()
        r = httpx.post(
            f"{self.live_server_url}/integrations/qualtrics/webhook/",
            data={"Topic": "x.surveyengine.completedResponse.SV_1", "MSG": '{"ResponseID": "R_1"}', "HMAC": "00" * 64},
        )
        self.assertEqual(r.status_code, 403)
        self.assertFalse(WebhookEvent.objects.exists())
